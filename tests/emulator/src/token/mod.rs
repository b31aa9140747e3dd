//! The token endpoint: form parsing, grant dispatch, one module per grant.
//!
//! To add a grant, write `fn handle(&TokenRequest<'_>) -> Result<Value, OAuthError>` in its own
//! module and add it to [`grant_handler`].

mod auth_code;
mod client_auth;
mod client_credentials;
mod device_code;
pub(crate) mod issue;
mod obo;
mod password;
mod pop;
mod refresh;
mod saml;
pub(crate) mod scopes;
mod ssh_cert;
pub(crate) mod user;
mod user_fic;

pub(crate) use device_code::{
    DEVICE_CODE_GRANT, approve as approve_device_code, deny as deny_device_code,
    handle_authorization as device_authorization,
};

use axum::response::Response;
use http::StatusCode;
use serde_json::Value;

use super::authority::Authority;
use super::frontend::Incoming;
use super::respond::{self, OAuthError};
use super::state::EmuState;

/// `grant_type` of the JWT bearer grant (on-behalf-of).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// One token request being processed.
pub(crate) struct TokenRequest<'a> {
    pub(crate) state: &'a EmuState,
    pub(crate) req: &'a Incoming,
    pub(crate) authority: &'a Authority,
    /// Emulator time at arrival, epoch seconds.
    pub(crate) now: f64,
}

impl TokenRequest<'_> {
    /// A non-empty form parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.req.form_value(name).filter(|v| !v.is_empty())
    }

    /// A required form parameter.
    pub(crate) fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.param(name).ok_or_else(|| OAuthError::missing(name))
    }

    /// Emulator time in whole seconds.
    pub(crate) fn now_secs(&self) -> u64 {
        if self.now <= 0.0 {
            0
        } else {
            self.now.floor() as u64
        }
    }
}

type Grant = fn(&TokenRequest<'_>) -> Result<Value, OAuthError>;

/// The handler of each supported grant type.
fn grant_handler(grant_type: &str) -> Option<Grant> {
    match grant_type {
        "client_credentials" => Some(client_credentials::handle),
        JWT_BEARER => Some(obo::handle),
        "authorization_code" => Some(auth_code::handle),
        "refresh_token" => Some(refresh::handle),
        "password" => Some(password::handle),
        DEVICE_CODE_GRANT => Some(device_code::handle),
        "user_fic" => Some(user_fic::handle),
        saml::SAML2_BEARER => Some(saml::handle_saml2),
        saml::SAML1_1_BEARER => Some(saml::handle_saml1_1),
        _ => None,
    }
}

/// Handles `POST …/token`.
pub(crate) fn handle(state: &EmuState, req: &Incoming, authority: &Authority) -> Response {
    let ctx = TokenRequest {
        state,
        req,
        authority,
        now: state.clock.now(),
    };
    match process(&ctx) {
        Ok(body) => respond::json(StatusCode::OK, &body),
        Err(e) => e.render(ctx.now_secs(), req.client_request_id.as_deref()),
    }
}

fn process(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    if !ctx.req.is_form {
        return Err(OAuthError::missing("grant_type"));
    }
    let grant = ctx.required("grant_type")?;
    let handler = grant_handler(grant).ok_or_else(|| {
        OAuthError::bad(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    })?;
    if let Some(kid) = pop::requested(ctx)? {
        return Ok(pop::answer(ctx, &kid, handler(ctx)?));
    }
    match ssh_cert::requested(ctx)? {
        Some(key) => Ok(ssh_cert::answer(ctx, &key, handler(ctx)?)),
        None => handler(ctx),
    }
}
