//! The token cache: MSAL's unified cache schema, in memory, serialized in the file format MSAL
//! Python writes (so msal-rs and MSAL Python read each other's caches).
//!
//! [`TokenCache`] is a cheap handle: clones share the same data, so one cache can serve several
//! applications. [`TokenCache::serialize`] and [`TokenCache::deserialize`] move its contents to
//! and from your own storage; everything this library does not understand (unknown sections,
//! unknown fields, entries of an unexpected shape) is kept and written back unchanged.
//!
//! The entity types ([`AccessTokenEntity`] and friends) and the key functions in [`keys`] are
//! public for tools that read MSAL caches.

#[path = "key.rs"]
pub mod keys;
mod schema;
pub mod store;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use indexmap::IndexMap;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::response::{ClientInfo, TokenResponse, decode_jwt_claims};
use crate::scope::ScopeSet;

pub use schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
pub use store::{
    CacheStore, Modify, PartitionKey, PartitionKind, ReadOutcome, Snapshot, Version, Written,
};

/// The grants whose accounts record how they were established (`account_source`).
const ACCOUNT_SOURCE_GRANTS: [&str; 5] = [
    "broker",
    "authorization_code",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "user_fic",
];

/// An in-memory token cache in MSAL's unified schema.
///
/// Cloning gives another handle to the same cache. Every method takes `&self` and is safe to
/// call from several threads.
#[derive(Clone, Default)]
pub struct TokenCache {
    inner: Arc<RwLock<Store>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    /// The cache in MSAL Python's file format: a JSON object with the sections `AccessToken`,
    /// `RefreshToken`, `IdToken`, `Account` and `AppMetadata`, each mapping a key to an entry,
    /// indented by four spaces and ASCII-only (as Python's `json.dumps(cache, indent=4)`).
    /// Unknown sections and fields read by [`deserialize`](TokenCache::deserialize) are
    /// written back in their places.
    ///
    /// Resets [`has_state_changed`](TokenCache::has_state_changed).
    pub fn serialize(&self) -> Result<String> {
        let mut store = self.write();
        let mut out = Vec::with_capacity(4096);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter::new());
        store
            .serialize(&mut ser)
            .map_err(|_| Error::new(ErrorKind::Cache, "the token cache could not be serialized"))?;
        let text = String::from_utf8(out).map_err(|_| {
            Error::new(
                ErrorKind::Cache,
                "the token cache serialized to invalid UTF-8",
            )
        })?;
        store.changed = false;
        Ok(text)
    }

    /// Replaces the contents of the cache with `json`, as written by
    /// [`serialize`](TokenCache::serialize) or by another MSAL. Empty or blank input gives an
    /// empty cache.
    ///
    /// An entry that does not fit its section's schema is kept as it is (written back by
    /// `serialize`, never used). Keys are kept as they were stored.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cache`] when `json` is not valid JSON, not a JSON object, or one of the five
    /// known sections is not an object. The cache is then left unchanged.
    pub fn deserialize(&self, json: &str) -> Result<()> {
        let parsed = Store::parse(json)?;
        let mut store = self.write();
        *store = parsed;
        Ok(())
    }

    /// True when the cache was written to since the last [`serialize`](TokenCache::serialize)
    /// or [`deserialize`](TokenCache::deserialize): the signal to persist it.
    pub fn has_state_changed(&self) -> bool {
        self.read().changed
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = self.read();
        f.debug_struct("TokenCache")
            .field("access_tokens", &store.access_tokens.len())
            .field("refresh_tokens", &store.refresh_tokens.len())
            .field("id_tokens", &store.id_tokens.len())
            .field("accounts", &store.accounts.len())
            .field("app_metadata", &store.app_metadata.len())
            .finish()
    }
}

