//! What an acquisition returns: [`AuthenticationResult`] with its [`AccessToken`] (a cheap
//! clone over the cached entry, never printed), where it came from ([`TokenSource`]) and, for
//! user tokens, the [`Account`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::cache::{AccessTokenEntity, AccountEntity};

/// An access token. Cloning shares the cached entry; `Debug` shows `<redacted>`.
#[derive(Clone)]
pub struct AccessToken {
    entity: Arc<AccessTokenEntity>,
}

impl AccessToken {
    /// The token itself, to put in an `Authorization: Bearer …` header. Treat it as a secret.
    pub fn secret(&self) -> &str {
        &self.entity.secret
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenSource {
    /// The token cache: no request was sent.
    Cache,
    /// The identity provider, just now.
    IdentityProvider,
}

/// A signed-in user as the token cache knows them.
///
/// Cloning is cheap: an account shares the cache's entry.
#[derive(Clone)]
pub struct Account {
    entity: Arc<AccountEntity>,
}

impl PartialEq for Account {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.entity, &other.entity)
            || (self.home_account_id() == other.home_account_id()
                && self.environment() == other.environment()
                && self.realm() == other.realm()
                && self.local_account_id() == other.local_account_id()
                && self.username() == other.username()
                && self.authority_type() == other.authority_type()
                && self.account_source() == other.account_source())
    }
}

impl Eq for Account {}

impl Account {
    /// The account of a cache entry, sharing it.
    pub(crate) fn from_entity(entity: Arc<AccountEntity>) -> Account {
        Account { entity }
    }

    /// `{uid}.{utid}`: the account's identifier across tenants and apps.
    pub fn home_account_id(&self) -> &str {
        self.entity.home_account_id.as_deref().unwrap_or("")
    }

    /// The identity provider host the account signed in at.
    pub fn environment(&self) -> &str {
        &self.entity.environment
    }

    /// The tenant the account was seen in.
    pub fn realm(&self) -> &str {
        &self.entity.realm
    }

    /// The object id of the user in that tenant.
    pub fn local_account_id(&self) -> &str {
        self.entity.local_account_id.as_deref().unwrap_or("")
    }

    /// The sign-in name (`preferred_username`), possibly empty.
    pub fn username(&self) -> &str {
        &self.entity.username
    }

    /// `MSSTS` for Entra ID (and B2C, CIAM), `ADFS` for AD FS.
    pub fn authority_type(&self) -> &str {
        &self.entity.authority_type
    }

    /// The grant the account was created by, when MSAL records it.
    pub fn account_source(&self) -> Option<&str> {
        self.entity.account_source.as_deref()
    }
}

impl fmt::Debug for Account {
    /// Identifiers only; the username is personal data and is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("environment", &self.environment())
            .field("realm", &self.realm())
            .field("authority_type", &self.authority_type())
            .finish_non_exhaustive()
    }
}

/// The outcome of a successful acquisition.
#[derive(Clone)]
pub struct AuthenticationResult {
    access_token: AccessToken,
    source: TokenSource,
    account: Option<Account>,
    id_token_claims: Option<Arc<Map<String, Value>>>,
    correlation_id: Option<Arc<str>>,
}

impl AuthenticationResult {
    pub(crate) fn from_cache(entity: Arc<AccessTokenEntity>) -> AuthenticationResult {
        AuthenticationResult {
            access_token: AccessToken { entity },
            source: TokenSource::Cache,
            account: None,
            id_token_claims: None,
            correlation_id: None,
        }
    }

    pub(crate) fn from_identity_provider(
        entity: Arc<AccessTokenEntity>,
        account: Option<Account>,
        id_token_claims: Option<Map<String, Value>>,
        correlation_id: &str,
    ) -> AuthenticationResult {
        AuthenticationResult {
            access_token: AccessToken { entity },
            source: TokenSource::IdentityProvider,
            account,
            id_token_claims: id_token_claims.map(Arc::new),
            correlation_id: Some(Arc::from(correlation_id)),
        }
    }

    pub(crate) fn with_account(mut self, account: Option<Account>) -> AuthenticationResult {
        self.account = account;
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type, `Bearer` unless the identity provider said otherwise.
    pub fn token_type(&self) -> &str {
        match self.access_token.entity.token_type.as_str() {
            "" => "Bearer",
            t => t,
        }
    }

    /// When the access token expires.
    pub fn expires_on(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.access_token.entity.expires_on)
    }

    /// When the library will start refreshing the token ahead of its expiry, if the identity
    /// provider asked for that (`refresh_in`).
    pub fn refresh_on(&self) -> Option<SystemTime> {
        self.access_token
            .entity
            .refresh_on
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
    }

    /// The scopes the token was granted for, space-separated.
    pub fn scopes(&self) -> &str {
        &self.access_token.entity.target
    }

    /// The tenant the token was issued in, as the token endpoint names it.
    pub fn tenant(&self) -> &str {
        &self.access_token.entity.realm
    }

    /// Whether the token came from the cache or from the identity provider.
    pub fn source(&self) -> TokenSource {
        self.source
    }

    /// The user the token is for (user tokens from the identity provider).
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// The claims of the ID token that came with the response, decoded but not validated
    /// (as MSAL 1.38+ does).
    pub fn id_token_claims(&self) -> Option<&Map<String, Value>> {
        self.id_token_claims.as_deref()
    }

    /// The correlation id of the request that produced the token (none for a cache hit).
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }
}

impl fmt::Debug for AuthenticationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationResult")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type())
            .field("expires_on", &self.access_token.entity.expires_on)
            .field("scopes", &self.scopes())
            .field("source", &self.source)
            .field("account", &self.account)
            .field("correlation_id", &self.correlation_id)
            .finish()
    }
}
