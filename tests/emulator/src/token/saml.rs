//! The SAML bearer assertion grants (RFC 7522), as a client redeems the assertion a federated
//! user's federation server issued over WS-Trust (MSAL Python 1.39, msal/application.py
//! `_acquire_token_by_username_password_federated`): `saml2-bearer` for a SAML 2.0 assertion
//! (WS-Trust 1.3) and Microsoft's `saml1_1-bearer` for a SAML 1.1 assertion (WS-Trust 2005).
//! `assertion` is the assertion, base64url-encoded. Only assertions the emulated federation
//! server issued are accepted (see the `wstrust` module).

use serde_json::Value;

use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::respond::OAuthError;
use crate::wstrust::{self, Refused};

/// `grant_type` of a SAML 2.0 assertion (RFC 7522 §2.1).
pub(super) const SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
/// `grant_type` of a SAML 1.1 assertion (Microsoft's extension).
pub(super) const SAML1_1_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";

pub(super) fn handle_saml2(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    handle(ctx, true)
}

pub(super) fn handle_saml1_1(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    handle(ctx, false)
}

fn handle(ctx: &TokenRequest<'_>, saml2: bool) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate_any(ctx)?;
    let assertion = ctx.required("assertion")?;
    let scope = ctx.required("scope")?;
    client_credentials::parse_claims(ctx)?;
    let username = wstrust::redeem_assertion(ctx.state, assertion, saml2, ctx.now_secs()).map_err(
        |e| match e {
            Refused::Invalid(why) => {
                OAuthError::invalid_grant(50_008, format!("SAML token is invalid. {why}"))
            }
            Refused::Expired => OAuthError::invalid_grant(
                50_013,
                "Assertion failed signature validation or is expired. [Reason - The provided \
                 SAML assertion is expired.]",
            ),
        },
    )?;
    let realm = ctx.authority.realm();
    let (found, requested) = {
        let reg = ctx.state.lock();
        let requested = scopes::parse(&reg, scope)?;
        let found = reg
            .users_named(&username)
            .find(|u| realm.admits(&reg, u))
            .cloned()
            .ok_or_else(|| user::no_such_user(&ctx.authority.segment))?;
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
