//! What an acquisition returns: [`AuthenticationResult`] with its [`AccessToken`] (a cheap
//! clone over the cached entry, never printed), where it came from ([`TokenSource`]) and, for
//! user tokens, the [`Account`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::cache::{AccessTokenEntity, AccountEntity};

/// The longest lifetime a token is given, whatever the identity provider says: 30 days.
///
/// `expires_in`, `ext_expires_in` and `refresh_in` above it (even `1e300` or
/// `"18446744073709551615"`) count as this much, and so does a device code's `expires_in`.
/// Entra ID issues access tokens for at most about 28 hours (continuous access evaluation),
/// so this only bounds how long a broken or hostile response can pin a token in the cache.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The latest time [`AuthenticationResult::expires_on`] and the like report:
/// 9999-12-31T23:59:59Z. A cache document may hold any `u64` (`"expires_on":
/// "18446744073709551615"`) and keeps it byte for byte; such a time reads as this.
pub(crate) const MAX_TIMESTAMP: u64 = 253_402_300_799;

/// An epoch timestamp as a `SystemTime`, never panicking: saturated at [`MAX_TIMESTAMP`], and
/// at anything a platform cannot represent.
pub(crate) fn epoch_seconds(secs: u64) -> SystemTime {
    let secs = secs.min(MAX_TIMESTAMP);
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .or_else(|| UNIX_EPOCH.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(UNIX_EPOCH)
}

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
    id_token: Option<IdToken>,
    correlation_id: Option<Arc<str>>,
}

/// The raw ID token of a response (a JWT). Cloning shares it; `Debug` shows `<redacted>`.
///
/// The usual use is OpenID Connect RP-Initiated Logout 1.0 section 2: a web app passes it as
/// `id_token_hint` to the end-session endpoint at sign-out. It identifies the user; keep it
/// out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken(Arc<str>);

impl IdToken {
    /// The compact JWT, `header.payload.signature`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdToken(<redacted>)")
    }
}

impl AuthenticationResult {
    pub(crate) fn from_cache(entity: Arc<AccessTokenEntity>) -> AuthenticationResult {
        AuthenticationResult {
            access_token: AccessToken { entity },
            source: TokenSource::Cache,
            account: None,
            id_token_claims: None,
            id_token: None,
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
            id_token: None,
            correlation_id: Some(Arc::from(correlation_id)),
        }
    }

    /// Attaches the raw ID token the claims were read from.
    pub(crate) fn with_id_token(mut self, id_token: Option<&str>) -> AuthenticationResult {
        self.id_token = id_token
            .filter(|t| !t.is_empty())
            .map(|t| IdToken(Arc::from(t)));
        self
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
    ///
    /// From the identity provider's `expires_in` (or, for managed identity, `expires_on`): a
    /// lifetime longer than [`MAX_TOKEN_LIFETIME`] is clamped to it, a negative one gives a
    /// time in the past (the token is returned but never served from the cache), and one that
    /// is not a number fails the acquisition with
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse), caching nothing. A
    /// cached timestamp beyond the year 9999 (the cache keeps whatever another MSAL wrote)
    /// reads as the end of 9999.
    pub fn expires_on(&self) -> SystemTime {
        epoch_seconds(self.access_token.entity.expires_on)
    }

    /// When the library will start refreshing the token ahead of its expiry, if the identity
    /// provider asked for that (`refresh_in`, bounded as [`expires_on`](Self::expires_on)).
    pub fn refresh_on(&self) -> Option<SystemTime> {
        self.access_token.entity.refresh_on.map(epoch_seconds)
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

    /// The claims of the ID token that came with the response.
    ///
    /// Checked before anything was cached (beyond MSAL Python, which stopped validating ID
    /// tokens in 1.38), as OpenID Connect Core 1.0 section 3.1.3.7 describes:
    ///
    /// - `aud` contains the application's client id (ASCII case-insensitively when the client
    ///   id is a GUID, exactly otherwise);
    /// - `iss` is the issuer of the authority's OpenID Connect discovery document, Entra ID's
    ///   `https://login.microsoftonline.com/{tenantid}/v2.0` template filled with the token's
    ///   `tid` (Entra ID tenants, `common`/`organizations`/`consumers`, B2C, CIAM, generic
    ///   OIDC). Not compared for AD FS, or when discovery named no issuer;
    /// - the `nonce` (the SHA-256 of the flow's nonce) and, with `max_age`, `auth_time`, in the
    ///   authorization code flows, the only ones that send a nonce;
    /// - the token is a JWT whose payload is a JSON object.
    ///
    /// A failed check is an [`ErrorKind::Validation`](crate::ErrorKind::Validation) error and
    /// nothing from the response is cached.
    ///
    /// Not verified: the signature (the token came over TLS directly from the token endpoint,
    /// which section 3.1.3.7 allows in place of checking it), `exp`, `iat` and `nbf` (as MSAL
    /// Python: a wrong local clock must not stop sign-ins), `azp` and `at_hash`. Do not pass
    /// an ID token on to another party as proof of anything: it is for this application.
    pub fn id_token_claims(&self) -> Option<&Map<String, Value>> {
        self.id_token_claims.as_deref()
    }

    /// The raw ID token that came with the response, whose claims
    /// [`id_token_claims`](Self::id_token_claims) are: what a web app passes as
    /// `id_token_hint` when it signs the user out (OpenID Connect RP-Initiated Logout 1.0).
    ///
    /// As MSAL Python's `result["id_token"]`: present on a response from the identity
    /// provider that had one (user sign-ins, refreshes, on-behalf-of); `None` for a cache
    /// hit, client credentials, managed identity and Azure Cloud Shell (whose claims are made
    /// up locally). Keep the one from sign-in in the
    /// user's session for sign-out. Never printed by `Debug`.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
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
