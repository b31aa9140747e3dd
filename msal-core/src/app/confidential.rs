//! [`ConfidentialClient`]: an application that can keep a secret (daemons, web apps, web
//! APIs). Built once with [`ConfidentialClient::builder`], cloned freely.

use std::fmt;
use std::sync::Arc;

use super::core::{AppCore, AppSettings};
use super::options::DangerousOptions;
use crate::authority::region::{Region, process_env};
use crate::authority::{Authority, AzureRegion};
use crate::cache::TokenCache;
use crate::credential::ClientCredential;
use crate::error::Result;
use crate::flow::client_credentials::AcquireTokenForClient;
use crate::flow::obo::AcquireTokenOnBehalfOf;
use crate::http::HttpClient;
use crate::scope::IntoScopes;

/// Configures a [`ConfidentialClient`]: [`ConfidentialClient::builder`] takes what every
/// confidential client needs (its client id and credential), the setters the rest, and
/// [`build`](ConfidentialClientBuilder::build) checks the whole and builds it.
///
/// The builder is a plain, nameable type, so it can be returned from a helper and configured
/// conditionally:
///
/// ```
/// use msal_core::{Authority, ClientCredential, ConfidentialClient, ConfidentialClientBuilder, TokenCache};
///
/// fn base(secret: &str) -> ConfidentialClientBuilder {
///     ConfidentialClient::builder("00000000-0000-0000-0000-000000000001", ClientCredential::secret(secret))
///         .authority(Authority::tenant("contoso.onmicrosoft.com"))
/// }
///
/// let shared: Option<TokenCache> = None;
/// let mut builder = base("s");
/// if let Some(cache) = shared {
///     builder = builder.cache(cache);
/// }
/// let app = builder.build()?;
/// assert_eq!(app.client_id(), "00000000-0000-0000-0000-000000000001");
/// # Ok::<(), msal_core::Error>(())
/// ```
///
/// Required inputs are positional arguments rather than typed-builder states: leaving one out
/// is rustc's plain "this function takes 2 arguments but 1 argument was supplied", naming the
/// missing `ClientCredential`, and the builder a user holds has one type whatever was set.
#[must_use = "a builder does nothing until `build` is called"]
pub struct ConfidentialClientBuilder {
    client_id: String,
    credential: ClientCredential,
    authority: Authority,
    cache: Option<TokenCache>,
    http_client: Option<Arc<dyn HttpClient>>,
    client_capabilities: Vec<String>,
    app_name: Option<String>,
    app_version: Option<String>,
    instance_discovery: bool,
    dangerous: DangerousOptions,
    throttle_state: Option<crate::http::ThrottleState>,
    azure_region: Option<AzureRegion>,
}

impl ConfidentialClientBuilder {
    /// The authority tokens come from (default: `common`; daemons should name their tenant).
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = authority;
        self
    }

    /// The token cache; share one [`TokenCache`] between apps to share tokens (default: a
    /// private in-memory cache).
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
    /// (default true). Turn off for air-gapped or Azure Stack authorities.
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

    /// The Azure region whose token service `acquire_token_for_client` uses (ESTS-R); see
    /// [`AzureRegion`]. Unset: `MSAL_FORCE_REGION` from the environment if set, else none. An
    /// invalid region name fails [`build`](ConfidentialClientBuilder::build).
    pub fn azure_region(mut self, region: AzureRegion) -> Self {
        self.azure_region = Some(region);
        self
    }

    /// Checks the configuration and builds the client. Does no I/O: discovery happens on the
    /// first request.
    pub fn build(self) -> Result<ConfidentialClient> {
        let region = Region::configure(
            self.azure_region,
            process_env(),
            self.dangerous.imds_endpoint.as_deref(),
        )?;
        Ok(ConfidentialClient {
            inner: Arc::new(Inner {
                core: AppCore::new(AppSettings {
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
                    confidential: true,
                })?,
                credential: self.credential,
                region,
            }),
        })
    }
}

impl fmt::Debug for ConfidentialClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClientBuilder")
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("authority", &self.authority)
            .field("cache", &self.cache.is_some())
            .field("http_client", &self.http_client.is_some())
            .field("client_capabilities", &self.client_capabilities)
            .field("instance_discovery", &self.instance_discovery)
            .field("azure_region", &self.azure_region)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) core: AppCore,
    pub(crate) credential: ClientCredential,
    /// Where `acquire_token_for_client` sends its requests (ESTS-R).
    pub(crate) region: Region,
}

