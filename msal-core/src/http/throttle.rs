//! Client-side throttling (msal/throttled_http_client.py), so that an app in trouble does not hammer the
//! identity provider:
//!
//! - a request answered 429 or 5xx (or with any `Retry-After`) is not sent again until then
//!   (the header's seconds, capped at an hour; 5 s for a confidential client and 60 s for a
//!   public one when the header is missing or not a number);
//! - a 400 without `Retry-After` (e.g. `invalid_grant`) is answered from memory for 60 s —
//!   never for device-code polling, whose `authorization_pending` is a 400;
//! - a successful GET (user realm, instance metadata) is reused for 24 hours; a failed one is
//!   never remembered.
//!
//! Unlike MSAL Python, a request's key covers what it asks for (endpoint and every form field
//! but the client's proof, which changes on its own), so one throttled request never blocks a
//! different one. The state holds at most 1,024 entries (the soonest to expire goes first) and
//! can be exported and imported, like MSAL's `http_cache`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// The longest `Retry-After` honoured.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How long an identical 400 is answered from memory.
pub(crate) const BAD_REQUEST_TTL: Duration = Duration::from_secs(60);
/// How long a successful GET is reused.
pub(crate) const GET_TTL: Duration = Duration::from_secs(24 * 3600);
const CAPACITY: usize = 1024;

/// Form fields that prove the client's identity: they change between identical requests
/// (a new assertion every nine minutes) and never decide what is asked.
const VOLATILE_FIELDS: [&str; 3] = ["client_assertion", "client_secret", "client_assertion_type"];

/// A remembered response.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// Seconds since the Unix epoch after which the entry is gone.
    expires_at: u64,
    status: u16,
    /// The body, base64.
    body: String,
    /// Whether this entry throttles (429/5xx/Retry-After) rather than replays a 400 or a GET.
    throttle: bool,
}

/// The throttling state of an app (or several apps, shared): cheap to clone, exportable.
#[derive(Clone, Default)]
pub struct ThrottleState {
    inner: Arc<Mutex<HashMap<String, Stored>>>,
}

impl fmt::Debug for ThrottleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleState")
            .field("entries", &self.lock().len())
            .finish()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn hash(parts: &[&str]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p.as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ctx.finish().as_ref())
}

/// What the throttle decided for an outgoing request.
pub(crate) enum Verdict {
    /// Send it.
    Send,
    /// Answer with this remembered response.
    Replay(http::Response<Vec<u8>>),
    /// Refuse it: the identity provider asked to wait this much longer.
    Blocked(Duration, http::Response<Vec<u8>>),
}

