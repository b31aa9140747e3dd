//! Silent acquisition (msal/application.py `acquire_token_silent_with_error`): a cached access token for the account when one
//! is valid for five more minutes, otherwise a refresh token redeemed — the newest first, the
//! family's (FOCI) before the app's own as MSAL does — with the cache re-read before any
//! refresh token is used. A token past `refresh_on` is refreshed, and served if that fails.

use std::future::IntoFuture;
use std::sync::Arc;

use super::user::{Grant, anchor_from_home_account, classify, no_token, redeem, user_scopes};
use super::{CacheDecision, Refreshed, decide_after_refresh, decide_in_memory};
use crate::app::core::AppRef;
use crate::app::options::{
    AcquireFuture, RequestOptions, request_option_setters, ssh_certificate_setter,
};
use crate::authority::discovery::AuthorityMetadata;
use crate::cache::{AtOwner, AtQuery, PartitionKey, RefreshTokenEntity};
use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::{Account, AuthenticationResult};
use crate::scope::ScopeSet;

const GRANT_TYPE: &str = "refresh_token";

/// The request builder of `acquire_token_silent`. Set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenSilent<'a> {
    app: AppRef<'a>,
    scopes: Result<ScopeSet>,
    account: Account,
    options: RequestOptions,
}

impl std::fmt::Debug for AcquireTokenSilent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenSilent")
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a> AcquireTokenSilent<'a> {
    pub(crate) fn new(app: AppRef<'a>, scopes: Result<ScopeSet>, account: &Account) -> Self {
        AcquireTokenSilent {
            app,
            scopes,
            account: account.clone(),
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
    ssh_certificate_setter!();
}

fn query<'q>(
    app: AppRef<'q>,
    meta: &'q AuthorityMetadata,
    account: &'q Account,
    scopes: &'q ScopeSet,
    ext: Option<&'q str>,
    options: &'q RequestOptions,
) -> AtQuery<'q> {
    AtQuery {
        owner: AtOwner::Home(Some(account.home_account_id())),
        environment: &meta.environment,
        client_id: &app.core.client_id,
        realm: &meta.realm,
        ext_cache_key: ext,
        scopes,
        binding: options.binding(),
    }
}

/// The same query in the account's own realm, when the app's authority names no tenant
/// (`common`, `organizations`, `consumers`) and the account's realm differs: other MSALs cache
/// a user's tokens under the tenant id where MSAL Python writes the authority's tenant; both
/// are read. An authority that names a tenant gets that tenant's tokens only: a token of the
/// account's home tenant is not one for the tenant the app asked for.
fn account_realm_query<'q>(q: &AtQuery<'q>, account: &'q Account) -> Option<AtQuery<'q>> {
    (names_no_tenant(q.realm)
        && !account.realm().is_empty()
        && !account.realm().eq_ignore_ascii_case(q.realm))
    .then(|| AtQuery {
        realm: account.realm(),
        ..*q
    })
}

/// True for the tenant placeholders of Entra ID's multi-tenant authorities.
fn names_no_tenant(realm: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(realm))
}

fn check(scopes: Result<ScopeSet>) -> Result<ScopeSet> {
    let scopes = user_scopes(scopes)?;
    if scopes.is_empty() {
        return Err(Error::invalid_input("no scope given"));
    }
    Ok(scopes)
}

impl<'a> IntoFuture for AcquireTokenSilent<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        let scopes = match check(self.scopes).and_then(|s| self.options.check().map(|()| s)) {
            Ok(s) => s,
            Err(e) => return AcquireFuture::ready(Err(e)),
        };
        let (app, account, options) = (self.app, self.account, self.options);
        if !options.bypasses_cache() {
            let core = app.core;
            let hit = core
                .cached_metadata_for(&options)
                .ok()
                .flatten()
                .and_then(|meta| {
                    let ext = options.ext_cache_key();
                    let q = query(app, &meta, &account, &scopes, ext.as_deref(), &options);
                    let now = unix_seconds(core.now());
                    match decide_in_memory(&core.cache, &q, now) {
                        Some(CacheDecision::Hit(at)) => Some(at),
                        _ => match account_realm_query(&q, &account)
                            .and_then(|q2| decide_in_memory(&core.cache, &q2, now))
                        {
                            Some(CacheDecision::Hit(at)) => Some(at),
                            _ => None,
                        },
                    }
                });
            if let Some(at) = hit {
                core.http.telemetry.record_cache_hit();
                return AcquireFuture::ready(Ok(
                    AuthenticationResult::from_cache(at).with_account(Some(account))
                ));
            }
        }
        AcquireFuture::pending(fly(app, scopes, account, options))
    }
}

