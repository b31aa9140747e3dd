//! The device authorization grant (RFC 8628): `POST …/devicecode` issues the codes, the admin
//! API approves or denies them, and `grant_type=urn:ietf:params:oauth:grant-type:device_code`
//! polls.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::user::{self, SignIn};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::authority::Authority;
use crate::frontend::Incoming;
use crate::hosts::HostKind;
use crate::ids;
use crate::respond::{self, OAuthError};
use crate::seeds;
use crate::state::{DeviceCode, DeviceStatus, EmuState};

/// Polls this much earlier than `interval` are still on time.
const POLL_GRACE_SECS: f64 = 0.5;

/// `grant_type` of the device code grant.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn verification_uri(authority: &Authority) -> String {
    match authority.kind {
        HostKind::Adfs => format!("https://{}/adfs/oauth2/deviceauth", seeds::ADFS_HOST),
        _ => seeds::DEVICE_VERIFICATION_URI.to_string(),
    }
}

fn unknown_client(client_id: &str, tenant: &str) -> OAuthError {
    OAuthError::bad(
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        ),
    )
}

fn start(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    if ctx.authority.kind == HostKind::B2c {
        return Err(OAuthError::bad(
            "unsupported_grant_type",
            70_003,
            "B2C does not support the device authorization grant.",
        ));
    }
    let client_id = ctx.required("client_id")?;
    let scope = ctx.required("scope")?;
    client_credentials::parse_claims(ctx)?;
    let mut reg = ctx.state.lock();
    let app = reg
        .app(client_id)
        .filter(|a| a.allowed_in(ctx.authority.real_tenant()))
        .cloned()
        .ok_or_else(|| unknown_client(client_id, &ctx.authority.segment))?;
    scopes::parse(&reg, scope)?;
    let config = reg.device_config;
    let mut user_code = ids::user_code();
    while reg.device_codes.iter().any(|d| d.user_code == user_code) {
        user_code = ids::user_code();
    }
    let device_code = ids::device_code();
    reg.device_codes.push(DeviceCode {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        client_id: app.client_id.clone(),
        scope: scope.to_string(),
        host: ctx.authority.host.clone(),
        segment: ctx.authority.segment.clone(),
        realm: ctx.authority.realm(),
        kind: ctx.authority.kind,
        issued_at: ctx.now,
        expires_in: config.expires_in,
        interval: config.interval,
        last_poll: None,
        status: DeviceStatus::Pending,
    });
    let uri = verification_uri(ctx.authority);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": config.expires_in,
        "interval": config.interval,
        "message": format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} \
             to authenticate."
        ),
    }))
}

/// `POST …/oauth2/v2.0/devicecode` (`client_id`, `scope`, optionally `claims`).
pub(crate) fn handle_authorization(
    state: &EmuState,
    req: &Incoming,
    authority: &Authority,
) -> Response {
    let ctx = TokenRequest {
        state,
        req,
        authority,
        now: state.clock.now(),
    };
    match start(&ctx) {
        Ok(body) => respond::json(StatusCode::OK, &body),
        Err(e) => e.render(ctx.now_secs(), req.client_request_id.as_deref()),
    }
}

fn flow_error(error: &'static str, code: u32, msg: &str) -> OAuthError {
    OAuthError::bad(error, code, msg)
}

fn bad_code() -> OAuthError {
    flow_error(
        "bad_verification_code",
        70_018,
        "The device_code sent to the token endpoint was not recognized.",
    )
}

fn expired() -> OAuthError {
    flow_error(
        "expired_token",
        70_020,
        "The provided value for the input parameter 'device_code' is not valid. This device \
         code has expired.",
    )
}

