//! MSAL's server telemetry headers (schema 4), kept per application:
//! `x-client-current-telemetry: 4|{api_id},{refresh_reason}|` and
//! `x-client-last-telemetry: 4|{cache hits}|{api,correlation,...}|{errors...}|`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The API ids MSAL reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // named as MSAL names them
pub(crate) enum ApiId {
    AcquireTokenSilent = 84,
    AcquireTokenByRefreshToken = 85,
    AcquireTokenByUsernamePassword = 301,
    AcquireTokenOnBehalfOf = 523,
    AcquireTokenByDeviceFlow = 622,
    AcquireTokenForClient = 730,
    AcquireTokenByAuthorizationCode = 832,
    AcquireTokenByUserFic = 950,
}

/// Why a token was requested from the network rather than served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshReason {
    /// Not a silent call (MSAL sends 0 for on-behalf-of and the interactive grants).
    NotApplicable = 0,
    /// Force refresh or a claims challenge.
    ForceRefresh = 1,
    /// No access token in the cache.
    NoCachedAccessToken = 2,
    /// The cached access token expired.
    Expired = 3,
    /// The cached access token passed its `refresh_on`.
    ProactivelyRefreshed = 4,
}

const MAX_LAST_HEADER_LEN: usize = 350;

#[derive(Debug, Default)]
struct Failures {
    entries: Vec<(u32, String, String)>,
}

/// One application's telemetry buffer.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    cache_hits: AtomicU64,
    failures: Mutex<Failures>,
}

impl Telemetry {
    /// Counts a request served from the cache.
    pub(crate) fn record_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// The current-request header value.
    pub(crate) fn current(api: ApiId, reason: RefreshReason) -> String {
        format!("4|{},{}|", api as u32, reason as u32)
    }

    /// The last-request header value, from what happened since the last success.
    pub(crate) fn last(&self) -> String {
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let f = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let apis: Vec<String> = f
            .entries
            .iter()
            .map(|(api, corr, _)| format!("{api},{corr}"))
            .collect();
        let errors: Vec<&str> = f.entries.iter().map(|(_, _, e)| e.as_str()).collect();
        format!("4|{hits}|{}|{}|", apis.join(","), errors.join(","))
    }

    /// A request succeeded at the identity provider: the buffer is reported, start over.
    pub(crate) fn record_success(&self) {
        self.cache_hits.store(0, Ordering::Relaxed);
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .clear();
    }

    /// A request failed; remember it for the next request's header while it fits.
    pub(crate) fn record_failure(&self, api: ApiId, correlation_id: &str, error: &str) {
        let mut f = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let used: usize = f
            .entries
            .iter()
            .map(|(a, c, e)| a.to_string().len() + c.len() + e.len() + 3)
            .sum();
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let needed = api.as_u32().to_string().len() + correlation_id.len() + error.len() + 3;
        if 10 + used + needed <= MAX_LAST_HEADER_LEN {
            f.entries
                .push((api.as_u32(), correlation_id.to_owned(), error));
        }
    }
}

impl ApiId {
    fn as_u32(self) -> u32 {
        self as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_match_msal_python() {
        let t = Telemetry::default();
        assert_eq!(
            Telemetry::current(
                ApiId::AcquireTokenForClient,
                RefreshReason::NoCachedAccessToken
            ),
            "4|730,2|"
        );
        assert_eq!(t.last(), "4|0|||");
        t.record_failure(ApiId::AcquireTokenOnBehalfOf, "id_1", "error_1");
        assert_eq!(t.last(), "4|0|523,id_1|error_1|");
        t.record_cache_hit();
        assert_eq!(t.last(), "4|1|523,id_1|error_1|");
        t.record_success();
        assert_eq!(t.last(), "4|0|||");
    }

    #[test]
    fn failures_stay_under_the_size_limit() {
        let t = Telemetry::default();
        for i in 0..100 {
            t.record_failure(
                ApiId::AcquireTokenOnBehalfOf,
                &format!("00000000-0000-0000-0000-{i:012}"),
                "invalid_grant",
            );
        }
        assert!(t.last().len() <= MAX_LAST_HEADER_LEN);
        assert!(t.last().contains("invalid_grant"));
    }
}
