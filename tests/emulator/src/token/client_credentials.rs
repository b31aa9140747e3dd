//! `grant_type=client_credentials`.

use serde_json::{Map, Value};

use super::TokenRequest;
use super::client_auth;
use super::issue::{self, AppToken};
use crate::authority::TenantSel;
use crate::respond::OAuthError;

/// Parses the optional `claims` form field: it must be a JSON object.
pub(super) fn parse_claims(ctx: &TokenRequest<'_>) -> Result<Option<Value>, OAuthError> {
    let Some(raw) = ctx.param("claims") else {
        return Ok(None);
    };
    serde_json::from_str::<Value>(raw)
        .ok()
        .filter(Value::is_object)
        .map(Some)
        .ok_or_else(|| {
            OAuthError::bad(
                "invalid_request",
                90_015,
                "The 'claims' parameter is not a valid JSON object.",
            )
        })
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let tid = match &ctx.authority.tenant {
        TenantSel::Real(t) => Some(t.id.clone()),
        TenantSel::Pseudo(p) => {
            return Err(OAuthError::bad(
                "invalid_request",
                50_059,
                format!(
                    "No tenant-identifying information found in either the request or implied by \
                     any provided credentials. The client credentials grant cannot use the '{}' \
                     authority.",
                    p.name()
                ),
            ));
        }
        TenantSel::None => None,
    };
    let client = client_auth::authenticate(ctx)?;
    let scope = ctx.required("scope")?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(OAuthError::bad(
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must \
                 have a single scope value with /.default suffixed to the resource identifier \
                 (application ID URI)."
            ),
        ));
    };
    let Some(ident) = single.strip_suffix("/.default") else {
        return Err(OAuthError::bad(
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {single} is not valid. Client credential flows \
                 must have a scope value with /.default suffixed to the resource identifier \
                 (application ID URI)."
            ),
        ));
    };
    let resource = ctx.state.lock().resource(ident).ok_or_else(|| {
        OAuthError::bad(
            "invalid_resource",
            500_011,
            format!(
                "The resource principal named {ident} was not found in the tenant named {}. This \
                 can happen if the application has not been installed by the administrator of the \
                 tenant or consented to by any user in the tenant.",
                ctx.authority.segment
            ),
        )
    })?;

    let mut extra = Map::new();
    if let Some(values) = parse_claims(ctx)?
        .as_ref()
        .and_then(|c| c.pointer("/access_token/xms_cc/values"))
    {
        extra.insert("xms_cc".into(), values.clone());
    }
    if let Some(fmi) = ctx.param("fmi_path") {
        extra.insert("fmi_path".into(), fmi.into());
    }
    let lifetime = client.app.lifetime();
    let token = AppToken {
        issuer: ctx
            .authority
            .access_token_issuer(tid.as_deref().unwrap_or_default()),
        aud: &resource.aud,
        client_id: &client.app.client_id,
        acr: client.method.acr(),
        tid: tid.as_deref(),
        now: ctx.now_secs(),
        lifetime,
        extra,
    }
    .sign(&ctx.state.signer);

    let mut out = Map::new();
    out.insert("token_type".into(), "Bearer".into());
    issue::lifetime_fields(&mut out, lifetime);
    out.insert("access_token".into(), token.into());
    Ok(Value::Object(out))
}
