//! The grants, one file each, and what they share: the client-authentication part of a token
//! request, the cache decision for a found access token, and turning a token response into a
//! cache update and a result.

pub mod auth_code;
pub(crate) mod browser;
pub(crate) mod claims;
pub mod client_credentials;
pub(crate) mod cloud_shell;
pub mod device_code;
pub mod interactive;
pub mod obo;
pub mod password;
pub mod prompt;
pub mod refresh_token;
pub mod silent;
pub mod state;
pub(crate) mod user;
pub mod user_fic;
pub(crate) mod wstrust;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::app::core::{AppCore, AppRef};
use crate::app::options::RequestOptions;
use crate::authority::discovery::AuthorityMetadata;
use crate::cache::{
    AccessTokenEntity, AtLookup, AtQuery, PartitionKey, RefreshTokenEntity, TokenCache, TokenEvent,
};
use crate::clock::unix_seconds;
use crate::credential::{ClientAuth, ClientAuthRequest};
use crate::error::{Error, Result};
use crate::http::telemetry::RefreshReason;
use crate::http::token_request::{Form, TokenRequest};
use crate::response::{ClientInfo, TokenResponse, check_id_token};
use crate::result::{Account, AuthenticationResult};
use crate::scope::ScopeSet;

/// `client_assertion_type` for JWT client assertions.
pub(crate) const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A cached access token is treated as expired this long before it really expires.
pub(crate) const EXPIRY_BUFFER_SECS: u64 = 300;

/// What to do with the access token the cache returned.
pub(crate) enum CacheDecision {
    /// Serve it.
    Hit(Arc<AccessTokenEntity>),
    /// Ask the identity provider; serve this token if that fails (it passed `refresh_on` but
    /// is still valid).
    Aging(Arc<AccessTokenEntity>),
    /// Ask the identity provider.
    Miss(RefreshReason),
}

/// MSAL's rules for a found access token: expired within 5 minutes → miss; past `refresh_on`
/// → refresh with fallback; otherwise a hit.
pub(crate) fn decide(found: Option<Arc<AccessTokenEntity>>, now: u64) -> CacheDecision {
    match found {
        None => CacheDecision::Miss(RefreshReason::NoCachedAccessToken),
        Some(at) if at.expires_on <= now.saturating_add(EXPIRY_BUFFER_SECS) => {
            CacheDecision::Miss(RefreshReason::Expired)
        }
        Some(at) if at.refresh_on.is_some_and(|r| r <= now) => CacheDecision::Aging(at),
        Some(at) => CacheDecision::Hit(at),
    }
}

/// The cache decision for `q` from memory alone; `None` when memory cannot tell (its copy of
/// the partition is older than the store's bound on staleness).
pub(crate) fn decide_in_memory(
    cache: &TokenCache,
    q: &AtQuery<'_>,
    now: u64,
) -> Option<CacheDecision> {
    match cache.lookup(q, now.saturating_add(EXPIRY_BUFFER_SECS)) {
        AtLookup::Hit(at) => Some(decide(Some(at), now)),
        AtLookup::Miss => Some(decide(None, now)),
        AtLookup::Stale => None,
    }
}

/// The cache decision for `q` after bringing `partition` up to date from the store. A failing
/// store is logged and memory answers, however old.
pub(crate) async fn decide_after_refresh(
    cache: &TokenCache,
    partition: &PartitionKey,
    q: &AtQuery<'_>,
    now: u64,
) -> CacheDecision {
    if let Err(e) = cache.refresh(partition).await {
        tracing::warn!(error = %e, "the token cache store failed; answering from memory");
    }
    match cache.lookup_any_age(q, now.saturating_add(EXPIRY_BUFFER_SECS)) {
        AtLookup::Hit(at) => decide(Some(at), now),
        _ => decide(None, now),
    }
}

/// Starts a token request: `client_id`, `grant_type`, the client authentication fields (for
/// a confidential client) and `client_info=1`, in MSAL's order (msal/oauth2cli/oauth2.py `_obtain_token`).
pub(crate) async fn client_form(
    app: AppRef<'_>,
    meta: &AuthorityMetadata,
    grant_type: &'static str,
    fmi_path: Option<&str>,
) -> Result<Form> {
    client_form_to(app, meta, &meta.token_endpoint, grant_type, fmi_path).await
}

