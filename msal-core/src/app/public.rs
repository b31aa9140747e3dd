//! [`PublicClient`]: an application that cannot keep a secret (desktop, mobile, CLI). It signs
//! users in and keeps them signed in; it has no client-credentials or on-behalf-of method.

use std::fmt;
use std::sync::Arc;

use typed_builder::TypedBuilder;

use super::core::{AppCore, AppSettings};
use super::options::DangerousOptions;
use crate::authority::Authority;
use crate::cache::TokenCache;
use crate::error::Result;
use crate::http::HttpClient;

/// The configuration of a [`PublicClient`], gathered by its builder.
///
/// `client_id` is required: leaving it out does not compile.
///
/// ```compile_fail
/// use msal_core::PublicClient;
/// // no client_id: `build` does not exist on this builder state
/// let app = PublicClient::builder().build();
/// ```
///
/// Its passing twin:
///
/// ```
/// use msal_core::PublicClient;
/// let app = PublicClient::builder()
///     .client_id("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
///     .build();
/// assert!(app.is_ok());
/// ```
#[derive(TypedBuilder)]
#[builder(
    builder_method(vis = ""),
    builder_type(
        name = PublicClientBuilder,
        doc = "Builds a [`PublicClient`]; see [`PublicClient::builder`]."
    ),
    build_method(
        into = Result<PublicClient>,
        doc = "Checks the configuration and builds the client. Does no I/O: discovery happens on the first request."
    )
)]
pub struct PublicClientConfig {
    #[builder(setter(into, doc = "The application (client) id from the app registration."))]
    client_id: String,
    #[builder(
        default,
        setter(doc = "The authority users sign in at (default: `common`).")
    )]
    authority: Authority,
    #[builder(
        default,
        setter(
            strip_option,
            doc = "The token cache; share one [`TokenCache`] between apps to share sign-ins (FOCI siblings) (default: a private in-memory cache)."
        )
    )]
    cache: Option<TokenCache>,
    #[builder(
        default,
        setter(
            transform = |client: impl HttpClient| Some(Arc::new(client) as Arc<dyn HttpClient>),
            doc = "The HTTP client (default: [`ReqwestHttpClient`](crate::http::ReqwestHttpClient) with the platform trust store)."
        )
    )]
    http_client: Option<Arc<dyn HttpClient>>,
    #[builder(
        default,
        setter(
            transform = |caps: impl IntoIterator<Item = impl Into<String>>| caps.into_iter().map(Into::into).collect(),
            doc = "Client capabilities announced on every request, e.g. `[\"CP1\"]` for continuous access evaluation."
        )
    )]
    client_capabilities: Vec<String>,
    #[builder(
        default,
        setter(strip_option, into, doc = "Sent as `x-app-name` for Entra's logs.")
    )]
    app_name: Option<String>,
    #[builder(
        default,
        setter(strip_option, into, doc = "Sent as `x-app-ver` for Entra's logs.")
    )]
    app_version: Option<String>,
    #[builder(
        default = true,
        setter(
            doc = "Whether unknown Entra hosts are checked (and aliases learnt) through instance discovery (default true)."
        )
    )]
    instance_discovery: bool,
    #[builder(
        default,
        setter(doc = "Switches that weaken guarantees; see [`DangerousOptions`].")
    )]
    dangerous: DangerousOptions,
    #[builder(
        default,
        setter(
            strip_option,
            doc = "The client-side throttling state (Retry-After and repeated-failure memory); share one between apps, or [`export`](crate::http::ThrottleState::export) it to keep it across runs (default: a private one)."
        )
    )]
    throttle_state: Option<crate::http::ThrottleState>,
}

impl From<PublicClientConfig> for Result<PublicClient> {
    fn from(c: PublicClientConfig) -> Result<PublicClient> {
        Ok(PublicClient {
            inner: Arc::new(AppCore::new(AppSettings {
                client_id: c.client_id,
                authority: c.authority,
                cache: c.cache,
                http_client: c.http_client,
                client_capabilities: c.client_capabilities,
                app_name: c.app_name,
                app_version: c.app_version,
                instance_discovery: c.instance_discovery,
                dangerous: c.dangerous,
                throttle_state: c.throttle_state,
                confidential: false,
            })?),
        })
    }
}

/// An application that signs users in: desktop apps, CLIs, mobile apps. It holds no secret.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. It has no `acquire_token_for_client` and
/// no `acquire_token_on_behalf_of`: those need a confidential client, and calling them does not
/// compile.
///
/// ```compile_fail
/// # async fn f(pca: msal_core::PublicClient) {
/// let _ = pca.acquire_token_for_client("https://graph.microsoft.com/.default").await;
/// # }
/// ```
///
/// ```compile_fail
/// # async fn f(pca: msal_core::PublicClient) {
/// let _ = pca.acquire_token_on_behalf_of("assertion", ["User.Read"]).await;
/// # }
/// ```
///
/// Their passing twin, on a confidential client:
///
/// ```no_run
/// # async fn f(cca: msal_core::ConfidentialClient) {
/// let _ = cca.acquire_token_for_client("https://graph.microsoft.com/.default").await;
/// let _ = cca.acquire_token_on_behalf_of("assertion", ["User.Read"]).await;
/// # }
/// ```
#[derive(Clone)]
pub struct PublicClient {
    pub(crate) inner: Arc<AppCore>,
}

impl PublicClient {
    /// Starts configuring a public client.
    pub fn builder() -> PublicClientBuilder {
        PublicClientConfig::builder()
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
