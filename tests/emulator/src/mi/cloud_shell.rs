//! Cloud Shell (`POST /cloudshell/oauth2/token`, form `resource`): `Metadata: true`; the token
//! is the signed-in user's (contoso's default user); numbers are strings, `refresh_token` is
//! empty; errors are `{"error":{"code","message"}}`.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;

use crate::respond;
use crate::seeds;
use crate::state::{EmuState, Realm};

use super::answers::{shell, unknown_resource};
use super::identity::resource_allowed;
use super::request::MiRequest;
use super::token::issue_user;

/// The one resource of a space-separated list (repeats allowed), or the error message.
fn single_resource(list: &str) -> Result<&str, &'static str> {
    let mut parts = list.split_whitespace();
    let first = parts
        .next()
        .ok_or("The 'resource' parameter is required.")?;
    if parts.any(|p| !p.eq_ignore_ascii_case(first)) {
        return Err("Only one resource may be requested at a time.");
    }
    Ok(first)
}

/// Cloud Shell's answer.
pub(crate) fn answer(state: &EmuState, req: &MiRequest) -> Response {
    if req.method != Method::POST {
        return shell(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only POST requests are supported.",
        );
    }
    if !req.metadata() {
        return shell(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Required metadata header not specified",
        );
    }
    let resource = match single_resource(req.form_value("resource").unwrap_or_default()) {
        Ok(r) => r,
        Err(message) => return shell(StatusCode::BAD_REQUEST, "BadRequest", message),
    };
    let (settings, user) = {
        let reg = state.lock();
        let realm = Realm::Tenant(seeds::CONTOSO_TENANT_ID.into());
        (
            reg.managed_identity.settings.clone(),
            reg.default_user(&realm).cloned(),
        )
    };
    let Some(user) = user else {
        return shell(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "No user is signed in to Cloud Shell.",
        );
    };
    if !resource_allowed(&settings, resource) {
        return shell(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &unknown_resource(resource, &user.tenant_id, state.clock.now_secs()),
        );
    }
    let t = issue_user(state, &user, resource, settings.token_lifetime_secs);
    respond::json(
        StatusCode::OK,
        &json!({
            "access_token": t.access_token,
            "refresh_token": "",
            "expires_in": t.lifetime.to_string(),
            "expires_on": t.expires_on.to_string(),
            "not_before": t.now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resource() {
        assert_eq!(single_resource("https://a"), Ok("https://a"));
        assert_eq!(single_resource(" https://a  https://A "), Ok("https://a"));
        assert!(single_resource("https://a https://b").is_err());
        assert!(single_resource("   ").is_err());
    }
}