/// [`client_form`] for a request sent to `send_to` (a regional token endpoint): the client
/// assertion's `aud` stays the central token endpoint of `meta`, while an assertion callback
/// is told `send_to` (msal/oauth2cli/assertion.py).
pub(crate) async fn client_form_to(
    app: AppRef<'_>,
    meta: &AuthorityMetadata,
    send_to: &str,
    grant_type: &'static str,
    fmi_path: Option<&str>,
) -> Result<Form> {
    let core = app.core;
    let auth = match app.credential {
        Some(credential) => Some(
            credential
                .client_auth(&ClientAuthRequest {
                    client_id: &core.client_id,
                    audience: &meta.token_endpoint,
                    token_endpoint: send_to,
                    is_adfs: meta.is_adfs,
                    fmi_path,
                    now: core.now(),
                })
                .await?,
        ),
        None => None,
    };
    let mut form = Form::default();
    form.push("client_id", core.client_id.clone());
    form.push("grant_type", grant_type);
    let secret = match auth {
        Some(ClientAuth::Assertion(a)) => {
            form.push_secret("client_assertion", a);
            None
        }
        Some(ClientAuth::Secret(s)) => Some(Some(s)),
        None => Some(None),
    };
    form.push("client_info", "1");
    match secret {
        Some(Some(s)) => form.push_secret("client_secret", s),
        Some(None) => {}
        None => form.push("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
    }
    Ok(form)
}

/// Adds `claims`: the challenge merged with the app's capabilities (nothing when neither).
pub(crate) fn push_claims(core: &AppCore, form: &mut Form, claims: Option<&str>) -> Result<()> {
    if let Some(c) = core.claims(claims)? {
        form.push("claims", c);
    }
    Ok(())
}

/// As [`push_claims`], with the request's forwarded client claims merged in.
pub(crate) fn push_claims_with_forwarded(
    core: &AppCore,
    form: &mut Form,
    options: &RequestOptions,
) -> Result<()> {
    let claims = core.claims(options.claims.as_deref())?;
    let merged =
        claims::merge_forwarded_claims(claims, options.forwarded_client_claims.as_deref())?;
    if let Some(c) = merged {
        form.push("claims", c);
    }
    Ok(())
}

/// Adds the SSH certificate fields and the caller's extra form fields.
pub(crate) fn push_extra(form: &mut Form, options: &RequestOptions) {
    for (k, v) in options.extra_fields() {
        form.push(k.to_owned(), v.to_owned());
    }
}

/// Builds the token request for `form` with the request options' correlation id and query.
pub(crate) fn token_request(
    meta: &AuthorityMetadata,
    form: Form,
    api: crate::http::telemetry::ApiId,
    reason: RefreshReason,
    correlation_id: Option<&str>,
    extra_query: &[(String, String)],
) -> TokenRequest {
    let mut req = TokenRequest::new(meta.token_endpoint.clone(), api, reason);
    if let Some(id) = correlation_id {
        req.correlation_id = id.to_owned();
    }
    req.form = form;
    req.query = extra_query.to_vec();
    req
}

/// What a flow tells the cache beyond the response itself.
pub(crate) struct Applying<'a> {
    pub(crate) meta: &'a AuthorityMetadata,
    pub(crate) request: &'a TokenRequest,
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) grant_type: &'a str,
    pub(crate) user_assertion_hash: Option<&'a str>,
    /// A refresh: record no account, and replace the redeemed refresh token in place.
    pub(crate) refreshed: Option<Refreshed<'a>>,
    /// The username of an ROPC request.
    pub(crate) username: Option<&'a str>,
    /// The key a proof-of-possession token is bound to: the cached entry's `key_id` (SSH
    /// certificates name theirs in the `key_id` form field instead).
    pub(crate) key_id: Option<&'a str>,
    /// Forwarded client claims: not a form field of their own (they are merged into `claims`),
    /// but part of the extended cache key under MSAL Python's name `client_claims`.
    pub(crate) client_claims: Option<&'a str>,
}

/// The refresh token a request redeemed, and the cache sequence it was read at.
#[derive(Clone, Copy)]
pub(crate) struct Refreshed<'a> {
    pub(crate) token: Option<&'a RefreshTokenEntity>,
    pub(crate) based_on: Option<u64>,
}

impl<'a> Applying<'a> {
    /// The common case: a new grant, nothing redeemed.
    pub(crate) fn new(
        meta: &'a AuthorityMetadata,
        request: &'a TokenRequest,
        scopes: &'a ScopeSet,
        grant_type: &'a str,
    ) -> Self {
        Applying {
            meta,
            request,
            scopes,
            grant_type,
            user_assertion_hash: None,
            refreshed: None,
            username: None,
            key_id: None,
            client_claims: None,
        }
    }
}

