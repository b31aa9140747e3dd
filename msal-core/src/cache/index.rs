//! The in-memory index (L1) over every loaded cache document: each lookup the flows make is a
//! hash lookup into a small bucket, with no allocation, and any number of readers proceed at
//! once (sharded read-write locks; writers hold one shard briefly).
//!
//! Access tokens are bucketed by (home account id or assertion hash, environment, client id,
//! realm, extended cache key), all case-insensitive. Each is also filed under that bucket and
//! the hash of its exact scope set (order-independent, case-insensitive), so that the common
//! request — the scopes a token was granted for — is answered from a bucket that almost always
//! holds that one token. Only when that exact bucket has no valid, fresh match is the whole
//! bucket scanned for a target that covers the requested scopes.
//!
//! Accounts are bucketed by home account id, and also kept in a directory sorted by (home
//! account id, environment) so that listing them needs neither a sort nor a map. Refresh
//! tokens are bucketed by (home account id, environment). Every record knows its partition,
//! whose age decides whether the record may be served without asking the store again.
//!
//! A record is the entity's `Arc` and its partition: within one partition, an entity (one
//! allocation) is filed under one key of its document, so the pair identifies the record.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::schema::{AccessTokenEntity, AccountEntity, RefreshTokenEntity};
use crate::authority::known_aliases;
use crate::result::Account;
use crate::scope::{ScopeSet, scope_hash};

const SHARDS: usize = 16;

/// The state of one loaded partition that its records share.
#[derive(Debug)]
pub(crate) struct PartitionMeta {
    /// Unique among the partitions this cache ever loaded.
    pub(crate) id: u64,
    /// When the partition was last known to match its store (milliseconds on the cache's
    /// monotonic clock).
    pub(crate) checked_at_ms: AtomicU64,
    /// False once the partition was evicted or replaced: its records are then ignored.
    pub(crate) live: AtomicBool,
    /// True when the store announced a change since the last load began
    /// ([`CacheStore::watch`](super::CacheStore::watch)): memory is then stale, whatever its age.
    pub(crate) invalidated: AtomicBool,
}

impl PartitionMeta {
    fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }
}

/// The hasher of bucket keys: keys are already hashes, so it passes them through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The records of one bucket: almost always one, kept inline (no allocation, no pointer to
/// follow); more in a vector. Insertion order is kept.
#[derive(Debug, Clone)]
enum Slot<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Slot<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Slot::One(t) => std::slice::from_ref(t),
            Slot::Many(v) => v,
        }
    }

    fn push(&mut self, t: T) {
        match self {
            Slot::Many(v) if v.is_empty() => *self = Slot::One(t),
            Slot::Many(v) => v.push(t),
            Slot::One(_) => {
                let first = std::mem::replace(self, Slot::Many(Vec::with_capacity(2)));
                if let (Slot::Many(v), Slot::One(first)) = (&mut *self, first) {
                    v.push(first);
                    v.push(t);
                }
            }
        }
    }

    /// Keeps the records `keep` accepts; true when none is left.
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> bool {
        match self {
            Slot::One(t) => {
                if keep(t) {
                    false
                } else {
                    *self = Slot::Many(Vec::new());
                    true
                }
            }
            Slot::Many(v) => {
                v.retain(|t| keep(t));
                v.is_empty()
            }
        }
    }
}

type Buckets<T> = HashMap<u64, Slot<T>, BuildHasherDefault<PassThrough>>;

/// Adds `t` to the bucket `key` of `map`.
fn file<T>(map: &mut Buckets<T>, key: u64, t: T) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(t),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Slot::One(t));
        }
    }
}

/// Removes from the bucket `key` of `map` the records `doomed` selects.
fn unfile<T>(map: &mut Buckets<T>, key: u64, doomed: impl Fn(&T) -> bool) {
    if let Some(slot) = map.get_mut(&key)
        && slot.retain(|t| !doomed(t))
    {
        map.remove(&key);
    }
}

/// An access token in the index.
#[derive(Debug, Clone)]
pub(crate) struct AtRecord {
    pub(crate) entity: Arc<AccessTokenEntity>,
    pub(crate) partition: Arc<PartitionMeta>,
    /// How many scopes the target holds (whitespace-separated, duplicates counted).
    scopes: u32,
}

