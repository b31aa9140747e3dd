//! [`ManagedIdentityClient`]: tokens for the managed identity of the Azure resource the code
//! runs on, cached in the unified token cache as MSAL Python caches them
//! (msal/managed_identity.py `ManagedIdentityClient.acquire_token_for_client`).

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::environment::{ManagedIdentityEnvironment, ManagedIdentitySource, SourceEndpoint};
use super::identity::ManagedIdentity;
use super::retry::Policy;
use super::wire::{self, ATTEMPT_TIMEOUT, IMDS_PROBE_TIMEOUT};
use super::{app_service, arc, azure_ml, cloud_shell, imds, service_fabric};
use crate::app::AcquireFuture;
use crate::app::DangerousOptions;
use crate::app::flight::Flights;
use crate::cache::{
    AtLookup, AtOwner, AtQuery, PartitionKey, TokenBinding, TokenCache, TokenEvent,
};
use crate::clock::{Clock, SystemClock, unix_seconds};
use crate::error::{Error, Result};
use crate::flow::{CacheDecision, decide_after_refresh, decide_in_memory};
use crate::http::{HttpClient, ReqwestHttpClient};
use crate::response::TokenResponse;
use crate::result::AuthenticationResult;
use crate::scope::{IntoScopes, ScopeSet};

/// The cache environment of managed identity tokens (MSAL Python's).
pub(crate) const CACHE_ENVIRONMENT: &str = "localhost";
/// The cache realm of managed identity tokens (MSAL Python's).
pub(crate) const CACHE_REALM: &str = "managed_identity";
/// Tokens living at least this long are refreshed at half their lifetime (MSAL Python).
const HALF_LIFE_THRESHOLD_SECS: i64 = 7200;

/// Gets tokens for a managed identity. A cheap handle: clone it freely; clones share the
/// cache, the requests in flight and the HTTP client.
///
/// ```no_run
/// use msal_core::managed_identity::{ManagedIdentity, ManagedIdentityClient, UserAssignedId};
///
/// # async fn run() -> msal_core::Result<()> {
/// // The source (IMDS, App Service, Azure Arc, ...) is detected from the environment.
/// let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned).build()?;
/// println!("managed identity from {}", mi.source());
/// let token = mi.acquire_token_for_client("https://vault.azure.net").await?;
/// # let _ = token;
///
/// // A user-assigned identity, by its client id:
/// let user = ManagedIdentityClient::builder(ManagedIdentity::user_assigned(
///     UserAssignedId::ClientId("04b07795-8ddb-461a-bbee-02f9e1bf7b46".into()),
/// ))
/// .build()?;
/// let token = user.acquire_token_for_client("https://storage.azure.com/.default").await?;
/// # let _ = token;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ManagedIdentityClient {
    inner: Arc<Inner>,
}

struct Inner {
    identity: ManagedIdentity,
    endpoint: SourceEndpoint,
    environment: ManagedIdentityEnvironment,
    http: Arc<dyn HttpClient>,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
    capabilities: Vec<String>,
    flights: Flights,
    /// IMDS has answered this client once: later attempts get the full timeout.
    imds_answered: AtomicBool,
}