/// A token response to record, with the request context it came from.
pub(crate) struct TokenEvent<'a> {
    /// The application's client id.
    pub(crate) client_id: &'a str,
    /// The authority host, never with a port.
    pub(crate) environment: &'a str,
    /// The first path segment of the token endpoint (tenant GUID, `organizations`, `adfs`...).
    pub(crate) realm: &'a str,
    /// The scopes sent; the response's `scope` wins when present.
    pub(crate) request_scopes: &'a ScopeSet,
    /// The successful response.
    pub(crate) response: &'a TokenResponse,
    /// The request's `grant_type`.
    pub(crate) grant_type: &'a str,
    /// Every form field of the request (the extended cache key is computed from them).
    pub(crate) data: &'a [(&'a str, &'a str)],
    /// The key id of a proof-of-possession or SSH-certificate request.
    pub(crate) key_id: Option<&'a str>,
    /// The hash of an on-behalf-of request's incoming assertion.
    pub(crate) user_assertion_hash: Option<&'a str>,
    /// The username of a (federated) ROPC request, used when the ID token names none.
    pub(crate) username: Option<&'a str>,
    /// Overrides the account's `authority_type` (else `ADFS` for realm `adfs`, else `MSSTS`).
    pub(crate) authority_type: Option<&'a str>,
    /// True to record no account (refresh-token redemption).
    pub(crate) skip_account_creation: bool,
    /// The current time, in seconds since the Unix epoch.
    pub(crate) now: u64,
}

/// What [`TokenCache::add`] recorded.
pub(crate) struct Applied {
    /// The access token entry, when the response carried one.
    pub(crate) access_token: Option<Arc<AccessTokenEntity>>,
    /// The account entry, when one was recorded.
    pub(crate) account: Option<AccountEntity>,
}

/// What [`TokenCache::find_access_token`] looks for.
pub(crate) struct AccessTokenQuery<'a> {
    /// The user's `uid.utid`; `None` for app tokens (matches only entries without one).
    pub(crate) home_account_id: Option<&'a str>,
    /// The authority host (compared case-insensitively).
    pub(crate) environment: &'a str,
    /// The application's client id.
    pub(crate) client_id: &'a str,
    /// The tenant (compared case-insensitively).
    pub(crate) realm: &'a str,
    /// The scopes needed; an entry's target may hold more.
    pub(crate) scopes: &'a ScopeSet,
    /// The extended cache key of the request, if any; must equal the entry's.
    pub(crate) ext_cache_key: Option<&'a str>,
    /// When set, the entry's `user_assertion_hash` must equal it.
    pub(crate) user_assertion_hash: Option<&'a str>,
}

impl TokenCache {
    /// Records a token response the way MSAL Python does (PROTOCOL §10.4): the access token,
    /// the account, the ID token, the refresh token and the application's metadata.
    pub(crate) fn add(&self, event: &TokenEvent<'_>) -> Result<Applied> {
        let r = event.response;
        let now = event.now;
        let claims: Map<String, Value> = r
            .id_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .and_then(decode_jwt_claims)
            .unwrap_or_default();
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let nonempty_claim = |name: &str| claim(name).filter(|s| !s.is_empty());

        // client_info gives uid.utid; without it (ADFS) the ID token's subject identifies the
        // user; without either (client credentials) there is no user.
        let home_account_id = match r.client_info.as_deref().and_then(ClientInfo::parse) {
            Some(ci) => Some(ci.home_account_id()),
            None => nonempty_claim("sub").map(str::to_owned),
        }
        .filter(|h| !h.is_empty());

        let target = match r.scope_list() {
            Some(granted) => keys::target(granted),
            None => event.request_scopes.to_wire(),
        };
        let client_id = Some(event.client_id.to_owned()).filter(|c| !c.is_empty());
        let data = |name: &str| {
            event
                .data
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .filter(|v| !v.is_empty())
        };

        let access_token = r
            .access_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| {
                let default_expires_in = r
                    .expires_on
                    .filter(|&e| e != 0)
                    .map_or(600, |e| e.saturating_sub(now));
                let expires_in = r.expires_in.unwrap_or(default_expires_in);
                let ext_expires_in = r.ext_expires_in.unwrap_or(expires_in);
                Arc::new(AccessTokenEntity {
                    credential_type: "AccessToken".to_owned(),
                    secret: secret.to_owned(),
                    home_account_id: home_account_id.clone(),
                    environment: event.environment.to_owned(),
                    client_id: client_id.clone(),
                    target: target.clone(),
                    realm: event.realm.to_owned(),
                    token_type: r.token_type.clone().unwrap_or_else(|| "Bearer".to_owned()),
                    cached_at: now,
                    expires_on: now.saturating_add(expires_in),
                    extended_expires_on: now.saturating_add(ext_expires_in),
                    key_id: event
                        .key_id
                        .filter(|k| !k.is_empty())
                        .or_else(|| data("key_id"))
                        .map(str::to_owned),
                    ext_cache_key: keys::ext_cache_key(event.data),
                    refresh_on: r.refresh_in.map(|ri| now.saturating_add(ri)),
                    user_assertion_hash: event.user_assertion_hash.map(str::to_owned),
                    extra: Map::new(),
                })
            });

