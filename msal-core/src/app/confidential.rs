//! [`ConfidentialClient`]: an application that can keep a secret (daemons, web apps, web
//! APIs). Built once with [`ConfidentialClient::builder`], cloned freely.

use std::fmt;
use std::sync::Arc;

use typed_builder::TypedBuilder;

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

/// The configuration of a [`ConfidentialClient`], gathered by its builder.
///
/// `client_id` and `credential` are required: leaving one out does not compile.
///
/// ```compile_fail
/// use msal_core::{ClientCredential, ConfidentialClient};
/// // no client_id: `build` does not exist on this builder state
/// let app = ConfidentialClient::builder()
///     .credential(ClientCredential::secret("s"))
///     .build();
/// ```
///
/// Its passing twin:
///
/// ```
/// use msal_core::{ClientCredential, ConfidentialClient};
/// let app = ConfidentialClient::builder()
///     .client_id("00000000-0000-0000-0000-000000000001")
///     .credential(ClientCredential::secret("s"))
///     .build();
/// assert!(app.is_ok());
/// ```
#[derive(TypedBuilder)]
#[builder(
    builder_method(vis = ""),
    builder_type(
        name = ConfidentialClientBuilder,
        doc = "Builds a [`ConfidentialClient`]; see [`ConfidentialClient::builder`]."
    ),
    build_method(
        into = Result<ConfidentialClient>,
        doc = "Checks the configuration and builds the client. Does no I/O: discovery happens on the first request."
    )
)]
pub struct ConfidentialClientConfig {
    /// The application (client) id.
    #[builder(setter(into, doc = "The application (client) id from the app registration."))]
    client_id: String,
    /// How the app authenticates.
    #[builder(setter(
        doc = "How the app authenticates: a secret, a certificate or an assertion."
    ))]
    credential: ClientCredential,
    /// The authority (default `https://login.microsoftonline.com/common`).
    #[builder(
        default,
        setter(
            doc = "The authority tokens come from (default: `common`; daemons should name their tenant)."
        )
    )]
    authority: Authority,
    /// The token cache.
    #[builder(
        default,
        setter(
            strip_option,
            doc = "The token cache; share one [`TokenCache`] between apps to share tokens (default: a private in-memory cache)."
        )
    )]
    cache: Option<TokenCache>,
    /// The transport.
    #[builder(
        default,
        setter(
            transform = |client: impl HttpClient| Some(Arc::new(client) as Arc<dyn HttpClient>),
            doc = "The HTTP client (default: [`ReqwestHttpClient`] with the platform trust store)."
        )
    )]
    http_client: Option<Arc<dyn HttpClient>>,
    /// Client capabilities such as `CP1` (CAE).
    #[builder(
        default,
        setter(
            transform = |caps: impl IntoIterator<Item = impl Into<String>>| caps.into_iter().map(Into::into).collect(),
            doc = "Client capabilities announced on every request, e.g. `[\"CP1\"]` for continuous access evaluation."
        )
    )]
    client_capabilities: Vec<String>,
    /// `x-app-name`.
    #[builder(
        default,
        setter(strip_option, into, doc = "Sent as `x-app-name` for Entra's logs.")
    )]
    app_name: Option<String>,
    /// `x-app-ver`.
    #[builder(
        default,
        setter(strip_option, into, doc = "Sent as `x-app-ver` for Entra's logs.")
    )]
    app_version: Option<String>,
    /// Instance discovery.
    #[builder(
        default = true,
        setter(
            doc = "Whether unknown Entra hosts are checked (and aliases learnt) through instance discovery (default true). Turn off for air-gapped or Azure Stack authorities."
        )
    )]
    instance_discovery: bool,
    /// Dangerous switches.
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
    /// The regional token service for client credentials.
    #[builder(
        default,
        setter(
            strip_option,
            doc = "The Azure region whose token service `acquire_token_for_client` uses (ESTS-R); see [`AzureRegion`]. Unset: `MSAL_FORCE_REGION` from the environment if set, else none. An invalid region name fails [`build`](ConfidentialClientBuilder::build)."
        )
    )]
    azure_region: Option<AzureRegion>,
}

impl From<ConfidentialClientConfig> for Result<ConfidentialClient> {
    fn from(c: ConfidentialClientConfig) -> Result<ConfidentialClient> {
        let region = Region::configure(
            c.azure_region,
            process_env(),
            c.dangerous.imds_endpoint.as_deref(),
        )?;
        Ok(ConfidentialClient {
            inner: Arc::new(Inner {
                core: AppCore::new(AppSettings {
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
                    confidential: true,
                })?,
                credential: c.credential,
                region,
            }),
        })
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
/// let app = ConfidentialClient::builder()
///     .client_id("5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60")
///     .credential(ClientCredential::secret(std::env::var("CLIENT_SECRET").unwrap_or_default()))
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
    /// Starts configuring a confidential client.
    pub fn builder() -> ConfidentialClientBuilder {
        ConfidentialClientConfig::builder()
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
