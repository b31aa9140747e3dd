//! [`ConfidentialClient`]: an application that can keep a secret (daemons, web apps, web
//! APIs). Built once with [`ConfidentialClient::builder`], cloned freely.

use std::fmt;
use std::sync::Arc;

use super::core::{AppCore, AppSettings, app_builder_setters, debug_settings};
use crate::authority::region::{Region, process_env};
use crate::authority::{Authority, AzureRegion};
use crate::cache::TokenCache;
use crate::credential::ClientCredential;
use crate::error::Result;
use crate::flow::client_credentials::AcquireTokenForClient;
use crate::flow::obo::AcquireTokenOnBehalfOf;
use crate::flow::user_fic::{AcquireTokenByUserFederatedIdentityCredential, FicUser};
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
    settings: AppSettings,
    credential: ClientCredential,
    azure_region: Option<AzureRegion>,
    client_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ConfidentialClientBuilder {
    app_builder_setters!();

    /// The Azure region whose token service `acquire_token_for_client` uses (ESTS-R); see
    /// [`AzureRegion`]. Unset: `MSAL_FORCE_REGION` from the environment if set, else none. An
    /// invalid region name fails [`build`](ConfidentialClientBuilder::build).
    pub fn azure_region(mut self, region: AzureRegion) -> Self {
        self.azure_region = Some(region);
        self
    }

    /// Extra claims signed into the client assertion of a certificate credential, e.g.
    /// `{"client_ip": "203.0.113.7"}` (MSAL Python's `client_claims`, msal/application.py). As
    /// MSAL Python does, a claim named like a standard one (`aud`, `iss`, `sub`, `exp`, `iat`,
    /// `jti`) replaces it. Only certificates sign an assertion: with any other credential
    /// [`build`](ConfidentialClientBuilder::build) fails with
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration).
    ///
    /// Not to be confused with a request's `claims` (a claims challenge sent as the `claims`
    /// form field).
    ///
    /// ```
    /// use msal_core::{ClientCredential, ConfidentialClient};
    ///
    /// let mut claims = serde_json::Map::new();
    /// claims.insert("client_ip".into(), "203.0.113.7".into());
    /// let built = ConfidentialClient::builder("00000000-0000-0000-0000-000000000001", ClientCredential::secret("s"))
    ///     .client_claims(claims)
    ///     .build();
    /// assert!(built.is_err(), "a secret signs nothing");
    /// ```
    pub fn client_claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Self {
        self.client_claims = Some(claims);
        self
    }

    /// Checks the configuration and builds the client. Does no I/O: discovery happens on the
    /// first request.
    pub fn build(self) -> Result<ConfidentialClient> {
        let credential = match self.client_claims {
            Some(claims) => self.credential.with_client_claims(claims)?,
            None => self.credential,
        };
        let region = Region::configure(
            self.azure_region,
            process_env(),
            self.settings.dangerous.imds_endpoint.as_deref(),
        )?;
        Ok(ConfidentialClient {
            inner: Arc::new(Inner {
                core: AppCore::new(self.settings)?,
                credential,
                region,
            }),
        })
    }
}

impl fmt::Debug for ConfidentialClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConfidentialClientBuilder");
        debug_settings(&mut d, &self.settings);
        d.field("credential", &self.credential)
            .field("azure_region", &self.azure_region)
            .field(
                "client_claims",
                &self
                    .client_claims
                    .as_ref()
                    .map(|c| c.keys().collect::<Vec<_>>()),
            )
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
            settings: AppSettings::new(client_id.into(), true),
            credential,
            azure_region: None,
            client_claims: None,
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

    /// A token for `user`, in exchange for a federated identity credential (`assertion`, e.g.
    /// an agent instance token) that one of this app's federated identity credentials accepts:
    /// the `user_fic` grant of MSAL Python's
    /// `acquire_token_by_user_federated_identity_credential` (msal/application.py).
    ///
    /// The identity provider is always asked, as in MSAL Python; the tokens are cached as a
    /// user sign-in (account, ID token, refresh token), so later
    /// [`acquire_token_silent`](ConfidentialClient::acquire_token_silent) calls for the returned account are
    /// served from the cache.
    ///
    /// ```no_run
    /// use msal_core::{ConfidentialClient, FicUser};
    ///
    /// # async fn run(app: ConfidentialClient, instance_token: String) -> msal_core::Result<()> {
    /// let token = app
    ///     .acquire_token_by_user_federated_identity_credential(
    ///         "https://graph.microsoft.com/User.Read",
    ///         instance_token,
    ///         FicUser::username("alice@contoso.com"),
    ///     )
    ///     .await?;
    /// println!("{:?}", token.account().map(|a| a.username()));
    /// # Ok(()) }
    /// ```
    pub fn acquire_token_by_user_federated_identity_credential(
        &self,
        scopes: impl IntoScopes,
        assertion: impl Into<String>,
        user: FicUser,
    ) -> AcquireTokenByUserFederatedIdentityCredential<'_> {
        AcquireTokenByUserFederatedIdentityCredential::new(
            self,
            scopes.into_scopes(),
            assertion.into(),
            user,
        )
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
