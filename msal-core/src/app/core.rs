//! What every application shares, whatever its kind: identity (client id, authority), its
//! discovery cache, transport, token cache, clock and options. Apps are cheap handles over an
//! `Arc` of this.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::options::{DangerousOptions, RequestOptions};
use crate::authority::Authority;
use crate::authority::discovery::{AuthorityMetadata, DiscoveryCache, DiscoveryOptions, Slot};
use crate::cache::TokenCache;
use crate::clock::{Clock, SystemClock};
use crate::credential::ClientCredential;
use crate::error::{Error, ErrorKind, Result};
use crate::flow::claims::merge_claims_and_capabilities;
use crate::http::HttpContext;
use crate::http::telemetry::Telemetry;
use crate::http::{HttpClient, ReqwestHttpClient, ThrottleState};

pub(crate) struct AppCore {
    pub(crate) client_id: String,
    pub(crate) authority: Authority,
    /// The configured authority's discovery slot, held directly for the cache-hit path.
    pub(crate) authority_slot: Arc<Slot>,
    pub(crate) discovery: DiscoveryCache,
    /// The discovery slots of per-request tenant overrides of the configured authority, by the
    /// tenant as given: a cache hit with `.tenant(t)` finds its slot without building an
    /// [`Authority`]. Bounded by [`MAX_TENANT_SLOTS`].
    tenant_slots: RwLock<HashMap<Box<str>, Arc<Slot>, foldhash::fast::RandomState>>,
    pub(crate) discovery_opts: DiscoveryOptions,
    pub(crate) http: HttpContext,
    pub(crate) cache: TokenCache,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) client_capabilities: Vec<String>,
    /// Scopes never sent (MSAL Python's `exclude_scopes`), e.g. `offline_access`.
    pub(crate) exclude_scopes: Vec<String>,
    /// Requests in flight, shared by concurrent callers.
    pub(crate) flights: super::flight::Flights,
    /// The Cloud Shell token endpoint, when the app runs inside Azure Cloud Shell.
    pub(crate) cloud_shell: Option<url::Url>,
}

impl fmt::Debug for AppCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("client_capabilities", &self.client_capabilities)
            .field("exclude_scopes", &self.exclude_scopes)
            .finish_non_exhaustive()
    }
}

/// How many tenant overrides [`AppCore::tenant_slots`] remembers; beyond that, a lookup builds
/// the tenant's authority each time (correct, a little slower).
const MAX_TENANT_SLOTS: usize = 4096;

/// What an app builder gathered, checked by [`AppCore::new`].
pub(crate) struct AppSettings {
    pub(crate) client_id: String,
    pub(crate) authority: Authority,
    pub(crate) cache: Option<TokenCache>,
    pub(crate) http_client: Option<Arc<dyn HttpClient>>,
    pub(crate) client_capabilities: Vec<String>,
    pub(crate) exclude_scopes: Vec<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) app_version: Option<String>,
    pub(crate) instance_discovery: bool,
    pub(crate) dangerous: DangerousOptions,
    pub(crate) throttle_state: Option<ThrottleState>,
    /// Confidential clients wait 5 s after a 429/5xx without `Retry-After`, public ones 60 s.
    pub(crate) confidential: bool,
    /// Where Cloud Shell is detected from (default: the process environment).
    pub(crate) host_environment: Option<crate::managed_identity::ManagedIdentityEnvironment>,
}

impl AppSettings {
    /// The defaults both app builders start from: the `common` authority, a private cache and
    /// HTTP client, instance discovery on.
    pub(crate) fn new(client_id: String, confidential: bool) -> AppSettings {
        AppSettings {
            client_id,
            authority: Authority::default(),
            cache: None,
            http_client: None,
            client_capabilities: Vec::new(),
            exclude_scopes: Vec::new(),
            app_name: None,
            app_version: None,
            instance_discovery: true,
            dangerous: DangerousOptions::default(),
            throttle_state: None,
            confidential,
            host_environment: None,
        }
    }
}