/// An account in the index.
#[derive(Debug, Clone)]
pub(crate) struct AccountRecord {
    pub(crate) entity: Arc<AccountEntity>,
    pub(crate) partition: Arc<PartitionMeta>,
    /// When it was indexed (its place in the directory).
    seq: u64,
}

/// A refresh token in the index.
#[derive(Debug, Clone)]
pub(crate) struct RtRecord {
    pub(crate) entity: Arc<RefreshTokenEntity>,
    pub(crate) partition: Arc<PartitionMeta>,
}

#[derive(Default)]
struct Shard {
    /// By (owner, environment, client, realm, extended key).
    access_tokens: Buckets<AtRecord>,
    /// By the same and the hash of the exact scope set.
    exact: Buckets<AtRecord>,
    accounts: Buckets<AccountRecord>,
    refresh_tokens: Buckets<RtRecord>,
}

/// An account's place in the directory: by home account id, environment, then indexing order
/// (so that, among entries of one account and environment, the last indexed comes last).
#[derive(Debug, Clone)]
struct DirKey {
    entity: Arc<AccountEntity>,
    seq: u64,
    /// A hash of (home account id, environment), to tell neighbours apart cheaply.
    group: u64,
}

impl DirKey {
    fn home(&self) -> &str {
        self.entity.home_account_id.as_deref().unwrap_or("")
    }

    fn same_group(&self, other: &DirKey) -> bool {
        self.group == other.group
            && self.home() == other.home()
            && self.entity.environment == other.entity.environment
    }
}

impl PartialEq for DirKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for DirKey {}

impl PartialOrd for DirKey {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for DirKey {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.home()
            .cmp(other.home())
            .then_with(|| self.entity.environment.cmp(&other.entity.environment))
            .then(self.seq.cmp(&other.seq))
    }
}

/// The first eight bytes of `s`, big-endian, zero-padded: ordered as `s` is wherever they
/// differ.
fn prefix(s: &str) -> u64 {
    let mut word = [0u8; 8];
    let n = s.len().min(8);
    word[..n].copy_from_slice(&s.as_bytes()[..n]);
    u64::from_be_bytes(word)
}

/// Who an access-token lookup is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AtOwner<'a> {
    /// An app token (`None`) or a user's token (`uid.utid`).
    Home(Option<&'a str>),
    /// An on-behalf-of token, by the hash of the incoming assertion.
    Assertion(&'a str),
}

/// The kind of access token a lookup wants: its `token_type` and the `key_id` of the key it is
/// bound to (SSH certificates, proof-of-possession tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenBinding<'a> {
    pub(crate) token_type: &'a str,
    pub(crate) key_id: Option<&'a str>,
}

impl TokenBinding<'static> {
    /// A Bearer token, bound to no key.
    pub(crate) const BEARER: TokenBinding<'static> = TokenBinding {
        token_type: "Bearer",
        key_id: None,
    };
}

/// True when `at` is of the kind `b` asks for: the same token type (case-insensitively; an
/// entry without one is Bearer) and the same key id (none for none). MSAL Python's lookup
/// matches the `key_id` of a request that has one (msal/application.py
/// `_acquire_token_silent_from_cache_and_possibly_refresh_it`) but would serve any token type to
/// a request without one; comparing the token type too keeps an SSH certificate from being
/// served as a Bearer token, and a Bearer token as a certificate.
fn bound_as(at: &AccessTokenEntity, b: &TokenBinding<'_>) -> bool {
    let token_type = match at.token_type.as_str() {
        "" => TokenBinding::BEARER.token_type,
        t => t,
    };
    eq_ci(token_type, b.token_type) && opt_eq(at.key_id.as_deref(), b.key_id)
}

/// An access-token lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtQuery<'a> {
    pub(crate) owner: AtOwner<'a>,
    pub(crate) environment: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) ext_cache_key: Option<&'a str>,
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) binding: TokenBinding<'a>,
}

/// The outcome of an access-token lookup.
#[derive(Debug)]
pub(crate) enum AtLookup {
    /// A matching token from a fresh partition (the one that expires last).
    Hit(Arc<AccessTokenEntity>),
    /// A matching token, but its partition must be checked against the store first.
    Stale,
    /// Nothing matches in memory.
    Miss,
}