impl fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("identity", &self.inner.identity)
            .field("source", &self.inner.endpoint.source())
            .field("client_capabilities", &self.inner.capabilities)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ManagedIdentityClient`]; [`build`](Self::build) checks it (no I/O but a
/// check whether the Azure Arc agent is installed).
#[must_use = "a builder does nothing until `build` is called"]
pub struct ManagedIdentityClientBuilder {
    identity: ManagedIdentity,
    environment: Option<ManagedIdentityEnvironment>,
    cache: Option<TokenCache>,
    http_client: Option<Arc<dyn HttpClient>>,
    capabilities: Vec<String>,
    dangerous: DangerousOptions,
}

impl fmt::Debug for ManagedIdentityClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClientBuilder")
            .field("identity", &self.identity)
            .field("environment", &self.environment)
            .field("cache", &self.cache.is_some())
            .field("http_client", &self.http_client.is_some())
            .field("client_capabilities", &self.capabilities)
            .finish()
    }
}

impl ManagedIdentityClientBuilder {
    /// Where the source is detected from (default: the process environment, read by
    /// [`build`](Self::build)).
    pub fn environment(mut self, environment: ManagedIdentityEnvironment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// The token cache (default: a private in-memory cache). Managed identity tokens are
    /// cached under the environment `localhost` and realm `managed_identity`, as MSAL Python
    /// caches them, so a cache file shared with it serves both.
    pub fn cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The HTTP client for every source but Service Fabric, whose pinned TLS needs a client
    /// of its own (default: [`ReqwestHttpClient`]). Requests carry
    /// [`BypassProxy`](crate::http::BypassProxy): identity requests never go through a proxy.
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http_client = Some(Arc::new(client));
        self
    }

    /// Client capabilities (e.g. `["cp1"]`), sent to Service Fabric as `xms_cc`; the other
    /// sources take none (MSAL Python).
    pub fn client_capabilities(
        mut self,
        capabilities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Switches that weaken guarantees; only the [clock](DangerousOptions::clock) applies to
    /// managed identity.
    pub fn dangerous(mut self, dangerous: DangerousOptions) -> Self {
        self.dangerous = dangerous;
        self
    }

    /// Detects the source and checks the configuration: an unparseable endpoint, a Service
    /// Fabric endpoint that is not https or a malformed thumbprint, a user-assigned identity
    /// in Cloud Shell, or an empty id fail here, before any request.
    pub fn build(self) -> Result<ManagedIdentityClient> {
        self.identity.validate()?;
        for cap in &self.capabilities {
            if cap.is_empty()
                || cap.contains(',')
                || cap.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Error::config(
                    "a client capability is empty or has a comma or whitespace",
                ));
            }
        }
        let environment = self
            .environment
            .unwrap_or_else(ManagedIdentityEnvironment::from_process);
        let endpoint = environment.endpoint()?;
        let http: Arc<dyn HttpClient> = match (&endpoint, self.http_client) {
            (SourceEndpoint::ServiceFabric { thumbprint, .. }, _) => {
                Arc::new(service_fabric::pinned_client(*thumbprint)?)
            }
            (_, Some(h)) => h,
            (_, None) => Arc::new(ReqwestHttpClient::new()?),
        };
        match (&endpoint, &self.identity) {
            (SourceEndpoint::CloudShell { .. }, ManagedIdentity::UserAssigned(_)) => {
                return Err(Error::config(
                    "Cloud Shell has only the signed-in user's identity: a user-assigned identity cannot be used there",
                ));
            }
            (SourceEndpoint::ServiceFabric { .. }, ManagedIdentity::UserAssigned(_)) => {
                tracing::warn!(
                    "Service Fabric chooses the identity itself: the user-assigned id is used only as the cache key"
                );
            }
            _ => {}
        }
        let clock: Arc<dyn Clock> = self
            .dangerous
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        Ok(ManagedIdentityClient {
            inner: Arc::new(Inner {
                identity: self.identity,
                endpoint,
                environment,
                http,
                cache: self.cache.unwrap_or_default(),
                clock,
                capabilities: self.capabilities,
                flights: Flights::default(),
                imds_answered: AtomicBool::new(false),
            }),
        })
    }
}

impl ManagedIdentityClient {
    /// Starts configuring a client for `identity`.
    pub fn builder(identity: ManagedIdentity) -> ManagedIdentityClientBuilder {
        ManagedIdentityClientBuilder {
            identity,
            environment: None,
            cache: None,
            http_client: None,
            capabilities: Vec::new(),
            dangerous: DangerousOptions::default(),
        }
    }

    /// The source the process environment selects, without building a client (MSAL
    /// Python's `get_managed_identity_source()`).
    pub fn detect_source() -> ManagedIdentitySource {
        ManagedIdentityEnvironment::from_process().source()
    }

    /// The source this client asks (detected when it was built; no I/O).
    pub fn source(&self) -> ManagedIdentitySource {
        self.inner.endpoint.source()
    }

    /// The identity tokens are for.
    pub fn identity(&self) -> &ManagedIdentity {
        &self.inner.identity
    }

    /// The token cache.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// A token for `resource`: a resource URI (`https://vault.azure.net`) or its `.default`
    /// scope (`https://vault.azure.net/.default`, or a derived
    /// [`Resource`](crate::Resource)'s default scope), from the cache while it is valid for
    /// more than five minutes, else from the source. Set options on the returned builder, then
    /// `.await` it.
    pub fn acquire_token_for_client(
        &self,
        resource: impl IntoScopes,
    ) -> AcquireManagedIdentityToken<'_> {
        AcquireManagedIdentityToken {
            client: self,
            resource: resource.into_scopes().and_then(resource_of),
            claims: None,
            correlation_id: None,
            force_refresh: false,
        }
    }
}