/// The setters both app builders have, over their `settings: AppSettings` field.
macro_rules! app_builder_setters {
    () => {
        /// The authority tokens come from (default: `common`; daemons should name their
        /// tenant).
        pub fn authority(mut self, authority: $crate::Authority) -> Self {
            self.settings.authority = authority;
            self
        }

        /// The token cache; share one [`TokenCache`](crate::TokenCache) between apps to share
        /// tokens and sign-ins (FOCI siblings) (default: a private in-memory cache).
        pub fn cache(mut self, cache: $crate::TokenCache) -> Self {
            self.settings.cache = Some(cache);
            self
        }

        /// The HTTP client (default: [`ReqwestHttpClient`](crate::http::ReqwestHttpClient)
        /// with the platform trust store).
        pub fn http_client(mut self, client: impl $crate::http::HttpClient) -> Self {
            self.settings.http_client = Some(std::sync::Arc::new(client));
            self
        }

        /// Client capabilities announced on every request, e.g. `["CP1"]` for continuous
        /// access evaluation.
        pub fn client_capabilities(
            mut self,
            capabilities: impl IntoIterator<Item = impl Into<String>>,
        ) -> Self {
            self.settings.client_capabilities = capabilities.into_iter().map(Into::into).collect();
            self
        }

        /// Scopes never sent, as MSAL Python's `ClientApplication(..., exclude_scopes=[...])`.
        ///
        /// User-token requests (sign-ins, refreshes, on-behalf-of, device code, the
        /// authorization URL) send the caller's scopes plus `openid profile offline_access`;
        /// the scopes listed here are then taken out of what is sent, compared exactly (as
        /// msal/application.py `_decorate_scope`). The usual one is `offline_access`: the
        /// identity provider then issues no refresh token, so the user signs in again once the
        /// access token expires. A scope the caller asks for is taken out too. `openid` cannot
        /// be excluded, and an empty entry or one with whitespace is never a scope: either
        /// fails [`build`](Self::build) with
        /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration).
        ///
        /// ```
        /// let app = msal_core::PublicClient::builder("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
        ///     .exclude_scopes(["offline_access"])
        ///     .build()?;
        /// # let _ = app;
        /// let refused = msal_core::PublicClient::builder("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
        ///     .exclude_scopes(["openid"])
        ///     .build();
        /// assert_eq!(refused.unwrap_err().kind(), msal_core::ErrorKind::Configuration);
        /// # Ok::<(), msal_core::Error>(())
        /// ```
        pub fn exclude_scopes(
            mut self,
            scopes: impl IntoIterator<Item = impl Into<String>>,
        ) -> Self {
            self.settings.exclude_scopes = scopes.into_iter().map(Into::into).collect();
            self
        }

        /// Sent as `x-app-name` for Entra's logs.
        pub fn app_name(mut self, name: impl Into<String>) -> Self {
            self.settings.app_name = Some(name.into());
            self
        }

        /// Sent as `x-app-ver` for Entra's logs.
        pub fn app_version(mut self, version: impl Into<String>) -> Self {
            self.settings.app_version = Some(version.into());
            self
        }

        /// Whether unknown Entra hosts are checked (and aliases learnt) through instance
        /// discovery (default true). Turn off for air-gapped or Azure Stack authorities.
        pub fn instance_discovery(mut self, enabled: bool) -> Self {
            self.settings.instance_discovery = enabled;
            self
        }

        /// The Azure host's environment variables (default: the process's, read by `build`).
        /// Inside Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT=cloud-shell…`), interactive
        /// sign-in with `prompt("none")` and silent acquisition for a Cloud Shell account get the
        /// signed-in user's token from the shell (msal/cloudshell.py).
        pub fn host_environment(
            mut self,
            environment: $crate::managed_identity::ManagedIdentityEnvironment,
        ) -> Self {
            self.settings.host_environment = Some(environment);
            self
        }

        /// Switches that weaken guarantees; see
        /// [`DangerousOptions`](crate::DangerousOptions).
        pub fn dangerous(mut self, dangerous: $crate::DangerousOptions) -> Self {
            self.settings.dangerous = dangerous;
            self
        }

        /// The client-side throttling state (Retry-After and repeated-failure memory); share
        /// one between apps, or [`export`](crate::http::ThrottleState::export) it to keep it
        /// across runs (default: a private one).
        pub fn throttle_state(mut self, state: $crate::http::ThrottleState) -> Self {
            self.settings.throttle_state = Some(state);
            self
        }
    };
}
pub(crate) use app_builder_setters;

/// The settings both builders' `Debug` show (never a secret: the credential is shown by the
/// confidential builder through its own redacting `Debug`).
pub(crate) fn debug_settings(d: &mut fmt::DebugStruct<'_, '_>, s: &AppSettings) {
    d.field("client_id", &s.client_id)
        .field("authority", &s.authority)
        .field("cache", &s.cache.is_some())
        .field("http_client", &s.http_client.is_some())
        .field("client_capabilities", &s.client_capabilities)
        .field("exclude_scopes", &s.exclude_scopes)
        .field("instance_discovery", &s.instance_discovery);
}