/// The device code grant (the client polls).
pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    let client = client_auth::authenticate_any(ctx)?;
    let code = ctx
        .param("device_code")
        .or_else(|| ctx.param("code"))
        .ok_or_else(|| OAuthError::missing("device_code"))?;
    client_credentials::parse_claims(ctx)?;
    let now = ctx.now;
    let (user, auth_time, scope) = {
        let mut guard = ctx.state.lock();
        let reg: &mut crate::state::Registry = &mut guard;
        let forced = reg.device_config.force_slow_down;
        let idx = reg
            .device_codes
            .iter()
            .position(|d| d.device_code == code)
            .ok_or_else(bad_code)?;
        let dc = &mut reg.device_codes[idx];
        if !dc.client_id.eq_ignore_ascii_case(&client.app.client_id)
            || dc.kind != ctx.authority.kind
        {
            return Err(bad_code());
        }
        if let DeviceStatus::Redeemed { .. } = dc.status {
            return Err(OAuthError::invalid_grant(
                70_000,
                "The provided value for the 'device_code' parameter is not valid. It was already \
                 redeemed.",
            ));
        }
        if dc.expired(now) {
            return Err(expired());
        }
        match dc.status.clone() {
            DeviceStatus::Declined => {
                return Err(flow_error(
                    "authorization_declined",
                    65_004,
                    "User declined to consent to access the app.",
                ));
            }
            DeviceStatus::Pending => {
                // Half a second of grace for clients that sleep exactly `interval`.
                let too_fast = dc.last_poll.is_some_and(|last| {
                    dc.interval > 0 && now - last + POLL_GRACE_SECS < dc.interval as f64
                });
                dc.last_poll = Some(now);
                if forced > 0 {
                    reg.device_config.force_slow_down = forced - 1;
                }
                if forced > 0 || too_fast {
                    return Err(flow_error(
                        "slow_down",
                        70_016,
                        "OAuth 2.0 device flow error. Polling too frequently: slow down (wait \
                         longer than 'interval' between polls).",
                    ));
                }
                return Err(flow_error(
                    "authorization_pending",
                    70_016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ));
            }
            DeviceStatus::Approved { user, auth_time } => {
                dc.status = DeviceStatus::Redeemed {
                    username: user.username.clone(),
                };
                (*user, auth_time, dc.scope.clone())
            }
            DeviceStatus::Redeemed { .. } => return Err(bad_code()),
        }
    };
    let requested = scopes::parse(&ctx.state.lock(), &scope)?;
    let claims = user::claims_of(&user);
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

/// The admin's approval: signs `username` (or the realm's default user) in on the device code
/// `user_code`. Returns an error message for the admin API.
pub(crate) fn approve(
    state: &EmuState,
    user_code: &str,
    username: Option<&str>,
) -> Result<(), String> {
    let now = state.clock.now();
    let mut reg = state.lock();
    let idx = find(&reg.device_codes, user_code)?;
    let dc = &reg.device_codes[idx];
    if !matches!(dc.status, DeviceStatus::Pending) || dc.expired(now) {
        return Err(format!("device code {} is not pending", dc.user_code));
    }
    let realm = dc.realm.clone();
    let client_id = dc.client_id.clone();
    let user = match username {
        Some(name) => reg
            .users_named(name)
            .find(|u| realm.admits(&reg, u))
            .cloned()
            .ok_or_else(|| format!("no user '{name}' may sign in at {}", dc.segment))?,
        None => reg
            .default_user(&realm)
            .cloned()
            .ok_or_else(|| format!("no default user at {}", dc.segment))?,
    };
    // Approving is an interactive sign-in: it satisfies consent and interaction requirements.
    if let Some(u) = reg.user_mut(&user.tenant_id, &user.username) {
        u.interaction = None;
        u.needs_consent
            .retain(|c| !c.eq_ignore_ascii_case(&client_id));
    }
    let auth_time = user
        .auth_time
        .unwrap_or_else(|| now.max(0.0).floor() as u64);
    reg.device_codes[idx].status = DeviceStatus::Approved {
        user: Box::new(user),
        auth_time,
    };
    Ok(())
}

/// The admin's denial of `user_code`.
pub(crate) fn deny(state: &EmuState, user_code: &str) -> Result<(), String> {
    let now = state.clock.now();
    let mut reg = state.lock();
    let idx = find(&reg.device_codes, user_code)?;
    let dc = &mut reg.device_codes[idx];
    if !matches!(dc.status, DeviceStatus::Pending) || dc.expired(now) {
        return Err(format!("device code {} is not pending", dc.user_code));
    }
    dc.status = DeviceStatus::Declined;
    Ok(())
}

fn normalize_user_code(c: &str) -> String {
    c.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn find(codes: &[DeviceCode], user_code: &str) -> Result<usize, String> {
    let want = normalize_user_code(user_code);
    codes
        .iter()
        .rposition(|d| d.user_code == want)
        .ok_or_else(|| format!("unknown user code '{user_code}'"))
}
