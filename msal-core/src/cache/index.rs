//! The in-memory index (L1) over every loaded cache document: each lookup the flows make is a
//! hash lookup into a small bucket, with no allocation, and any number of readers proceed at
//! once (sharded read-write locks; writers hold one shard briefly).
//!
//! Access tokens are bucketed by (home account id or assertion hash, environment, client id,
//! realm, extended cache key), all case-insensitive; the bucket is then scanned for a target
//! that covers the requested scopes. Accounts are bucketed by home account id, refresh tokens
//! by (home account id, environment). Every record knows its partition, whose age decides
//! whether the record may be served without asking the store again.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::schema::{AccessTokenEntity, AccountEntity, RefreshTokenEntity};
use crate::scope::ScopeSet;

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

type Buckets<T> = HashMap<u64, Vec<T>, BuildHasherDefault<PassThrough>>;

/// An access token in the index.
#[derive(Debug, Clone)]
pub(crate) struct AtRecord {
    pub(crate) entity: Arc<AccessTokenEntity>,
    pub(crate) key: Arc<str>,
    /// The target's scopes, lower-cased, for the subset check.
    scopes: Arc<[Box<str>]>,
    pub(crate) partition: Arc<PartitionMeta>,
}

/// An account in the index.
#[derive(Debug, Clone)]
pub(crate) struct AccountRecord {
    pub(crate) entity: Arc<AccountEntity>,
    pub(crate) key: Arc<str>,
    pub(crate) partition: Arc<PartitionMeta>,
}

/// A refresh token in the index.
#[derive(Debug, Clone)]
pub(crate) struct RtRecord {
    pub(crate) entity: Arc<RefreshTokenEntity>,
    pub(crate) key: Arc<str>,
    pub(crate) partition: Arc<PartitionMeta>,
}

#[derive(Default)]
struct Shard {
    access_tokens: Buckets<AtRecord>,
    accounts: Buckets<AccountRecord>,
    refresh_tokens: Buckets<RtRecord>,
}

