//! The token cache: MSAL's unified cache schema, indexed in memory, optionally persisted through
//! a [`CacheStore`] (a file shared with other processes and MSALs, Redis shared by a fleet).
//!
//! [`TokenCache`] is a cheap handle: clones share the same cache, so one cache can serve several
//! applications (FOCI siblings, one app per tenant). Without a store it lives in memory and
//! [`TokenCache::serialize`]/[`TokenCache::deserialize`] move its contents to and from your own
//! storage in MSAL Python's file format; everything this library does not understand (unknown
//! sections, unknown fields, entries of an unexpected shape) is kept and written back unchanged.
//!
//! With a store, the store is the truth and memory (L1) a bounded-staleness view of it:
//! reads are served from memory while a partition was checked within
//! [`CacheOptions::max_staleness`] and the store announced no change to it
//! ([`CacheStore::watch`]); every write is an operation applied to the
//! store's freshest data under its lock or compare-and-set. A failing store never fails an
//! acquisition: a failed read serves what memory holds, a failed write keeps its change in
//! memory as *unsaved*, served until the store takes it (with the partition's next write or
//! [`TokenCache::sync`]). [`TokenCache::sync`] reports the failure and
//! [`TokenCache::store_health`] shows it without a `tracing` subscriber.
//!
//! The entity types ([`AccessTokenEntity`] and friends) and the key functions in [`keys`] are
//! public for tools that read MSAL caches.

#[cfg(feature = "store-conformance")]
pub mod conformance;
mod document;
mod entries;
mod health;
pub(crate) mod index;
#[path = "key.rs"]
pub mod keys;
mod operation;
mod schema;
pub mod store;
#[cfg(test)]
mod tests;
mod view;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::result::Account;

use document::{Document, Entry};
pub(crate) use entries::{NewEntries, TokenEvent, after};
pub(crate) use index::{AtLookup, AtOwner, AtQuery, TokenBinding};
use index::{Hints, Index, PartitionMeta};
use operation::{Changes, Operation};

pub use health::{StoreFailure, StoreHealth};
pub use schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
pub use store::{
    CacheStore, Invalidation, Invalidations, Modify, PartitionKey, PartitionKind, ReadOutcome,
    Snapshot, Version, Written,
};
use view::WriteHook;
pub use view::{CacheEntry, CacheQuery, CredentialType, WrittenEntry};

/// How a store-backed cache keeps its in-memory view (L1).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheOptions {
    /// How long a partition is served from memory before the store is asked whether it changed
    /// (default 30 s; a file store's check is a `stat`, Redis's one round trip).
    ///
    /// A store that announces changes ([`CacheStore::watch`]: Redis, by pub/sub) has memory
    /// re-read a partition as soon as another writer's change is announced, well within this
    /// bound; the bound still holds when announcements are lost (the subscription is down).
    pub max_staleness: Duration,
    /// How many partitions memory holds at most; the least recently checked are dropped first
    /// (default 100,000).
    pub max_partitions: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_staleness: Duration::from_secs(30),
            max_partitions: 100_000,
        }
    }
}

impl CacheOptions {
    /// Sets [`max_staleness`](CacheOptions::max_staleness).
    pub fn max_staleness(mut self, d: Duration) -> Self {
        self.max_staleness = d;
        self
    }

    /// Sets [`max_partitions`](CacheOptions::max_partitions).
    pub fn max_partitions(mut self, n: usize) -> Self {
        self.max_partitions = n.max(1);
        self
    }
}

struct PartitionState {
    doc: Document,
    version: Option<Version>,
    /// Operations applied in memory whose write to the store failed, oldest first, with the
    /// time each was applied at: replayed onto every document read from the store and written
    /// with the partition's next write, so a failing store never loses them.
    unsaved: Vec<(Operation, u64)>,
}

/// At most this many unsaved operations per partition; beyond it the oldest are dropped
/// (a store failing that long has lost far newer tokens' worth of changes' relevance: each
/// operation mostly replaces the previous one's tokens).
const MAX_UNSAVED: usize = 1024;

struct Partition {
    key: PartitionKey,
    meta: Arc<PartitionMeta>,
    state: Mutex<PartitionState>,
    /// Serialises this process's loads and writes of the partition.
    busy: tokio::sync::Mutex<()>,
}

struct Inner {
    store: Option<Arc<dyn CacheStore>>,
    partitioned: bool,
    options: CacheOptions,
    index: Index,
    partitions: Mutex<HashMap<PartitionKey, Arc<Partition>>>,
    next_id: AtomicU64,
    epoch: Instant,
    changed: AtomicBool,
    health: Mutex<health::HealthState>,
    /// Called after every recorded token response, outside every lock.
    write_hook: RwLock<Option<WriteHook>>,
    /// Whether listening to the store's announcements was set up (or found impossible).
    watching: AtomicBool,
    /// The task listening to the store's announcements, aborted with the cache.
    watcher: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self
            .watcher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
        {
            task.abort();
        }
    }
}

/// A token cache in MSAL's unified schema; see the [module documentation](self).
///
/// Cloning gives another handle to the same cache. Every method takes `&self` and is safe to
/// call from several threads.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a recorded token response left in the cache, for the caller's result.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) access_token: Option<Arc<AccessTokenEntity>>,
    pub(crate) account: Option<Arc<AccountEntity>>,
}