impl ThrottleState {
    /// An empty state.
    pub fn new() -> ThrottleState {
        ThrottleState::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stored>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state as JSON, to persist across runs (expired entries left out).
    pub fn export(&self, now: SystemTime) -> Result<String> {
        let now = unix(now);
        let map: HashMap<String, Stored> = self
            .lock()
            .iter()
            .filter(|(_, s)| s.expires_at > now)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::to_string(&map)
            .map_err(|e| Error::with_source(ErrorKind::Cache, "the throttle state", e))
    }

    /// Adds the entries of an exported state (replacing those with the same key).
    pub fn import(&self, json: &str) -> Result<()> {
        let map: HashMap<String, Stored> = serde_json::from_str(json)
            .map_err(|_| Error::new(ErrorKind::Cache, "the throttle state is not valid JSON"))?;
        let mut m = self.lock();
        m.extend(map);
        Ok(())
    }

    /// How many live entries the state holds.
    pub fn len(&self, now: SystemTime) -> usize {
        let now = unix(now);
        self.lock().values().filter(|s| s.expires_at > now).count()
    }

    /// The key of a POST: endpoint plus every form field that decides what is asked.
    pub(crate) fn post_key(url: &str, form: &[(&str, &str)]) -> String {
        let mut fields: Vec<String> = form
            .iter()
            .filter(|(k, _)| !VOLATILE_FIELDS.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        fields.sort_unstable();
        let parts: Vec<&str> = std::iter::once(url)
            .chain(fields.iter().map(String::as_str))
            .collect();
        format!("POST {}", hash(&parts))
    }

    /// The key of a GET.
    pub(crate) fn get_key(url: &str) -> String {
        format!("GET {}", hash(&[url]))
    }

    /// What to do with a request whose key is `key`.
    pub(crate) fn check(&self, key: &str, now: SystemTime) -> Verdict {
        let now_s = unix(now);
        let mut m = self.lock();
        let Some(s) = m.get(key) else {
            return Verdict::Send;
        };
        if s.expires_at <= now_s {
            m.remove(key);
            return Verdict::Send;
        }
        let body = base64::engine::general_purpose::STANDARD
            .decode(&s.body)
            .unwrap_or_default();
        let resp = http::Response::builder()
            .status(s.status)
            .body(body)
            .unwrap_or_else(|_| http::Response::new(Vec::new()));
        if s.throttle {
            Verdict::Blocked(Duration::from_secs(s.expires_at - now_s), resp)
        } else {
            Verdict::Replay(resp)
        }
    }

    /// Records what the identity provider answered, when it calls for remembering.
    /// `is_device_code` exempts the answer from the 400 rule; `default_retry` applies to a
    /// throttling answer without a usable `Retry-After`.
    pub(crate) fn record(
        &self,
        key: &str,
        resp: &http::Response<Vec<u8>>,
        is_get: bool,
        is_device_code: bool,
        default_retry: Duration,
        now: SystemTime,
    ) {
        let status = resp.status().as_u16();
        let header = resp.headers().get(http::header::RETRY_AFTER);
        let retry_secs = header
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let (ttl, throttle) = if is_get {
            // GETs (discovery, user realm): only a success is remembered; a failure never is.
            if !resp.status().is_success() {
                return;
            }
            (GET_TTL, false)
        } else if status == 429 || status >= 500 || header.is_some() {
            let ttl = retry_secs
                .map(Duration::from_secs)
                .unwrap_or(default_retry)
                .min(MAX_RETRY_AFTER);
            (ttl, true)
        } else if status == 400 && !is_device_code {
            (BAD_REQUEST_TTL, false)
        } else {
            return;
        };
        if ttl.is_zero() {
            return;
        }
        let stored = Stored {
            expires_at: unix(now) + ttl.as_secs(),
            status,
            body: base64::engine::general_purpose::STANDARD.encode(resp.body()),
            throttle,
        };
        let mut m = self.lock();
        let now_s = unix(now);
        m.retain(|_, s| s.expires_at > now_s);
        if m.len() >= CAPACITY && !m.contains_key(key) {
            // Evict what would expire soonest.
            if let Some(k) = m
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| k.clone())
            {
                m.remove(&k);
            }
        }
        m.insert(key.to_owned(), stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, retry: Option<&str>, body: &str) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(status);
        if let Some(r) = retry {
            b = b.header("Retry-After", r);
        }
        b.body(body.as_bytes().to_vec()).expect("valid")
    }

    #[test]
    fn keys_cover_the_request_but_not_the_client_proof() {
        let a =
            ThrottleState::post_key("https://x/t", &[("scope", "a"), ("client_assertion", "1")]);
        let b =
            ThrottleState::post_key("https://x/t", &[("client_assertion", "2"), ("scope", "a")]);
        let c = ThrottleState::post_key("https://x/t", &[("scope", "b")]);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn retry_after_default_cap_and_400_rules() {
        let s = ThrottleState::new();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        s.record(
            "k",
            &resp(429, Some("30"), "{}"),
            false,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(
            matches!(s.check("k", t0 + Duration::from_secs(29)), Verdict::Blocked(d, _) if d == Duration::from_secs(1))
        );
        assert!(matches!(
            s.check("k", t0 + Duration::from_secs(30)),
            Verdict::Send
        ));
        s.record(
            "h",
            &resp(503, None, "x"),
            false,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(matches!(
            s.check("h", t0 + Duration::from_secs(4)),
            Verdict::Blocked(..)
        ));
        assert!(matches!(
            s.check("h", t0 + Duration::from_secs(5)),
            Verdict::Send
        ));
        s.record(
            "big",
            &resp(429, Some("999999"), ""),
            false,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(matches!(
            s.check("big", t0 + MAX_RETRY_AFTER - Duration::from_secs(1)),
            Verdict::Blocked(..)
        ));
        assert!(matches!(
            s.check("big", t0 + MAX_RETRY_AFTER),
            Verdict::Send
        ));
        s.record(
            "bad",
            &resp(400, None, r#"{"error":"invalid_grant"}"#),
            false,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(matches!(
            s.check("bad", t0 + Duration::from_secs(59)),
            Verdict::Replay(_)
        ));
        assert!(matches!(
            s.check("bad", t0 + Duration::from_secs(60)),
            Verdict::Send
        ));
        s.record(
            "dev",
            &resp(400, None, "{}"),
            false,
            true,
            Duration::from_secs(5),
            t0,
        );
        assert!(
            matches!(s.check("dev", t0), Verdict::Send),
            "device-code polls are never replayed"
        );
        s.record(
            "ok",
            &resp(200, None, "{}"),
            false,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(
            matches!(s.check("ok", t0), Verdict::Send),
            "successful POSTs are not remembered"
        );
        s.record(
            "get",
            &resp(200, None, "{}"),
            true,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(matches!(
            s.check("get", t0 + Duration::from_secs(86_399)),
            Verdict::Replay(_)
        ));
        s.record(
            "get404",
            &resp(404, None, "{}"),
            true,
            false,
            Duration::from_secs(5),
            t0,
        );
        assert!(
            matches!(s.check("get404", t0), Verdict::Send),
            "failed GETs are not remembered"
        );
    }

    #[test]
    fn capacity_evicts_the_soonest_to_expire_and_the_state_round_trips() {
        let s = ThrottleState::new();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..(CAPACITY + 10) {
            let retry = (i + 10).to_string();
            s.record(
                &format!("k{i}"),
                &resp(429, Some(&retry), ""),
                false,
                false,
                Duration::from_secs(5),
                t0,
            );
        }
        assert_eq!(s.len(t0), CAPACITY);
        assert!(
            matches!(s.check("k0", t0), Verdict::Send),
            "the soonest to expire went first"
        );
        assert!(matches!(
            s.check(&format!("k{}", CAPACITY + 9), t0),
            Verdict::Blocked(..)
        ));
        let json = s.export(t0).expect("export");
        let t = ThrottleState::new();
        t.import(&json).expect("import");
        assert_eq!(t.len(t0), CAPACITY);
        assert!(t.import("not json").is_err());
    }
}
