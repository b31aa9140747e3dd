//! `grant_type=password` (ROPC): managed users with their password. Users of a federated
//! domain are refused (their password lives at the federation server).

use serde_json::Value;

use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::respond::OAuthError;

fn bad_credentials(extra: &str) -> OAuthError {
    OAuthError::invalid_grant(
        50_126,
        format!("Error validating credentials due to invalid username or password.{extra}"),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate_any(ctx)?;
    let username = ctx.required("username")?;
    let password = ctx.required("password")?;
    let scope = ctx.required("scope")?;
    client_credentials::parse_claims(ctx)?;
    let realm = ctx.authority.realm();
    let (found, requested) = {
        let reg = ctx.state.lock();
        let requested = scopes::parse(&reg, scope)?;
        let found = reg
            .users_named(username)
            .find(|u| realm.admits(&reg, u))
            .cloned()
            .ok_or_else(|| user::no_such_user(&ctx.authority.segment))?;
        if reg.is_federated(&found.domain()) {
            return Err(bad_credentials(&format!(
                " The user's domain '{}' is federated: Entra ID cannot validate the password \
                 (invalid on-premise username or password). Use the federation server \
                 (federation_active_auth_url of the user realm).",
                found.domain()
            )));
        }
        if !constant_time_eq(found.password.as_bytes(), password.as_bytes()) {
            return Err(bad_credentials(""));
        }
        user::check_user(&found, &client.app.client_id, &requested.resource.aud)?;
        (found, requested)
    };
    let auth_time = found.auth_time.unwrap_or_else(|| ctx.now_secs());
    let claims = user::claims_of(&found);
    Ok(user::respond(
        ctx,
        &SignIn {
            client: &client,
            user: &claims,
            auth_time: Some(auth_time),
            nonce: None,
            requested: &requested,
            always_refresh_token: false,
        },
    ))
}
