//! Azure Cloud Shell's signed-in user (msal/cloudshell.py): inside the shell, an interactive
//! sign-in with `prompt=none` and a silent acquisition for a Cloud Shell account get the
//! user's token from the shell's local endpoint instead of the identity provider. The answer
//! has no ID token: the account is made from the access token's claims, as MSAL Python makes
//! it (`client_info` from `oid`/`tid`, an ID token's claims from `iss`, `sub`, `exp`, `iat` and
//! the username), and cached with `authority_type` `CLOUDSHELL`.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use url::Url;

use crate::app::core::AppRef;
use crate::cache::TokenEvent;
use crate::clock::unix_seconds;
use crate::error::{Error, ErrorKind, Result};
use crate::managed_identity::cloud_shell as endpoint;
use crate::managed_identity::wire;
use crate::response::{TokenResponse, decode_jwt_claims};
use crate::result::{Account, AuthenticationResult};
use crate::scope::ScopeSet;

/// The `authority_type` of Cloud Shell accounts.
pub(crate) const AUTHORITY_TYPE: &str = "CLOUDSHELL";

/// Audiences Cloud Shell takes as they are (msal/cloudshell.py `_scope_to_resource`).
const AS_IS: [&str; 2] = [
    "https://analysis.windows.net/powerbi/api",
    "https://pas.windows.net/CheckMyAccess/Linux/.default",
];

/// The resource Cloud Shell understands for a scope: a URL scope's `scheme://host` (with a
/// trailing `/` when its path starts with `//`), a `GUID/scope` scope's GUID.
pub(crate) fn scope_to_resource(scope: &str) -> String {
    if let Some(a) = AS_IS.iter().find(|a| scope.starts_with(**a)) {
        return (*a).to_owned();
    }
    if let Some((scheme, rest)) = scope.split_once("://")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        let (host, path) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
            None => (rest, ""),
        };
        let trailer = if path.starts_with("//") { "/" } else { "" };
        return format!("{scheme}://{host}{trailer}");
    }
    if !scope.contains(':') {
        return scope.split('/').next().unwrap_or(scope).to_owned();
    }
    scope.to_owned()
}

/// Gets `scopes` for the shell's user from `url` and caches them.
pub(crate) async fn acquire(
    app: AppRef<'_>,
    url: &Url,
    scopes: &ScopeSet,
) -> Result<AuthenticationResult> {
    let core = app.core;
    let resource = scopes
        .iter()
        .map(scope_to_resource)
        .collect::<Vec<_>>()
        .join(" ");
    let out = endpoint::request(url, &resource);
    let resp = wire::send(
        core.http.http.as_ref(),
        core.clock.as_ref(),
        crate::managed_identity::retry::Policy::Default,
        wire::ATTEMPT_TIMEOUT,
        &out,
    )
    .await?;
    let body = endpoint::parse(&resp)?;
    let now = unix_seconds(core.now());
    let response = to_response(&body, &core.client_id, now)?;
    let claims = response.synthetic_id_token_claims.clone();
    let meta = core.metadata(&core.authority).await?;
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let event = TokenEvent {
        client_id: &core.client_id,
        environment: &meta.environment,
        realm: &meta.realm,
        request_scopes: scopes,
        response: &response,
        grant_type: "cloud_shell",
        data: &[],
        key_id: None,
        user_assertion_hash: None,
        username: None,
        authority_type: Some(AUTHORITY_TYPE),
        skip_account_creation: false,
        replaces_refresh_token: None,
        now,
    };
    let recorded = core.cache.record(&event, None).await;
    let at = recorded
        .access_token
        .ok_or_else(|| Error::invalid_response("Cloud Shell sent no access token"))?;
    Ok(AuthenticationResult::from_identity_provider(
        at,
        recorded.account.map(Account::from_entity),
        claims,
        &correlation_id,
    ))
}

