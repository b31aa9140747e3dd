//! HTTP: the [`HttpClient`] seam with its reqwest implementation, and how msal-core talks to
//! identity providers over it (MSAL's headers, telemetry, form rules, response mapping).

mod client;
pub(crate) mod telemetry;
pub mod throttle;
pub(crate) mod token_request;

use std::fmt;
use std::sync::Arc;

pub(crate) use client::is_local_host;
pub use client::{
    BypassProxy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT, HttpClient,
    ReqwestHttpClient, ReqwestHttpClientBuilder,
};
pub use throttle::ThrottleState;

/// What every request of one application needs: the transport, the app's identification
/// headers and its telemetry buffer.
pub(crate) struct HttpContext {
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) app_name: Option<String>,
    pub(crate) app_version: Option<String>,
    pub(crate) telemetry: telemetry::Telemetry,
    pub(crate) throttle: throttle::ThrottleState,
    /// How long a 429/5xx without a usable `Retry-After` blocks (5 s confidential, 60 s public).
    pub(crate) default_retry: std::time::Duration,
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

impl fmt::Debug for HttpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpContext")
            .field("http", &self.http)
            .field("app_name", &self.app_name)
            .field("app_version", &self.app_version)
            .finish_non_exhaustive()
    }
}
