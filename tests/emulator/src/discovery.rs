//! OIDC discovery, instance discovery and JWKS documents.

use http::StatusCode;
use serde_json::{Value, json};

use super::authority::Authority;
use super::hosts::{self, HostKind};
use super::respond::OAuthError;
use super::seeds;

/// The OpenID configuration document of an authority.
pub(crate) fn openid_configuration(auth: &Authority) -> Value {
    let mut doc = json!({
        "token_endpoint": auth.endpoint("token"),
        "token_endpoint_auth_methods_supported": [
            "client_secret_post", "private_key_jwt", "client_secret_basic"
        ],
        "jwks_uri": auth.jwks_uri(),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": auth.discovery_issuer(),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": auth.endpoint("authorize"),
        "end_session_endpoint": auth.endpoint("logout"),
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
            "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "tenant_region_scope": auth.region_scope(),
        "cloud_instance_name": auth.cloud_instance_name(),
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    });
    let obj = doc.as_object_mut().expect("a JSON object literal");
    match auth.kind {
        HostKind::Entra(_) | HostKind::Ciam | HostKind::Adfs => {
            obj.insert(
                "device_authorization_endpoint".into(),
                auth.endpoint("devicecode").into(),
            );
        }
        HostKind::B2c | HostKind::Oidc => {}
    }
    if matches!(auth.kind, HostKind::Entra(_) | HostKind::Ciam) {
        obj.insert(
            "userinfo_endpoint".into(),
            "https://graph.microsoft.com/oidc/userinfo".into(),
        );
        obj.insert("http_logout_supported".into(), true.into());
        obj.insert("frontchannel_logout_supported".into(), true.into());
        obj.insert("rbac_url".into(), "https://pas.windows.net".into());
    }
    doc
}

/// The JWKS document served at `jwks_uri`.
pub(crate) fn jwks(auth: &Authority, signer: &super::jwt::Signer) -> Value {
    signer.jwks(&auth.discovery_issuer())
}

fn metadata() -> Value {
    json!([
        {
            "preferred_network": "login.microsoftonline.com",
            "preferred_cache": "login.windows.net",
            "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]
        },
        {
            "preferred_network": "login.microsoftonline.us",
            "preferred_cache": "login.microsoftonline.us",
            "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"]
        },
        {
            "preferred_network": seeds::TRUSTED_CUSTOM_HOST,
            "preferred_cache": seeds::TRUSTED_CUSTOM_HOST,
            "aliases": [seeds::TRUSTED_CUSTOM_HOST]
        }
    ])
}

fn invalid_instance() -> OAuthError {
    OAuthError::bad("invalid_instance", 50_049, "Unknown or invalid instance.")
}

/// `GET /common/discovery/instance?api-version=…&authorization_endpoint=…`.
pub(crate) fn instance_discovery(
    query: &[(String, String)],
    forced_failure: bool,
) -> Result<Value, OAuthError> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let version = get("api-version").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request must contain the following parameter: 'api-version'.",
        )
    })?;
    if version != "1.0" && version != "1.1" {
        return Err(OAuthError::bad(
            "invalid_request",
            90_056,
            format!("Unsupported api-version '{version}'."),
        ));
    }
    let endpoint = get("authorization_endpoint").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request must contain the following parameter: 'authorization_endpoint'.",
        )
    })?;
    if forced_failure {
        return Err(invalid_instance());
    }
    let url = url::Url::parse(endpoint).map_err(|_| invalid_instance())?;
    let host = url
        .host_str()
        .map(hosts::normalize)
        .ok_or_else(invalid_instance)?;
    if url.scheme() != "https" || !hosts::trusted_for_instance_discovery(&host) {
        return Err(invalid_instance());
    }
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.find(|seg| !seg.is_empty()))
        .unwrap_or("common");
    Ok(json!({
        "tenant_discovery_endpoint":
            format!("https://{host}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": version,
        "metadata": metadata(),
    }))
}

/// The error for an authority that does not exist.
pub(crate) fn unknown_tenant(segment: &str) -> OAuthError {
    OAuthError::bad(
        "invalid_tenant",
        90_002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and \
             are signing into the correct cloud. Check with your subscription administrator, this \
             may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// The error for an unknown B2C policy (404 like B2C).
pub(crate) fn unknown_policy(policy: &str) -> OAuthError {
    OAuthError::new(
        StatusCode::NOT_FOUND,
        "invalid_request",
        90_002,
        format!("The policy '{policy}' does not exist."),
    )
}