/// Cloud Shell's answer as a token response with a made-up `client_info` and ID token claims
/// (msal/cloudshell.py `_obtain_token`).
fn to_response(body: &Map<String, Value>, client_id: &str, now: u64) -> Result<TokenResponse> {
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let expires_in = wire::seconds(body.get("expires_in"))
        .or_else(|| wire::seconds(body.get("expires_on")).map(|on| on.saturating_sub(now_i)))
        .ok_or_else(|| Error::invalid_response("Cloud Shell's answer has no expires_in"))?;
    let token_type = body
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer");
    if !token_type.eq_ignore_ascii_case("Bearer") {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!("Cloud Shell answered a {token_type} token where a Bearer token was asked for"),
        ));
    }
    let jwt = decode_jwt_claims(token);
    let text =
        |c: &Map<String, Value>, k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let (uid, utid) = match &jwt {
        Some(c) => (
            text(c, "oid").unwrap_or_else(|| "user".into()),
            text(c, "tid").unwrap_or_else(|| "cloudshell".into()),
        ),
        None => ("user".into(), "cloudshell".into()),
    };
    let mut claims = Map::new();
    let username = "currentuser@cloudshell";
    match &jwt {
        Some(c) => {
            for k in ["iss", "sub"] {
                claims.insert(k.into(), c.get(k).cloned().unwrap_or(Value::Null));
            }
            claims.insert("aud".into(), json!(client_id));
            for k in ["exp", "iat"] {
                claims.insert(k.into(), c.get(k).cloned().unwrap_or(Value::Null));
            }
            let name = text(c, "preferred_username")
                .or_else(|| text(c, "unique_name"))
                .unwrap_or_else(|| username.into());
            claims.insert("preferred_username".into(), json!(name));
        }
        None => {
            claims.insert("iss".into(), json!("cloudshell"));
            claims.insert("sub".into(), json!("user"));
            claims.insert("aud".into(), json!(client_id));
            claims.insert("exp".into(), json!(now.saturating_add(3600)));
            claims.insert("iat".into(), json!(now));
            claims.insert("preferred_username".into(), json!(username));
        }
    }
    claims.insert("tid".into(), json!(utid));
    let client_info = base64::engine::general_purpose::STANDARD
        .encode(json!({"uid": uid, "utid": utid}).to_string());
    let mut wire_body = json!({
        "access_token": token,
        "expires_in": expires_in,
        "token_type": token_type,
        "client_info": client_info,
    });
    if let Some(rt) = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        && let Some(o) = wire_body.as_object_mut()
    {
        o.insert("refresh_token".into(), json!(rt));
    }
    let mut response = TokenResponse::from_json(wire_body)?;
    response.synthetic_id_token_claims = Some(claims);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_map_to_resources_as_msal_python_maps_them() {
        for (scope, want) in [
            (
                "https://graph.microsoft.com/User.Read",
                "https://graph.microsoft.com",
            ),
            (
                "https://management.azure.com/.default",
                "https://management.azure.com",
            ),
            (
                "https://management.azure.com//.default",
                "https://management.azure.com/",
            ),
            ("https://vault.azure.net", "https://vault.azure.net"),
            (
                "00000003-0000-0000-c000-000000000000/User.Read",
                "00000003-0000-0000-c000-000000000000",
            ),
            (
                "https://analysis.windows.net/powerbi/api/Dataset.Read",
                "https://analysis.windows.net/powerbi/api",
            ),
            (
                "https://pas.windows.net/CheckMyAccess/Linux/.default",
                "https://pas.windows.net/CheckMyAccess/Linux/.default",
            ),
            ("openid", "openid"),
            ("urn:x:y", "urn:x:y"),
        ] {
            assert_eq!(scope_to_resource(scope), want, "{scope}");
        }
    }

    #[test]
    fn the_account_is_made_from_the_access_tokens_claims() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            r#"{"iss":"https://sts/t/","sub":"s","exp":2000,"iat":1000,"oid":"o","tid":"t","unique_name":"u@x"}"#,
        );
        let body = json!({"access_token": format!("h.{payload}.sig"), "expires_in": "3599", "token_type": "Bearer"});
        let r = to_response(body.as_object().unwrap(), "cid", 1000).unwrap();
        let claims = r.synthetic_id_token_claims.clone().unwrap();
        assert_eq!(claims["aud"], "cid");
        assert_eq!(claims["preferred_username"], "u@x");
        assert_eq!(claims["tid"], "t");
        assert_eq!(r.expires_in(), Some(3599));
        let ci = crate::response::ClientInfo::parse(r.client_info.as_deref().unwrap()).unwrap();
        assert_eq!(ci.home_account_id(), "o.t");
        // An opaque token: MSAL Python's placeholders.
        let body = json!({"access_token": "opaque", "expires_in": 60});
        let r = to_response(body.as_object().unwrap(), "cid", 1000).unwrap();
        let ci = crate::response::ClientInfo::parse(r.client_info.as_deref().unwrap()).unwrap();
        assert_eq!(ci.home_account_id(), "user.cloudshell");
        let body = json!({"access_token": "x", "expires_in": 60, "token_type": "pop"});
        assert!(to_response(body.as_object().unwrap(), "cid", 1000).is_err());
        let body = json!({"access_token": "x"});
        assert!(to_response(body.as_object().unwrap(), "cid", 1000).is_err());
    }
}