/// An application that authenticates itself with a secret, a certificate or an assertion:
/// daemons (client credentials), web APIs (on-behalf-of), web apps.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. Share one per registration.
///
/// ```no_run
/// use msal_core::{Authority, ClientCredential, ConfidentialClient};
///
/// # async fn run() -> msal_core::Result<()> {
/// let secret = ClientCredential::secret(std::env::var("CLIENT_SECRET").unwrap_or_default());
/// let app = ConfidentialClient::builder("5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60", secret)
///     .authority(Authority::tenant("contoso.onmicrosoft.com"))
///     .build()?;
/// let token = app
///     .acquire_token_for_client("https://graph.microsoft.com/.default")
///     .await?;
/// println!("expires at {:?}, from {:?}", token.expires_on(), token.source());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConfidentialClient {
    pub(crate) inner: Arc<Inner>,
}

impl ConfidentialClient {
    /// Starts configuring a confidential client with what every one needs: its application
    /// (client) id from the app registration, and how it authenticates (a secret, a
    /// certificate or an assertion). See [`ConfidentialClientBuilder`] for the rest.
    pub fn builder(
        client_id: impl Into<String>,
        credential: ClientCredential,
    ) -> ConfidentialClientBuilder {
        ConfidentialClientBuilder {
            client_id: client_id.into(),
            credential,
            authority: Authority::default(),
            cache: None,
            http_client: None,
            client_capabilities: Vec::new(),
            app_name: None,
            app_version: None,
            instance_discovery: true,
            dangerous: DangerousOptions::default(),
            throttle_state: None,
            azure_region: None,
        }
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.inner.core.client_id
    }

    /// The configured authority.
    pub fn authority(&self) -> &Authority {
        &self.inner.core.authority
    }

    /// The token cache this app reads and writes.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.core.cache
    }

    /// A token for the app itself (client credentials), from the cache when a valid one is
    /// there. `scopes` is a resource's `/.default` scope, e.g.
    /// `https://graph.microsoft.com/.default`.
    pub fn acquire_token_for_client(&self, scopes: impl IntoScopes) -> AcquireTokenForClient<'_> {
        AcquireTokenForClient::new(self, scopes.into_scopes())
    }

    /// A token for a downstream API on behalf of the user whose access token (`user_assertion`)
    /// this web API received. Served from the cache while both the cached token and the
    /// incoming assertion are valid.
    pub fn acquire_token_on_behalf_of(
        &self,
        user_assertion: impl Into<String>,
        scopes: impl IntoScopes,
    ) -> AcquireTokenOnBehalfOf<'_> {
        AcquireTokenOnBehalfOf::new(self, user_assertion.into(), scopes.into_scopes())
    }

    /// Removes this app's own tokens (client credentials) from the cache, in the configured
    /// authority's environment and its aliases. User and on-behalf-of tokens stay.
    pub async fn remove_tokens_for_client(&self) -> Result<usize> {
        let core = &self.inner.core;
        let aliases: Vec<String> = match core.cached_metadata(&core.authority) {
            Some(m) => m.aliases.clone(),
            None => crate::authority::known_aliases(core.authority.host())
                .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_else(|| vec![core.authority.host().to_owned()]),
        };
        let envs: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let tenant = core
            .cached_metadata(&core.authority)
            .map(|m| m.realm.clone());
        core.cache
            .remove_app_tokens(
                &core.client_id,
                &envs,
                tenant.as_deref(),
                crate::clock::unix_seconds(core.now()),
            )
            .await
    }
}

impl fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("app", &self.inner.core)
            .field("credential", &self.inner.credential)
            .field("region", &self.inner.region)
            .finish()
    }
}

impl super::core::sealed::Sealed for ConfidentialClient {
    fn app_ref(&self) -> super::core::AppRef<'_> {
        super::core::AppRef {
            core: &self.inner.core,
            credential: Some(&self.inner.credential),
            owner: super::core::AppOwner::Confidential(&self.inner),
        }
    }
}

impl super::core::ClientApplication for ConfidentialClient {}
