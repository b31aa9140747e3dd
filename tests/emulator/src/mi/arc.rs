//! Azure Arc (`GET /arc/metadata/identity/oauth2/token`, api-version 2020-06-01 or 2019-11-01):
//! a request without `Authorization` is challenged with `401` and
//! `WWW-Authenticate: Basic realm=<key file>` after a fresh secret is written to that file (mode
//! 0600); the retry with `Authorization: Basic <secret>` (within five minutes, once) gets the
//! token, which echoes a user-assigned id under its parameter's name.

use std::path::{Path, PathBuf};

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::ids;
use crate::respond;
use crate::state::EmuState;

use super::answers::{oauth, unknown_resource};
use super::identity::{IMDS_PARAMS, IdKind, Selector, resource_allowed, select};
use super::imds_token::{preflight, resource, select_error};
use super::request::{MiRequest, secret_matches};
use super::token::{issue_app, tenant_of};

/// The api-versions Azure Arc answers.
const API_VERSIONS: &[&str] = &["2020-06-01", "2019-11-01"];
/// How long a challenge's secret is valid (emulator clock).
const KEY_LIFETIME_SECS: u64 = 300;
/// The most challenges kept at once (the oldest are dropped, with their files).
const MAX_KEYS: usize = 256;

/// A challenge issued and not yet answered.
pub(crate) struct ArcKey {
    path: PathBuf,
    secret: String,
    issued_at: u64,
}

impl std::fmt::Debug for ArcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArcKey")
            .field("path", &self.path)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl ArcKey {
    /// Removes the key file (best effort: it may be gone already).
    pub(crate) fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `secret` to a new file at `path` readable by its owner only.
fn write_key(dir: &Path, path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()
}

/// Writes a fresh key file and answers 401 with the challenge.
fn challenge(state: &EmuState) -> Response {
    let dir = PathBuf::from(&state.manifest.managed_identity.arc_key_dir);
    let path = dir.join(format!("{}.key", uuid::Uuid::new_v4().simple()));
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    if let Err(e) = write_key(&dir, &path, &secret) {
        tracing::warn!(
            "cannot write the Azure Arc key file {}: {e}",
            path.display()
        );
        return oauth(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Could not create the authentication key file",
        );
    }
    let realm = format!("Basic realm={}", path.display());
    let evicted = {
        let mut reg = state.lock();
        let keys = &mut reg.managed_identity.arc_keys;
        keys.push(ArcKey {
            path,
            secret,
            issued_at: state.clock.now_secs(),
        });
        let excess = keys.len().saturating_sub(MAX_KEYS);
        keys.drain(..excess).collect::<Vec<_>>()
    };
    evicted.iter().for_each(ArcKey::remove_file);
    let mut resp = oauth(
        StatusCode::UNAUTHORIZED,
        "unauthorized_client",
        "Authorization: Basic <secret> is required; read the secret from the key file in WWW-Authenticate",
    );
    match HeaderValue::from_str(&realm) {
        Ok(v) => {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            resp
        }
        Err(_) => oauth(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The key file path cannot be sent in a header",
        ),
    }
}

/// Whether `secret` answers an outstanding, unexpired challenge; consumes it (and drops the
/// expired ones), removing their files.
fn consume(state: &EmuState, secret: &str) -> bool {
    let now = state.clock.now_secs();
    let (found, dropped) = {
        let mut reg = state.lock();
        let keys = std::mem::take(&mut reg.managed_identity.arc_keys);
        let (live, mut dropped): (Vec<ArcKey>, Vec<ArcKey>) = keys.into_iter().partition(|k| {
            now <= k.issued_at.saturating_add(KEY_LIFETIME_SECS) && now >= k.issued_at
        });
        let mut found = false;
        for k in live {
            if !found && secret_matches(Some(secret), &k.secret) {
                found = true;
                dropped.push(k);
            } else {
                reg.managed_identity.arc_keys.push(k);
            }
        }
        (found, dropped)
    };
    dropped.iter().for_each(ArcKey::remove_file);
    found
}

/// The secret of `Authorization: Basic <secret>`.
fn basic_secret(req: &MiRequest) -> Option<&str> {
    let (scheme, secret) = req.header("authorization")?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then_some(secret.trim())
        .filter(|s| !s.is_empty())
}

/// A different id than `value` (for the `wrong_echo` fault).
fn other_id(kind: IdKind, value: &str) -> String {
    match kind {
        IdKind::Resource => format!("{value}-other"),
        IdKind::Client | IdKind::Object => ids::random_uuid(),
    }
}

/// Azure Arc's answer; `wrong_echo` echoes a different id.
pub(crate) fn answer(state: &EmuState, req: &MiRequest, wrong_echo: bool) -> Response {
    if let Some(r) = preflight(req, API_VERSIONS) {
        return r;
    }
    if req.header("authorization").is_none() {
        return challenge(state);
    }
    if !basic_secret(req).is_some_and(|s| consume(state, s)) {
        return challenge(state);
    }
    let resource = match resource(req) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let settings = state.lock().managed_identity.settings.clone();
    let (selector, identity) = match select(req, IMDS_PARAMS, &settings) {
        Ok(found) => found,
        Err(e) => return select_error(e),
    };
    if !resource_allowed(&settings, resource) {
        let tid = tenant_of(state, identity);
        return oauth(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            &unknown_resource(resource, &tid, state.clock.now_secs()),
        );
    }
    let t = issue_app(
        state,
        identity,
        resource,
        settings.token_lifetime_secs,
        None,
    );
    let mut body = json!({
        "access_token": t.access_token,
        "expires_in": t.lifetime.to_string(),
        "expires_on": t.expires_on.to_string(),
        "not_before": t.now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    });
    if let (Selector::User { param, kind, .. }, Some(obj)) = (selector, body.as_object_mut()) {
        let value = kind.of(identity);
        let echoed = if wrong_echo {
            other_id(kind, value)
        } else {
            value.to_string()
        };
        obj.insert(param.to_string(), Value::String(echoed));
    }
    respond::json(StatusCode::OK, &body)
}