/// What makes two silent requests the same request.
fn flight_key(
    app: AppRef<'_>,
    scopes: &ScopeSet,
    account: &Account,
    options: &RequestOptions,
) -> Result<String> {
    let authority = app.core.authority_for(options)?;
    let mut key = format!(
        "silent\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}",
        authority.as_str().to_ascii_lowercase(),
        account.home_account_id().to_ascii_lowercase(),
        scopes.to_wire().to_ascii_lowercase(),
        options.claims.as_deref().unwrap_or(""),
        options.force_refresh,
    );
    for (k, v) in options.extra_fields() {
        key.push_str(&format!("\u{1}{k}={v}"));
    }
    Ok(key)
}

/// Joins the flight of this request (or starts it): one refresh for every concurrent caller.
async fn fly(
    app: AppRef<'_>,
    scopes: ScopeSet,
    account: Account,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let key = flight_key(app, &scopes, &account, &options)?;
    let owned = app.to_owned_app();
    let landing = key.clone();
    let flight = app.core.flights.join(&key, move |id| {
        Box::pin(async move {
            let result = run(owned.app_ref(), scopes, account, options).await;
            owned.app_ref().core.flights.land(&landing, id);
            result
        })
    });
    flight.await
}

/// The refresh tokens to try, in MSAL's order (msal/application.py `_acquire_token_silent_by_finding_rt_belongs_to_me_or_my_family`), each group with whether a
/// `client_mismatch` ends it.
fn candidates(
    app: AppRef<'_>,
    meta: &AuthorityMetadata,
    partition: &PartitionKey,
    account: &Account,
) -> Vec<(Vec<Arc<RefreshTokenEntity>>, bool)> {
    let core = app.core;
    let mut all = core
        .cache
        .refresh_tokens(account.home_account_id(), &meta.aliases);
    all.sort_by_key(|rt| std::cmp::Reverse(rt.last_modification_time.unwrap_or(0)));
    let family = |f: &str| -> Vec<Arc<RefreshTokenEntity>> {
        all.iter()
            .filter(|rt| rt.family_id.as_deref() == Some(f))
            .cloned()
            .collect()
    };
    let mut groups = Vec::new();
    match core
        .cache
        .app_metadata(partition, &meta.environment, &core.client_id)
    {
        None => groups.push((family("1"), true)),
        Some(md) => {
            if let Some(f) = md.family_id.as_deref().filter(|f| !f.is_empty()) {
                groups.push((family(f), false));
            }
        }
    }
    let own: Vec<Arc<RefreshTokenEntity>> = all
        .iter()
        .filter(|rt| rt.client_id.as_deref() == Some(core.client_id.as_str()))
        .cloned()
        .collect();
    groups.push((own, false));
    groups
}

