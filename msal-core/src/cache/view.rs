//! Read-only, secret-free views of cache entries: [`TokenCache::search`](super::TokenCache::search)
//! (MSAL Python's `TokenCache.search(credential_type, target=, query=)`, msal/token_cache.py)
//! and the write hook ([`TokenCache::on_write`](super::TokenCache::on_write)).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
use crate::result::epoch_seconds;

/// The sections of the cache (MSAL Python's `TokenCache.CredentialType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialType {
    /// `AccessToken`.
    AccessToken,
    /// `RefreshToken`.
    RefreshToken,
    /// `IdToken`.
    IdToken,
    /// `Account`.
    Account,
    /// `AppMetadata`.
    AppMetadata,
}

/// One cache entry without its secret: what [`TokenCache::search`](super::TokenCache::search)
/// finds and what a write hook is told about. A field the section does not have is `None`.
///
/// `Debug` leaves out the username (personal data), as [`Account`](crate::Account)'s does.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// The section.
    pub credential_type: CredentialType,
    /// `{uid}.{utid}` of the user; `None` for app tokens and app metadata.
    pub home_account_id: Option<String>,
    /// The identity provider host.
    pub environment: String,
    /// The tenant (access tokens, ID tokens, accounts).
    pub realm: Option<String>,
    /// The application (tokens, app metadata).
    pub client_id: Option<String>,
    /// The scopes, space-separated (access and refresh tokens).
    pub target: Option<String>,
    /// The FOCI family (refresh tokens, app metadata).
    pub family_id: Option<String>,
    /// `Bearer`, `pop`, `ssh-cert` (access tokens).
    pub token_type: Option<String>,
    /// When the access token was cached.
    pub cached_at: Option<SystemTime>,
    /// When the access token expires.
    pub expires_on: Option<SystemTime>,
    /// When the access token is refreshed ahead of its expiry, if the provider asked.
    pub refresh_on: Option<SystemTime>,
    /// The key id of a proof-of-possession or SSH-certificate access token.
    pub key_id: Option<String>,
    /// The hash of an on-behalf-of request's incoming assertion (access and refresh tokens).
    pub user_assertion_hash: Option<String>,
    /// The sign-in name (accounts).
    pub username: Option<String>,
    /// The user's object id in the realm (accounts).
    pub local_account_id: Option<String>,
    /// `MSSTS`, `ADFS`, … (accounts).
    pub authority_type: Option<String>,
    /// The grant the account was created by (accounts).
    pub account_source: Option<String>,
}

impl fmt::Debug for CacheEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheEntry")
            .field("credential_type", &self.credential_type)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("family_id", &self.family_id)
            .field("token_type", &self.token_type)
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

impl CacheEntry {
    fn empty(credential_type: CredentialType, environment: &str) -> CacheEntry {
        CacheEntry {
            credential_type,
            home_account_id: None,
            environment: environment.to_owned(),
            realm: None,
            client_id: None,
            target: None,
            family_id: None,
            token_type: None,
            cached_at: None,
            expires_on: None,
            refresh_on: None,
            key_id: None,
            user_assertion_hash: None,
            username: None,
            local_account_id: None,
            authority_type: None,
            account_source: None,
        }
    }

    pub(crate) fn of_access_token(e: &AccessTokenEntity) -> CacheEntry {
        CacheEntry {
            home_account_id: e.home_account_id.clone(),
            realm: Some(e.realm.clone()),
            client_id: e.client_id.clone(),
            target: Some(e.target.clone()),
            token_type: Some(e.token_type.clone()),
            cached_at: Some(epoch_seconds(e.cached_at)),
            expires_on: Some(epoch_seconds(e.expires_on)),
            refresh_on: e.refresh_on.map(epoch_seconds),
            key_id: e.key_id.clone(),
            user_assertion_hash: e.user_assertion_hash.clone(),
            ..CacheEntry::empty(CredentialType::AccessToken, &e.environment)
        }
    }

    pub(crate) fn of_refresh_token(e: &RefreshTokenEntity) -> CacheEntry {
        CacheEntry {
            home_account_id: e.home_account_id.clone(),
            client_id: e.client_id.clone(),
            target: Some(e.target.clone()),
            family_id: e.family_id.clone(),
            user_assertion_hash: e.user_assertion_hash.clone(),
            ..CacheEntry::empty(CredentialType::RefreshToken, &e.environment)
        }
    }

    pub(crate) fn of_id_token(e: &IdTokenEntity) -> CacheEntry {
        CacheEntry {
            home_account_id: e.home_account_id.clone(),
            realm: Some(e.realm.clone()),
            client_id: e.client_id.clone(),
            ..CacheEntry::empty(CredentialType::IdToken, &e.environment)
        }
    }