        let account =
            (home_account_id.is_some() && !event.skip_account_creation).then(|| AccountEntity {
                home_account_id: home_account_id.clone(),
                environment: event.environment.to_owned(),
                realm: event.realm.to_owned(),
                local_account_id: claim("oid").or_else(|| claim("sub")).map(str::to_owned),
                username: nonempty_claim("preferred_username")
                    .or_else(|| nonempty_claim("upn"))
                    .or_else(|| data("username"))
                    .or(event.username.filter(|u| !u.is_empty()))
                    .unwrap_or("")
                    .to_owned(),
                authority_type: event
                    .authority_type
                    .unwrap_or(if event.realm == "adfs" {
                        "ADFS"
                    } else {
                        "MSSTS"
                    })
                    .to_owned(),
                account_source: ACCOUNT_SOURCE_GRANTS
                    .contains(&event.grant_type)
                    .then(|| event.grant_type.to_owned()),
                extra: Map::new(),
            });

        let id_token = r
            .id_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| IdTokenEntity {
                credential_type: "IdToken".to_owned(),
                secret: secret.to_owned(),
                home_account_id: home_account_id.clone(),
                environment: event.environment.to_owned(),
                realm: event.realm.to_owned(),
                client_id: client_id.clone(),
                extra: Map::new(),
            });

        let refresh_token = r
            .refresh_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| RefreshTokenEntity {
                credential_type: "RefreshToken".to_owned(),
                secret: secret.to_owned(),
                home_account_id: home_account_id.clone(),
                environment: event.environment.to_owned(),
                client_id: client_id.clone(),
                target: target.clone(),
                last_modification_time: Some(now),
                family_id: r.foci.clone(),
                user_assertion_hash: event.user_assertion_hash.map(str::to_owned),
                extra: Map::new(),
            });

        let app_metadata = AppMetadataEntity {
            client_id: client_id.clone(),
            environment: event.environment.to_owned(),
            family_id: r.foci.clone(),
            extra: Map::new(),
        };

        let mut store = self.write();
        // The order of sections in a new file follows MSAL Python's order of writes.
        if let Some(at) = &access_token {
            store.put(at.key(), Arc::clone(at));
        }
        if let Some(account) = &account {
            store.put(account.key(), Arc::new(account.clone()));
        }
        if let Some(idt) = id_token {
            store.put(idt.key(), Arc::new(idt));
        }
        if let Some(rt) = refresh_token {
            store.put(rt.key(), Arc::new(rt));
        }
        store.put(app_metadata.key(), Arc::new(app_metadata));
        store.changed = true;
        drop(store);

        Ok(Applied {
            access_token,
            account,
        })
    }

    /// The access token that answers `q`, if any; expiry is not checked here. The entry stored
    /// under the exact key wins; otherwise, of all matching entries, the one that expires last.
    pub(crate) fn find_access_token(
        &self,
        q: &AccessTokenQuery<'_>,
    ) -> Option<Arc<AccessTokenEntity>> {
        let q_hid = q.home_account_id.filter(|h| !h.is_empty());
        let q_ext = q.ext_cache_key.filter(|e| !e.is_empty());
        // An on-behalf-of query knows the assertion, not the user: the hash partitions instead.
        let matches = |at: &AccessTokenEntity| {
            (q.user_assertion_hash.is_some() || at.home_account_id.as_deref() == q_hid)
                && at.client_id.as_deref() == Some(q.client_id)
                && at.environment.eq_ignore_ascii_case(q.environment)
                && at.realm.eq_ignore_ascii_case(q.realm)
                && at.ext_cache_key.as_deref().filter(|e| !e.is_empty()) == q_ext
                && q.user_assertion_hash
                    .is_none_or(|h| at.user_assertion_hash.as_deref() == Some(h))
                && q.scopes.is_subset_of_target(&at.target)
        };
        let store = self.read();
        if !q.scopes.is_empty() {
            let key = keys::access_token_key(
                q_hid,
                q.environment,
                Some(q.client_id),
                q.realm,
                &q.scopes.to_wire(),
                q_ext,
            );
            if let Some(Entry::Known(at)) = store.access_tokens.get(&key)
                && matches(at)
            {
                return Some(Arc::clone(at));
            }
        }
        store
            .access_tokens
            .values()
            .filter_map(Entry::known)
            .filter(|at| matches(at))
            .max_by_key(|at| at.expires_on)
            .map(Arc::clone)
    }

    /// Removes the app tokens (no `home_account_id`) of `client_id` issued by any of
    /// `environments` (compared case-insensitively). Returns how many were removed.
    pub(crate) fn remove_app_tokens(&self, client_id: &str, environments: &[&str]) -> usize {
        self.remove_access_tokens(|at| {
            at.home_account_id.is_none()
                && at.client_id.as_deref() == Some(client_id)
                && environments
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(&at.environment))
        })
    }

    /// Removes the access tokens that expired before `now`. Returns how many were removed.
    pub(crate) fn remove_expired_access_tokens(&self, now: u64) -> usize {
        self.remove_access_tokens(|at| at.expires_on < now)
    }

    fn remove_access_tokens(&self, doomed: impl Fn(&AccessTokenEntity) -> bool) -> usize {
        let mut store = self.write();
        let before = store.access_tokens.len();
        store
            .access_tokens
            .retain(|_, e| !matches!(e, Entry::Known(at) if doomed(at)));
        let removed = before - store.access_tokens.len();
        if removed > 0 {
            store.changed = true;
        }
        removed
    }
}

