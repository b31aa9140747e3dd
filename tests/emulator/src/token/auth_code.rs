//! `grant_type=authorization_code`: redeems a code issued by the authorize endpoint.

use serde_json::Value;

use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::ids;
use crate::respond::OAuthError;
use crate::seeds;
use crate::state::AuthCode;

fn invalid_code(detail: &str) -> OAuthError {
    OAuthError::invalid_grant(
        70_000,
        format!("The provided value for the 'code' parameter is not valid. {detail}"),
    )
}

/// PKCE (RFC 7636): `plain` or `S256`.
fn verifier_matches(verifier: &str, challenge: &str, method: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    well_formed
        && if method.eq_ignore_ascii_case("S256") {
            ids::s256(verifier) == challenge
        } else {
            verifier == challenge
        }
}

/// Every check of a code against the request (the caller marks it redeemed on success).
fn check(ctx: &TokenRequest<'_>, code: &AuthCode, client_id: &str) -> Result<(), OAuthError> {
    if code.redeemed {
        return Err(OAuthError::invalid_grant(
            54_005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code \
             or use an existing refresh token.",
        ));
    }
    if ctx.now >= code.issued_at + seeds::AUTH_CODE_LIFETIME as f64 {
        return Err(OAuthError::invalid_grant(
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. \
             Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !code.client_id.eq_ignore_ascii_case(client_id) {
        return Err(invalid_code("The code was issued to a different client."));
    }
    let auth = ctx.authority;
    let tenant_ok = auth
        .tid()
        .is_none_or(|t| t.eq_ignore_ascii_case(&code.user.tenant_id));
    if code.kind != auth.kind || !tenant_ok || code.policy != auth.policy {
        return Err(invalid_code(
            "The code was issued by a different authority (tenant, policy or host).",
        ));
    }
    let redirect_uri = ctx.required("redirect_uri")?;
    if redirect_uri != code.redirect_uri {
        return Err(OAuthError::invalid_grant(
            500_112,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' \
                 provided when requesting Authorization code.",
                code.redirect_uri
            ),
        ));
    }
    if let Some((challenge, method)) = &code.challenge {
        let verifier = ctx.required("code_verifier")?;
        if !verifier_matches(verifier, challenge, method) {
            return Err(OAuthError::invalid_grant(
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the \
                 authorization request.",
            ));
        }
    }
    Ok(())
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate_any(ctx)?;
    let code_param = ctx.required("code")?;
    client_credentials::parse_claims(ctx)?;
    let code = {
        let mut reg = ctx.state.lock();
        let code = reg
            .auth_codes
            .get_mut(code_param)
            .ok_or_else(|| invalid_code("The code is unknown or malformed."))?;
        check(ctx, code, &client.app.client_id)?;
        code.redeemed = true;
        code.clone()
    };
    let scope = ctx.param("scope").unwrap_or(&code.scope).to_string();
    let requested = scopes::parse(&ctx.state.lock(), &scope)?;
    let claims = user::claims_of(&code.user);
    Ok(user::respond(
        ctx,
        &SignIn {
            client: &client,
            user: &claims,
            auth_time: Some(code.auth_time),
            nonce: code.nonce.as_deref(),
            requested: &requested,
            always_refresh_token: false,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verifier_matches(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "S256"
        ));
        assert!(!verifier_matches(
            v,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cX",
            "S256"
        ));
        assert!(verifier_matches(v, v, "plain"));
        assert!(!verifier_matches("short", "short", "plain"));
    }
}