/// The index. Cheap to query from many threads at once.
pub(crate) struct Index {
    shards: Box<[RwLock<Shard>]>,
    /// Every account, sorted, for listing.
    directory: RwLock<BTreeMap<DirKey, Arc<PartitionMeta>>>,
    next_seq: AtomicU64,
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").finish_non_exhaustive()
    }
}

impl Default for Index {
    fn default() -> Self {
        Index {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            directory: RwLock::new(BTreeMap::new()),
            next_seq: AtomicU64::new(0),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

/// Feeds `s` to the hasher lower-cased, without allocating (and without copying when it has
/// no upper-case letter, as ids, hosts and most tenants).
fn write_ci(h: &mut impl Hasher, s: &str) {
    let bytes = s.as_bytes();
    if bytes.iter().any(u8::is_ascii_uppercase) {
        let mut buf = [0u8; 64];
        for chunk in bytes.chunks(64) {
            let b = &mut buf[..chunk.len()];
            b.copy_from_slice(chunk);
            b.make_ascii_lowercase();
            h.write(b);
        }
    } else {
        h.write(bytes);
    }
    h.write_u8(0xff);
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Exact equality of optional fields where absent and empty are the same. Home account ids
/// compare this way: without `client_info` (AD FS, generic OIDC) the id is the token's `sub`,
/// which is case-sensitive (OpenID Connect Core 1.0 §2), and MSAL Python's `TokenCache.find`
/// compares query fields with `==` (msal/token_cache.py).
fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    a.filter(|s| !s.is_empty()) == b.filter(|s| !s.is_empty())
}

fn opt_eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.filter(|s| !s.is_empty()), b.filter(|s| !s.is_empty())) {
        (None, None) => true,
        (Some(a), Some(b)) => eq_ci(a, b),
        _ => false,
    }
}

/// True when every requested scope occurs in `target` (case-insensitively).
fn covers(target: &str, scopes: &ScopeSet) -> bool {
    // The usual hit, one scope asked and granted (`…/.default`), without splitting.
    if scopes
        .only()
        .is_some_and(|only| target.eq_ignore_ascii_case(only))
    {
        return true;
    }
    scopes
        .iter()
        .all(|s| target.split_whitespace().any(|t| t.eq_ignore_ascii_case(s)))
}

/// The key of the exact bucket of `bucket` for a scope set hashing to `scopes`.
fn exact_key(bucket: u64, scopes: u64) -> u64 {
    bucket ^ scopes.rotate_left(29)
}

fn read(lock: &RwLock<Shard>) -> RwLockReadGuard<'_, Shard> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// True when `r` answers `q` (owner, environment, client, realm, extended key, token type and
/// key id, scopes covered) from a live partition.
fn answers(r: &AtRecord, q: &AtQuery<'_>) -> bool {
    let at = &r.entity;
    let owner_ok = match q.owner {
        AtOwner::Home(hid) => opt_eq(at.home_account_id.as_deref(), hid),
        AtOwner::Assertion(h) => at.user_assertion_hash.as_deref() == Some(h),
    };
    owner_ok
        && eq_ci(&at.environment, q.environment)
        && opt_eq_ci(at.client_id.as_deref(), Some(q.client_id))
        && eq_ci(&at.realm, q.realm)
        && opt_eq_ci(at.ext_cache_key.as_deref(), q.ext_cache_key)
        && bound_as(at, &q.binding)
        && covers(&at.target, q.scopes)
        && r.partition.is_live()
}

/// How good an answer is: a valid hit (the later expiry the better), then a stale match, then
/// an expired hit, then nothing.
fn lookup_rank(l: &AtLookup, valid_after: u64) -> (u8, u64) {
    match l {
        AtLookup::Hit(at) if at.expires_on > valid_after => (3, at.expires_on),
        AtLookup::Stale => (2, 0),
        AtLookup::Hit(at) => (1, at.expires_on),
        AtLookup::Miss => (0, 0),
    }
}

/// Index changes computed without a lock, applied shard by shard.
#[derive(Default)]
struct Pending {
    /// (bucket, exact key, record).
    access_tokens: Vec<(u64, u64, AtRecord)>,
    accounts: Vec<(u64, AccountRecord)>,
    refresh_tokens: Vec<(u64, RtRecord)>,
    /// The accounts' places in the directory.
    directory: Vec<(DirKey, Arc<PartitionMeta>)>,
}

/// What indexing an access token takes that depends on its content alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtHint {
    buckets: [Option<u64>; 2],
    scope_hash: u64,
    scopes: u32,
}