/// The five sections of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AccessToken,
    RefreshToken,
    IdToken,
    Account,
    AppMetadata,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::AccessToken => "AccessToken",
            Kind::RefreshToken => "RefreshToken",
            Kind::IdToken => "IdToken",
            Kind::Account => "Account",
            Kind::AppMetadata => "AppMetadata",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "AccessToken" => Kind::AccessToken,
            "RefreshToken" => Kind::RefreshToken,
            "IdToken" => Kind::IdToken,
            "Account" => Kind::Account,
            "AppMetadata" => Kind::AppMetadata,
            _ => return None,
        })
    }
}

/// One entry of a section: an entity, or a value that does not fit the schema, kept verbatim.
#[derive(Debug)]
enum Entry<T> {
    Known(Arc<T>),
    Opaque(Value),
}

impl<T> Entry<T> {
    fn known(&self) -> Option<&Arc<T>> {
        match self {
            Entry::Known(t) => Some(t),
            Entry::Opaque(_) => None,
        }
    }
}

impl<T: Serialize> Serialize for Entry<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Entry::Known(t) => t.as_ref().serialize(s),
            Entry::Opaque(v) => v.serialize(s),
        }
    }
}

type Entries<T> = IndexMap<String, Entry<T>>;

/// A top-level item of the file, in file order.
#[derive(Debug)]
enum Section {
    Known(Kind),
    Unknown(String, Value),
}

/// The contents of a cache.
#[derive(Debug, Default)]
struct Store {
    access_tokens: Entries<AccessTokenEntity>,
    refresh_tokens: Entries<RefreshTokenEntity>,
    id_tokens: Entries<IdTokenEntity>,
    accounts: Entries<AccountEntity>,
    app_metadata: Entries<AppMetadataEntity>,
    /// The top-level order: known sections (once present) and unknown ones.
    layout: Vec<Section>,
    changed: bool,
}

/// An entity type and the section that holds it.
trait Entity: Sized {
    const KIND: Kind;
    fn section(store: &mut Store) -> &mut Entries<Self>;
}

macro_rules! impl_entity {
    ($t:ty, $kind:ident, $field:ident) => {
        impl Entity for $t {
            const KIND: Kind = Kind::$kind;
            fn section(store: &mut Store) -> &mut Entries<Self> {
                &mut store.$field
            }
        }
    };
}

