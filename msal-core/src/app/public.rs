//! [`PublicClient`]: an application that cannot keep a secret (desktop, mobile, CLI). It signs
//! users in and keeps them signed in; it has no client-credentials or on-behalf-of method.

use std::fmt;
use std::sync::Arc;

use super::core::{AppCore, AppSettings};
use super::options::DangerousOptions;
use crate::authority::Authority;
use crate::cache::TokenCache;
use crate::error::Result;
use crate::http::HttpClient;

/// Configures a [`PublicClient`]: [`PublicClient::builder`] takes its client id, the setters
/// the rest, and [`build`](PublicClientBuilder::build) checks the whole and builds it. A plain,
/// nameable type: return it from a helper, configure it conditionally.
///
/// ```
/// use msal_core::{Authority, PublicClient};
///
/// let app = PublicClient::builder("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
///     .authority(Authority::organizations())
///     .build()?;
/// assert_eq!(app.client_id(), "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5");
/// # Ok::<(), msal_core::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PublicClientBuilder {
    client_id: String,
    authority: Authority,
    cache: Option<TokenCache>,
    http_client: Option<Arc<dyn HttpClient>>,
    client_capabilities: Vec<String>,
    app_name: Option<String>,
    app_version: Option<String>,
    instance_discovery: bool,
    dangerous: DangerousOptions,
    throttle_state: Option<crate::http::ThrottleState>,
}

impl PublicClientBuilder {
    /// The authority users sign in at (default: `common`).
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = authority;
        self
    }

    /// The token cache; share one [`TokenCache`] between apps to share sign-ins (FOCI
    /// siblings) (default: a private in-memory cache).
    pub fn cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The HTTP client (default: [`ReqwestHttpClient`](crate::http::ReqwestHttpClient) with
    /// the platform trust store).
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http_client = Some(Arc::new(client));
        self
    }

    /// Client capabilities announced on every request, e.g. `["CP1"]` for continuous access
    /// evaluation.
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Sent as `x-app-name` for Entra's logs.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// Sent as `x-app-ver` for Entra's logs.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Whether unknown Entra hosts are checked (and aliases learnt) through instance discovery
    /// (default true).
    pub fn instance_discovery(mut self, enabled: bool) -> Self {
        self.instance_discovery = enabled;
        self
    }

    /// Switches that weaken guarantees; see [`DangerousOptions`].
    pub fn dangerous(mut self, dangerous: DangerousOptions) -> Self {
        self.dangerous = dangerous;
        self
    }

    /// The client-side throttling state (Retry-After and repeated-failure memory); share one
    /// between apps, or [`export`](crate::http::ThrottleState::export) it to keep it across
    /// runs (default: a private one).
    pub fn throttle_state(mut self, state: crate::http::ThrottleState) -> Self {
        self.throttle_state = Some(state);
        self
    }

    /// Checks the configuration and builds the client. Does no I/O: discovery happens on the
    /// first request.
    pub fn build(self) -> Result<PublicClient> {
        Ok(PublicClient {
            inner: Arc::new(AppCore::new(AppSettings {
                client_id: self.client_id,
                authority: self.authority,
                cache: self.cache,
                http_client: self.http_client,
                client_capabilities: self.client_capabilities,
                app_name: self.app_name,
                app_version: self.app_version,
                instance_discovery: self.instance_discovery,
                dangerous: self.dangerous,
                throttle_state: self.throttle_state,
                confidential: false,
            })?),
        })
    }
}

impl fmt::Debug for PublicClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClientBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("cache", &self.cache.is_some())
            .field("http_client", &self.http_client.is_some())
            .field("client_capabilities", &self.client_capabilities)
            .field("instance_discovery", &self.instance_discovery)
            .finish_non_exhaustive()
    }
}

/// An application that signs users in: desktop apps, CLIs, mobile apps. It holds no secret.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. It has no `acquire_token_for_client` and
/// no `acquire_token_on_behalf_of`: those need a [`ConfidentialClient`](crate::ConfidentialClient),
/// and calling them on a public client does not compile (pinned by the trybuild cases in the
/// repository's `tests/ui/api/`).
///
/// ```no_run
/// # async fn f(app: msal_core::PublicClient) -> msal_core::Result<()> {
/// let flow = app.device_code_flow(["User.Read"]).initiate().await?;
/// println!("{}", flow.message());
/// let signed_in = flow.poll(&app).await?;
/// println!("{:?}", signed_in.account());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PublicClient {
    pub(crate) inner: Arc<AppCore>,
}

impl PublicClient {
    /// Starts configuring a public client with its application (client) id from the app
    /// registration. See [`PublicClientBuilder`] for the rest.
    pub fn builder(client_id: impl Into<String>) -> PublicClientBuilder {
        PublicClientBuilder {
            client_id: client_id.into(),
            authority: Authority::default(),
            cache: None,
            http_client: None,
            client_capabilities: Vec::new(),
            app_name: None,
            app_version: None,
            instance_discovery: true,
            dangerous: DangerousOptions::default(),
            throttle_state: None,
        }
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The configured authority.
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }

    /// The token cache this app reads and writes.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// Signs a user in in the system browser, with a loopback listener as redirect URI
    /// (`http://localhost:{port}`, register it on the app).
    pub fn acquire_token_interactive(
        &self,
        scopes: impl crate::IntoScopes,
    ) -> crate::flow::interactive::AcquireTokenInteractive<'_> {
        use super::core::sealed::Sealed as _;
        crate::flow::interactive::AcquireTokenInteractive::new(self.app_ref(), scopes.into_scopes())
    }

    /// Starts a device code flow: `initiate().await` it, show the user its
    /// [`message`](crate::DeviceCodeFlow::message), then [`poll`](crate::DeviceCodeFlow::poll)
    /// it until the user signed in on another device.
    pub fn device_code_flow(
        &self,
        scopes: impl crate::IntoScopes,
    ) -> crate::flow::device_code::DeviceCodeFlowBuilder<'_> {
        use super::core::sealed::Sealed as _;
        crate::flow::device_code::DeviceCodeFlowBuilder::new(self.app_ref(), scopes.into_scopes())
    }
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("app", &self.inner)
            .finish()
    }
}

impl super::core::sealed::Sealed for PublicClient {
    fn app_ref(&self) -> super::core::AppRef<'_> {
        super::core::AppRef {
            core: &self.inner,
            credential: None,
            owner: super::core::AppOwner::Public(&self.inner),
        }
    }
}

impl super::core::ClientApplication for PublicClient {}