    pub(crate) fn of_account(e: &AccountEntity) -> CacheEntry {
        CacheEntry {
            home_account_id: e.home_account_id.clone(),
            realm: Some(e.realm.clone()),
            username: Some(e.username.clone()),
            local_account_id: e.local_account_id.clone(),
            authority_type: Some(e.authority_type.clone()),
            account_source: e.account_source.clone(),
            ..CacheEntry::empty(CredentialType::Account, &e.environment)
        }
    }

    pub(crate) fn of_app_metadata(e: &AppMetadataEntity) -> CacheEntry {
        CacheEntry {
            client_id: e.client_id.clone(),
            family_id: e.family_id.clone(),
            ..CacheEntry::empty(CredentialType::AppMetadata, &e.environment)
        }
    }
}

/// What [`TokenCache::search`](super::TokenCache::search) looks for: every field set must
/// equal the entry's exactly, and every scope of [`target`](CacheQuery::target) must be one of
/// the entry's (MSAL Python's `query` dict and `target` list, msal/token_cache.py
/// `_is_matching`: exact comparisons). Unset fields match anything.
///
/// ```
/// use msal_core::cache::CacheQuery;
///
/// let q = CacheQuery::new()
///     .client_id("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
///     .home_account_id("uid.utid")
///     .target(["User.Read"]);
/// # let _ = q;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CacheQuery {
    home_account_id: Option<String>,
    environment: Option<String>,
    realm: Option<String>,
    client_id: Option<String>,
    family_id: Option<String>,
    username: Option<String>,
    target: Vec<String>,
}

impl CacheQuery {
    /// Matches every entry of the section.
    pub fn new() -> CacheQuery {
        CacheQuery::default()
    }

    /// The user's home account id.
    pub fn home_account_id(mut self, v: impl Into<String>) -> Self {
        self.home_account_id = Some(v.into());
        self
    }

    /// The identity provider host.
    pub fn environment(mut self, v: impl Into<String>) -> Self {
        self.environment = Some(v.into());
        self
    }

    /// The tenant.
    pub fn realm(mut self, v: impl Into<String>) -> Self {
        self.realm = Some(v.into());
        self
    }

    /// The application.
    pub fn client_id(mut self, v: impl Into<String>) -> Self {
        self.client_id = Some(v.into());
        self
    }

    /// The FOCI family.
    pub fn family_id(mut self, v: impl Into<String>) -> Self {
        self.family_id = Some(v.into());
        self
    }

    /// The sign-in name (accounts).
    pub fn username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }

    /// Scopes the entry's target must all hold.
    pub fn target(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.target = scopes.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn matches(&self, e: &CacheEntry) -> bool {
        fn same(want: Option<&String>, have: Option<&String>) -> bool {
            want.is_none_or(|w| have == Some(w))
        }
        same(self.home_account_id.as_ref(), e.home_account_id.as_ref())
            && same(self.environment.as_ref(), Some(&e.environment))
            && same(self.realm.as_ref(), e.realm.as_ref())
            && same(self.client_id.as_ref(), e.client_id.as_ref())
            && same(self.family_id.as_ref(), e.family_id.as_ref())
            && same(self.username.as_ref(), e.username.as_ref())
            && (self.target.is_empty()
                || e.target.as_deref().is_some_and(|t| {
                    self.target
                        .iter()
                        .all(|s| t.split(' ').any(|have| have == s))
                }))
    }
}

/// An entry the cache just wrote, as a write hook sees it (see
/// [`TokenCache::on_write`](super::TokenCache::on_write)).
#[derive(Clone)]
pub struct WrittenEntry {
    entry: CacheEntry,
    secret: Option<Arc<str>>,
}

impl WrittenEntry {
    pub(crate) fn new(entry: CacheEntry, secret: Option<&str>) -> WrittenEntry {
        WrittenEntry {
            entry,
            secret: secret.map(Arc::from),
        }
    }

    /// The entry, without its secret.
    pub fn entry(&self) -> &CacheEntry {
        &self.entry
    }

    /// The token itself: only for a hook registered with
    /// [`on_write_with_secrets`](super::TokenCache::on_write_with_secrets) (and only for
    /// tokens); `None` otherwise. Treat it as a secret.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }
}

impl fmt::Debug for WrittenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrittenEntry")
            .field("entry", &self.entry)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A write hook: the callback, and whether it asked for secrets.
#[derive(Clone)]
pub(crate) struct WriteHook {
    pub(crate) f: Arc<dyn Fn(&WrittenEntry) + Send + Sync>,
    pub(crate) with_secrets: bool,
}