/// What indexing an account takes that depends on its content alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountHint {
    bucket: u64,
    group: u64,
}

/// Index hashes computed while a document is read, each entity hot in the processor's cache,
/// in document order and with the address of the entity they belong to (checked when used:
/// an entity without its hint is hashed then).
#[derive(Debug, Default)]
pub(crate) struct Hints {
    access_tokens: Vec<(usize, AtHint)>,
    accounts: Vec<(usize, AccountHint)>,
    refresh_tokens: Vec<(usize, u64)>,
}

fn address<T>(t: &Arc<T>) -> usize {
    Arc::as_ptr(t) as usize
}

impl Hints {
    pub(crate) fn access_token(&mut self, index: &Index, at: &Arc<AccessTokenEntity>) {
        self.access_tokens.push((address(at), index.at_hint(at)));
    }

    pub(crate) fn account(&mut self, index: &Index, a: &Arc<AccountEntity>) {
        self.accounts.push((address(a), index.account_hint(a)));
    }

    pub(crate) fn refresh_token(&mut self, index: &Index, rt: &Arc<RefreshTokenEntity>) {
        self.refresh_tokens.push((address(rt), index.rt_bucket(rt)));
    }

    /// Drops the hints of a section (when a repeated key replaced an entity while reading).
    pub(crate) fn forget_access_tokens(&mut self) {
        self.access_tokens = Vec::new();
    }

    pub(crate) fn forget_accounts(&mut self) {
        self.accounts = Vec::new();
    }

    pub(crate) fn forget_refresh_tokens(&mut self) {
        self.refresh_tokens = Vec::new();
    }
}

/// The hint of the `i`-th entity, if it was computed for that very entity.
fn hint_for<T, H: Copy>(hints: Option<&[(usize, H)]>, i: usize, t: &Arc<T>) -> Option<H> {
    hints?
        .get(i)
        .filter(|(addr, _)| *addr == address(t))
        .map(|(_, h)| *h)
}

impl Index {
    fn shard(&self, bucket: u64) -> &RwLock<Shard> {
        // The top bits pick the shard; the maps use the whole hash.
        &self.shards[(bucket >> 60) as usize % SHARDS]
    }

    fn shard_no(bucket: u64) -> usize {
        (bucket >> 60) as usize % SHARDS
    }

