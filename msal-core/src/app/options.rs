//! Options shared by the apps and their request builders: the per-request options every
//! `acquire_*` builder offers, the future those builders turn into, and the explicitly named
//! dangerous switches.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::authority::Authority;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Per-request options common to every acquisition builder.
#[derive(Default, Clone)]
pub(crate) struct RequestOptions {
    pub(crate) authority: Option<Authority>,
    pub(crate) tenant: Option<String>,
    pub(crate) claims: Option<String>,
    pub(crate) force_refresh: bool,
    pub(crate) correlation_id: Option<String>,
    pub(crate) extra_body: Vec<(String, String)>,
    pub(crate) extra_query: Vec<(String, String)>,
}

impl RequestOptions {
    /// The extra body fields as pairs, for the extended cache key.
    pub(crate) fn extra_body_pairs(&self) -> Vec<(&str, &str)> {
        self.extra_body
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// True when the cache must not be read: a claims challenge or force refresh.
    pub(crate) fn bypasses_cache(&self) -> bool {
        self.force_refresh || self.claims.is_some()
    }
}

/// Generates the per-request option setters on a builder with a `options: RequestOptions`
/// field.
macro_rules! request_option_setters {
    () => {
        /// Sends the request to another authority than the app's, e.g. another B2C policy.
        pub fn authority(mut self, authority: $crate::Authority) -> Self {
            self.options.authority = Some(authority);
            self
        }

        /// Sends the request to another tenant of the same cloud (one app, many tenants).
        pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
            self.options.tenant = Some(tenant.into());
            self
        }

        /// A claims challenge (from a `WWW-Authenticate` header or an error's
        /// [`claims`](crate::ServiceError::claims)); the cache is not read.
        pub fn claims(mut self, claims: impl Into<String>) -> Self {
            self.options.claims = Some(claims.into());
            self
        }

        /// Skips the cached access token and asks the identity provider.
        pub fn force_refresh(mut self, force: bool) -> Self {
            self.options.force_refresh = force;
            self
        }

        /// The correlation id sent as `client-request-id` (a random UUID otherwise).
        pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
            self.options.correlation_id = Some(id.into());
            self
        }

        /// An extra form field for the token request (e.g. `fmi_path`, SSH certificate
        /// parameters). Tokens obtained with extra fields are cached apart (MSAL's extended
        /// cache key).
        pub fn extra_body(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.options.extra_body.push((name.into(), value.into()));
            self
        }

        /// An extra query parameter for the token endpoint URL.
        pub fn extra_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.options.extra_query.push((name.into(), value.into()));
            self
        }
    };
}
pub(crate) use request_option_setters;

type BoxedAcquire<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The future of an `acquire_*` builder. A cache hit is resolved before the future is first
/// polled, without allocating; anything else runs as a boxed future.
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireFuture<'a, T> {
    state: State<'a, T>,
}

enum State<'a, T> {
    Ready(Option<Result<T>>),
    Pending(BoxedAcquire<'a, T>),
}

impl<'a, T> AcquireFuture<'a, T> {
    pub(crate) fn ready(result: Result<T>) -> Self {
        AcquireFuture {
            state: State::Ready(Some(result)),
        }
    }

    pub(crate) fn pending(f: impl Future<Output = Result<T>> + Send + 'a) -> Self {
        AcquireFuture {
            state: State::Pending(Box::pin(f)),
        }
    }
}

impl<T: Unpin> Future for AcquireFuture<'_, T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match &mut self.state {
            State::Ready(r) => Poll::Ready(r.take().unwrap_or_else(|| {
                Err(Error::invalid_input(
                    "the future was polled after completion",
                ))
            })),
            State::Pending(f) => f.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for AcquireFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Pending(_) => "pending",
        };
        f.debug_struct("AcquireFuture")
            .field("state", &state)
            .finish()
    }
}

/// Switches that weaken security or correctness guarantees, named so. Tests and local
/// development need them; production code should not.
///
/// ```
/// use msal_core::clock::ManualClock;
/// use msal_core::DangerousOptions;
///
/// let clock = ManualClock::new();
/// let dangerous = DangerousOptions::new()
///     .clock(clock.clone())
///     .allow_http_to_loopback();
/// # let _ = dangerous;
/// ```
#[derive(Clone, Default)]
pub struct DangerousOptions {
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) skip_authority_validation: bool,
    pub(crate) allow_http_to_loopback: bool,
    pub(crate) imds_endpoint: Option<String>,
}

impl DangerousOptions {
    /// No dangerous switch on.
    pub fn new() -> DangerousOptions {
        DangerousOptions::default()
    }

    /// Replaces the system clock: every expiry, refresh, throttling and polling decision then
    /// reads this clock.
    pub fn clock(mut self, clock: impl Clock) -> DangerousOptions {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Accepts an authority on a host that Entra ID's instance discovery does not know.
    pub fn skip_authority_validation(mut self) -> DangerousOptions {
        self.skip_authority_validation = true;
        self
    }

    /// Accepts `http://` authorities and endpoints on loopback hosts (a local test IdP).
    pub fn allow_http_to_loopback(mut self) -> DangerousOptions {
        self.allow_http_to_loopback = true;
        self
    }

    /// Asks this Instance Metadata Service instead of `http://169.254.169.254` when a
    /// confidential client auto-detects its region ([`AzureRegion::AutoDetect`]), e.g. a
    /// local emulator. An http(s) base URL without query; plain http only to a loopback or
    /// link-local address. Checked when the app is built; public clients ignore it.
    ///
    /// [`AzureRegion::AutoDetect`]: crate::AzureRegion::AutoDetect
    pub fn imds_endpoint(mut self, base_url: impl Into<String>) -> DangerousOptions {
        self.imds_endpoint = Some(base_url.into());
        self
    }
}

impl fmt::Debug for DangerousOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DangerousOptions")
            .field("clock", &self.clock)
            .field("skip_authority_validation", &self.skip_authority_validation)
            .field("allow_http_to_loopback", &self.allow_http_to_loopback)
            .field("imds_endpoint", &self.imds_endpoint)
            .finish()
    }
}
