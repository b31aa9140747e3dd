//! On-behalf-of: a web API exchanges the user's access token it received (the *user
//! assertion*) for a token to a downstream API.
//!
//! Unlike MSAL Python, the cache is read first: cached OBO tokens carry the SHA-256 of the
//! assertion they were obtained with (`user_assertion_hash`, as MSAL.NET writes it), and a
//! cached token is only served while the incoming assertion itself has not expired.

use std::future::IntoFuture;

use base64::Engine as _;

use super::{
    Applying, CacheDecision, apply_response, client_form, decide_after_refresh, decide_in_memory,
    push_claims_with_forwarded, push_extra, token_request,
};
use crate::app::confidential::ConfidentialClient;
use crate::app::core::sealed::Sealed as _;
use crate::app::options::{
    AcquireFuture, RequestOptions, forwarded_client_claims_setter, proof_of_possession_setter,
    request_option_setters,
};
use crate::authority::discovery::AuthorityMetadata;
use crate::cache::{AtOwner, AtQuery, PartitionKey};
use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::token_request::post_token;
use crate::response::decode_jwt_claims;
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The request builder of [`ConfidentialClient::acquire_token_on_behalf_of`]. Set options,
/// then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenOnBehalfOf<'a> {
    app: &'a ConfidentialClient,
    assertion: String,
    scopes: Result<ScopeSet>,
    options: RequestOptions,
}

impl std::fmt::Debug for AcquireTokenOnBehalfOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenOnBehalfOf")
            .field("app", self.app)
            .field("assertion", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("options", &self.options)
            .finish()
    }
}

impl<'a> AcquireTokenOnBehalfOf<'a> {
    pub(crate) fn new(
        app: &'a ConfidentialClient,
        assertion: String,
        scopes: Result<ScopeSet>,
    ) -> Self {
        AcquireTokenOnBehalfOf {
            app,
            assertion,
            scopes,
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
    proof_of_possession_setter!();
    forwarded_client_claims_setter!();
}

/// The partition key of OBO tokens: base64url(SHA-256(assertion)), as MSAL.NET computes it.
pub(crate) fn assertion_hash(assertion: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, assertion.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// True when the assertion is a JWT whose `exp` is still in the future.
fn assertion_unexpired(assertion: &str, now: u64) -> bool {
    decode_jwt_claims(assertion)
        .and_then(|c| c.get("exp").and_then(serde_json::Value::as_f64))
        .is_some_and(|exp| exp > now as f64)
}

struct Prepared {
    scopes: ScopeSet,
    hash: String,
}

fn prepare(assertion: &str, scopes: Result<ScopeSet>) -> Result<Prepared> {
    let scopes = scopes?;
    if scopes.is_empty() {
        return Err(Error::invalid_input("no scope given"));
    }
    if scopes.has_reserved() {
        return Err(Error::invalid_input(
            "openid, profile and offline_access are added automatically and cannot be requested",
        ));
    }
    if assertion.trim().is_empty() {
        return Err(Error::invalid_input("the user assertion is empty"));
    }
    Ok(Prepared {
        scopes,
        hash: assertion_hash(assertion),
    })
}

fn query<'q>(
    app: &'q ConfidentialClient,
    meta: &'q AuthorityMetadata,
    p: &'q Prepared,
    ext: Option<&'q str>,
    options: &'q RequestOptions,
) -> AtQuery<'q> {
    AtQuery {
        owner: AtOwner::Assertion(&p.hash),
        environment: &meta.environment,
        client_id: &app.inner.core.client_id,
        realm: &meta.realm,
        ext_cache_key: ext,
        scopes: &p.scopes,
        binding: options.binding(),
    }
}

/// Looks the token up in memory without I/O; `None` when discovery has not run yet or memory
/// cannot tell. A cached token is never served once the incoming assertion expired.
fn from_memory(
    app: &ConfidentialClient,
    assertion: &str,
    p: &Prepared,
    options: &RequestOptions,
) -> Result<Option<CacheDecision>> {
    let core = &app.inner.core;
    let now = unix_seconds(core.now());
    if !assertion_unexpired(assertion, now) {
        return Ok(Some(CacheDecision::Miss(
            RefreshReason::NoCachedAccessToken,
        )));
    }
    let Some(meta) = core.cached_metadata_for(options)? else {
        return Ok(None);
    };
    let ext = options.ext_cache_key();
    Ok(decide_in_memory(
        &core.cache,
        &query(app, &meta, p, ext.as_deref(), options),
        now,
    ))
}

impl<'a> IntoFuture for AcquireTokenOnBehalfOf<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        let p = match prepare(&self.assertion, self.scopes)
            .and_then(|p| self.options.check().map(|()| p))
        {
            Ok(p) => p,
            Err(e) => return AcquireFuture::ready(Err(e)),
        };
        let (app, assertion, options) = (self.app, self.assertion, self.options);
        if !options.bypasses_cache() {
            match from_memory(app, &assertion, &p, &options) {
                Err(e) => return AcquireFuture::ready(Err(e)),
                Ok(Some(CacheDecision::Hit(at))) => {
                    app.inner.core.http.telemetry.record_cache_hit();
                    return AcquireFuture::ready(Ok(AuthenticationResult::from_cache(at)));
                }
                Ok(_) => {}
            }
        }
        AcquireFuture::pending(fly(app, assertion, p, options))
    }
}