impl TokenCache {
    /// An empty in-memory cache.
    pub fn new() -> TokenCache {
        TokenCache::build(None, CacheOptions::default())
    }

    /// A cache persisted by `store`, with the default [`CacheOptions`].
    pub fn with_store(store: impl CacheStore) -> TokenCache {
        TokenCache::with_store_options(store, CacheOptions::default())
    }

    /// A cache persisted by `store`, with `options`.
    pub fn with_store_options(store: impl CacheStore, options: CacheOptions) -> TokenCache {
        TokenCache::build(Some(Arc::new(store)), options)
    }

    fn build(store: Option<Arc<dyn CacheStore>>, options: CacheOptions) -> TokenCache {
        let partitioned = store.as_ref().is_some_and(|s| s.is_partitioned());
        let cache = TokenCache {
            inner: Arc::new(Inner {
                store,
                partitioned,
                options,
                index: Index::default(),
                partitions: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                epoch: Instant::now(),
                changed: AtomicBool::new(false),
                health: Mutex::new(health::HealthState::default()),
                write_hook: RwLock::new(None),
                watching: AtomicBool::new(false),
                watcher: Mutex::new(None),
            }),
        };
        cache.watch_store();
        cache
    }

    /// Starts listening to the store's announcements of changed partitions
    /// ([`CacheStore::watch`]), once, when running inside a Tokio runtime (else at the next
    /// store call that does). The task holds the cache weakly and is aborted with it.
    fn watch_store(&self) {
        let Some(store) = &self.inner.store else {
            return;
        };
        if self.inner.watching.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.inner.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(mut notices) = store.watch() else {
            return;
        };
        let cache = Arc::downgrade(&self.inner);
        let task = runtime.spawn(async move {
            use futures_util::StreamExt as _;
            while let Some(notice) = notices.next().await {
                let Some(inner) = cache.upgrade() else {
                    return;
                };
                TokenCache { inner }.invalidate(&notice);
            }
            tracing::debug!("the token cache store stopped announcing changes");
        });
        *lock(&self.inner.watcher) = Some(task.abort_handle());
    }

    /// Marks what `notice` names stale in memory: the next read of it asks the store.
    fn invalidate(&self, notice: &Invalidation) {
        let map = lock(&self.inner.partitions);
        match notice {
            Invalidation::Partition(key) => {
                // The announcement names the key only; partition keys of different kinds
                // never share a name (see `PartitionKey`).
                for kind in [
                    PartitionKind::User,
                    PartitionKind::App,
                    PartitionKind::OnBehalfOf,
                    PartitionKind::Whole,
                ] {
                    if let Some(p) = map.get(&PartitionKey::from_parts(kind, key)) {
                        p.meta.invalidated.store(true, Ordering::Release);
                    }
                }
            }
            Invalidation::All => {
                for p in map.values() {
                    p.meta.invalidated.store(true, Ordering::Release);
                }
            }
        }
    }

    /// True when this cache is backed by a store.
    pub fn is_persistent(&self) -> bool {
        self.inner.store.is_some()
    }