impl_entity!(AccessTokenEntity, AccessToken, access_tokens);
impl_entity!(RefreshTokenEntity, RefreshToken, refresh_tokens);
impl_entity!(IdTokenEntity, IdToken, id_tokens);
impl_entity!(AccountEntity, Account, accounts);
impl_entity!(AppMetadataEntity, AppMetadata, app_metadata);

impl Store {
    /// Stores `entity` under `key`; an existing key keeps its position, as in a Python dict.
    fn put<T: Entity>(&mut self, key: String, entity: Arc<T>) {
        self.mark(T::KIND);
        T::section(self).insert(key, Entry::Known(entity));
    }

    /// Makes sure the section of `kind` is part of the layout.
    fn mark(&mut self, kind: Kind) {
        if !self
            .layout
            .iter()
            .any(|s| matches!(s, Section::Known(k) if *k == kind))
        {
            self.layout.push(Section::Known(kind));
        }
    }

    fn parse(json: &str) -> Result<Store> {
        let mut store = Store::default();
        if json.trim().is_empty() {
            return Ok(store);
        }
        // serde_json's syntax errors never quote the input, but only the position is reported
        // so that no token can reach an error message.
        let root: Value = serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorKind::Cache,
                format!(
                    "the token cache is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(root) = root else {
            return Err(Error::new(
                ErrorKind::Cache,
                "the token cache is not a JSON object",
            ));
        };
        for (name, value) in root {
            let Some(kind) = Kind::from_name(&name) else {
                store.layout.push(Section::Unknown(name, value));
                continue;
            };
            let Value::Object(entries) = value else {
                return Err(Error::new(
                    ErrorKind::Cache,
                    format!("the token cache section {name} is not a JSON object"),
                ));
            };
            match kind {
                Kind::AccessToken => store.load::<AccessTokenEntity>(entries),
                Kind::RefreshToken => store.load::<RefreshTokenEntity>(entries),
                Kind::IdToken => store.load::<IdTokenEntity>(entries),
                Kind::Account => store.load::<AccountEntity>(entries),
                Kind::AppMetadata => store.load::<AppMetadataEntity>(entries),
            }
        }
        Ok(store)
    }

    /// Reads the entries of one section; an entry that does not fit is kept opaque.
    fn load<T: Entity + for<'de> Deserialize<'de>>(&mut self, entries: Map<String, Value>) {
        self.mark(T::KIND);
        let section = T::section(self);
        section.reserve(entries.len());
        for (key, value) in entries {
            let entry = match T::deserialize(&value) {
                Ok(t) => Entry::Known(Arc::new(t)),
                Err(_) => Entry::Opaque(value),
            };
            section.insert(key, entry);
        }
    }
}

/// Serializes one section's entries in order.
struct SectionRef<'a, T>(&'a Entries<T>);

impl<T: Serialize> Serialize for SectionRef<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl Serialize for Store {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.layout.len()))?;
        for section in &self.layout {
            match section {
                Section::Known(kind) => {
                    let name = kind.name();
                    match kind {
                        Kind::AccessToken => {
                            map.serialize_entry(name, &SectionRef(&self.access_tokens))?
                        }
                        Kind::RefreshToken => {
                            map.serialize_entry(name, &SectionRef(&self.refresh_tokens))?
                        }
                        Kind::IdToken => map.serialize_entry(name, &SectionRef(&self.id_tokens))?,
                        Kind::Account => map.serialize_entry(name, &SectionRef(&self.accounts))?,
                        Kind::AppMetadata => {
                            map.serialize_entry(name, &SectionRef(&self.app_metadata))?
                        }
                    }
                }
                Section::Unknown(name, value) => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

/// The output of Python's `json.dumps(obj, indent=4)`: serde_json's pretty printer with four
/// spaces, and every character outside printable ASCII escaped as `\uXXXX` (`ensure_ascii`).
struct PythonFormatter(PrettyFormatter<'static>);

impl PythonFormatter {
    fn new() -> PythonFormatter {
        PythonFormatter(PrettyFormatter::with_indent(b"    "))
    }
}

impl Formatter for PythonFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            // `i` and `start` are char boundaries of `fragment`.
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}
