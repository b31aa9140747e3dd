//! Client credentials: a token for the application itself, from the cache when it holds a
//! valid one (MSAL ≥ 1.23 behaviour), else from the token endpoint.

use std::future::IntoFuture;

use super::{
    Applying, CacheDecision, apply_response, client_form_to, decide_after_refresh,
    decide_in_memory, push_claims_with_forwarded, push_extra, token_request,
};
use crate::app::confidential::ConfidentialClient;
use crate::app::core::sealed::Sealed as _;
use crate::app::options::{
    AcquireFuture, RequestOptions, forwarded_client_claims_setter, proof_of_possession_setter,
    request_option_setters, ssh_certificate_setter,
};
use crate::authority::discovery::AuthorityMetadata;
use crate::cache::{AtOwner, AtQuery, PartitionKey};
use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::token_request::post_token;
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

const GRANT_TYPE: &str = "client_credentials";

/// The request builder of [`ConfidentialClient::acquire_token_for_client`]. Set options, then
/// `.await` it.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct AcquireTokenForClient<'a> {
    app: &'a ConfidentialClient,
    scopes: Result<ScopeSet>,
    options: RequestOptions,
}

impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestOptions")
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .field("claims", &self.claims.is_some())
            .field("force_refresh", &self.force_refresh)
            .field("correlation_id", &self.correlation_id)
            .field("ssh_certificate", &self.ssh_certificate)
            .field("pop_key", &self.pop_key)
            .field(
                "extra_body",
                &self.extra_body.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> AcquireTokenForClient<'a> {
    pub(crate) fn new(app: &'a ConfidentialClient, scopes: Result<ScopeSet>) -> Self {
        AcquireTokenForClient {
            app,
            scopes,
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
    ssh_certificate_setter!();
    proof_of_possession_setter!();
    forwarded_client_claims_setter!();

    /// The Federated Managed Identity credential path (`fmi_path`), as MSAL Python's
    /// `acquire_token_for_client(fmi_path=...)` (msal/application.py): sent as the `fmi_path`
    /// form field, told to an [assertion callback](crate::ClientCredential::assertion_callback)
    /// in [`AssertionContext::fmi_path`](crate::credential::AssertionContext), and part of the
    /// extended cache key, so tokens of different paths are cached apart. An empty path sends
    /// nothing, as in MSAL Python; a later call replaces an earlier one.
    ///
    /// ```no_run
    /// # async fn run(app: msal_core::ConfidentialClient) -> msal_core::Result<()> {
    /// let token = app
    ///     .acquire_token_for_client("api://AzureFMITokenExchange/.default")
    ///     .fmi_path("SomeFmiPath/FmiCredentialPath")
    ///     .await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub fn fmi_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.options.extra_body.retain(|(k, _)| k != "fmi_path");
        if !path.is_empty() {
            self.options.extra_body.push(("fmi_path".to_owned(), path));
        }
        self
    }
}

/// The cache query of a request, for the authority metadata `meta`.
fn query<'q>(
    app: &'q ConfidentialClient,
    meta: &'q AuthorityMetadata,
    scopes: &'q ScopeSet,
    ext: Option<&'q str>,
    options: &'q RequestOptions,
) -> AtQuery<'q> {
    AtQuery {
        owner: AtOwner::Home(None),
        environment: &meta.environment,
        client_id: &app.inner.core.client_id,
        realm: &meta.realm,
        ext_cache_key: ext,
        scopes,
        binding: options.binding(),
    }
}

/// Looks the token up in memory, without I/O; `None` when discovery has not run yet or memory
/// cannot tell.
fn from_memory(
    app: &ConfidentialClient,
    scopes: &ScopeSet,
    options: &RequestOptions,
) -> Result<Option<CacheDecision>> {
    let core = &app.inner.core;
    let Some(meta) = core.cached_metadata_for(options)? else {
        return Ok(None);
    };
    let ext = options.ext_cache_key();
    let q = query(app, &meta, scopes, ext.as_deref(), options);
    Ok(decide_in_memory(&core.cache, &q, unix_seconds(core.now())))
}

fn check_scopes(scopes: Result<ScopeSet>) -> Result<ScopeSet> {
    let scopes = scopes?;
    if scopes.is_empty() {
        return Err(Error::invalid_input("no scope given"));
    }
    Ok(scopes)
}

