//! [`DefaultCredential`]: one credential for a service that runs on a laptop (environment
//! variables) and in Azure (workload identity, managed identity), in azure-identity's
//! `DefaultAzureCredential` order without the developer tools (no process is spawned).

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, ErrorKind, Result};
use crate::http::HttpClient;
use crate::managed_identity::{ManagedIdentityClient, ManagedIdentitySource};
use crate::result::AuthenticationResult;
use crate::{ConfidentialClient, TokenCache};

use super::{AzureEnvironment, CredentialKind};

/// One credential of the chain.
#[derive(Debug, Clone)]
enum Link {
    App(CredentialKind, ConfidentialClient),
    ManagedIdentity(ManagedIdentityClient),
}

impl Link {
    fn kind(&self) -> CredentialKind {
        match self {
            Link::App(kind, _) => *kind,
            Link::ManagedIdentity(_) => CredentialKind::ManagedIdentity,
        }
    }

    async fn acquire(&self, scopes: &[&str], claims: Option<&str>) -> Result<AuthenticationResult> {
        match self {
            Link::App(_, app) => {
                let mut req = app.acquire_token_for_client(scopes);
                if let Some(c) = claims {
                    req = req.claims(c);
                }
                req.await
            }
            Link::ManagedIdentity(mi) => {
                let mut req = mi.acquire_token_for_client(scopes);
                if let Some(c) = claims {
                    req = req.claims(c);
                }
                req.await
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Link::ManagedIdentity(mi) => format!("managed identity ({})", mi.source()),
            other => other.kind().to_string(),
        }
    }
}

/// A chain of the credentials the environment configures, tried in this order, each only when
/// its variables are present:
///
/// 1. the environment credential: a client secret, else a client certificate
///    ([`AzureEnvironment::environment_client`]);
/// 2. workload identity ([`AzureEnvironment::workload_identity_client`]);
/// 3. managed identity ([`AzureEnvironment::managed_identity_client`]): the source the
///    variables select, else IMDS, whose first request gives up after two seconds when no
///    IMDS answers (so a laptop learns quickly that it is not in Azure).
///
/// The first credential that gets a token is kept, and later calls use only it (as
/// azure-identity's `DefaultAzureCredential` does): its errors are then returned as they are.
/// When every credential fails, the error (kind [`ErrorKind::Credential`]) names each one tried
/// with its error, and those not configured; its source is a [`ChainFailure`] holding the
/// individual errors.
///
/// Each link is an msal-rs client with its own token cache (or the one given to
/// [`DefaultCredentialBuilder::cache`]), so repeated calls are served from memory.
///
/// ```
/// use msal_core::environment::{AzureEnvironment, CredentialKind, DefaultCredential};
///
/// # fn main() -> msal_core::Result<()> {
/// let credential = DefaultCredential::builder()
///     .environment(AzureEnvironment::from_vars([
///         ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
///         ("AZURE_CLIENT_ID", "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60"),
///         ("AZURE_CLIENT_SECRET", "s3cret"),
///     ]))
///     .build()?;
/// assert_eq!(
///     credential.kinds(),
///     [CredentialKind::ClientSecret, CredentialKind::ManagedIdentity]
/// );
/// // let token = credential.acquire_token(&["https://vault.azure.net/.default"]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DefaultCredential {
    links: Arc<Vec<Link>>,
    not_configured: Arc<Vec<CredentialKind>>,
    chosen: Arc<OnceLock<usize>>,
}

/// Configures a [`DefaultCredential`].
#[derive(Debug, Default)]
pub struct DefaultCredentialBuilder {
    environment: Option<AzureEnvironment>,
    http_client: Option<Arc<dyn HttpClient>>,
    cache: Option<TokenCache>,
    excluded: Vec<CredentialKind>,
}

impl DefaultCredentialBuilder {
    /// The variables to read (default [`AzureEnvironment::from_process`]).
    #[must_use]
    pub fn environment(mut self, environment: AzureEnvironment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The HTTP client every credential of the chain uses.
    #[must_use]
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http_client = Some(Arc::new(client));
        self
    }