    /// True when the store keeps partitions apart (then listing accounts lists those loaded).
    pub fn is_partitioned(&self) -> bool {
        self.inner.partitioned
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn is_fresh(&self, meta: &PartitionMeta) -> bool {
        if self.inner.store.is_none() {
            return true;
        }
        if meta.invalidated.load(Ordering::Acquire) {
            return false;
        }
        let max = u64::try_from(self.inner.options.max_staleness.as_millis()).unwrap_or(u64::MAX);
        self.now_ms()
            .saturating_sub(meta.checked_at_ms.load(Ordering::Relaxed))
            <= max
    }

    /// The partition key to use for `key` (everything in one when the store does not
    /// partition, or in memory).
    pub(crate) fn route(&self, key: impl FnOnce() -> PartitionKey) -> PartitionKey {
        if self.inner.partitioned {
            key()
        } else {
            PartitionKey::whole()
        }
    }

    fn partition(&self, key: &PartitionKey) -> Arc<Partition> {
        let mut map = lock(&self.inner.partitions);
        if let Some(p) = map.get(key) {
            return Arc::clone(p);
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let p = Arc::new(Partition {
            key: key.clone(),
            meta: Arc::new(PartitionMeta {
                id,
                // A new partition is unknown until loaded: never fresh.
                checked_at_ms: AtomicU64::new(0),
                live: AtomicBool::new(true),
                invalidated: AtomicBool::new(false),
            }),
            state: Mutex::new(PartitionState {
                doc: Document::default(),
                version: None,
                unsaved: Vec::new(),
            }),
            busy: tokio::sync::Mutex::new(()),
        });
        map.insert(key.clone(), Arc::clone(&p));
        if self.inner.store.is_some() && map.len() > self.inner.options.max_partitions {
            self.evict(&mut map, key);
        }
        p
    }

    /// Drops the least recently checked partitions until memory holds at most the maximum.
    fn evict(&self, map: &mut HashMap<PartitionKey, Arc<Partition>>, keep: &PartitionKey) {
        let excess = map.len().saturating_sub(self.inner.options.max_partitions);
        if excess == 0 {
            return;
        }
        let mut by_age: Vec<(u64, PartitionKey)> = map
            .iter()
            .filter(|(k, p)| *k != keep && lock(&p.state).unsaved.is_empty())
            .map(|(k, p)| (p.meta.checked_at_ms.load(Ordering::Relaxed), k.clone()))
            .collect();
        by_age.sort_unstable_by_key(|(t, _)| *t);
        for (_, k) in by_age.into_iter().take(excess) {
            if let Some(p) = map.remove(&k) {
                p.meta.live.store(false, Ordering::Relaxed);
                let state = lock(&p.state);
                self.unindex_doc(&state.doc, p.meta.id);
            }
        }
    }

    fn index_doc(&self, doc: &Document, meta: &Arc<PartitionMeta>, hints: Option<&Hints>) {
        self.inner.index.insert_all(
            doc.access_tokens.values().filter_map(Entry::known),
            doc.accounts.values().filter_map(Entry::known),
            doc.refresh_tokens.values().filter_map(Entry::known),
            meta,
            hints,
        );
    }

    fn unindex_doc(&self, doc: &Document, partition: u64) {
        let index = &self.inner.index;
        for at in doc.access_tokens.values().filter_map(Entry::known) {
            index.remove_at(at, partition);
        }
        for a in doc.accounts.values().filter_map(Entry::known) {
            index.remove_account(a, partition);
        }
        for rt in doc.refresh_tokens.values().filter_map(Entry::known) {
            index.remove_rt(rt, partition);
        }
    }

    fn apply_changes(&self, ch: &Changes, meta: &Arc<PartitionMeta>) {
        let index = &self.inner.index;
        for (_, old, new) in &ch.access_tokens {
            if let Some(old) = old {
                index.remove_at(old, meta.id);
            }
            if let Some(new) = new {
                index.insert_at(Arc::clone(new), meta);
            }
        }
        for (_, old, new) in &ch.accounts {
            if let Some(old) = old {
                index.remove_account(old, meta.id);
            }
            if let Some(new) = new {
                index.insert_account(Arc::clone(new), meta);
            }
        }
        for (_, old, new) in &ch.refresh_tokens {
            if let Some(old) = old {
                index.remove_rt(old, meta.id);
            }
            if let Some(new) = new {
                index.insert_rt(Arc::clone(new), meta);
            }
        }
    }

    /// Replaces a partition's document and re-indexes it.
    fn replace(&self, p: &Partition, doc: Document, version: Option<Version>) {
        self.replace_hinted(p, doc, None, version);
    }

    /// [`replace`](Self::replace) with the index hints computed while `doc` was read.
    fn replace_hinted(
        &self,
        p: &Partition,
        doc: Document,
        hints: Option<Hints>,
        version: Option<Version>,
    ) {
        let mut doc = doc;
        let mut state = lock(&p.state);
        // What memory holds but the store does not have yet stays served.
        let hints = if state.unsaved.is_empty() {
            hints
        } else {
            for (op, at) in &state.unsaved {
                op.apply(&mut doc, *at);
            }
            None
        };
        self.unindex_doc(&state.doc, p.meta.id);
        self.index_doc(&doc, &p.meta, hints.as_ref());
        state.doc = doc;
        state.version = version;
        p.meta.checked_at_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// The hot path: the access token answering `q`, from memory only, preferring one still
    /// valid after `valid_after` (Unix seconds).
    pub(crate) fn lookup(&self, q: &AtQuery<'_>, valid_after: u64) -> AtLookup {
        self.inner
            .index
            .find_at(q, valid_after, |m| self.is_fresh(m))
    }

    /// Like [`lookup`](Self::lookup), serving memory however old (when the store failed).
    pub(crate) fn lookup_any_age(&self, q: &AtQuery<'_>, valid_after: u64) -> AtLookup {
        self.inner.index.find_at(q, valid_after, |_| true)
    }

    /// Makes sure memory holds a fresh view of `key` (a no-op in memory). On an error memory
    /// keeps what it had.
    pub(crate) async fn refresh(&self, key: &PartitionKey) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        self.watch_store();
        let p = self.partition(key);
        if p.meta.checked_at_ms.load(Ordering::Relaxed) != 0 && self.is_fresh(&p.meta) {
            return Ok(());
        }
        let _busy = p.busy.lock().await;
        if p.meta.checked_at_ms.load(Ordering::Relaxed) != 0 && self.is_fresh(&p.meta) {
            return Ok(());
        }
        self.load(store.as_ref(), &p).await
    }

    /// Brings memory up to date with the store now (every partition in memory; for a store
    /// that does not partition, the whole cache), writes the changes an earlier failed write
    /// left unsaved, and reports the store's failure — a corrupt file, an unwritable path, an
    /// unreachable Redis — as a typed error (the store's, usually [`ErrorKind::Cache`]).
    /// Acquisitions never fail because of the store (they log it and go on); call this, or
    /// [`store_health`](TokenCache::store_health), to see its health.
    pub async fn sync(&self) -> Result<()> {
        if self.inner.store.is_none() {
            return Ok(());
        }
        let mut keys: Vec<PartitionKey> = lock(&self.inner.partitions).keys().cloned().collect();
        if !self.inner.partitioned && keys.is_empty() {
            keys.push(PartitionKey::whole());
        }
        let mut result = Ok(());
        for key in keys {
            let flushed = match self.reload(&key).await {
                Ok(()) => self.flush(&key).await,
                Err(e) => Err(e),
            };
            if let Err(e) = flushed
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        result
    }

    /// The store's health: its last failure, and how many changes are held in memory only.
    /// Always healthy for an in-memory cache.
    pub fn store_health(&self) -> StoreHealth {
        let unsaved = lock(&self.inner.partitions)
            .values()
            .map(|p| lock(&p.state).unsaved.len())
            .sum();
        lock(&self.inner.health).snapshot(unsaved)
    }

    fn store_failed(&self, e: &Error, writing: bool) {
        lock(&self.inner.health).failed(e, writing);
    }

    fn store_succeeded(&self) {
        lock(&self.inner.health).succeeded();
    }

    /// Writes the partition's unsaved changes, if any.
    async fn flush(&self, key: &PartitionKey) -> Result<()> {
        let p = self.partition(key);
        if lock(&p.state).unsaved.is_empty() {
            return Ok(());
        }
        self.write_ops(key, None).await
    }

    /// Re-reads `key` from the store whatever its age (before a refresh token is used, so that
    /// a token another writer rotated or removed is not used). A no-op in memory.
    pub(crate) async fn reload(&self, key: &PartitionKey) -> Result<()> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        self.watch_store();
        let p = self.partition(key);
        let _busy = p.busy.lock().await;
        self.load(store.as_ref(), &p).await
    }

    /// The refresh tokens of `home_account_id` in any of `environments`.
    pub(crate) fn refresh_tokens(
        &self,
        home_account_id: &str,
        environments: &[String],
    ) -> Vec<Arc<RefreshTokenEntity>> {
        let mut v: Vec<Arc<RefreshTokenEntity>> = Vec::new();
        for env in environments {
            for r in self.inner.index.refresh_tokens_of(home_account_id, env) {
                if !v.iter().any(|x| Arc::ptr_eq(x, &r.entity)) {
                    v.push(r.entity);
                }
            }
        }
        v
    }

    /// The removal sequence of partition `key` as memory holds it.
    pub(crate) fn sequence(&self, key: &PartitionKey) -> u64 {
        operation::sequence(&lock(&self.partition(key).state).doc)
    }

    /// The app metadata of `client_id` at `environment` in partition `key`.
    pub(crate) fn app_metadata(
        &self,
        key: &PartitionKey,
        environment: &str,
        client_id: &str,
    ) -> Option<Arc<AppMetadataEntity>> {
        let p = self.partition(key);
        let state = lock(&p.state);
        state
            .doc
            .app_metadata
            .values()
            .filter_map(Entry::known)
            .find(|m| {
                m.environment.eq_ignore_ascii_case(environment)
                    && m.client_id.as_deref() == Some(client_id)
            })
            .cloned()
    }

    /// Reads `p` from the store (the caller holds `p.busy`), noting the outcome in the store's
    /// health.
    async fn load(&self, store: &dyn CacheStore, p: &Partition) -> Result<()> {
        // Cleared before the read: an announcement arriving while it is under way may be of a
        // write the read did not see, and marks the partition stale again.
        let invalidated = p.meta.invalidated.swap(false, Ordering::AcqRel);
        let result = self.load_inner(store, p).await;
        match &result {
            Ok(()) => {
                if lock(&p.state).unsaved.is_empty() {
                    self.store_succeeded();
                }
            }
            Err(e) => {
                if invalidated {
                    p.meta.invalidated.store(true, Ordering::Release);
                }
                self.store_failed(e, false);
            }
        }
        result
    }

    async fn load_inner(&self, store: &dyn CacheStore, p: &Partition) -> Result<()> {
        let known = lock(&p.state).version.clone();
        match store.read(&p.key, known.as_ref(), false).await? {
            ReadOutcome::Unchanged => {
                p.meta.checked_at_ms.store(self.now_ms(), Ordering::Relaxed);
                Ok(())
            }
            ReadOutcome::Missing => {
                self.replace(p, Document::default(), None);
                Ok(())
            }
            ReadOutcome::Current(snap) => {
                let index = &self.inner.index;
                let (doc, hints, version) = match Document::parse_bytes_for_index(&snap.data, index)
                {
                    Ok((doc, hints)) => (doc, hints, snap.version),
                    // Another writer may have been half-way: read again consistently before
                    // calling the data corrupt.
                    Err(_) => match store.read(&p.key, None, true).await? {
                        ReadOutcome::Current(again) => {
                            let (doc, hints) = Document::parse_bytes_for_index(&again.data, index).map_err(|e| {
                                Error::with_source(
                                    ErrorKind::Cache,
                                    "the persisted token cache is corrupt; its last good contents stay in memory and it is not overwritten",
                                    e,
                                )
                            })?;
                            (doc, hints, again.version)
                        }
                        ReadOutcome::Missing => (Document::default(), None, Version::new([])),
                        ReadOutcome::Unchanged => return Ok(()),
                    },
                };
                self.replace_hinted(p, doc, hints, Some(version));
                Ok(())
            }
        }
    }

    /// Applies `op` to partition `key`: in memory, or through the store (then memory takes the
    /// stored result). A store failure keeps the change in memory as unsaved (written with the
    /// partition's next write) and is returned.
    async fn write(&self, key: &PartitionKey, op: Operation, now: u64) -> Result<()> {
        if self.inner.store.is_none() {
            let p = self.partition(key);
            let mut state = lock(&p.state);
            let ch = op.apply(&mut state.doc, now);
            self.apply_changes(&ch, &p.meta);
            let changed =
                !matches!(op, Operation::RemoveAppTokens { .. }) || !ch.access_tokens.is_empty();
            if changed {
                self.inner.changed.store(true, Ordering::Relaxed);
            }
            return Ok(());
        }
        self.write_ops(key, Some((op, now))).await
    }

    /// Writes the partition's unsaved operations and then `op` (if any) through the store.
    async fn write_ops(&self, key: &PartitionKey, op: Option<(Operation, u64)>) -> Result<()> {
        let Some(store) = self.inner.store.clone() else {
            return Ok(());
        };
        self.watch_store();
        let p = self.partition(key);
        let _busy = p.busy.lock().await;
        let (base_doc, base_version, unsaved) = {
            let state = lock(&p.state);
            (
                state.doc.clone(),
                state.version.clone(),
                state.unsaved.clone(),
            )
        };
        if op.is_none() && unsaved.is_empty() {
            return Ok(());
        }
        // As in `load`: the write reads the store's freshest contents, and memory takes them.
        let invalidated = p.meta.invalidated.swap(false, Ordering::AcqRel);
        let mut outcome: Option<(Document, Changes, bool)> = None;
        let mut modify = |current: Option<&Snapshot>| -> Result<Option<Written>> {
            // Memory is the stored document plus the operations applied since only when nothing
            // is unsaved; otherwise start from what the store holds and replay.
            let (mut doc, incremental) = match current {
                Some(s) if unsaved.is_empty() && Some(&s.version) == base_version.as_ref() => {
                    (base_doc.clone(), true)
                }
                Some(s) => (
                    Document::parse_bytes(&s.data).map_err(|e| {
                        Error::with_source(
                            ErrorKind::Cache,
                            "the persisted token cache is corrupt; it is left as it is",
                            e,
                        )
                    })?,
                    false,
                ),
                None => (
                    Document::default(),
                    unsaved.is_empty() && base_version.is_none(),
                ),
            };
            for (o, at) in &unsaved {
                o.apply(&mut doc, *at);
            }
            let ch = match &op {
                Some((o, at)) => o.apply(&mut doc, *at),
                None => Changes::default(),
            };
            let now = op.as_ref().or(unsaved.last()).map_or(0, |(_, at)| *at);
            let expires_in = match key.kind() {
                PartitionKind::App => doc
                    .access_tokens
                    .values()
                    .filter_map(Entry::known)
                    .map(|at| at.expires_on)
                    .max()
                    // A hostile cached `expires_on` must not become an unbounded store TTL.
                    .map(|e| {
                        Duration::from_secs(e.saturating_sub(now).max(1))
                            .min(crate::result::MAX_TOKEN_LIFETIME)
                    }),
                _ => None,
            };
            let data = doc.to_bytes()?;
            outcome = Some((doc, ch, incremental));
            Ok(Some(Written { data, expires_in }))
        };
        match store.modify(key, &mut modify).await {
            Ok(Some(snap)) => {
                lock(&p.state).unsaved.drain(..unsaved.len());
                if let Some((doc, ch, incremental)) = outcome {
                    if incremental {
                        let mut state = lock(&p.state);
                        self.apply_changes(&ch, &p.meta);
                        state.doc = doc;
                        state.version = Some(snap.version);
                        p.meta.checked_at_ms.store(self.now_ms(), Ordering::Relaxed);
                    } else {
                        self.replace(&p, doc, Some(snap.version));
                    }
                }
                self.inner.changed.store(true, Ordering::Relaxed);
                self.store_succeeded();
                Ok(())
            }
            Ok(None) => {
                lock(&p.state).unsaved.drain(..unsaved.len());
                if invalidated {
                    p.meta.invalidated.store(true, Ordering::Release);
                }
                Ok(())
            }
            Err(e) => {
                if invalidated {
                    p.meta.invalidated.store(true, Ordering::Release);
                }
                tracing::warn!(error = %e, "the token cache store failed; the change is kept in memory, unsaved, until a write succeeds");
                self.store_failed(&e, true);
                if let Some((o, at)) = op {
                    let mut state = lock(&p.state);
                    let ch = o.apply(&mut state.doc, at);
                    self.apply_changes(&ch, &p.meta);
                    if state.unsaved.len() >= MAX_UNSAVED {
                        state.unsaved.remove(0);
                    }
                    state.unsaved.push((o, at));
                }
                Err(e)
            }
        }
    }

    /// Records a token response (msal/token_cache.py `TokenCache.add`) in the partition it belongs to. The returned
    /// entities are the caller's result even when the store failed (that failure is logged).
    pub(crate) async fn record(&self, event: &TokenEvent<'_>, based_on: Option<u64>) -> Recorded {
        let entries = NewEntries::from_event(event);
        let key = self.route(
            || match (&event.user_assertion_hash, &entries.home_account_id) {
                (Some(h), _) => PartitionKey::on_behalf_of(event.client_id, h),
                (None, Some(hid)) => PartitionKey::user(hid),
                (None, None) => PartitionKey::app(event.client_id, event.realm),
            },
        );
        let recorded = Recorded {
            access_token: entries.access_token.clone(),
            account: entries.account.clone(),
        };
        // Cloned out of its lock: the hook may register another, or read the cache.
        let hook = self
            .inner
            .write_hook
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let written = hook
            .as_ref()
            .map(|h| written_entries(&entries, h.with_secrets));
        // Errors are logged in `write`; the token is still the caller's.
        let _ = self
            .write(&key, Operation::Add { entries, based_on }, event.now)
            .await;
        // After the write, holding no lock: the hook can read the cache (or take its time)
        // without blocking it, and a panicking hook fails neither the write nor the caller.
        if let (Some(hook), Some(written)) = (hook, written) {
            for w in &written {
                let call = std::panic::AssertUnwindSafe(|| (hook.f)(w));
                if std::panic::catch_unwind(call).is_err() {
                    tracing::warn!("the token cache's write hook panicked; the write stands");
                }
            }
        }
        recorded
    }

    /// Calls `hook` after every token response the cache records, once for each entry written
    /// (access token, refresh token, ID token, account, app metadata), with the entry's
    /// secret-free view; replaces any earlier hook. For auditing or mirroring writes (MSAL
    /// Python apps do this by subclassing `TokenCache` and overriding `add`, msal/token_cache.py).
    ///
    /// The hook runs after the write (in memory, and through the store when there is one, or
    /// kept unsaved if the store failed), on the acquiring task, holding no lock of the cache:
    /// it may call [`search`](Self::search), [`serialize`](Self::serialize) or
    /// [`accounts`](Self::accounts), or register another hook, without deadlocking. Keep it
    /// quick: the acquisition waits for it. A panic in the hook is caught and logged; the
    /// write and the acquisition stand. The hook in place when a response is recorded is
    /// called for all of that response's entries, even if it is replaced or cleared from
    /// inside. [`WrittenEntry::secret`] is `None`: see
    /// [`on_write_with_secrets`](Self::on_write_with_secrets).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use msal_core::TokenCache;
    /// use msal_core::cache::CredentialType;
    ///
    /// let cache = TokenCache::new();
    /// let written = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&written);
    /// cache.on_write(move |w| {
    ///     if w.entry().credential_type == CredentialType::AccessToken {
    ///         log.lock().unwrap().push(w.entry().target.clone());
    ///     }
    /// });
    /// ```
    pub fn on_write(&self, hook: impl Fn(&WrittenEntry) + Send + Sync + 'static) {
        self.set_write_hook(Arc::new(hook), false);
    }

    /// As [`on_write`](Self::on_write), and the hook is also given each token's secret
    /// ([`WrittenEntry::secret`]): for mirroring the cache into another store. Whatever it
    /// does with them, keep them out of logs.
    pub fn on_write_with_secrets(&self, hook: impl Fn(&WrittenEntry) + Send + Sync + 'static) {
        self.set_write_hook(Arc::new(hook), true);
    }

    /// Removes the write hook.
    pub fn clear_on_write(&self) {
        *self
            .inner
            .write_hook
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn set_write_hook(&self, f: Arc<dyn Fn(&WrittenEntry) + Send + Sync>, with_secrets: bool) {
        *self
            .inner
            .write_hook
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(WriteHook { f, with_secrets });
    }

    /// The entries of `credential_type` in memory that match `query`, without their secrets
    /// (MSAL Python's `TokenCache.search(credential_type, target=, query=)`, which returns the
    /// entries themselves). Entries this library cannot read (kept byte for byte) are not
    /// returned. For a store-backed cache, what memory holds: for a partitioned store the
    /// partitions loaded (see [`account`](Self::account) and [`sync`](Self::sync)).
    ///
    /// ```
    /// use msal_core::TokenCache;
    /// use msal_core::cache::{CacheQuery, CredentialType};
    ///
    /// let cache = TokenCache::new();
    /// let tokens = cache.search(
    ///     CredentialType::AccessToken,
    ///     &CacheQuery::new().client_id("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5").target(["User.Read"]),
    /// );
    /// assert!(tokens.is_empty());
    /// ```
    pub fn search(&self, credential_type: CredentialType, query: &CacheQuery) -> Vec<CacheEntry> {
        fn collect<T>(
            entries: &document::Entries<T>,
            view: fn(&T) -> CacheEntry,
            query: &CacheQuery,
            seen: &mut std::collections::HashSet<String>,
            out: &mut Vec<CacheEntry>,
        ) {
            for (key, entry) in entries {
                if let Some(e) = entry.known() {
                    let v = view(e);
                    if query.matches(&v) && seen.insert(key.clone()) {
                        out.push(v);
                    }
                }
            }
        }
        let parts: Vec<Arc<Partition>> = lock(&self.inner.partitions).values().cloned().collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for p in parts {
            let state = lock(&p.state);
            let doc = &state.doc;
            match credential_type {
                CredentialType::AccessToken => collect(
                    &doc.access_tokens,
                    CacheEntry::of_access_token,
                    query,
                    &mut seen,
                    &mut out,
                ),
                CredentialType::RefreshToken => collect(
                    &doc.refresh_tokens,
                    CacheEntry::of_refresh_token,
                    query,
                    &mut seen,
                    &mut out,
                ),
                CredentialType::IdToken => collect(
                    &doc.id_tokens,
                    CacheEntry::of_id_token,
                    query,
                    &mut seen,
                    &mut out,
                ),
                CredentialType::Account => collect(
                    &doc.accounts,
                    CacheEntry::of_account,
                    query,
                    &mut seen,
                    &mut out,
                ),
                CredentialType::AppMetadata => collect(
                    &doc.app_metadata,
                    CacheEntry::of_app_metadata,
                    query,
                    &mut seen,
                    &mut out,
                ),
            }
        }
        out
    }

    /// Removes the app tokens of `client_id` in `environments` from the partitions in memory
    /// (and, through the store, from their persisted copies). Returns how many went.
    pub(crate) async fn remove_app_tokens(
        &self,
        client_id: &str,
        environments: &[&str],
        tenant_hint: Option<&str>,
        now: u64,
    ) -> Result<usize> {
        let mut keys: Vec<PartitionKey> = lock(&self.inner.partitions)
            .keys()
            .filter(|k| matches!(k.kind(), PartitionKind::App | PartitionKind::Whole))
            .filter(|k| k.kind() == PartitionKind::Whole || k.as_str().starts_with(client_id))
            .cloned()
            .collect();
        if let Some(t) = tenant_hint {
            let k = self.route(|| PartitionKey::app(client_id, t));
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        if keys.is_empty() && !self.inner.partitioned {
            keys.push(PartitionKey::whole());
        }
        let before = self.count_app_tokens(client_id);
        let op = Operation::RemoveAppTokens {
            client_id: client_id.to_owned(),
            environments: environments.iter().map(|e| (*e).to_owned()).collect(),
        };
        let mut result = Ok(());
        for k in keys {
            if let Err(e) = self.write(&k, op.clone(), now).await {
                result = Err(e);
            }
        }
        result?;
        Ok(before.saturating_sub(self.count_app_tokens(client_id)))
    }

    fn count_app_tokens(&self, client_id: &str) -> usize {
        lock(&self.inner.partitions)
            .values()
            .map(|p| {
                lock(&p.state)
                    .doc
                    .access_tokens
                    .values()
                    .filter_map(Entry::known)
                    .filter(|at| {
                        at.home_account_id.is_none() && at.client_id.as_deref() == Some(client_id)
                    })
                    .count()
            })
            .sum()
    }

    /// The accounts in memory (for a partitioned store: those of the partitions loaded), one
    /// per home account and environment.
    pub fn accounts(&self) -> Vec<Account> {
        self.accounts_in(None, false)
    }

    /// The accounts in memory in one of `environments` (all when `None`), of the authority
    /// types MSAL lists: `MSSTS` and `ADFS`, and `CLOUDSHELL` inside Cloud Shell
    /// (msal/application.py `_find_msal_accounts`; other MSALs' test caches hold placeholders
    /// such as `"authority_type": "authority_type"`).
    pub(crate) fn accounts_in(
        &self,
        environments: Option<&[String]>,
        in_cloud_shell: bool,
    ) -> Vec<Account> {
        self.inner.index.list_accounts(|a| {
            (matches!(a.authority_type.as_str(), "MSSTS" | "ADFS")
                || (in_cloud_shell && a.authority_type == "CLOUDSHELL"))
                && environments
                    .is_none_or(|envs| envs.iter().any(|e| e.eq_ignore_ascii_case(&a.environment)))
        })
    }

    /// The account whose home account id is `home_account_id`, loading that user's partition
    /// from the store first (a web app finding the signed-in user on any server of the fleet).
    pub async fn account(&self, home_account_id: &str) -> Result<Option<Account>> {
        let key = self.route(|| PartitionKey::user(home_account_id));
        if let Err(e) = self.refresh(&key).await {
            tracing::warn!(error = %e, "the token cache store failed; answering from memory");
        }
        Ok(self
            .inner
            .index
            .accounts_of(home_account_id)
            .first()
            .map(|r| Account::from_entity(Arc::clone(&r.entity))))
    }

    /// Signs `account` out of the cache: removes its account entries, ID tokens, refresh and
    /// access tokens in its environment, for every app, and records the removal so that a
    /// writer holding an older copy cannot bring it back.
    pub async fn remove_account(&self, account: &Account) -> Result<()> {
        let now = crate::clock::unix_seconds(std::time::SystemTime::now());
        self.remove_account_at(account, None, now).await
    }

    /// Removes `account`; with `refresh_tokens_of`, only that client's (and family's) refresh
    /// tokens go.
    pub(crate) async fn remove_account_at(
        &self,
        account: &Account,
        refresh_tokens_of: Option<(String, Option<String>)>,
        now: u64,
    ) -> Result<()> {
        let mut keys: Vec<PartitionKey> = lock(&self.inner.partitions)
            .iter()
            .filter(|(_, p)| {
                !self
                    .inner
                    .index
                    .accounts_of(account.home_account_id())
                    .iter()
                    .all(|r| r.partition.id != p.meta.id)
                    || !self
                        .inner
                        .index
                        .refresh_tokens_of(account.home_account_id(), account.environment())
                        .iter()
                        .all(|r| r.partition.id != p.meta.id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let user = self.route(|| PartitionKey::user(account.home_account_id()));
        if !keys.contains(&user) {
            keys.push(user);
        }
        let op = Operation::RemoveAccount {
            home_account_id: account.home_account_id().to_owned(),
            environment: account.environment().to_owned(),
            refresh_tokens_of,
        };
        let mut result = Ok(());
        for k in keys {
            if let Err(e) = self.write(&k, op.clone(), now).await {
                result = Err(e);
            }
        }
        result
    }

    /// The whole cache in MSAL Python's file format: a JSON object with the sections
    /// `AccessToken`, `RefreshToken`, `IdToken`, `Account` and `AppMetadata`, each mapping a key
    /// to an entry, indented by four spaces and ASCII-only (as Python's
    /// `json.dumps(cache, indent=4)`). Unknown sections and fields read by
    /// [`deserialize`](TokenCache::deserialize) are written back in their places. For a
    /// partitioned store, the partitions in memory are merged.
    ///
    /// Resets [`has_state_changed`](TokenCache::has_state_changed).
    pub fn serialize(&self) -> Result<String> {
        let parts: Vec<Arc<Partition>> = lock(&self.inner.partitions).values().cloned().collect();
        let json = match parts.as_slice() {
            [] => Document::default().to_json()?,
            [one] => lock(&one.state).doc.to_json()?,
            many => {
                let mut merged = Document::default();
                for p in many {
                    merged.merge(&lock(&p.state).doc);
                }
                merged.to_json()?
            }
        };
        self.inner.changed.store(false, Ordering::Relaxed);
        Ok(json)
    }

    /// Replaces the contents of an in-memory cache with `json`, as written by
    /// [`serialize`](TokenCache::serialize) or by another MSAL. Empty or blank input gives an
    /// empty cache.
    ///
    /// An entry that does not fit its section's schema is kept as it is (written back by
    /// `serialize`, never used). Keys are kept as they were stored. What Python's `json` reads
    /// beyond RFC 8259 (`NaN`, `Infinity`, `-Infinity`, escaped lone surrogates, numbers of any
    /// size) is accepted wherever the library does not interpret it and written back as it was
    /// read; in a field it reads (say `"expires_on": NaN`) the entry is kept and never used.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Cache`] when `json` is not valid JSON as Python's `json` reads it, not a
    /// JSON object, nests arrays and objects deeper than 1000 levels (Python cannot read such a
    /// file either), has a key with a lone surrogate in one of the five known sections, or one
    /// of those sections is not an object; the cache is then left unchanged.
    /// [`ErrorKind::InvalidInput`] for a store-backed cache, whose contents come from its store.
    pub fn deserialize(&self, json: &str) -> Result<()> {
        if self.inner.store.is_some() {
            return Err(Error::invalid_input(
                "a store-backed cache is loaded from its store, not deserialized",
            ));
        }
        let (doc, hints) = Document::parse_for_index(json, &self.inner.index)?;
        let p = self.partition(&PartitionKey::whole());
        self.replace_hinted(&p, doc, hints, None);
        self.inner.changed.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// True when the cache was written to since the last [`serialize`](TokenCache::serialize)
    /// or [`deserialize`](TokenCache::deserialize): the signal to persist an in-memory cache.
    pub fn has_state_changed(&self) -> bool {
        self.inner.changed.load(Ordering::Relaxed)
    }
}

/// What a write hook is told about one recorded response, secrets only when it asked.
fn written_entries(e: &NewEntries, with_secrets: bool) -> Vec<WrittenEntry> {
    let secret = |s: &str| with_secrets.then_some(s).map(str::to_owned);
    let mut v = Vec::with_capacity(5);
    if let Some(at) = &e.access_token {
        v.push(WrittenEntry::new(
            CacheEntry::of_access_token(at),
            secret(&at.secret).as_deref(),
        ));
    }
    if let Some(rt) = &e.refresh_token {
        v.push(WrittenEntry::new(
            CacheEntry::of_refresh_token(rt),
            secret(&rt.secret).as_deref(),
        ));
    }
    if let Some(idt) = &e.id_token {
        v.push(WrittenEntry::new(
            CacheEntry::of_id_token(idt),
            secret(&idt.secret).as_deref(),
        ));
    }
    if let Some(a) = &e.account {
        v.push(WrittenEntry::new(CacheEntry::of_account(a), None));
    }
    v.push(WrittenEntry::new(
        CacheEntry::of_app_metadata(&e.app_metadata),
        None,
    ));
    v
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<Arc<Partition>> = lock(&self.inner.partitions).values().cloned().collect();
        let (mut at, mut rt, mut idt, mut acc, mut md) = (0, 0, 0, 0, 0);
        for p in &parts {
            let s = lock(&p.state);
            at += s.doc.access_tokens.len();
            rt += s.doc.refresh_tokens.len();
            idt += s.doc.id_tokens.len();
            acc += s.doc.accounts.len();
            md += s.doc.app_metadata.len();
        }
        let mut d = f.debug_struct("TokenCache");
        if let Some(s) = &self.inner.store {
            d.field("store", s).field("partitions", &parts.len());
        }
        d.field("access_tokens", &at)
            .field("refresh_tokens", &rt)
            .field("id_tokens", &idt)
            .field("accounts", &acc)
            .field("app_metadata", &md)
            .finish()
    }
}