/// Joins the flight of this request (or starts it): one request for every concurrent caller
/// with the same incoming assertion and scopes.
async fn fly(
    app: &ConfidentialClient,
    assertion: String,
    p: Prepared,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let authority = app.inner.core.authority_for(&options)?;
    let mut key = format!(
        "obo\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
        authority.as_str().to_ascii_lowercase(),
        p.hash,
        p.scopes.to_wire().to_ascii_lowercase(),
        options.claims.as_deref().unwrap_or(""),
        options.force_refresh,
    );
    for (k, v) in options.extra_fields() {
        key.push_str(&format!("\u{1}{k}={v}"));
    }
    let owned = app.clone();
    let landing = key.clone();
    let flight = app.inner.core.flights.join(&key, move |id| {
        Box::pin(async move {
            let result = run(&owned, assertion, p, options).await;
            owned.inner.core.flights.land(&landing, id);
            result
        })
    });
    flight.await
}

async fn run(
    app: &ConfidentialClient,
    assertion: String,
    p: Prepared,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let core = &app.inner.core;
    let authority = core.authority_for(&options)?;
    let meta = core.metadata(&authority).await?;
    let now = unix_seconds(core.now());
    let fallback = if options.bypasses_cache() || !assertion_unexpired(&assertion, now) {
        None
    } else {
        let partition = core
            .cache
            .route(|| PartitionKey::on_behalf_of(&core.client_id, &p.hash));
        let ext = options.ext_cache_key();
        let q = query(app, &meta, &p, ext.as_deref(), &options);
        match decide_after_refresh(&core.cache, &partition, &q, now).await {
            CacheDecision::Hit(at) => {
                core.http.telemetry.record_cache_hit();
                return Ok(AuthenticationResult::from_cache(at));
            }
            CacheDecision::Aging(at) => Some(at),
            CacheDecision::Miss(_) => None,
        }
    };
    // MSAL reports on-behalf-of as a non-silent call (refresh reason 0) whatever the cache did.
    let reason = RefreshReason::NotApplicable;
    let mut form = client_form(app.app_ref(), &meta, GRANT_TYPE, None).await?;
    // MSAL Python's order: the caller's data, requested_token_use, claims, scope, assertion.
    push_extra(&mut form, &options);
    form.push("requested_token_use", "on_behalf_of");
    push_claims_with_forwarded(core, &mut form, &options)?;
    form.push("scope", core.decorate(&p.scopes).to_wire());
    form.push("assertion", assertion);
    let req = token_request(
        &meta,
        form,
        ApiId::AcquireTokenOnBehalfOf,
        reason,
        options.correlation_id.as_deref(),
        &options.extra_query,
    );
    match post_token(&core.http, &req).await {
        Ok(resp) => {
            apply_response(
                core,
                &resp,
                Applying {
                    user_assertion_hash: Some(&p.hash),
                    key_id: options.pop_key.as_ref().map(crate::PopKey::key_id),
                    client_claims: options.forwarded_client_claims.as_deref(),
                    ..Applying::new(&meta, &req, &p.scopes, GRANT_TYPE)
                },
            )
            .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_hash_is_base64url_sha256() {
        // SHA-256("abc") = ba7816bf...; base64url without padding.
        assert_eq!(
            assertion_hash("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn assertion_expiry_is_read_without_validation() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!("{}.{}.sig", b64("{}"), b64(r#"{"exp": 1000.5}"#));
        assert!(assertion_unexpired(&jwt, 999));
        assert!(!assertion_unexpired(&jwt, 1001));
        assert!(!assertion_unexpired("opaque-token", 0));
        assert!(!assertion_unexpired(
            &format!("{}.{}.s", b64("{}"), b64("{}")),
            0
        ));
    }
}