/// Refuses the answer to a refresh that names another account than the refresh token's owner
/// (by `client_info`, or the ID token's `sub` without it): caching it under the requesting
/// account would hand one user's tokens to another. MSAL does not check this; it costs one
/// comparison.
fn check_same_account(
    rt: &RefreshTokenEntity,
    response: &TokenResponse,
    id_token_claims: Option<&Map<String, Value>>,
) -> Result<()> {
    let Some(expected) = rt.home_account_id.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let answered = match response.client_info.as_deref().and_then(ClientInfo::parse) {
        Some(ci) => Some(ci.home_account_id()),
        None => id_token_claims
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    match answered.filter(|h| !h.is_empty()) {
        Some(h) if h != expected => Err(Error::new(
            crate::error::ErrorKind::Validation,
            "the identity provider answered a refresh with another account than the refresh token's; nothing was cached",
        )),
        _ => Ok(()),
    }
}

/// Refuses an answer of another token type than the request's `token_type` (an SSH
/// certificate request answered with a Bearer token, say) before anything is cached, as MSAL
/// .NET does (its `token_type_mismatch` error); a request without one takes any answer.
fn check_token_type(data: &[(&str, &str)], response: &TokenResponse) -> Result<()> {
    let Some(asked) = data
        .iter()
        .rev()
        .find(|(k, _)| *k == "token_type")
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
    else {
        return Ok(());
    };
    let got = response
        .token_type
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("Bearer");
    if got.eq_ignore_ascii_case(asked) {
        return Ok(());
    }
    let got: String = got.chars().take(40).collect();
    Err(Error::invalid_response(format!(
        "a {asked} token was asked for and the identity provider answered token_type {got:?}; nothing was cached"
    )))
}

/// Writes a token response to the cache and builds the caller's result.
pub(crate) async fn apply_response(
    core: &AppCore,
    response: &TokenResponse,
    a: Applying<'_>,
) -> Result<AuthenticationResult> {
    // The ID token is checked before anything is cached (see `check_id_token`); AD FS
    // issuers are not compared (their discovery documents and tokens are not known to agree).
    let issuer = a.meta.issuer.as_deref().filter(|_| !a.meta.is_adfs);
    let claims = match response.id_token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(check_id_token(t, &core.client_id, issuer)?),
        None => None,
    };
    if let Some(rt) = a.refreshed.and_then(|r| r.token) {
        check_same_account(rt, response, claims.as_ref())?;
    }
    let mut data = a.request.form.plain_fields();
    check_token_type(&data, response)?;
    if let Some(c) = a.client_claims {
        data.retain(|(k, _)| *k != "client_claims");
        data.push(("client_claims", c));
    }
    let now = unix_seconds(core.now());
    let event = TokenEvent {
        client_id: &core.client_id,
        environment: &a.meta.environment,
        realm: &a.meta.realm,
        request_scopes: a.scopes,
        response,
        grant_type: a.grant_type,
        data: &data,
        key_id: a.key_id,
        user_assertion_hash: a.user_assertion_hash,
        username: a.username,
        authority_type: None,
        skip_account_creation: a.refreshed.is_some(),
        replaces_refresh_token: a.refreshed.and_then(|r| r.token),
        now,
    };
    let recorded = core
        .cache
        .record(&event, a.refreshed.and_then(|r| r.based_on))
        .await;
    let at = recorded
        .access_token
        .ok_or_else(|| Error::invalid_response("the token response has no access token"))?;
    let account = recorded.account.map(Account::from_entity);
    let with_id_token = claims.is_some();
    Ok(
        AuthenticationResult::from_identity_provider(
            at,
            account,
            claims,
            &a.request.correlation_id,
        )
        .with_id_token(response.id_token.as_deref().filter(|_| with_id_token)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(token_type: Option<&str>) -> TokenResponse {
        let mut body = serde_json::json!({"access_token": "t", "expires_in": 3600});
        if let Some(t) = token_type {
            body["token_type"] = t.into();
        }
        TokenResponse::from_json(body).expect("a response")
    }

    #[test]
    fn an_answer_of_another_token_type_than_asked_is_refused() {
        let ssh = [("token_type", "ssh-cert"), ("key_id", "k")];
        assert!(check_token_type(&ssh, &answer(Some("ssh-cert"))).is_ok());
        assert!(check_token_type(&ssh, &answer(Some("SSH-Cert"))).is_ok());
        let e = check_token_type(&ssh, &answer(Some("Bearer"))).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidResponse);
        assert!(check_token_type(&ssh, &answer(None)).is_err());
        // A request without token_type takes whatever comes (AD FS answers `bearer`).
        assert!(check_token_type(&[("scope", "s")], &answer(Some("bearer"))).is_ok());
        assert!(check_token_type(&[("token_type", "")], &answer(Some("pop"))).is_ok());
    }
}