/// The resource a one-scope set names: the scope without its `/.default` suffix.
fn resource_of(scopes: ScopeSet) -> Result<(String, ScopeSet)> {
    let mut it = scopes.iter();
    let (Some(one), None) = (it.next(), it.next()) else {
        return Err(Error::invalid_input(
            "a managed identity token is for exactly one resource",
        ));
    };
    let resource = one.strip_suffix("/.default").unwrap_or(one);
    if resource.is_empty() {
        return Err(Error::invalid_input("the resource is empty"));
    }
    let resource = resource.to_owned();
    let set = ScopeSet::new([resource.clone()])?;
    Ok((resource, set))
}

/// The request builder of [`ManagedIdentityClient::acquire_token_for_client`].
#[must_use = "a request does nothing until awaited"]
pub struct AcquireManagedIdentityToken<'a> {
    client: &'a ManagedIdentityClient,
    resource: Result<(String, ScopeSet)>,
    claims: Option<String>,
    correlation_id: Option<String>,
    force_refresh: bool,
}

impl fmt::Debug for AcquireManagedIdentityToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireManagedIdentityToken")
            .field("resource", &self.resource.as_ref().map(|(r, _)| r))
            .field("claims", &self.claims.is_some())
            .field("correlation_id", &self.correlation_id)
            .field("force_refresh", &self.force_refresh)
            .finish()
    }
}

impl AcquireManagedIdentityToken<'_> {
    /// A claims challenge from a resource (CAE): the cache is bypassed, and Service Fabric is
    /// told which token to replace (`token_sha256_to_refresh`).
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into()).filter(|c| !c.is_empty());
        self
    }

    /// The correlation id sent to IMDS (`x-ms-client-request-id`; default: a new UUID).
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Asks the source even when the cache holds a valid token.
    pub fn force_refresh(mut self, yes: bool) -> Self {
        self.force_refresh = yes;
        self
    }
}

/// One acquisition's inputs.
struct Request {
    resource: String,
    scopes: ScopeSet,
    claims: Option<String>,
    /// The caller's, if any; a new one is made only when a request is sent.
    correlation_id: Option<String>,
    force_refresh: bool,
}

impl Request {
    fn bypasses_cache(&self) -> bool {
        self.force_refresh || self.claims.is_some()
    }

    fn flight_key(&self) -> String {
        format!(
            "managed_identity\u{1}{}\u{1}{}\u{1}{}",
            self.resource.to_ascii_lowercase(),
            self.claims.as_deref().unwrap_or(""),
            self.force_refresh
        )
    }
}

impl Inner {
    fn query<'q>(&'q self, scopes: &'q ScopeSet) -> AtQuery<'q> {
        AtQuery {
            owner: AtOwner::Home(None),
            environment: CACHE_ENVIRONMENT,
            client_id: self.identity.cache_client_id(),
            realm: CACHE_REALM,
            ext_cache_key: None,
            scopes,
            binding: TokenBinding::BEARER,
        }
    }

    fn partition(&self) -> PartitionKey {
        self.cache
            .route(|| PartitionKey::app(self.identity.cache_client_id(), CACHE_REALM))
    }
}