impl AppCore {
    /// Checks the settings and builds the shared core. No I/O.
    pub(crate) fn new(s: AppSettings) -> Result<AppCore> {
        if s.client_id.trim().is_empty() {
            return Err(Error::config("the client id is empty"));
        }
        s.authority.validate(s.dangerous.allow_http_to_loopback)?;
        for cap in &s.client_capabilities {
            if cap.is_empty() || cap.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                return Err(Error::config(
                    "a client capability is empty or has whitespace",
                ));
            }
        }
        // msal/application.py refuses to opt out of `openid` the same way (a ValueError).
        if s.exclude_scopes.iter().any(|e| e == "openid") {
            return Err(Error::config(
                "exclude_scopes cannot exclude \"openid\": it is required to sign users in",
            ));
        }
        if s.exclude_scopes
            .iter()
            .any(|e| e.is_empty() || e.chars().any(|ch| ch.is_whitespace() || ch.is_control()))
        {
            return Err(Error::config(
                "an excluded scope is empty or has whitespace",
            ));
        }
        let http: Arc<dyn HttpClient> = match s.http_client {
            Some(h) => h,
            None => Arc::new(ReqwestHttpClient::new()?),
        };
        let clock: Arc<dyn Clock> = s
            .dangerous
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        let discovery = DiscoveryCache::default();
        let authority_slot = discovery.slot(&s.authority);
        let cloud_shell = s
            .host_environment
            .unwrap_or_else(crate::managed_identity::ManagedIdentityEnvironment::from_process)
            .cloud_shell_endpoint()
            .transpose()?;
        Ok(AppCore {
            client_id: s.client_id,
            authority: s.authority,
            authority_slot,
            tenant_slots: RwLock::default(),
            discovery,
            discovery_opts: DiscoveryOptions {
                validate_authority: !s.dangerous.skip_authority_validation,
                instance_discovery: s.instance_discovery,
                allow_http_loopback: s.dangerous.allow_http_to_loopback,
            },
            http: HttpContext {
                http,
                app_name: s.app_name,
                app_version: s.app_version,
                telemetry: Telemetry::default(),
                throttle: s.throttle_state.unwrap_or_default(),
                default_retry: Duration::from_secs(if s.confidential { 5 } else { 60 }),
                clock: Arc::clone(&clock),
            },
            cache: s.cache.unwrap_or_default(),
            clock,
            client_capabilities: s.client_capabilities,
            exclude_scopes: s.exclude_scopes,
            flights: super::flight::Flights::default(),
            cloud_shell,
        })
    }

    /// The scopes a user-token request sends: `scopes` plus `openid profile offline_access`,
    /// less the app's `exclude_scopes` (msal/application.py `_decorate_scope`).
    pub(crate) fn decorate(&self, scopes: &crate::scope::ScopeSet) -> crate::scope::ScopeSet {
        scopes.with_reserved().without(&self.exclude_scopes)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The authority of a request: the app's, or the request's own (e.g. another B2C
    /// policy), with the tenant overridden when the request says so.
    pub(crate) fn authority_for<'a>(
        &'a self,
        options: &'a RequestOptions,
    ) -> Result<Cow<'a, Authority>> {
        let base = match &options.authority {
            Some(a) => {
                a.validate(self.discovery_opts.allow_http_loopback)?;
                a
            }
            None => &self.authority,
        };
        match options.tenant.as_deref() {
            None => Ok(Cow::Borrowed(base)),
            Some(t) => Ok(Cow::Owned(base.with_tenant(t)?)),
        }
    }

    /// The authority at which a flow started by this app completes: this app's authority, or a
    /// per-request variant of it ([`Authority::accept_recorded`]), never a URL taken from the
    /// flow's serialized state. Refused before any request.
    pub(crate) fn flow_authority(&self, recorded: &str) -> Result<Authority> {
        self.authority.accept_recorded(recorded).ok_or_else(|| {
            Error::new(
                ErrorKind::Validation,
                "the flow was started at an authority this app does not use (was its serialized state altered?); it is not completed",
            )
        })
    }

    fn slot_for(&self, authority: &Authority) -> Arc<Slot> {
        if *authority == self.authority {
            Arc::clone(&self.authority_slot)
        } else {
            self.discovery.slot(authority)
        }
    }

    /// The authority's metadata if discovery already ran and is fresh: no I/O, no waiting.
    pub(crate) fn cached_metadata(&self, authority: &Authority) -> Option<Arc<AuthorityMetadata>> {
        let now = self.now();
        if *authority == self.authority {
            self.authority_slot.fresh(now)
        } else {
            self.discovery.slot(authority).fresh(now)
        }
    }

    /// The metadata of a request's authority if discovery already ran and is fresh: no I/O, no
    /// waiting, and for a tenant override of the configured authority no allocation once the
    /// tenant was seen. `Ok(None)` when discovery has not run (or is stale).
    pub(crate) fn cached_metadata_for(
        &self,
        options: &RequestOptions,
    ) -> Result<Option<Arc<AuthorityMetadata>>> {
        let (None, Some(tenant)) = (&options.authority, options.tenant.as_deref()) else {
            let authority = self.authority_for(options)?;
            return Ok(self.cached_metadata(&authority));
        };
        let now = self.now();
        let known = self
            .tenant_slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .map(Arc::clone);
        if let Some(slot) = known {
            return Ok(slot.fresh(now));
        }
        let authority = self.authority.with_tenant(tenant)?;
        let slot = self.slot_for(&authority);
        let mut slots = self
            .tenant_slots
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if slots.len() < MAX_TENANT_SLOTS {
            slots.insert(tenant.into(), Arc::clone(&slot));
        }
        drop(slots);
        Ok(slot.fresh(now))
    }

    /// The authority's metadata, discovering it if needed (single-flighted).
    pub(crate) async fn metadata(&self, authority: &Authority) -> Result<Arc<AuthorityMetadata>> {
        let slot = self.slot_for(authority);
        slot.resolve(
            &self.http,
            self.clock.as_ref(),
            authority,
            self.discovery_opts,
        )
        .await
    }

    /// The `claims` field to send: the challenge merged with the client capabilities.
    pub(crate) fn claims(&self, challenge: Option<&str>) -> Result<Option<String>> {
        merge_claims_and_capabilities(&self.client_capabilities, challenge)
    }
}

