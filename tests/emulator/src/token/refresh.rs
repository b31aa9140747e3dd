//! `grant_type=refresh_token`: bound to the user and to the client or its FOCI family; each
//! use answers a new refresh token (rotation; the old one stays valid unless rotation is
//! strict); admin revocation refuses every earlier token of the user.

use serde_json::Value;

use super::issue::UserClaims;
use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::clock::format_timestamp;
use crate::respond::OAuthError;
use crate::state::{RefreshTokenRecord, Registry, RtStatus, User};

fn malformed() -> OAuthError {
    OAuthError::invalid_grant(
        9_002_313,
        "Invalid request. Request is malformed or invalid.",
    )
}

fn client_mismatch() -> OAuthError {
    OAuthError::invalid_grant(
        70_000,
        "The provided value for the 'refresh_token' parameter is not valid. The refresh token \
         was issued to a different client.",
    )
    .with("suberror", "client_mismatch")
    .with(
        "error_additional_info",
        serde_json::json!(["client_mismatch"]),
    )
}

fn check(
    ctx: &TokenRequest<'_>,
    rt: &RefreshTokenRecord,
    client_id: &str,
    family: Option<&str>,
    strict: bool,
) -> Result<(), OAuthError> {
    if rt.kind != ctx.authority.kind {
        return Err(malformed());
    }
    let same_client = rt.client_id.eq_ignore_ascii_case(client_id);
    let same_family = rt.family_id.is_some() && rt.family_id.as_deref() == family;
    if !same_client && !same_family {
        return Err(client_mismatch());
    }
    match rt.status {
        RtStatus::Revoked(at) => {
            return Err(OAuthError::invalid_grant(
                50_173,
                format!(
                    "The provided grant has expired due to it being revoked, a fresh auth token \
                     is needed. The user might have changed or reset their password. The grant \
                     was issued on '{}' and the TokensValidFrom date (before which tokens are \
                     not valid) for this user is '{}'.",
                    format_timestamp(rt.issued_at),
                    format_timestamp(at)
                ),
            ));
        }
        RtStatus::Redeemed if strict => {
            return Err(OAuthError::invalid_grant(
                70_000,
                "The provided value for the 'refresh_token' parameter is not valid. It was \
                 already redeemed and the emulator's refresh token rotation is strict.",
            ));
        }
        RtStatus::Redeemed | RtStatus::Active => {}
    }
    Ok(())
}

/// Who the refresh signs in: the refresh token's user, or at another tenant the same
/// person's guest (B2B) record there (the same home identity), as Entra ID redeems a refresh
/// token at any tenant the user is a member or guest of.
fn target_user(
    reg: &Registry,
    rt: &RefreshTokenRecord,
    authority_tid: Option<&str>,
) -> Result<UserClaims, OAuthError> {
    let own = reg.user(&rt.tid, &rt.username);
    match authority_tid {
        Some(t) if !t.eq_ignore_ascii_case(&rt.tid) => {
            let home = own.map(User::home_ids);
            reg.users_named(&rt.username)
                .find(|u| u.tenant_id.eq_ignore_ascii_case(t) && home == Some(u.home_ids()))
                .map(user::claims_of)
                .ok_or_else(|| user::no_such_user(t))
        }
        _ => Ok(UserClaims {
            oid: rt.oid.clone(),
            tid: rt.tid.clone(),
            username: rt.username.clone(),
            name: rt.name.clone(),
            home: own.and_then(|u| u.home.clone()),
        }),
    }
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate_any(ctx)?;
    let token = ctx.required("refresh_token")?;
    client_credentials::parse_claims(ctx)?;
    // One critical section: check, then mark redeemed (strict rotation admits one redemption).
    let (rt, requested, claims) = {
        let mut reg = ctx.state.lock();
        let rt = reg.refresh_tokens.get(token).ok_or_else(malformed)?.clone();
        check(
            ctx,
            &rt,
            &client.app.client_id,
            client.app.family_id.as_deref(),
            reg.strict_rotation,
        )?;
        let scope = ctx
            .param("scope")
            .map_or_else(|| rt.scopes.join(" "), str::to_string);
        let requested = scopes::parse(&reg, &scope)?;
        let claims = target_user(&reg, &rt, ctx.authority.tid())?;
        if let Some(u) = reg.user(&claims.tid, &claims.username) {
            user::check_user(u, &client.app.client_id, &requested.resource.aud)?;
        }
        if let Some(rec) = reg.refresh_tokens.get_mut(token)
            && rec.status == RtStatus::Active
        {
            rec.status = RtStatus::Redeemed;
        }
        (rt, requested, claims)
    };
    Ok(user::respond(
        ctx,
        &SignIn {
            client: &client,
            user: &claims,
            auth_time: rt.auth_time,
            nonce: None,
            requested: &requested,
            always_refresh_token: true,
        },
    ))
}
