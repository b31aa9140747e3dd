//! Managed-identity access tokens: RS256 JWTs signed with the emulator's key (so its JWKS
//! verifies them), timed by the emulator's clock and the configured lifetime.

use serde_json::{Value, json};

use crate::authority::Authority;
use crate::ids;
use crate::model::ManagedIdentityRegistration;
use crate::seeds;
use crate::state::{EmuState, User};

/// An issued token and its times (epoch seconds).
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    /// `iat` and `nbf`.
    pub(crate) now: i64,
    /// `exp` (never below 0).
    pub(crate) expires_on: i64,
    /// The configured lifetime: `expires_in` (negative for an already expired token).
    pub(crate) lifetime: i64,
}

/// The emulator's time, whole epoch seconds.
pub(crate) fn now(state: &EmuState) -> i64 {
    i64::try_from(state.clock.now_secs()).unwrap_or(i64::MAX)
}

/// `(iss, tid)` for a tenant reference (contoso when `None` or unknown).
fn issuer(state: &EmuState, tenant: Option<&str>) -> (String, String) {
    let reg = state.lock();
    let found = reg
        .tenant(tenant.unwrap_or(seeds::CONTOSO_TENANT_ID))
        .or_else(|| reg.tenant(seeds::CONTOSO_TENANT_ID));
    match found {
        Some(t) => (
            Authority::for_tenant(t).access_token_issuer(&t.id),
            t.id.clone(),
        ),
        None => (
            format!("https://sts.windows.net/{}/", seeds::CONTOSO_TENANT_ID),
            seeds::CONTOSO_TENANT_ID.to_string(),
        ),
    }
}

fn times(state: &EmuState, lifetime: i64) -> (i64, i64) {
    let now = now(state);
    (now, now.saturating_add(lifetime).max(0))
}

/// The tenant id of `identity` (contoso when it names none).
pub(crate) fn tenant_of(state: &EmuState, identity: &ManagedIdentityRegistration) -> String {
    issuer(state, identity.tenant.as_deref()).1
}

/// A token of `identity` for `resource` (`aud` exactly as requested); `xms_cc` carries client
/// capabilities when the source forwards them.
pub(crate) fn issue_app(
    state: &EmuState,
    identity: &ManagedIdentityRegistration,
    resource: &str,
    lifetime: i64,
    xms_cc: Option<Vec<String>>,
) -> Issued {
    let (iss, tid) = issuer(state, identity.tenant.as_deref());
    let (now, exp) = times(state, lifetime);
    let mut claims = json!({
        "aud": resource,
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "appid": identity.client_id,
        "appidacr": "2",
        "idp": iss,
        "idtyp": "app",
        "oid": identity.object_id,
        "sub": identity.object_id,
        "tid": tid,
        "uti": ids::uti(),
        "ver": "1.0",
        "xms_mirid": identity.resource_id,
    });
    if let (Some(caps), Some(obj)) = (xms_cc, claims.as_object_mut()) {
        obj.insert("xms_cc".into(), Value::from(caps));
    }
    Issued {
        access_token: state.signer.sign("JWT", &claims),
        now,
        expires_on: exp,
        lifetime,
    }
}

/// A delegated token of `user` for `resource`, as Cloud Shell issues for its signed-in user.
pub(crate) fn issue_user(state: &EmuState, user: &User, resource: &str, lifetime: i64) -> Issued {
    let (iss, tid) = issuer(state, Some(&user.tenant_id));
    let (now, exp) = times(state, lifetime);
    let client = seeds::CLOUD_SHELL_CLIENT_ID;
    let claims = json!({
        "aud": resource,
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "acr": "1",
        "amr": ["pwd"],
        "appid": client,
        "appidacr": "0",
        "idp": iss,
        "idtyp": "user",
        "name": user.name,
        "oid": user.oid,
        "preferred_username": user.username,
        "scp": "user_impersonation",
        "sub": ids::pairwise_sub(&user.oid, client),
        "tid": tid,
        "unique_name": user.username,
        "upn": user.username,
        "uti": ids::uti(),
        "ver": "1.0",
    });
    Issued {
        access_token: state.signer.sign("JWT", &claims),
        now,
        expires_on: exp,
        lifetime,
    }
}