impl<'a> IntoFuture for AcquireManagedIdentityToken<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        let (resource, scopes) = match self.resource {
            Ok(r) => r,
            Err(e) => return AcquireFuture::ready(Err(e)),
        };
        let client = self.client;
        let req = Request {
            resource,
            scopes,
            claims: self.claims,
            correlation_id: self.correlation_id,
            force_refresh: self.force_refresh,
        };
        let inner = &client.inner;
        if !req.bypasses_cache() {
            let now = unix_seconds(inner.clock.now());
            match decide_in_memory(&inner.cache, &inner.query(&req.scopes), now) {
                Some(CacheDecision::Hit(at)) => {
                    return AcquireFuture::ready(Ok(AuthenticationResult::from_cache(at)));
                }
                // Past refresh_on while another caller refreshes it: still valid.
                Some(CacheDecision::Aging(at)) if inner.flights.is_in_flight(&req.flight_key()) => {
                    return AcquireFuture::ready(Ok(AuthenticationResult::from_cache(at)));
                }
                _ => {}
            }
        }
        AcquireFuture::pending(fly(client, req))
    }
}

/// Joins the flight of this request (or starts it): one request for every concurrent caller.
async fn fly(client: &ManagedIdentityClient, req: Request) -> Result<AuthenticationResult> {
    let key = req.flight_key();
    let owned = client.clone();
    let landing = key.clone();
    let flight = client.inner.flights.join(&key, move |id| {
        Box::pin(async move {
            let result = run(&owned, req).await;
            owned.inner.flights.land(&landing, id);
            result
        })
    });
    flight.await
}

async fn run(client: &ManagedIdentityClient, req: Request) -> Result<AuthenticationResult> {
    let inner = &client.inner;
    let partition = inner.partition();
    let q = inner.query(&req.scopes);
    let now = unix_seconds(inner.clock.now());
    let mut fallback = None;
    let mut token_to_refresh = None;
    if req.claims.is_some() {
        // The token the challenge is about: the cached one still valid, if any.
        if let Err(e) = inner.cache.refresh(&partition).await {
            tracing::warn!(error = %e, "the token cache store failed; answering from memory");
        }
        if let AtLookup::Hit(at) = inner.cache.lookup_any_age(&q, now) {
            token_to_refresh = Some(sha256_hex(at.secret.as_bytes()));
        }
    } else if !req.force_refresh {
        match decide_after_refresh(&inner.cache, &partition, &q, now).await {
            CacheDecision::Hit(at) => return Ok(AuthenticationResult::from_cache(at)),
            CacheDecision::Aging(at) => fallback = Some(at),
            CacheDecision::Miss(_) => {}
        }
    }
    let correlation_id = req
        .correlation_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let body = match fetch(inner, &req, &correlation_id, token_to_refresh.as_deref()).await {
        Ok(b) => b,
        Err(e) => {
            return match fallback {
                Some(at) => {
                    tracing::debug!(error = %e, "managed identity refresh failed; serving the cached token until it expires");
                    Ok(AuthenticationResult::from_cache(at))
                }
                None => Err(e),
            };
        }
    };
    let now = unix_seconds(inner.clock.now());
    let response = TokenResponse::from_json(Value::Object(with_refresh_in(body, now)))?;
    let event = TokenEvent {
        client_id: inner.identity.cache_client_id(),
        environment: CACHE_ENVIRONMENT,
        realm: CACHE_REALM,
        request_scopes: &req.scopes,
        response: &response,
        grant_type: "managed_identity",
        data: &[],
        key_id: None,
        user_assertion_hash: None,
        username: None,
        authority_type: None,
        skip_account_creation: true,
        replaces_refresh_token: None,
        now,
    };
    let recorded = inner.cache.record(&event, None).await;
    let at = recorded.access_token.ok_or_else(|| {
        Error::invalid_response("the managed identity endpoint sent no access token")
    })?;
    Ok(AuthenticationResult::from_identity_provider(
        at,
        None,
        None,
        &correlation_id,
    ))
}