impl<'a> IntoFuture for AcquireTokenForClient<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        let scopes = match check_scopes(self.scopes).and_then(|s| self.options.check().map(|()| s))
        {
            Ok(s) => s,
            Err(e) => return AcquireFuture::ready(Err(e)),
        };
        let app = self.app;
        let options = self.options;
        if !options.bypasses_cache() {
            match from_memory(app, &scopes, &options) {
                Err(e) => return AcquireFuture::ready(Err(e)),
                Ok(Some(CacheDecision::Hit(at))) => {
                    app.inner.core.http.telemetry.record_cache_hit();
                    return AcquireFuture::ready(Ok(AuthenticationResult::from_cache(at)));
                }
                // Past refresh_on while another caller refreshes it: the token is still valid.
                Ok(Some(CacheDecision::Aging(at)))
                    if flight_key(app, &scopes, &options)
                        .is_ok_and(|k| app.inner.core.flights.is_in_flight(&k)) =>
                {
                    app.inner.core.http.telemetry.record_cache_hit();
                    return AcquireFuture::ready(Ok(AuthenticationResult::from_cache(at)));
                }
                Ok(_) => {}
            }
        }
        AcquireFuture::pending(fly(app, scopes, options))
    }
}

/// What makes two requests the same request: authority (after a tenant override), scopes,
/// claims, extra fields (with the token binding's: an SSH certificate's key, a PoP key) and
/// force refresh.
fn flight_key(
    app: &ConfidentialClient,
    scopes: &ScopeSet,
    options: &RequestOptions,
) -> Result<String> {
    let authority = app.inner.core.authority_for(options)?;
    let mut key = format!(
        "client_credentials\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
        authority.as_str().to_ascii_lowercase(),
        scopes.to_wire().to_ascii_lowercase(),
        options.claims.as_deref().unwrap_or(""),
        options.force_refresh,
    );
    for (k, v) in options.extra_fields() {
        key.push_str(&format!("\u{1}{k}={v}"));
    }
    for (k, v) in &options.extra_query {
        key.push_str(&format!("\u{2}{k}={v}"));
    }
    Ok(key)
}

/// Joins the flight of this request (or starts it): one request for every concurrent caller.
async fn fly(
    app: &ConfidentialClient,
    scopes: ScopeSet,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let key = flight_key(app, &scopes, &options)?;
    let owned = app.clone();
    let landing = key.clone();
    let flight = app.inner.core.flights.join(&key, move |id| {
        Box::pin(async move {
            let result = run(&owned, scopes, options).await;
            owned.inner.core.flights.land(&landing, id);
            result
        })
    });
    flight.await
}

async fn run(
    app: &ConfidentialClient,
    scopes: ScopeSet,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let core = &app.inner.core;
    let authority = core.authority_for(&options)?;
    let meta = core.metadata(&authority).await?;
    let partition = core
        .cache
        .route(|| PartitionKey::app(&core.client_id, &meta.realm));
    let (reason, fallback) = if options.bypasses_cache() {
        (RefreshReason::ForceRefresh, None)
    } else {
        let ext = options.ext_cache_key();
        let q = query(app, &meta, &scopes, ext.as_deref(), &options);
        match decide_after_refresh(&core.cache, &partition, &q, unix_seconds(core.now())).await {
            CacheDecision::Hit(at) => {
                core.http.telemetry.record_cache_hit();
                return Ok(AuthenticationResult::from_cache(at));
            }
            CacheDecision::Aging(at) => (RefreshReason::ProactivelyRefreshed, Some(at)),
            CacheDecision::Miss(reason) => (reason, None),
        }
    };
    let fmi_path = options
        .extra_body
        .iter()
        .find(|(k, _)| k == "fmi_path")
        .map(|(_, v)| v.as_str());
    // A configured region changes where the request goes, not the assertion's `aud` nor the
    // cache environment (msal/region.py; msal/application.py keeps the central environment in the cache).
    let send_to = app
        .inner
        .region
        .token_endpoint(core.http.http.as_ref(), &authority, &meta.token_endpoint)
        .await;
    let mut form = client_form_to(app.app_ref(), &meta, &send_to, GRANT_TYPE, fmi_path).await?;
    // MSAL Python's order: the caller's data, then claims, then scope.
    push_extra(&mut form, &options);
    push_claims_with_forwarded(core, &mut form, &options)?;
    form.push("scope", scopes.to_wire());
    let mut req = token_request(
        &meta,
        form,
        ApiId::AcquireTokenForClient,
        reason,
        options.correlation_id.as_deref(),
        &options.extra_query,
    );
    if let std::borrow::Cow::Owned(regional) = send_to {
        req.endpoint = regional;
    }
    match post_token(&core.http, &req).await {
        Ok(resp) => {
            let applying = Applying {
                key_id: options.pop_key.as_ref().map(crate::PopKey::key_id),
                client_claims: options.forwarded_client_claims.as_deref(),
                ..Applying::new(&meta, &req, &scopes, GRANT_TYPE)
            };
            apply_response(core, &resp, applying).await
        }
        Err(e) => match fallback {
            Some(at) => {
                tracing::debug!(error = %e, "refresh failed; serving the cached token until it expires");
                Ok(AuthenticationResult::from_cache(at))
            }
            None => Err(e),
        },
    }
}