/// Who an access-token lookup is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AtOwner<'a> {
    /// An app token (`None`) or a user's token (`uid.utid`).
    Home(Option<&'a str>),
    /// An on-behalf-of token, by the hash of the incoming assertion.
    Assertion(&'a str),
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
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

/// Feeds `s` to the hasher lower-cased, without allocating.
fn write_ci(h: &mut impl Hasher, s: &str) {
    let mut buf = [0u8; 64];
    for chunk in s.as_bytes().chunks(64) {
        let b = &mut buf[..chunk.len()];
        b.copy_from_slice(chunk);
        b.make_ascii_lowercase();
        h.write(b);
    }
    h.write_u8(0xff);
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn opt_eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.filter(|s| !s.is_empty()), b.filter(|s| !s.is_empty())) {
        (None, None) => true,
        (Some(a), Some(b)) => eq_ci(a, b),
        _ => false,
    }
}

fn covers(target: &[Box<str>], scopes: &ScopeSet) -> bool {
    scopes
        .iter()
        .all(|s| target.iter().any(|t| t.eq_ignore_ascii_case(s)))
}

impl Index {
    fn shard(&self, bucket: u64) -> &RwLock<Shard> {
        // The top bits pick the shard; the map uses the whole hash.
        &self.shards[(bucket >> 60) as usize % SHARDS]
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

    fn at_buckets_of(&self, at: &AccessTokenEntity) -> Vec<u64> {
        let env = &at.environment;
        let cid = at.client_id.as_deref().unwrap_or("");
        let ext = at.ext_cache_key.as_deref().unwrap_or("");
        let mut v = vec![self.at_bucket(
            AtOwner::Home(at.home_account_id.as_deref().filter(|h| !h.is_empty())),
            env,
            cid,
            &at.realm,
            ext,
        )];
        if let Some(hash) = at.user_assertion_hash.as_deref().filter(|h| !h.is_empty()) {
            v.push(self.at_bucket(AtOwner::Assertion(hash), env, cid, &at.realm, ext));
        }
        v
    }

    /// Indexes an access token of `partition` stored under `key`.
    pub(crate) fn insert_at(
        &self,
        key: &str,
        at: Arc<AccessTokenEntity>,
        partition: &Arc<PartitionMeta>,
    ) {
        let scopes: Arc<[Box<str>]> = at
            .target
            .split_whitespace()
            .map(|s| s.to_ascii_lowercase().into_boxed_str())
            .collect();
        let key: Arc<str> = Arc::from(key);
        for bucket in self.at_buckets_of(&at) {
            let record = AtRecord {
                entity: Arc::clone(&at),
                key: Arc::clone(&key),
                scopes: Arc::clone(&scopes),
                partition: Arc::clone(partition),
            };
            let mut shard = self
                .shard(bucket)
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let list = shard.access_tokens.entry(bucket).or_default();
            list.retain(|r| !(r.partition.id == partition.id && *r.key == *key));
            list.push(record);
        }
    }

    /// Removes the access token `key` of `partition` (whose entity was `at`).
    pub(crate) fn remove_at(&self, key: &str, at: &AccessTokenEntity, partition: u64) {
        for bucket in self.at_buckets_of(at) {
            let mut shard = self
                .shard(bucket)
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(list) = shard.access_tokens.get_mut(&bucket) {
                list.retain(|r| !(r.partition.id == partition && &*r.key == key));
                if list.is_empty() {
                    shard.access_tokens.remove(&bucket);
                }
            }
        }
    }

    /// Indexes an account.
    pub(crate) fn insert_account(
        &self,
        key: &str,
        a: Arc<AccountEntity>,
        partition: &Arc<PartitionMeta>,
    ) {
        let hid = a.home_account_id.as_deref().unwrap_or("");
        let bucket = self.user_bucket(2, hid, None);
        let mut shard = self
            .shard(bucket)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let list = shard.accounts.entry(bucket).or_default();
        list.retain(|r| !(r.partition.id == partition.id && &*r.key == key));
        list.push(AccountRecord {
            entity: a,
            key: Arc::from(key),
            partition: Arc::clone(partition),
        });
    }

    /// Removes an account.
    pub(crate) fn remove_account(&self, key: &str, a: &AccountEntity, partition: u64) {
        let bucket = self.user_bucket(2, a.home_account_id.as_deref().unwrap_or(""), None);
        let mut shard = self
            .shard(bucket)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = shard.accounts.get_mut(&bucket) {
            list.retain(|r| !(r.partition.id == partition && &*r.key == key));
            if list.is_empty() {
                shard.accounts.remove(&bucket);
            }
        }
    }

    /// Indexes a refresh token.
    pub(crate) fn insert_rt(
        &self,
        key: &str,
        rt: Arc<RefreshTokenEntity>,
        partition: &Arc<PartitionMeta>,
    ) {
        let bucket = self.user_bucket(
            3,
            rt.home_account_id.as_deref().unwrap_or(""),
            Some(&rt.environment),
        );
        let mut shard = self
            .shard(bucket)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let list = shard.refresh_tokens.entry(bucket).or_default();
        list.retain(|r| !(r.partition.id == partition.id && &*r.key == key));
        list.push(RtRecord {
            entity: rt,
            key: Arc::from(key),
            partition: Arc::clone(partition),
        });
    }

    /// Removes a refresh token.
    pub(crate) fn remove_rt(&self, key: &str, rt: &RefreshTokenEntity, partition: u64) {
        let bucket = self.user_bucket(
            3,
            rt.home_account_id.as_deref().unwrap_or(""),
            Some(&rt.environment),
        );
        let mut shard = self
            .shard(bucket)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = shard.refresh_tokens.get_mut(&bucket) {
            list.retain(|r| !(r.partition.id == partition && &*r.key == key));
            if list.is_empty() {
                shard.refresh_tokens.remove(&bucket);
            }
        }
    }

    /// The access token answering `q`. Among matches, one valid after `valid_after` (Unix
    /// seconds) beats one that is not; then one whose target is exactly the requested scopes
    /// (MSAL Python serves the exact key first); then the one that expires last. `fresh` decides
    /// whether a partition may be served from memory.
    pub(crate) fn find_at(
        &self,
        q: &AtQuery<'_>,
        valid_after: u64,
        fresh: impl Fn(&PartitionMeta) -> bool,
    ) -> AtLookup {
        let ext = q.ext_cache_key.unwrap_or("");
        let bucket = self.at_bucket(q.owner, q.environment, q.client_id, q.realm, ext);
        let shard = self
            .shard(bucket)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(list) = shard.access_tokens.get(&bucket) else {
            return AtLookup::Miss;
        };
        let mut best: Option<(&AtRecord, (bool, bool, u64))> = None;
        let mut stale = false;
        for r in list {
            let at = &r.entity;
            let owner_ok = match q.owner {
                AtOwner::Home(hid) => opt_eq_ci(at.home_account_id.as_deref(), hid),
                AtOwner::Assertion(h) => at.user_assertion_hash.as_deref() == Some(h),
            };
            if !(owner_ok
                && eq_ci(&at.environment, q.environment)
                && opt_eq_ci(at.client_id.as_deref(), Some(q.client_id))
                && eq_ci(&at.realm, q.realm)
                && opt_eq_ci(at.ext_cache_key.as_deref(), q.ext_cache_key)
                && covers(&r.scopes, q.scopes)
                && r.partition.live.load(Ordering::Relaxed))
            {
                continue;
            }
            if !fresh(&r.partition) {
                stale = true;
                continue;
            }
            let rank = (
                at.expires_on > valid_after,
                r.scopes.len() == q.scopes.len(),
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
        let shard = self
            .shard(bucket)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .accounts
            .get(&bucket)
            .map(|l| {
                l.iter()
                    .filter(|r| {
                        r.partition.live.load(Ordering::Relaxed)
                            && opt_eq_ci(r.entity.home_account_id.as_deref(), Some(home_account_id))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every indexed account, by calling `f` on each.
    pub(crate) fn for_each_account(&self, mut f: impl FnMut(&AccountRecord)) {
        for shard in self.shards.iter() {
            let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
            for list in shard.accounts.values() {
                for r in list
                    .iter()
                    .filter(|r| r.partition.live.load(Ordering::Relaxed))
                {
                    f(r);
                }
            }
        }
    }

    /// The refresh tokens of `home_account_id` at `environment`.
    pub(crate) fn refresh_tokens_of(
        &self,
        home_account_id: &str,
        environment: &str,
    ) -> Vec<RtRecord> {
        let bucket = self.user_bucket(3, home_account_id, Some(environment));
        let shard = self
            .shard(bucket)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .refresh_tokens
            .get(&bucket)
            .map(|l| {
                l.iter()
                    .filter(|r| {
                        r.partition.live.load(Ordering::Relaxed)
                            && opt_eq_ci(r.entity.home_account_id.as_deref(), Some(home_account_id))
                            && eq_ci(&r.entity.environment, environment)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