/// Asks the source; returns its success body.
async fn fetch(
    inner: &Inner,
    req: &Request,
    correlation_id: &str,
    token_to_refresh: Option<&str>,
) -> Result<Map<String, Value>> {
    let http = inner.http.as_ref();
    let clock = inner.clock.as_ref();
    let identity = &inner.identity;
    let resource = req.resource.as_str();
    match &inner.endpoint {
        SourceEndpoint::Imds { url } => {
            let out = imds::request(url, resource, identity, correlation_id);
            let first = if inner.imds_answered.load(Ordering::Relaxed) {
                ATTEMPT_TIMEOUT
            } else {
                IMDS_PROBE_TIMEOUT
            };
            let resp = wire::send(http, clock, Policy::Imds, first, &out)
                .await
                .map_err(|e| {
                    if inner.imds_answered.load(Ordering::Relaxed) {
                        e
                    } else {
                        Error::new(
                            e.kind(),
                            format!(
                                "IMDS at {} did not answer ({e}); is this code running on an Azure VM? No other managed identity source was found in the environment",
                                url.origin().ascii_serialization()
                            ),
                        )
                    }
                })?;
            inner.imds_answered.store(true, Ordering::Relaxed);
            imds::parse(&resp)
        }
        SourceEndpoint::AppService { url, secret } => {
            let out = app_service::request(url, secret, resource, identity);
            let resp = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &out).await?;
            app_service::parse(&resp)
        }
        SourceEndpoint::AzureMl { url, secret } => {
            let out = azure_ml::request(url, secret, resource, identity);
            let resp = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &out).await?;
            azure_ml::parse(&resp)
        }
        SourceEndpoint::ServiceFabric { url, secret, .. } => {
            let out = service_fabric::request(
                url,
                secret,
                resource,
                token_to_refresh,
                &inner.capabilities,
            );
            let resp = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &out).await?;
            service_fabric::parse(&resp)
        }
        SourceEndpoint::AzureArc { url } => {
            arc::acquire(
                http,
                clock,
                url,
                inner.environment.arc_key_dir(),
                resource,
                identity,
            )
            .await
        }
        SourceEndpoint::CloudShell { url } => {
            let out = cloud_shell::request(url, resource);
            let resp = wire::send(http, clock, Policy::Default, ATTEMPT_TIMEOUT, &out).await?;
            cloud_shell::parse(&resp)
        }
    }
}

/// Adds `refresh_in` (half the lifetime) to a token living at least two hours that has none,
/// as MSAL Python does; the lifetime is `expires_in`, or `expires_on` from now.
fn with_refresh_in(mut body: Map<String, Value>, now: u64) -> Map<String, Value> {
    if body.contains_key("refresh_in") {
        return body;
    }
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let lifetime = wire::seconds(body.get("expires_in"))
        .or_else(|| wire::seconds(body.get("expires_on")).map(|on| on.saturating_sub(now)));
    if let Some(l) = lifetime.filter(|l| *l >= HALF_LIFE_THRESHOLD_SECS) {
        body.insert("refresh_in".to_owned(), Value::from(l / 2));
    }
    body
}

/// The SHA-256 of `data`, in lowercase hex (`token_sha256_to_refresh`).
fn sha256_hex(data: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_resource_is_one_scope_without_default() {
        let r = |s: &str| resource_of(ScopeSet::new([s.to_owned()]).unwrap()).map(|(r, _)| r);
        assert_eq!(
            r("https://vault.azure.net").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            r("https://vault.azure.net/.default").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            r("https://management.azure.com/").unwrap(),
            "https://management.azure.com/"
        );
        assert!(resource_of(ScopeSet::new(["a", "b"]).unwrap()).is_err());
        assert!(resource_of(ScopeSet::new(Vec::<String>::new()).unwrap()).is_err());
        assert!(r("/.default").is_err());
    }

    #[test]
    fn long_lived_tokens_get_refresh_in_at_half_life() {
        let m = |v: Value| v.as_object().unwrap().clone();
        let out = with_refresh_in(m(json!({"expires_in": "86399"})), 0);
        assert_eq!(out["refresh_in"], json!(43199));
        let out = with_refresh_in(m(json!({"expires_on": "10000"})), 1000);
        assert_eq!(out["refresh_in"], json!(4500));
        let out = with_refresh_in(m(json!({"expires_in": 7199})), 0);
        assert!(!out.contains_key("refresh_in"));
        let out = with_refresh_in(m(json!({"expires_in": 9000, "refresh_in": 10})), 0);
        assert_eq!(out["refresh_in"], json!(10));
        let out = with_refresh_in(m(json!({"expires_on": "-1"})), u64::MAX);
        assert!(!out.contains_key("refresh_in"));
    }

    #[test]
    fn sha256_hex_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