    fn at_bucket(&self, owner: AtOwner<'_>, env: &str, cid: &str, realm: &str, ext: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        match owner {
            AtOwner::Home(hid) => {
                h.write_u8(0);
                write_ci(&mut h, hid.unwrap_or(""));
            }
            AtOwner::Assertion(hash) => {
                h.write_u8(1);
                h.write(hash.as_bytes());
                h.write_u8(0xff);
            }
        }
        write_ci(&mut h, env);
        write_ci(&mut h, cid);
        write_ci(&mut h, realm);
        write_ci(&mut h, ext);
        h.finish()
    }

    fn user_bucket(&self, tag: u8, hid: &str, env: Option<&str>) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u8(tag);
        write_ci(&mut h, hid);
        if let Some(env) = env {
            write_ci(&mut h, env);
        }
        h.finish()
    }

    /// The buckets of an access token: its owner's, and its assertion's for an OBO token.
    fn at_buckets_of(&self, at: &AccessTokenEntity) -> [Option<u64>; 2] {
        let env = &at.environment;
        let cid = at.client_id.as_deref().unwrap_or("");
        let ext = at.ext_cache_key.as_deref().unwrap_or("");
        let home = self.at_bucket(
            AtOwner::Home(at.home_account_id.as_deref().filter(|h| !h.is_empty())),
            env,
            cid,
            &at.realm,
            ext,
        );
        let assertion = at
            .user_assertion_hash
            .as_deref()
            .filter(|h| !h.is_empty())
            .map(|hash| self.at_bucket(AtOwner::Assertion(hash), env, cid, &at.realm, ext));
        [Some(home), assertion]
    }

    fn account_bucket(&self, a: &AccountEntity) -> u64 {
        self.user_bucket(2, a.home_account_id.as_deref().unwrap_or(""), None)
    }

    fn rt_bucket(&self, rt: &RefreshTokenEntity) -> u64 {
        self.user_bucket(
            3,
            rt.home_account_id.as_deref().unwrap_or(""),
            Some(&rt.environment),
        )
    }

    fn group(&self, a: &AccountEntity) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(a.home_account_id.as_deref().unwrap_or("").as_bytes());
        h.write_u8(0xff);
        h.write(a.environment.as_bytes());
        h.finish()
    }

    fn dir_key(&self, entity: Arc<AccountEntity>, seq: u64) -> DirKey {
        let group = self.group(&entity);
        DirKey { entity, seq, group }
    }

    pub(crate) fn at_hint(&self, at: &AccessTokenEntity) -> AtHint {
        let mut scopes = 0u32;
        let scope_hash = scope_hash(at.target.split_whitespace().inspect(|_| scopes += 1));
        AtHint {
            buckets: self.at_buckets_of(at),
            scope_hash,
            scopes,
        }
    }

    pub(crate) fn account_hint(&self, a: &AccountEntity) -> AccountHint {
        AccountHint {
            bucket: self.account_bucket(a),
            group: self.group(a),
        }
    }

    fn pend_at(
        &self,
        p: &mut Pending,
        at: Arc<AccessTokenEntity>,
        hint: AtHint,
        partition: &Arc<PartitionMeta>,
    ) {
        for bucket in hint.buckets.into_iter().flatten() {
            p.access_tokens.push((
                bucket,
                exact_key(bucket, hint.scope_hash),
                AtRecord {
                    entity: Arc::clone(&at),
                    partition: Arc::clone(partition),
                    scopes: hint.scopes,
                },
            ));
        }
    }

    fn pend_account(
        &self,
        p: &mut Pending,
        a: Arc<AccountEntity>,
        hint: AccountHint,
        partition: &Arc<PartitionMeta>,
    ) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        p.directory.push((
            DirKey {
                entity: Arc::clone(&a),
                seq,
                group: hint.group,
            },
            Arc::clone(partition),
        ));
        p.accounts.push((
            hint.bucket,
            AccountRecord {
                entity: a,
                partition: Arc::clone(partition),
                seq,
            },
        ));
    }

    fn pend_rt(
        &self,
        p: &mut Pending,
        rt: Arc<RefreshTokenEntity>,
        bucket: u64,
        partition: &Arc<PartitionMeta>,
    ) {
        p.refresh_tokens.push((
            bucket,
            RtRecord {
                entity: rt,
                partition: Arc::clone(partition),
            },
        ));
    }

    /// Files pending records. With `replace`, a record of the same entity and partition
    /// already filed is replaced; without, the caller knows there is none (a partition being
    /// indexed afresh), which saves looking.
    fn apply(&self, p: Pending, replace: bool) {
        let directory = p.directory;
        let mut by_shard: Vec<Pending> = (0..SHARDS)
            .map(|_| Pending {
                access_tokens: Vec::with_capacity(p.access_tokens.len() / SHARDS * 5 / 4),
                accounts: Vec::with_capacity(p.accounts.len() / SHARDS * 5 / 4),
                refresh_tokens: Vec::with_capacity(p.refresh_tokens.len() / SHARDS * 5 / 4),
                directory: Vec::new(),
            })
            .collect();
        for item in p.access_tokens {
            by_shard[Self::shard_no(item.0)].access_tokens.push(item);
        }
        for item in p.accounts {
            by_shard[Self::shard_no(item.0)].accounts.push(item);
        }
        for item in p.refresh_tokens {
            by_shard[Self::shard_no(item.0)].refresh_tokens.push(item);
        }
        let mut replaced: Vec<DirKey> = Vec::new();
        for (no, items) in by_shard.into_iter().enumerate() {
            if items.access_tokens.is_empty()
                && items.accounts.is_empty()
                && items.refresh_tokens.is_empty()
            {
                continue;
            }
            let mut shard = write(&self.shards[no]);
            let shard = &mut *shard;
            if !replace {
                shard.exact.reserve(items.access_tokens.len());
                // App tokens share buckets (a hundred resources per tenant is common), user
                // tokens mostly do not: a quarter is a middle way.
                shard.access_tokens.reserve(items.access_tokens.len() / 4);
                shard.accounts.reserve(items.accounts.len());
                shard.refresh_tokens.reserve(items.refresh_tokens.len());
            }
            for (bucket, exact, r) in items.access_tokens {
                if replace {
                    let same = |o: &AtRecord| {
                        o.partition.id == r.partition.id && Arc::ptr_eq(&o.entity, &r.entity)
                    };
                    unfile(&mut shard.access_tokens, bucket, same);
                    unfile(&mut shard.exact, exact, same);
                }
                file(&mut shard.exact, exact, r.clone());
                file(&mut shard.access_tokens, bucket, r);
            }
            for (bucket, r) in items.accounts {
                if replace {
                    let same = |o: &AccountRecord| {
                        o.partition.id == r.partition.id && Arc::ptr_eq(&o.entity, &r.entity)
                    };
                    if let Some(slot) = shard.accounts.get(&bucket) {
                        replaced.extend(
                            slot.as_slice()
                                .iter()
                                .filter(|o| same(o))
                                .map(|o| self.dir_key(Arc::clone(&o.entity), o.seq)),
                        );
                    }
                    unfile(&mut shard.accounts, bucket, same);
                }
                file(&mut shard.accounts, bucket, r);
            }
            for (bucket, r) in items.refresh_tokens {
                if replace {
                    unfile(&mut shard.refresh_tokens, bucket, |o: &RtRecord| {
                        o.partition.id == r.partition.id && Arc::ptr_eq(&o.entity, &r.entity)
                    });
                }
                file(&mut shard.refresh_tokens, bucket, r);
            }
        }
        if !directory.is_empty() || !replaced.is_empty() {
            let mut dir = self
                .directory
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for k in &replaced {
                dir.remove(k);
            }
            if dir.is_empty() && directory.len() > 1 {
                // Sorted first (by a prefix of the home account id, then fully), the map is
                // built in one pass.
                let mut sorted: Vec<(u64, DirKey, Arc<PartitionMeta>)> = directory
                    .into_iter()
                    .map(|(k, p)| (prefix(k.home()), k, p))
                    .collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
                *dir = sorted.into_iter().map(|(_, k, p)| (k, p)).collect();
            } else {
                dir.extend(directory);
            }
        }
    }

    /// Indexes a whole document's entities of `partition`, none of which is indexed yet, with
    /// the hints computed while it was read, if any.
    pub(crate) fn insert_all<'a>(
        &self,
        access_tokens: impl Iterator<Item = &'a Arc<AccessTokenEntity>>,
        accounts: impl Iterator<Item = &'a Arc<AccountEntity>>,
        refresh_tokens: impl Iterator<Item = &'a Arc<RefreshTokenEntity>>,
        partition: &Arc<PartitionMeta>,
        hints: Option<&Hints>,
    ) {
        let mut p = Pending {
            access_tokens: Vec::with_capacity(access_tokens.size_hint().1.unwrap_or(0)),
            accounts: Vec::with_capacity(accounts.size_hint().1.unwrap_or(0)),
            refresh_tokens: Vec::with_capacity(refresh_tokens.size_hint().1.unwrap_or(0)),
            directory: Vec::with_capacity(accounts.size_hint().1.unwrap_or(0)),
        };
        let ats = hints.map(|h| h.access_tokens.as_slice());
        for (i, at) in access_tokens.enumerate() {
            let hint = hint_for(ats, i, at).unwrap_or_else(|| self.at_hint(at));
            self.pend_at(&mut p, Arc::clone(at), hint, partition);
        }
        let accs = hints.map(|h| h.accounts.as_slice());
        for (i, a) in accounts.enumerate() {
            let hint = hint_for(accs, i, a).unwrap_or_else(|| self.account_hint(a));
            self.pend_account(&mut p, Arc::clone(a), hint, partition);
        }
        let rts = hints.map(|h| h.refresh_tokens.as_slice());
        for (i, rt) in refresh_tokens.enumerate() {
            let bucket = hint_for(rts, i, rt).unwrap_or_else(|| self.rt_bucket(rt));
            self.pend_rt(&mut p, Arc::clone(rt), bucket, partition);
        }
        self.apply(p, false);
    }

    /// Indexes an access token of `partition`.
    pub(crate) fn insert_at(&self, at: Arc<AccessTokenEntity>, partition: &Arc<PartitionMeta>) {
        let mut p = Pending::default();
        let hint = self.at_hint(&at);
        self.pend_at(&mut p, at, hint, partition);
        self.apply(p, true);
    }

    /// Removes the access token `at` of `partition`.
    pub(crate) fn remove_at(&self, at: &Arc<AccessTokenEntity>, partition: u64) {
        let hash = scope_hash(at.target.split_whitespace());
        let same = |o: &AtRecord| o.partition.id == partition && Arc::ptr_eq(&o.entity, at);
        for bucket in self.at_buckets_of(at).into_iter().flatten() {
            let mut shard = write(self.shard(bucket));
            unfile(&mut shard.access_tokens, bucket, same);
            unfile(&mut shard.exact, exact_key(bucket, hash), same);
        }
    }

    /// Indexes an account.
    pub(crate) fn insert_account(&self, a: Arc<AccountEntity>, partition: &Arc<PartitionMeta>) {
        let mut p = Pending::default();
        let hint = self.account_hint(&a);
        self.pend_account(&mut p, a, hint, partition);
        self.apply(p, true);
    }

    /// Removes an account.
    pub(crate) fn remove_account(&self, a: &Arc<AccountEntity>, partition: u64) {
        let bucket = self.account_bucket(a);
        let same = |o: &AccountRecord| o.partition.id == partition && Arc::ptr_eq(&o.entity, a);
        let mut gone: Vec<DirKey> = Vec::new();
        {
            let mut shard = write(self.shard(bucket));
            if let Some(slot) = shard.accounts.get(&bucket) {
                gone.extend(
                    slot.as_slice()
                        .iter()
                        .filter(|o| same(o))
                        .map(|o| self.dir_key(Arc::clone(&o.entity), o.seq)),
                );
            }
            unfile(&mut shard.accounts, bucket, same);
        }
        if !gone.is_empty() {
            let mut dir = self
                .directory
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for k in &gone {
                dir.remove(k);
            }
        }
    }

    /// Indexes a refresh token.
    pub(crate) fn insert_rt(&self, rt: Arc<RefreshTokenEntity>, partition: &Arc<PartitionMeta>) {
        let mut p = Pending::default();
        let bucket = self.rt_bucket(&rt);
        self.pend_rt(&mut p, rt, bucket, partition);
        self.apply(p, true);
    }

    /// Removes a refresh token.
    pub(crate) fn remove_rt(&self, rt: &Arc<RefreshTokenEntity>, partition: u64) {
        let bucket = self.rt_bucket(rt);
        let mut shard = write(self.shard(bucket));
        unfile(&mut shard.refresh_tokens, bucket, |o: &RtRecord| {
            o.partition.id == partition && Arc::ptr_eq(&o.entity, rt)
        });
    }

    /// The access token answering `q`. Among matches, one valid after `valid_after` (Unix
    /// seconds) beats one that is not; then one whose target is exactly the requested scopes
    /// (MSAL Python serves the exact key first); then the one that expires last (the first
    /// indexed among equals). `fresh` decides whether a partition may be served from memory.
    ///
    /// The exact bucket is tried first: a valid, fresh match there ranks above anything the
    /// whole bucket could hold (every exact match is filed there, in the same order), so it is
    /// the answer. Otherwise the whole bucket is scanned.
    ///
    /// Tokens cached under another alias of the query's cloud answer it too (MSAL .NET, Go,
    /// Java and Node write the public cloud's as `login.windows.net`; msal/token_cache.py
    /// and msal/application.py match every alias of the authority): the query's own
    /// environment is asked first and, only when it has no valid match, each alias in turn.
    /// A valid, fresh token expiring last wins; a stale match is reported over an expired one
    /// (the store may hold better).
    pub(crate) fn find_at(
        &self,
        q: &AtQuery<'_>,
        valid_after: u64,
        fresh: impl Fn(&PartitionMeta) -> bool,
    ) -> AtLookup {
        let first = self.find_at_in(q, valid_after, &fresh);
        if matches!(&first, AtLookup::Hit(at) if at.expires_on > valid_after) {
            return first;
        }
        let Some(aliases) = known_aliases(q.environment) else {
            return first;
        };
        let mut best = first;
        for alias in aliases
            .iter()
            .filter(|a| !a.eq_ignore_ascii_case(q.environment))
        {
            let q = AtQuery {
                environment: alias,
                ..*q
            };
            let other = self.find_at_in(&q, valid_after, &fresh);
            if lookup_rank(&other, valid_after) > lookup_rank(&best, valid_after) {
                best = other;
            }
        }
        best
    }

    /// [`find_at`](Self::find_at) in the query's environment alone.
    fn find_at_in(
        &self,
        q: &AtQuery<'_>,
        valid_after: u64,
        fresh: &impl Fn(&PartitionMeta) -> bool,
    ) -> AtLookup {
        let ext = q.ext_cache_key.unwrap_or("");
        let bucket = self.at_bucket(q.owner, q.environment, q.client_id, q.realm, ext);
        let shard = read(self.shard(bucket));
        let wanted = q.scopes.len();
        if let Some(slot) = shard.exact.get(&exact_key(bucket, q.scopes.scope_hash())) {
            let mut best: Option<&AtRecord> = None;
            for r in slot.as_slice() {
                if r.entity.expires_on > valid_after
                    && r.scopes as usize == wanted
                    && best.is_none_or(|b| b.entity.expires_on < r.entity.expires_on)
                    && answers(r, q)
                    && fresh(&r.partition)
                {
                    best = Some(r);
                }
            }
            if let Some(r) = best {
                return AtLookup::Hit(Arc::clone(&r.entity));
            }
        }
        let Some(slot) = shard.access_tokens.get(&bucket) else {
            return AtLookup::Miss;
        };
        let mut best: Option<(&AtRecord, (bool, bool, u64))> = None;
        let mut stale = false;
        for r in slot.as_slice() {
            if !answers(r, q) {
                continue;
            }
            if !fresh(&r.partition) {
                stale = true;
                continue;
            }
            let at = &r.entity;
            let rank = (
                at.expires_on > valid_after,
                r.scopes as usize == wanted,
                at.expires_on,
            );
            if best.is_none_or(|(_, b)| b < rank) {
                best = Some((r, rank));
            }
        }
        match best {
            Some((r, _)) => AtLookup::Hit(Arc::clone(&r.entity)),
            None if stale => AtLookup::Stale,
            None => AtLookup::Miss,
        }
    }

    /// The accounts of `home_account_id` (all environments and realms).
    pub(crate) fn accounts_of(&self, home_account_id: &str) -> Vec<AccountRecord> {
        let bucket = self.user_bucket(2, home_account_id, None);
        let shard = read(self.shard(bucket));
        shard
            .accounts
            .get(&bucket)
            .map(|l| {
                l.as_slice()
                    .iter()
                    .filter(|r| {
                        r.partition.is_live()
                            && opt_eq(r.entity.home_account_id.as_deref(), Some(home_account_id))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every indexed account that `keep` accepts, one per (home account id, environment) —
    /// the one indexed last — sorted by home account id, then environment.
    pub(crate) fn list_accounts(&self, keep: impl Fn(&AccountEntity) -> bool) -> Vec<Account> {
        let dir = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Account> = Vec::with_capacity(dir.len());
        let mut last: Option<&DirKey> = None;
        for (k, partition) in dir.iter() {
            if !partition.is_live() || !keep(&k.entity) {
                continue;
            }
            let account = Account::from_entity(Arc::clone(&k.entity));
            match (last, out.last_mut()) {
                (Some(prev), Some(slot)) if prev.same_group(k) => *slot = account,
                _ => out.push(account),
            }
            last = Some(k);
        }
        out
    }

    /// The refresh tokens of `home_account_id` at `environment`.
    pub(crate) fn refresh_tokens_of(
        &self,
        home_account_id: &str,
        environment: &str,
    ) -> Vec<RtRecord> {
        let bucket = self.user_bucket(3, home_account_id, Some(environment));
        let shard = read(self.shard(bucket));
        shard
            .refresh_tokens
            .get(&bucket)
            .map(|l| {
                l.as_slice()
                    .iter()
                    .filter(|r| {
                        r.partition.is_live()
                            && opt_eq(r.entity.home_account_id.as_deref(), Some(home_account_id))
                            && eq_ci(&r.entity.environment, environment)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