    /// The token cache every credential of the chain uses (default: one in-memory cache each).
    #[must_use]
    pub fn cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Leaves `kind` out of the chain (`ClientSecret` and `ClientCertificate` both mean the
    /// environment credential).
    #[must_use]
    pub fn exclude(mut self, kind: CredentialKind) -> Self {
        self.excluded.push(kind);
        self
    }

    /// Builds the chain.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Configuration`] when a credential whose variables are present is
    /// misconfigured (an unreadable certificate, an invalid tenant or authority host): a
    /// deployment mistake is reported at start-up rather than hidden by the next credential.
    pub fn build(self) -> Result<DefaultCredential> {
        let env = self
            .environment
            .clone()
            .unwrap_or_else(AzureEnvironment::from_process);
        let excluded = |k: CredentialKind| {
            self.excluded.contains(&k)
                || (matches!(
                    k,
                    CredentialKind::ClientSecret | CredentialKind::ClientCertificate
                ) && self.excluded.iter().any(|x| {
                    matches!(
                        x,
                        CredentialKind::ClientSecret | CredentialKind::ClientCertificate
                    )
                }))
        };
        let mut links = Vec::new();
        let mut not_configured = Vec::new();
        match env.environment_kind() {
            Some(kind) if !excluded(kind) => {
                let builder = env.environment_client_of(kind)?;
                let builder = match &self.http_client {
                    Some(h) => builder.http_client(Arc::clone(h)),
                    None => builder,
                };
                let builder = match &self.cache {
                    Some(c) => builder.cache(c.clone()),
                    None => builder,
                };
                links.push(Link::App(kind, builder.build()?));
            }
            Some(_) => {}
            None if !excluded(CredentialKind::ClientSecret) => {
                not_configured.push(CredentialKind::ClientSecret);
            }
            None => {}
        }
        if !excluded(CredentialKind::WorkloadIdentity) {
            match env.workload_identity_client() {
                Some(builder) => {
                    let builder = builder?;
                    let builder = match &self.http_client {
                        Some(h) => builder.http_client(Arc::clone(h)),
                        None => builder,
                    };
                    let builder = match &self.cache {
                        Some(c) => builder.cache(c.clone()),
                        None => builder,
                    };
                    links.push(Link::App(
                        CredentialKind::WorkloadIdentity,
                        builder.build()?,
                    ));
                }
                None => not_configured.push(CredentialKind::WorkloadIdentity),
            }
        }
        if !excluded(CredentialKind::ManagedIdentity) {
            let builder = env.managed_identity_client();
            let builder = match &self.http_client {
                Some(h) => builder.http_client(Arc::clone(h)),
                None => builder,
            };
            let builder = match &self.cache {
                Some(c) => builder.cache(c.clone()),
                None => builder,
            };
            links.push(Link::ManagedIdentity(builder.build()?));
        }
        Ok(DefaultCredential {
            links: Arc::new(links),
            not_configured: Arc::new(not_configured),
            chosen: Arc::new(OnceLock::new()),
        })
    }
}

impl DefaultCredential {
    /// Starts configuring a chain.
    pub fn builder() -> DefaultCredentialBuilder {
        DefaultCredentialBuilder::default()
    }

    /// A chain over the process environment (the same as `builder().build()`).
    ///
    /// # Errors
    ///
    /// As [`DefaultCredentialBuilder::build`].
    pub fn from_process() -> Result<DefaultCredential> {
        DefaultCredential::builder().build()
    }

    /// The credentials of the chain, in the order they are tried.
    pub fn kinds(&self) -> Vec<CredentialKind> {
        self.links.iter().map(Link::kind).collect()
    }

    /// The credential that got the first token, once one has.
    pub fn selected(&self) -> Option<CredentialKind> {
        self.chosen
            .get()
            .and_then(|&i| self.links.get(i))
            .map(Link::kind)
    }

    /// The managed identity source the chain's managed identity uses, when it has one.
    pub fn managed_identity_source(&self) -> Option<ManagedIdentitySource> {
        self.links.iter().find_map(|l| match l {
            Link::ManagedIdentity(mi) => Some(mi.source()),
            Link::App(..) => None,
        })
    }

    /// A token for `scopes` (a resource's `/.default` scope), from the first credential of
    /// the chain that gets one.
    ///
    /// # Errors
    ///
    /// The selected credential's error once one has been selected; before that, when every
    /// credential fails, an [`ErrorKind::Credential`] error listing them (see the type's
    /// docs).
    pub async fn acquire_token(&self, scopes: &[&str]) -> Result<AuthenticationResult> {
        self.acquire(scopes, None).await
    }

    /// As [`acquire_token`](Self::acquire_token), answering a claims challenge (a resource's
    /// `WWW-Authenticate` `claims`, e.g. for Continuous Access Evaluation): the cache is
    /// bypassed and the claims are sent with the request.
    ///
    /// # Errors
    ///
    /// As [`acquire_token`](Self::acquire_token).
    pub async fn acquire_token_with_claims(
        &self,
        scopes: &[&str],
        claims: &str,
    ) -> Result<AuthenticationResult> {
        self.acquire(scopes, Some(claims)).await
    }

    pub(crate) async fn acquire(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
    ) -> Result<AuthenticationResult> {
        if let Some(link) = self.chosen.get().and_then(|&i| self.links.get(i)) {
            return link.acquire(scopes, claims).await;
        }
        let mut attempts = Vec::new();
        for (i, link) in self.links.iter().enumerate() {
            match link.acquire(scopes, claims).await {
                Ok(r) => {
                    let _ = self.chosen.set(i);
                    return Ok(r);
                }
                Err(error) => {
                    tracing::debug!(credential = %link.describe(), %error, "a credential of the chain failed; trying the next");
                    attempts.push(ChainAttempt {
                        kind: link.kind(),
                        description: link.describe(),
                        error,
                    });
                }
            }
        }
        let failure = ChainFailure {
            attempts,
            not_configured: self.not_configured.to_vec(),
        };
        Err(Error::with_source(
            ErrorKind::Credential,
            failure.to_string(),
            failure,
        ))
    }
}

/// One credential of a chain that failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChainAttempt {
    /// Which credential.
    pub kind: CredentialKind,
    /// How it was described in the message (for managed identity, with its source).
    pub description: String,
    /// Its error.
    pub error: Error,
}

/// Why a [`DefaultCredential`] got no token: the source of its error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChainFailure {
    /// The credentials tried, in order, with their errors.
    pub attempts: Vec<ChainAttempt>,
    /// The credentials whose variables were not set.
    pub not_configured: Vec<CredentialKind>,
}

impl fmt::Display for ChainFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no credential of the chain got a token")?;
        for (i, a) in self.attempts.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{} failed: {}", a.description, a.error)?;
        }
        if self.attempts.is_empty() {
            f.write_str(": every credential is excluded")?;
        }
        if !self.not_configured.is_empty() {
            f.write_str("; not configured: ")?;
            for (i, k) in self.not_configured.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match k {
                    CredentialKind::WorkloadIdentity => f.write_str(
                        "workload identity (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE)",
                    )?,
                    _ => f.write_str(
                        "environment (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)",
                    )?,
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for ChainFailure {}