/// An app as the flows see it: its core, and its credential when it is confidential. Public
/// only because the sealed trait names it; nothing outside this crate can use it.
#[derive(Clone, Copy)]
#[allow(unreachable_pub)]
#[doc(hidden)]
pub struct AppRef<'a> {
    pub(crate) core: &'a AppCore,
    pub(crate) credential: Option<&'a ClientCredential>,
    pub(crate) owner: AppOwner<'a>,
}

/// The `Arc` an [`AppRef`] borrows from, so a flight can keep the app alive.
#[derive(Clone, Copy)]
pub(crate) enum AppOwner<'a> {
    Public(&'a Arc<AppCore>),
    Confidential(&'a Arc<super::confidential::Inner>),
}

/// An app kept alive by a request in flight.
#[derive(Clone)]
pub(crate) enum OwnedApp {
    Public(Arc<AppCore>),
    Confidential(Arc<super::confidential::Inner>),
}

impl AppRef<'_> {
    /// The app itself, for a request that outlives this borrow.
    pub(crate) fn to_owned_app(self) -> OwnedApp {
        match self.owner {
            AppOwner::Public(a) => OwnedApp::Public(Arc::clone(a)),
            AppOwner::Confidential(i) => OwnedApp::Confidential(Arc::clone(i)),
        }
    }
}

impl OwnedApp {
    /// The app as the flows see it.
    pub(crate) fn app_ref(&self) -> AppRef<'_> {
        match self {
            OwnedApp::Public(a) => AppRef {
                core: a,
                credential: None,
                owner: AppOwner::Public(a),
            },
            OwnedApp::Confidential(i) => AppRef {
                core: &i.core,
                credential: Some(&i.credential),
                owner: AppOwner::Confidential(i),
            },
        }
    }
}

pub(crate) mod sealed {
    /// Implemented by the app types only.
    #[allow(unreachable_pub)]
    pub trait Sealed {
        /// The app as the flows see it.
        fn app_ref(&self) -> super::AppRef<'_>;
    }
}

/// An application that can run the user sign-in flows: [`PublicClient`](crate::PublicClient)
/// or [`ConfidentialClient`](crate::ConfidentialClient). Sealed.
pub trait ClientApplication: sealed::Sealed + Send + Sync {}