async fn run(
    app: AppRef<'_>,
    scopes: ScopeSet,
    account: Account,
    options: RequestOptions,
) -> Result<AuthenticationResult> {
    let core = app.core;
    let authority = core.authority_for(&options)?;
    let meta = core.metadata(&authority).await?;
    let partition = core
        .cache
        .route(|| PartitionKey::user(account.home_account_id()));
    let now = unix_seconds(core.now());
    let (reason, fallback) = if options.bypasses_cache() {
        (RefreshReason::ForceRefresh, None)
    } else {
        let ext = options.ext_cache_key();
        let q = query(app, &meta, &account, &scopes, ext.as_deref(), &options);
        let mut decision = decide_after_refresh(&core.cache, &partition, &q, now).await;
        if matches!(decision, CacheDecision::Miss(_))
            && let Some(q2) = account_realm_query(&q, &account)
        {
            decision = decide_after_refresh(&core.cache, &partition, &q2, now).await;
        }
        match decision {
            CacheDecision::Hit(at) => {
                core.http.telemetry.record_cache_hit();
                return Ok(AuthenticationResult::from_cache(at).with_account(Some(account)));
            }
            CacheDecision::Aging(at) => (RefreshReason::ProactivelyRefreshed, Some(at)),
            CacheDecision::Miss(r) => (r, None),
        }
    };

    // A Cloud Shell account's tokens come from the shell (msal/application.py
    // `_acquire_token_silent_from_cache_and_possibly_refresh_it`).
    if account.authority_type() == super::cloud_shell::AUTHORITY_TYPE {
        let Some(url) = &core.cloud_shell else {
            return Err(Error::new(
                crate::error::ErrorKind::InteractionRequired,
                "a Cloud Shell account's tokens come only from inside Azure Cloud Shell",
            ));
        };
        return match super::cloud_shell::acquire(app, url, &scopes).await {
            Ok(r) => Ok(r.with_account(Some(account))),
            Err(e) => match fallback {
                Some(at) => {
                    tracing::debug!(error = %e, "Cloud Shell failed; serving the cached token until it expires");
                    Ok(AuthenticationResult::from_cache(at).with_account(Some(account)))
                }
                None => Err(e),
            },
        };
    }

    // A refresh token is about to be used: read the store again first.
    if let Err(e) = core.cache.reload(&partition).await {
        tracing::warn!(error = %e, "the token cache store failed; refreshing from memory");
    }
    let based_on = core.cache.sequence(&partition);
    let anchor = anchor_from_home_account(account.home_account_id());
    let mut last_error: Option<Error> = None;
    let mut tried: Vec<Arc<RefreshTokenEntity>> = Vec::new();
    'groups: for (group, break_on_mismatch) in candidates(app, &meta, &partition, &account) {
        for rt in group {
            if tried.iter().any(|t| Arc::ptr_eq(t, &rt)) {
                continue;
            }
            tried.push(Arc::clone(&rt));
            let grant = Grant {
                app,
                meta: &meta,
                grant_type: GRANT_TYPE,
                api: ApiId::AcquireTokenSilent,
                reason,
                scopes: &scopes,
                options: &options,
                leading: Vec::new(),
                fields: vec![("refresh_token", rt.secret.clone())],
                send_scope: true,
                anchor: anchor.clone(),
                refreshed: Some(Refreshed {
                    token: Some(&rt),
                    based_on: Some(based_on),
                }),
                username: None,
                correlation_id: None,
            };
            match redeem(grant).await {
                Ok(r) => return Ok(r.with_account(Some(account))),
                Err(e) => {
                    let mismatch = e
                        .service()
                        .is_some_and(|s| s.suberror.as_deref() == Some("client_mismatch"));
                    tracing::debug!(error = %e, "a refresh token did not work");
                    last_error = Some(classify(e));
                    if break_on_mismatch && mismatch {
                        continue 'groups;
                    }
                }
            }
        }
    }
    if let Some(at) = fallback {
        tracing::debug!("refresh failed; serving the cached token until it expires");
        return Ok(AuthenticationResult::from_cache(at).with_account(Some(account)));
    }
    Err(last_error.unwrap_or_else(no_token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{AccountEntity, TokenBinding};

    fn account(realm: &str) -> Account {
        let entity: AccountEntity = serde_json::from_value(serde_json::json!({
            "home_account_id": "uid.home", "environment": "login.windows.net",
            "realm": realm, "local_account_id": "uid", "username": "u@contoso.com",
            "authority_type": "MSSTS"
        }))
        .expect("an account entity");
        Account::from_entity(Arc::new(entity))
    }

    fn query<'q>(realm: &'q str, scopes: &'q ScopeSet) -> AtQuery<'q> {
        AtQuery {
            owner: AtOwner::Home(Some("uid.home")),
            environment: "login.windows.net",
            client_id: "client",
            realm,
            ext_cache_key: None,
            scopes,
            binding: TokenBinding::BEARER,
        }
    }

    #[test]
    fn the_account_realm_is_read_only_for_authorities_without_a_tenant() {
        let scopes = ScopeSet::new(["User.Read"]).expect("scopes");
        let home = account("home-tenant");
        for open in ["common", "organizations", "Consumers"] {
            let q = query(open, &scopes);
            let q2 = account_realm_query(&q, &home).expect("the account's realm is read");
            assert_eq!(q2.realm, "home-tenant");
        }
        // An app of another tenant must not get the home tenant's token (as in MSAL .NET's
        // MultiTenantTokenCache.json, where MSAL Python serves nothing there either).
        let q = query("other-tenant", &scopes);
        assert!(account_realm_query(&q, &home).is_none());
        let q = query("common", &scopes);
        assert!(account_realm_query(&q, &account("")).is_none());
        assert!(account_realm_query(&q, &account("common")).is_none());
    }
}
