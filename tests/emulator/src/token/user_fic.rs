//! `grant_type=user_fic`: a confidential client (an agent identity) exchanges a federated
//! identity credential (`user_federated_identity_credential`, e.g. an agent instance token)
//! for a token of the user named by `username` (UPN) or `user_id` (object id), as MSAL Python
//! 1.39 sends it (msal/oauth2cli/oauth2.py `obtain_token_by_user_fic`).
//!
//! The credential is accepted as a client assertion of a federated credential would be: its
//! `iss`, `sub` and one `aud` must match one of the app's federated identity credentials, it
//! must be signed by the emulator (every issuer's signer) and be within its validity period.

use serde_json::Value;

use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::jwt::OwnTokenError;
use crate::respond::OAuthError;

fn invalid_grant(code: u32, msg: impl Into<String>) -> OAuthError {
    OAuthError::invalid_grant(code, msg)
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate(ctx)?;
    let credential = ctx.required("user_federated_identity_credential")?;
    let scope = ctx.required("scope")?;
    client_credentials::parse_claims(ctx)?;
    let username = ctx.param("username").filter(|u| !u.is_empty());
    let user_id = ctx.param("user_id").filter(|u| !u.is_empty());
    if username.is_some() == user_id.is_some() {
        return Err(OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain exactly one of the following parameters: 'username', \
             'user_id'.",
        ));
    }

    let jwt = ctx.state.signer.verify(credential).map_err(|e| match e {
        OwnTokenError::Malformed => invalid_grant(
            50_027,
            "The user federated identity credential is invalid or malformed.",
        ),
        OwnTokenError::BadSignature => invalid_grant(
            700_027,
            "The user federated identity credential contains an invalid signature. [Reason - \
             The key was not found in the issuer's keys.]",
        ),
    })?;
    if !client_auth::federated_match(&client.app, &jwt) {
        return Err(invalid_grant(
            70_021,
            format!(
                "No matching federated identity record found for the presented user federated \
                 identity credential. Assertion Issuer: '{}'. Assertion Subject: '{}'.",
                jwt.claim_str("iss").unwrap_or_default(),
                jwt.claim_str("sub").unwrap_or_default()
            ),
        ));
    }
    let exp = jwt.claim_f64("exp").unwrap_or(0.0);
    if exp <= ctx.now || jwt.claim_f64("nbf").is_some_and(|n| n > ctx.now) {
        return Err(invalid_grant(
            700_024,
            format!(
                "The user federated identity credential is not within its valid time range. \
                 Current time: {}, expiry time of assertion {exp}.",
                ctx.now
            ),
        ));
    }

    let realm = ctx.authority.realm();
    let (found, requested) = {
        let reg = ctx.state.lock();
        let requested = scopes::parse(&reg, scope)?;
        let found = reg
            .users
            .iter()
            .filter(|u| realm.admits(&reg, u))
            .find(|u| match (username, user_id) {
                (Some(n), _) => u.username.eq_ignore_ascii_case(n.trim()),
                (None, Some(oid)) => u.oid.eq_ignore_ascii_case(oid.trim()),
                (None, None) => false,
            })
            .cloned()
            .ok_or_else(|| user::no_such_user(&ctx.authority.segment))?;
        user::check_user(&found, &client.app.client_id, &requested.resource.aud)?;
        (found, requested)
    };
    let claims = user::claims_of(&found);
    Ok(user::respond(
        ctx,
        &SignIn {
            client: &client,
            user: &claims,
            auth_time: Some(ctx.now_secs()),
            nonce: None,
            requested: &requested,
            always_refresh_token: false,
        },
    ))
}
