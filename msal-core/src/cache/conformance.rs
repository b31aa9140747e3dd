//! A conformance kit for [`CacheStore`] implementations (feature `store-conformance`).
//!
//! Anyone writing a store (SQLite, an encrypted file, DynamoDB, a vault) runs the same contract
//! checks the bundled stores run: the contract is the one [`CacheStore`]'s docs and the
//! [custom store guide](crate::guide::custom_store) describe, and every check names the
//! [`Clause`] it tests.
//!
//! # How to run it
//!
//! Implement [`Backing`] for a fresh, empty piece of backing data (a temporary directory, a
//! unique key prefix on a test server, a new table) whose [`open`](Backing::open) returns a new
//! store instance over it, as a second process would open it. Then, in a test:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_store_conforms() {
//!     msal_core::cache::conformance::assert_conforms(|| async { MyBacking::new().await }).await;
//! }
//! ```
//!
//! The factory is called once per check, so each check starts on empty data; each check opens
//! two instances over it (the cross-instance and concurrency checks need two). The [custom
//! store guide](crate::guide::custom_store) has a complete, compiled example. Enable the feature
//! for your tests only:
//!
//! ```toml
//! [dev-dependencies]
//! msal-core = { version = "…", features = ["store-conformance"] }
//! ```
//!
//! [`assert_conforms`] panics, listing every failed clause with what was observed: it is test
//! code. [`run`] returns the [`Report`] instead, for a test that expects some clause to fail or
//! wants to print the outcome.
//!
//! # What is checked
//!
//! Every [`Clause`]: reads of missing partitions, round trips, `Unchanged` answers, a new
//! version on every write, writers on two instances (a compare-and-set conflict and many
//! concurrent writers: no update may be lost), partition isolation (for partitioned stores),
//! large documents, clearing a partition, bytes that are not JSON, foreign data written behind
//! the store's back (when [`Backing::write_foreign`] can), and a `Debug` that shows no data.
//!
//! Every store call is bounded by [`Options::call_timeout`]: a call that does not return in time
//! fails the check (a store must bound its calls itself; msal-core puts no deadline around them).
//! A store that panics fails the check too: its panic is caught and reported.
//!
//! # What is not
//!
//! - Store-specific behaviour: retention and expiry (the [`Written::expires_in`] hint is passed,
//!   not its effect), failures of the backend (a killed or hung server, a held lock: how to
//!   provoke them depends on the backend), invalidation notifications (not part of the trait),
//!   interoperability with other MSALs' files. Keep those in the store's own tests.
//! - The stale-version check needs a multi-thread Tokio runtime (it blocks inside a
//!   modification while the second instance writes); on a current-thread runtime it is skipped.
//! - It does not replace tests through [`TokenCache`](crate::TokenCache): it tests the store,
//!   not msal-core's use of it.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use serde_json::{Map, Value};

use super::store::{CacheStore, Modify, PartitionKey, ReadOutcome, Snapshot, Version, Written};
use crate::error::{Error, ErrorKind, Result};

/// Fresh backing data for the stores under test, and a way to open stores over it.
///
/// Dropping it may release the data (a temporary directory removed, a key prefix deleted).
#[async_trait]
pub trait Backing: Send + Sync + 'static {
    /// The store under test.
    type Store: CacheStore;

    /// A new store instance over this backing data, as another process would open it. Called
    /// twice per check; writes through one must be visible through the other.
    async fn open(&self) -> Result<Self::Store>;

    /// Writes data that no conforming writer would write into `partition`'s storage, behind
    /// the store's back (garbage bytes in a file, a Redis key of the wrong type, a row whose
    /// version column is not a number). Returns `Ok(false)` when the backing cannot (the
    /// default): [`Clause::ForeignData`] is then skipped.
    async fn write_foreign(&self, partition: &PartitionKey) -> Result<bool> {
        let _ = partition;
        Ok(false)
    }
}

/// The knobs of a run; [`Options::default`] suits most stores.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The longest one store call may take before the check fails (default 30 s).
    pub call_timeout: Duration,
    /// The size of the document of [`Clause::LargeDocument`] (default 8 MiB).
    pub large_document_bytes: usize,
    /// Concurrent writers on each of the two instances in [`Clause::ConcurrentWriters`]
    /// (default 3).
    pub writers_per_instance: usize,
    /// Writes by each of them (default 10).
    pub writes_per_writer: usize,
    /// How often a failed write of [`Clause::ConcurrentWriters`] is tried again before the
    /// check fails (default 20; a store may give up under contention, as long as it loses
    /// nothing).
    pub write_attempts: u32,
    /// How long [`Clause::StaleVersionRefused`] holds a modification open while the other
    /// instance writes (default 2 s; it ends as soon as that write returns).
    pub interleave_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            call_timeout: Duration::from_secs(30),
            large_document_bytes: 8 * 1024 * 1024,
            writers_per_instance: 3,
            writes_per_writer: 10,
            write_attempts: 20,
            interleave_wait: Duration::from_secs(2),
        }
    }
}

impl Options {
    /// Sets [`call_timeout`](Options::call_timeout).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets [`large_document_bytes`](Options::large_document_bytes).
    pub fn large_document_bytes(mut self, bytes: usize) -> Self {
        self.large_document_bytes = bytes;
        self
    }

    /// Sets [`writers_per_instance`](Options::writers_per_instance) and
    /// [`writes_per_writer`](Options::writes_per_writer).
    pub fn concurrency(mut self, writers_per_instance: usize, writes_per_writer: usize) -> Self {
        self.writers_per_instance = writers_per_instance.max(1);
        self.writes_per_writer = writes_per_writer.max(1);
        self
    }

    /// Sets [`write_attempts`](Options::write_attempts).
    pub fn write_attempts(mut self, attempts: u32) -> Self {
        self.write_attempts = attempts.max(1);
        self
    }

    /// Sets [`interleave_wait`](Options::interleave_wait).
    pub fn interleave_wait(mut self, wait: Duration) -> Self {
        self.interleave_wait = wait;
        self
    }
}

/// One clause of the [`CacheStore`] contract, as the kit checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Clause {
    /// Partitions of fresh backing data read `Missing` (with and without a known version,
    /// consistent or not), reading creates nothing, and both instances agree on
    /// [`is_partitioned`](CacheStore::is_partitioned).
    EmptyRead,
    /// `modify` whose operation returns `Ok(None)` writes nothing: `None` on a missing
    /// partition, the current snapshot (same version) on an existing one.
    NothingToWrite,
    /// `modify` whose operation fails returns that error (its kind and message) and writes
    /// nothing.
    FailedOperation,
    /// What `modify` writes (with or without a retention hint) reads back byte for byte on
    /// both instances, on the writing one with the version `modify` returned (another instance
    /// may name the same bytes with a version of its own); `Unchanged` only for the current
    /// version; the next `modify` sees the same snapshot.
    RoundTrip,
    /// Every write produces a version unequal to every earlier one of the partition, even when
    /// it writes the same bytes, and a reader holding the previous version sees the new one.
    NewVersionEveryWrite,
    /// A write through one instance is seen by the other, whose `modify` runs on it.
    CrossInstance,
    /// Compare-and-set: a write based on a version another instance has since replaced is
    /// refused and its operation runs again on the newer bytes (or, for a locking store, the
    /// other writer waits and then runs on this one's bytes). Both writes survive.
    StaleVersionRefused,
    /// Many concurrent writers on two instances, each adding to the partition: no update is
    /// lost and no version is handed out twice.
    ConcurrentWriters,
    /// Partitions are kept apart: keys differing only in case, one key a prefix of another,
    /// keys with separators and quotes (partitioned stores only).
    PartitionIsolation,
    /// A large document round-trips byte for byte.
    LargeDocument,
    /// Replacing a large document by an empty one (`{}`) leaves nothing of the old one.
    Clearing,
    /// Bytes that are not JSON (not even UTF-8) are stored as they are, or refused with an
    /// [`ErrorKind::Cache`] error that leaves the partition as it was; never a panic.
    OpaqueBytes,
    /// Foreign data written behind the store's back ([`Backing::write_foreign`]) reads as
    /// bytes or fails with an [`ErrorKind::Cache`] error, within the call timeout, never a
    /// panic; a `modify` over it either fails the same way or replaces it.
    ForeignData,
    /// The store's `Debug` output shows none of the partitions' bytes (they hold tokens).
    DebugHidesData,
}

impl Clause {
    /// Every clause, in the order the kit checks them.
    pub const ALL: [Clause; 14] = [
        Clause::EmptyRead,
        Clause::NothingToWrite,
        Clause::FailedOperation,
        Clause::RoundTrip,
        Clause::NewVersionEveryWrite,
        Clause::CrossInstance,
        Clause::StaleVersionRefused,
        Clause::ConcurrentWriters,
        Clause::PartitionIsolation,
        Clause::LargeDocument,
        Clause::Clearing,
        Clause::OpaqueBytes,
        Clause::ForeignData,
        Clause::DebugHidesData,
    ];

    /// What the clause requires, in one sentence.
    pub fn requirement(self) -> &'static str {
        match self {
            Clause::EmptyRead => "fresh data reads Missing and reading creates nothing",
            Clause::NothingToWrite => "an operation returning Ok(None) writes nothing",
            Clause::FailedOperation => {
                "an operation's error is returned unchanged and nothing is written"
            }
            Clause::RoundTrip => {
                "written bytes read back identical with the returned version; Unchanged only for the current version"
            }
            Clause::NewVersionEveryWrite => {
                "every write yields a new version, even for identical bytes"
            }
            Clause::CrossInstance => "one instance sees and builds on the other's writes",
            Clause::StaleVersionRefused => {
                "a write based on a replaced version is refused and its operation re-run"
            }
            Clause::ConcurrentWriters => "concurrent writers on two instances lose no update",
            Clause::PartitionIsolation => "partitions are kept apart",
            Clause::LargeDocument => "a large document round-trips byte for byte",
            Clause::Clearing => "replacing a document by {} leaves nothing of the old one",
            Clause::OpaqueBytes => {
                "non-JSON bytes are stored as they are or refused with a Cache error"
            }
            Clause::ForeignData => {
                "foreign stored data reads as bytes or fails with a Cache error, never a panic"
            }
            Clause::DebugHidesData => "Debug shows none of the stored bytes",
        }
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.requirement())
    }
}

/// How one clause fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The store honours the clause.
    Passed,
    /// The clause does not apply to this store or run (the reason).
    Skipped(String),
    /// The store broke the clause (what was observed).
    Failed(String),
}

/// The outcome of every clause of one run.
#[derive(Debug, Clone)]
pub struct Report {
    store: &'static str,
    checks: Vec<(Clause, Outcome)>,
}

impl Report {
    /// Every clause checked, with its outcome, in [`Clause::ALL`]'s order.
    pub fn checks(&self) -> &[(Clause, Outcome)] {
        &self.checks
    }

    /// The outcome of `clause`.
    pub fn outcome(&self, clause: Clause) -> Option<&Outcome> {
        self.checks
            .iter()
            .find(|(c, _)| *c == clause)
            .map(|(_, o)| o)
    }

    /// The clauses the store broke, with what was observed.
    pub fn failures(&self) -> impl Iterator<Item = (Clause, &str)> {
        self.checks.iter().filter_map(|(c, o)| match o {
            Outcome::Failed(why) => Some((*c, why.as_str())),
            _ => None,
        })
    }

    /// True when no clause failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Panics, naming every failed clause and what was observed, unless all passed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if !self.passed() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        if failed == 0 {
            writeln!(f, "{} conforms to the CacheStore contract:", self.store)?;
        } else {
            writeln!(
                f,
                "{} breaks {failed} clause(s) of the CacheStore contract:",
                self.store
            )?;
        }
        for (clause, outcome) in &self.checks {
            match outcome {
                Outcome::Passed => writeln!(f, "  passed   {clause}")?,
                Outcome::Skipped(why) => writeln!(f, "  skipped  {clause}: {why}")?,
                Outcome::Failed(why) => writeln!(f, "  FAILED   {clause}: {why}")?,
            }
        }
        Ok(())
    }
}

/// Runs every clause against stores over fresh backing data from `new_backing` (called once
/// per clause) and panics, listing the failed clauses, unless all pass. Runs with
/// [`Options::default`]; see [`run`] for other options or to inspect the [`Report`].
#[track_caller]
pub fn assert_conforms<B, F, Fut>(new_backing: F) -> impl Future<Output = ()>
where
    B: Backing,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<B>>,
{
    let caller = std::panic::Location::caller();
    async move {
        let report = run(new_backing, &Options::default()).await;
        if !report.passed() {
            panic!("{report}(checked at {caller})");
        }
    }
}

/// Runs every clause against stores over fresh backing data from `new_backing` (called once
/// per clause) and returns how each fared. Never panics because of the store (its panics are
/// caught and reported as failures).
pub async fn run<B, F, Fut>(mut new_backing: F, options: &Options) -> Report
where
    B: Backing,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<B>>,
{
    let mut checks = Vec::with_capacity(Clause::ALL.len());
    for clause in Clause::ALL {
        let outcome = match setup(&mut new_backing, options).await {
            Err(why) => Outcome::Failed(format!("setting up: {why}")),
            Ok(kit) => {
                // The whole check is bounded too, generously: each of its calls is.
                let bound = options.call_timeout.saturating_mul(8);
                let check = AssertUnwindSafe(kit.check(clause)).catch_unwind();
                match tokio::time::timeout(bound, check).await {
                    Err(_) => Outcome::Failed(format!(
                        "the check did not finish within {} ms",
                        bound.as_millis()
                    )),
                    Ok(Err(panic)) => {
                        Outcome::Failed(format!("panicked: {}", panic_message(&*panic)))
                    }
                    Ok(Ok(Err(why))) => Outcome::Failed(why),
                    Ok(Ok(Ok(outcome))) => outcome,
                }
            }
        };
        checks.push((clause, outcome));
    }
    Report {
        store: std::any::type_name::<B::Store>(),
        checks,
    }
}

async fn setup<B, F, Fut>(new_backing: &mut F, options: &Options) -> Check<Kit<B>>
where
    B: Backing,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<B>>,
{
    let backing = within(options.call_timeout, "creating the backing", new_backing())
        .await?
        .map_err(|e| format!("creating the backing failed: {e}"))?;
    let a = within(options.call_timeout, "opening instance A", backing.open())
        .await?
        .map_err(|e| format!("opening instance A failed: {e}"))?;
    let b = within(options.call_timeout, "opening instance B", backing.open())
        .await?
        .map_err(|e| format!("opening instance B failed: {e}"))?;
    Ok(Kit {
        partitioned: a.is_partitioned(),
        backing,
        a: Arc::new(a),
        b: Arc::new(b),
        options: options.clone(),
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".to_owned()
    }
}

/// A check's answer: `Err` is a failure, with what was observed.
type Check<T> = std::result::Result<T, String>;

async fn within<T>(bound: Duration, what: &str, call: impl Future<Output = T>) -> Check<T> {
    tokio::time::timeout(bound, call).await.map_err(|_| {
        format!(
            "{what} did not return within {} ms (a store must bound every call itself)",
            bound.as_millis()
        )
    })
}

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// A document of names, as the checks write them: `{"name": true, ...}` (valid JSON, so a
/// store that insists on JSON accepts it).
fn names_doc(names: &BTreeMap<String, Value>) -> Vec<u8> {
    serde_json::to_vec(names).unwrap_or_default()
}

fn parse_names(snapshot: Option<&Snapshot>) -> Result<BTreeMap<String, Value>> {
    match snapshot {
        None => Ok(BTreeMap::new()),
        Some(s) => serde_json::from_slice::<Map<String, Value>>(&s.data)
            .map(|m| m.into_iter().collect())
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Cache,
                    "conformance kit: the stored bytes are not the JSON object written",
                    e,
                )
            }),
    }
}

/// The operation adding `name` to the document of names.
fn add_name(name: &str) -> impl FnMut(Option<&Snapshot>) -> Result<Option<Written>> + Send + '_ {
    move |current| {
        let mut names = parse_names(current)?;
        names.insert(name.to_owned(), Value::Bool(true));
        Ok(Some(Written {
            data: names_doc(&names),
            expires_in: None,
        }))
    }
}

/// Bytes for a document of `len` bytes (JSON, varied content), unlike any other `seed`'s.
fn filler(len: usize, seed: u8) -> Vec<u8> {
    let head = br#"{"blob":""#;
    let tail = br#""}"#;
    let mut data = Vec::with_capacity(len.max(head.len() + tail.len()));
    data.extend_from_slice(head);
    let body = len.saturating_sub(head.len() + tail.len());
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    for _ in 0..body {
        // A xorshift: content that does not compress to nothing nor repeat at a short period.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push(
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[(x % 64) as usize],
        );
    }
    data.extend_from_slice(tail);
    data
}

fn same_bytes(got: &[u8], want: &[u8]) -> Check<()> {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    Err(format!(
        "{} bytes read where {} were written, first difference at byte {at}",
        got.len(),
        want.len()
    ))
}

struct Kit<B: Backing> {
    backing: B,
    a: Arc<B::Store>,
    b: Arc<B::Store>,
    partitioned: bool,
    options: Options,
}

impl<B: Backing> Kit<B> {
    async fn check(&self, clause: Clause) -> Check<Outcome> {
        match clause {
            Clause::EmptyRead => self.empty_read().await,
            Clause::NothingToWrite => self.nothing_to_write().await,
            Clause::FailedOperation => self.failed_operation().await,
            Clause::RoundTrip => self.round_trip().await,
            Clause::NewVersionEveryWrite => self.new_version_every_write().await,
            Clause::CrossInstance => self.cross_instance().await,
            Clause::StaleVersionRefused => self.stale_version_refused().await,
            Clause::ConcurrentWriters => self.concurrent_writers().await,
            Clause::PartitionIsolation => self.partition_isolation().await,
            Clause::LargeDocument => self.large_document().await,
            Clause::Clearing => self.clearing().await,
            Clause::OpaqueBytes => self.opaque_bytes().await,
            Clause::ForeignData => self.foreign_data().await,
            Clause::DebugHidesData => self.debug_hides_data().await,
        }
    }

    /// The partition most checks use: a user's for a partitioned store, else the whole.
    fn primary(&self) -> PartitionKey {
        if self.partitioned {
            PartitionKey::user("conformance-uid.conformance-utid")
        } else {
            PartitionKey::whole()
        }
    }

    fn some_partitions(&self) -> Vec<PartitionKey> {
        if self.partitioned {
            vec![
                self.primary(),
                PartitionKey::app("conformance-client", "conformance-tenant"),
                PartitionKey::on_behalf_of("conformance-client", "conformance-hash"),
            ]
        } else {
            vec![PartitionKey::whole()]
        }
    }

    async fn read(
        &self,
        store: &B::Store,
        partition: &PartitionKey,
        known: Option<&Version>,
        consistent: bool,
    ) -> Check<ReadOutcome> {
        within(
            self.options.call_timeout,
            "read",
            store.read(partition, known, consistent),
        )
        .await?
        .map_err(|e| format!("read failed: {e} ({:?})", e.kind()))
    }

    /// `modify`, bounded; the store's answer as it is.
    async fn modify(
        &self,
        store: &B::Store,
        partition: &PartitionKey,
        op: &mut Modify<'_>,
    ) -> Check<Result<Option<Snapshot>>> {
        within(
            self.options.call_timeout,
            "modify",
            store.modify(partition, op),
        )
        .await
    }

    /// Writes `data` (replacing whatever is there); the snapshot `modify` returned.
    async fn put(
        &self,
        store: &B::Store,
        partition: &PartitionKey,
        data: &[u8],
        expires_in: Option<Duration>,
    ) -> Check<Snapshot> {
        let mut op = |_: Option<&Snapshot>| {
            Ok(Some(Written {
                data: data.to_vec(),
                expires_in,
            }))
        };
        match self.modify(store, partition, &mut op).await? {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err("modify wrote bytes but returned no snapshot".to_owned()),
            Err(e) => Err(format!("modify failed: {e} ({:?})", e.kind())),
        }
    }

    async fn current(
        &self,
        store: &B::Store,
        partition: &PartitionKey,
        consistent: bool,
    ) -> Check<Snapshot> {
        match self.read(store, partition, None, consistent).await? {
            ReadOutcome::Current(s) => Ok(s),
            other => Err(format!(
                "a read without a known version answered {other:?} for a written partition"
            )),
        }
    }

    async fn empty_read(&self) -> Check<Outcome> {
        ensure!(
            self.a.is_partitioned() == self.b.is_partitioned(),
            "two instances disagree on is_partitioned()"
        );
        let some_version = Version::new(b"conformance-version");
        for p in self.some_partitions() {
            for consistent in [false, true] {
                for known in [None, Some(&some_version)] {
                    let r = self.read(&self.a, &p, known, consistent).await?;
                    ensure!(
                        matches!(r, ReadOutcome::Missing),
                        "{p:?} of fresh data (known {known:?}, consistent {consistent}) read {r:?}, not Missing"
                    );
                }
            }
            let mut seen = None;
            let mut op = |current: Option<&Snapshot>| {
                seen = Some(current.map(|s| s.data.len()));
                Ok(None)
            };
            let r = self.modify(&self.b, &p, &mut op).await?;
            ensure!(
                seen == Some(None),
                "after reads of a missing {p:?}, modify saw {seen:?} (reading created it)"
            );
            match r {
                Ok(None) => {}
                other => {
                    return Err(format!(
                        "modify writing nothing on a missing {p:?} returned {other:?}, not Ok(None)"
                    ));
                }
            }
        }
        Ok(Outcome::Passed)
    }

    async fn nothing_to_write(&self) -> Check<Outcome> {
        let p = self.primary();
        let r = self.modify(&self.a, &p, &mut |_| Ok(None)).await?;
        ensure!(
            matches!(r, Ok(None)),
            "Ok(None) on a missing partition returned {r:?}, not Ok(None)"
        );
        let r = self.read(&self.b, &p, None, true).await?;
        ensure!(
            matches!(r, ReadOutcome::Missing),
            "Ok(None) on a missing partition created it: {r:?}"
        );
        let written = self.put(&self.a, &p, br#"{"kept":true}"#, None).await?;
        let r = self.modify(&self.b, &p, &mut |_| Ok(None)).await?;
        match r {
            Ok(Some(s)) => same_bytes(&s.data, br#"{"kept":true}"#)
                .map_err(|e| format!("Ok(None) through B returned other contents: {e}"))?,
            other => {
                return Err(format!(
                    "Ok(None) on an existing partition returned {other:?}, not its snapshot"
                ));
            }
        }
        // On the writer's own instance the version is the one its write returned.
        let r = self.modify(&self.a, &p, &mut |_| Ok(None)).await?;
        match r {
            Ok(Some(s)) => {
                ensure!(
                    s.version == written.version,
                    "Ok(None) on an existing partition returned version {:?}, not the current {:?}",
                    s.version,
                    written.version
                );
                same_bytes(&s.data, br#"{"kept":true}"#)
                    .map_err(|e| format!("Ok(None) returned other contents: {e}"))?;
            }
            other => {
                return Err(format!(
                    "Ok(None) on an existing partition returned {other:?}, not its snapshot"
                ));
            }
        }
        let r = self
            .read(&self.a, &p, Some(&written.version), false)
            .await?;
        ensure!(
            !matches!(&r, ReadOutcome::Current(s) if s.version != written.version),
            "Ok(None) wrote: the version moved from {:?} to {r:?}",
            written.version
        );
        Ok(Outcome::Passed)
    }

    async fn failed_operation(&self) -> Check<Outcome> {
        let p = self.primary();
        let refuse = |_: Option<&Snapshot>| -> Result<Option<Written>> {
            Err(Error::new(
                ErrorKind::InvalidInput,
                "conformance: the operation refused",
            ))
        };
        let check_error = |r: Result<Option<Snapshot>>, state: &str| -> Check<()> {
            match r {
                Err(e) => {
                    ensure!(
                        e.kind() == ErrorKind::InvalidInput
                            && e.to_string().contains("conformance: the operation refused"),
                        "the operation's error on a {state} partition came back as {e} ({:?})",
                        e.kind()
                    );
                    Ok(())
                }
                Ok(s) => Err(format!(
                    "a failing operation on a {state} partition returned Ok({s:?})"
                )),
            }
        };
        check_error(self.modify(&self.a, &p, &mut { refuse }).await?, "missing")?;
        let r = self.read(&self.b, &p, None, true).await?;
        ensure!(
            matches!(r, ReadOutcome::Missing),
            "a failing operation created the partition: {r:?}"
        );
        let written = self.put(&self.a, &p, br#"{"before":true}"#, None).await?;
        check_error(self.modify(&self.b, &p, &mut { refuse }).await?, "existing")?;
        let now = self.current(&self.a, &p, true).await?;
        ensure!(
            now.version == written.version,
            "a failing operation changed the version from {:?} to {:?}",
            written.version,
            now.version
        );
        same_bytes(&now.data, br#"{"before":true}"#)
            .map_err(|e| format!("a failing operation changed the bytes: {e}"))?;
        Ok(Outcome::Passed)
    }

    async fn round_trip(&self) -> Check<Outcome> {
        let mut partitions = vec![(self.primary(), None)];
        if self.partitioned {
            // An app partition with the retention hint msal-core gives those.
            partitions.push((
                PartitionKey::app("conformance-client", "conformance-tenant"),
                Some(Duration::from_secs(3600)),
            ));
        }
        for (p, expires_in) in partitions {
            let data = br#"{"AccessToken":{},"RefreshToken":{"x":{"secret":"round trip"}}}"#;
            let written = self.put(&self.a, &p, data, expires_in).await?;
            same_bytes(&written.data, data)
                .map_err(|e| format!("modify returned other bytes than written: {e}"))?;
            for (who, store) in [("A", &self.a), ("B", &self.b)] {
                for consistent in [false, true] {
                    let s = self.current(store, &p, consistent).await?;
                    // Another instance may see its own version of the same bytes (a file
                    // store read within one timestamp tick of the write adds a digest).
                    ensure!(
                        who == "B" || s.version == written.version,
                        "{who} read version {:?} (consistent {consistent}), modify returned {:?}",
                        s.version,
                        written.version
                    );
                    same_bytes(&s.data, data)
                        .map_err(|e| format!("{who} read (consistent {consistent}): {e}"))?;
                    match self
                        .read(store, &p, Some(&written.version), consistent)
                        .await?
                    {
                        ReadOutcome::Unchanged => {}
                        ReadOutcome::Current(s) => {
                            ensure!(
                                s.version == written.version && *s.data == data[..],
                                "{who} read with the current version known answered other contents"
                            );
                        }
                        ReadOutcome::Missing => {
                            return Err(format!(
                                "{who} read with the current version known answered Missing"
                            ));
                        }
                    }
                }
                let other = Version::new(b"conformance: not a version of this partition");
                match self.read(store, &p, Some(&other), false).await? {
                    ReadOutcome::Current(s) => same_bytes(&s.data, data)
                        .map_err(|e| format!("{who} read with an unknown version: {e}"))?,
                    r => {
                        return Err(format!(
                            "{who} read with a version never stored answered {r:?}, not Current"
                        ));
                    }
                }
            }
            let mut seen = None;
            let mut op = |current: Option<&Snapshot>| {
                seen = current.map(|s| (s.version.clone(), s.data.to_vec()));
                Ok(None)
            };
            self.modify(&self.a, &p, &mut op)
                .await?
                .map_err(|e| format!("modify failed: {e}"))?;
            match seen {
                Some((v, d)) => {
                    ensure!(
                        v == written.version,
                        "the next modify saw version {v:?}, not {:?}",
                        written.version
                    );
                    same_bytes(&d, data).map_err(|e| format!("the next modify saw: {e}"))?;
                }
                None => return Err("the next modify saw no partition".to_owned()),
            }
        }
        Ok(Outcome::Passed)
    }

    async fn new_version_every_write(&self) -> Check<Outcome> {
        let p = self.primary();
        let mut seen: HashSet<Version> = HashSet::new();
        let mut previous: Option<Version> = None;
        for i in 0..24u32 {
            // Pairs of identical writes: A then B write the same bytes.
            let data = format!(r#"{{"write":{}}}"#, i / 2).into_bytes();
            let (writer, reader, w, r) = if i % 2 == 0 {
                (&self.a, &self.b, "A", "B")
            } else {
                (&self.b, &self.a, "B", "A")
            };
            let s = self.put(writer, &p, &data, None).await?;
            ensure!(
                seen.insert(s.version.clone()),
                "write {i} (by {w}) returned version {:?}, which an earlier write had",
                s.version
            );
            match self.read(reader, &p, previous.as_ref(), false).await? {
                ReadOutcome::Current(now) => {
                    ensure!(
                        Some(&now.version) != previous.as_ref(),
                        "after write {i} {r} read the version it already knew, as Current"
                    );
                    same_bytes(&now.data, &data)
                        .map_err(|e| format!("after write {i} {r} read: {e}"))?;
                }
                other => {
                    return Err(format!(
                        "after write {i} (by {w}) {r}, knowing the previous version, read {other:?}: the write was missed"
                    ));
                }
            }
            previous = Some(s.version);
        }
        Ok(Outcome::Passed)
    }

    async fn cross_instance(&self) -> Check<Outcome> {
        let p = self.primary();
        let first = self.put(&self.a, &p, br#"{"a":true}"#, None).await?;
        let mut seen = None;
        let r = {
            let mut add = add_name("b");
            let mut op = |current: Option<&Snapshot>| {
                seen = current.map(|s| s.data.to_vec());
                add(current)
            };
            self.modify(&self.b, &p, &mut op).await?
        };
        let second = match r {
            Ok(Some(s)) => s,
            other => return Err(format!("B's modify returned {other:?}")),
        };
        match &seen {
            Some(data) => same_bytes(data, br#"{"a":true}"#)
                .map_err(|e| format!("B's modify ran on other bytes than A's write: {e}"))?,
            None => return Err("B's modify ran on no partition, after A's write".to_owned()),
        }
        match self.read(&self.a, &p, Some(&first.version), false).await? {
            ReadOutcome::Current(s) => {
                let names = parse_names(Some(&s)).map_err(|e| e.to_string())?;
                ensure!(
                    names.contains_key("a") && names.contains_key("b"),
                    "A read {:?} after B's write",
                    names.keys().collect::<Vec<_>>(),
                );
                same_bytes(&s.data, &second.data)
                    .map_err(|e| format!("A read other bytes than B wrote: {e}"))?;
            }
            other => return Err(format!("A did not see B's write: {other:?}")),
        }
        Ok(Outcome::Passed)
    }

    async fn stale_version_refused(&self) -> Check<Outcome> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Ok(Outcome::Skipped("no Tokio runtime".to_owned()));
        };
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
            return Ok(Outcome::Skipped(
                "needs a multi-thread Tokio runtime (#[tokio::test(flavor = \"multi_thread\")])"
                    .to_owned(),
            ));
        }
        let p = self.primary();
        {
            let mut op = add_name("seed");
            match self.modify(&self.a, &p, &mut op).await? {
                Ok(Some(_)) => {}
                other => return Err(format!("the seed write returned {other:?}")),
            }
        }
        // B's write runs on a thread of its own while A's operation holds the bytes it was
        // given: a compare-and-set store must then refuse A's write and run A's operation on
        // B's bytes; a locking store makes B wait until A has written.
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut tx = Some(tx);
        let mut b_finished_first = false;
        let mut spawn_error = None;
        let mut runs: Vec<Check<BTreeMap<String, Value>>> = Vec::new();
        let r = {
            let mut add = add_name("a");
            let mut op = |current: Option<&Snapshot>| {
                runs.push(parse_names(current).map_err(|e| e.to_string()));
                if let Some(tx) = tx.take() {
                    let (store, p, handle, done_b) = (
                        Arc::clone(&self.b),
                        p.clone(),
                        handle.clone(),
                        Arc::clone(&done),
                    );
                    let spawned = std::thread::Builder::new()
                        .name("conformance-writer-b".to_owned())
                        .spawn(move || {
                            let r = handle.block_on(async {
                                let mut op = add_name("b");
                                store.modify(&p, &mut op).await
                            });
                            let (lock, cvar) = &*done_b;
                            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
                            cvar.notify_all();
                            let _ = tx.send(r);
                        });
                    match spawned {
                        Ok(_) => {
                            let (lock, cvar) = &*done;
                            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                            let (guard, _) = cvar
                                .wait_timeout_while(guard, self.options.interleave_wait, |d| !*d)
                                .unwrap_or_else(|e| e.into_inner());
                            b_finished_first = *guard;
                        }
                        Err(e) => spawn_error = Some(e.to_string()),
                    }
                }
                add(current)
            };
            self.modify(&self.a, &p, &mut op).await?
        };
        if let Some(e) = spawn_error {
            return Err(format!("could not start the second writer's thread: {e}"));
        }
        let a_written = match r {
            Ok(Some(s)) => s,
            other => return Err(format!("A's modify returned {other:?}")),
        };
        let b_result = within(self.options.call_timeout, "B's modify", rx)
            .await?
            .map_err(|_| "the second writer's thread ended without an answer".to_owned())?;
        let b_written = match b_result {
            Ok(Some(s)) => s,
            other => return Err(format!("B's modify returned {other:?}")),
        };
        let runs: Vec<_> = runs.into_iter().collect::<Check<_>>()?;
        if b_finished_first {
            // B wrote while A held older bytes: A's write must have been refused and its
            // operation run again on B's bytes.
            ensure!(
                runs.len() >= 2 && runs.last().is_some_and(|n| n.contains_key("b")),
                "B wrote while A's operation held the older bytes, and A's write based on them was accepted \
                 (A's operation ran {} time(s), never on B's bytes)",
                runs.len()
            );
        } else {
            // B waited (a locking store, or a slow one): B's write must build on A's.
            let b_names = parse_names(Some(&b_written)).map_err(|e| e.to_string())?;
            ensure!(
                b_names.contains_key("a"),
                "B's write, finished after A's, does not contain A's change"
            );
        }
        ensure!(
            a_written.version != b_written.version,
            "A and B's writes returned the same version {:?}",
            a_written.version
        );
        let last = self.current(&self.b, &p, true).await?;
        let names = parse_names(Some(&last)).map_err(|e| e.to_string())?;
        ensure!(
            ["seed", "a", "b"].iter().all(|n| names.contains_key(*n)),
            "an update was lost: the partition holds {:?}, not seed, a and b",
            names.keys().collect::<Vec<_>>()
        );
        Ok(Outcome::Passed)
    }

    async fn concurrent_writers(&self) -> Check<Outcome> {
        let p = self.primary();
        let mut tasks = Vec::new();
        for (who, store) in [("A", &self.a), ("B", &self.b)] {
            for w in 0..self.options.writers_per_instance {
                let store = Arc::clone(store);
                let p = p.clone();
                let options = self.options.clone();
                tasks.push(tokio::spawn(async move {
                    let mut versions = Vec::new();
                    for i in 0..options.writes_per_writer {
                        let name = format!("{who}{w}-{i}");
                        let mut last_error = String::new();
                        let mut written = None;
                        for attempt in 0..options.write_attempts {
                            let mut op = add_name(&name);
                            match within(options.call_timeout, "modify", store.modify(&p, &mut op))
                                .await?
                            {
                                Ok(Some(s)) => {
                                    written = Some(s);
                                    break;
                                }
                                Ok(None) => {
                                    return Err(format!("writing {name} returned no snapshot"));
                                }
                                Err(e) => last_error = format!("{e} ({:?})", e.kind()),
                            }
                            let pause = 5u64.saturating_mul(u64::from(attempt) + 1).min(100);
                            tokio::time::sleep(Duration::from_millis(pause)).await;
                        }
                        let Some(s) = written else {
                            return Err(format!(
                                "writing {name} failed {} times; the last error: {last_error}",
                                options.write_attempts
                            ));
                        };
                        let names = parse_names(Some(&s)).map_err(|e| e.to_string())?;
                        ensure!(
                            names.contains_key(&name),
                            "the snapshot modify returned for {name} does not contain it"
                        );
                        versions.push(s.version);
                    }
                    Ok(versions)
                }));
            }
        }
        let mut versions = HashSet::new();
        for task in tasks {
            let mine = match task.await {
                Ok(r) => r?,
                Err(e) if e.is_panic() => {
                    return Err(format!(
                        "a writer panicked: {}",
                        panic_message(&*e.into_panic())
                    ));
                }
                Err(e) => return Err(format!("a writer task failed: {e}")),
            };
            for v in mine {
                ensure!(
                    versions.insert(v.clone()),
                    "two writes returned the same version {v:?}"
                );
            }
        }
        for (who, store) in [("A", &self.a), ("B", &self.b)] {
            let last = self.current(store, &p, true).await?;
            let names = parse_names(Some(&last)).map_err(|e| e.to_string())?;
            let expected = self
                .options
                .writers_per_instance
                .saturating_mul(self.options.writes_per_writer)
                .saturating_mul(2);
            let lost: Vec<String> = ["A", "B"]
                .iter()
                .flat_map(|who| {
                    (0..self.options.writers_per_instance).flat_map(move |w| {
                        (0..self.options.writes_per_writer).map(move |i| format!("{who}{w}-{i}"))
                    })
                })
                .filter(|n| !names.contains_key(n))
                .collect();
            ensure!(
                lost.is_empty(),
                "{} of {expected} acknowledged writes are missing as {who} reads the partition (lost updates), e.g. {:?}",
                lost.len(),
                lost.iter().take(5).collect::<Vec<_>>()
            );
        }
        Ok(Outcome::Passed)
    }

    async fn partition_isolation(&self) -> Check<Outcome> {
        if !self.partitioned {
            return Ok(Outcome::Skipped(
                "the store keeps everything in one unit (is_partitioned() is false)".to_owned(),
            ));
        }
        let partitions = [
            PartitionKey::app("conformance-client", "tenant-one"),
            PartitionKey::app("conformance-client", "tenant-two"),
            // Differs only in case: a case-insensitive key column would merge them.
            PartitionKey::app("CONFORMANCE-CLIENT", "tenant-one"),
            PartitionKey::user("uid"),
            // The one before is a prefix of this one.
            PartitionKey::user("uid.utid"),
            PartitionKey::on_behalf_of("conformance-client", "assertion-hash"),
            // Separators, quotes, wildcards, a path, a hash tag.
            PartitionKey::app("conformance-client", "a/../b:{c}'\"%_*?\\ z"),
        ];
        let mut versions = Vec::new();
        for (i, p) in partitions.iter().enumerate() {
            let store = if i % 2 == 0 { &self.a } else { &self.b };
            let data = format!(r#"{{"partition":{i}}}"#).into_bytes();
            versions.push(self.put(store, p, &data, None).await?.version);
        }
        self.isolated(&partitions, &versions, "after writing each")
            .await?;
        let never = PartitionKey::user("uid.utid.other");
        let r = self.read(&self.a, &never, None, false).await?;
        ensure!(
            matches!(r, ReadOutcome::Missing),
            "{never:?}, never written, reads {r:?}"
        );
        // Rewriting the first one leaves the others as they were.
        let first = partitions
            .first()
            .cloned()
            .unwrap_or_else(PartitionKey::whole);
        let again = self
            .put(&self.a, &first, br#"{"partition":0}"#, None)
            .await?;
        if let Some(v) = versions.first_mut() {
            *v = again.version;
        }
        self.isolated(&partitions, &versions, "after rewriting the first")
            .await?;
        Ok(Outcome::Passed)
    }

    /// Each partition holds its own bytes, at the version it was last written with.
    async fn isolated(
        &self,
        partitions: &[PartitionKey],
        versions: &[Version],
        stage: &str,
    ) -> Check<()> {
        for (i, p) in partitions.iter().enumerate() {
            let s = self.current(&self.b, p, false).await?;
            let want = format!(r#"{{"partition":{i}}}"#).into_bytes();
            same_bytes(&s.data, &want)
                .map_err(|e| format!("{stage}, {p:?} holds another partition's bytes: {e}"))?;
            let at = versions.get(i);
            let r = self.read(&self.a, p, at, false).await?;
            ensure!(
                !matches!(&r, ReadOutcome::Current(s) if *s.data != want[..]),
                "{stage}, {p:?} changed version although only another partition was written"
            );
        }
        Ok(())
    }

    async fn large_document(&self) -> Check<Outcome> {
        let p = self.primary();
        let data = filler(self.options.large_document_bytes, 7);
        let written = self.put(&self.a, &p, &data, None).await?;
        same_bytes(&written.data, &data)
            .map_err(|e| format!("modify returned other bytes: {e}"))?;
        for consistent in [false, true] {
            let s = self.current(&self.b, &p, consistent).await?;
            same_bytes(&s.data, &data)
                .map_err(|e| format!("B read (consistent {consistent}): {e}"))?;
        }
        let mut seen = None;
        let mut op = |current: Option<&Snapshot>| {
            seen = current.map(|s| same_bytes(&s.data, &data));
            Ok(None)
        };
        self.modify(&self.b, &p, &mut op)
            .await?
            .map_err(|e| format!("modify failed: {e}"))?;
        match seen {
            Some(r) => r.map_err(|e| format!("the next modify saw: {e}"))?,
            None => return Err("the next modify saw no partition".to_owned()),
        }
        Ok(Outcome::Passed)
    }

    async fn clearing(&self) -> Check<Outcome> {
        let p = self.primary();
        let big = filler(256 * 1024, 3);
        let full = self.put(&self.a, &p, &big, None).await?;
        let mut saw_all = false;
        let mut op = |current: Option<&Snapshot>| {
            saw_all = current.is_some_and(|s| *s.data == big[..]);
            Ok(Some(Written {
                data: b"{}".to_vec(),
                expires_in: None,
            }))
        };
        let cleared = match self.modify(&self.b, &p, &mut op).await? {
            Ok(Some(s)) => s,
            other => return Err(format!("clearing returned {other:?}")),
        };
        ensure!(
            saw_all,
            "the clearing operation did not see the whole document"
        );
        same_bytes(&cleared.data, b"{}")
            .map_err(|e| format!("clearing returned other bytes: {e}"))?;
        for consistent in [false, true] {
            match self
                .read(&self.a, &p, Some(&full.version), consistent)
                .await?
            {
                ReadOutcome::Current(s) => {
                    same_bytes(&s.data, b"{}").map_err(|e| {
                        format!("after clearing, A read (consistent {consistent}): {e}")
                    })?;
                    ensure!(
                        s.version != full.version,
                        "after clearing A read the version of the document before"
                    );
                }
                other => {
                    return Err(format!(
                        "after clearing, A knowing the old version read {other:?}"
                    ));
                }
            }
        }
        Ok(Outcome::Passed)
    }

    async fn opaque_bytes(&self) -> Check<Outcome> {
        let p = self.primary();
        let before = self.put(&self.a, &p, br#"{"before":true}"#, None).await?;
        let data: &[u8] = b"\xff\xfe\x00not JSON {\"AccessToken\": \x80\xc3\x28\r\n\x00";
        let mut op = |_: Option<&Snapshot>| {
            Ok(Some(Written {
                data: data.to_vec(),
                expires_in: None,
            }))
        };
        match self.modify(&self.a, &p, &mut op).await? {
            Ok(Some(s)) => {
                same_bytes(&s.data, data).map_err(|e| format!("modify returned: {e}"))?;
                for consistent in [false, true] {
                    let got = self.current(&self.b, &p, consistent).await?;
                    same_bytes(&got.data, data)
                        .map_err(|e| format!("B read (consistent {consistent}): {e}"))?;
                }
                Ok(Outcome::Passed)
            }
            Ok(None) => Err("modify wrote bytes but returned no snapshot".to_owned()),
            Err(e) => {
                ensure!(
                    e.kind() == ErrorKind::Cache,
                    "the store refused non-JSON bytes with a {:?} error, not Cache: {e}",
                    e.kind()
                );
                let now = self.current(&self.b, &p, true).await?;
                ensure!(
                    now.version == before.version,
                    "the refused write changed the partition"
                );
                Ok(Outcome::Passed)
            }
        }
    }

    async fn foreign_data(&self) -> Check<Outcome> {
        let p = self.primary();
        let wrote = within(
            self.options.call_timeout,
            "Backing::write_foreign",
            self.backing.write_foreign(&p),
        )
        .await?
        .map_err(|e| format!("Backing::write_foreign failed: {e}"))?;
        if !wrote {
            return Ok(Outcome::Skipped(
                "the backing cannot write foreign data (Backing::write_foreign)".to_owned(),
            ));
        }
        let typed = |what: &str, e: &Error| -> Check<()> {
            ensure!(
                e.kind() == ErrorKind::Cache,
                "{what} over foreign data failed with a {:?} error, not Cache: {e}",
                e.kind()
            );
            Ok(())
        };
        for consistent in [false, true] {
            let r = within(
                self.options.call_timeout,
                "read",
                self.a.read(&p, None, consistent),
            )
            .await?;
            if let Err(e) = r {
                typed("a read", &e)?;
            }
        }
        let mut op = add_name("after");
        match self.modify(&self.b, &p, &mut op).await? {
            Err(e) => {
                // The operation itself refuses bytes that are not its JSON: a Cache error too.
                typed("modify", &e)?;
            }
            Ok(None) => return Err("modify over foreign data returned no snapshot".to_owned()),
            Ok(Some(s)) => {
                let now = self.current(&self.a, &p, true).await?;
                ensure!(
                    now.version == s.version,
                    "after modify replaced foreign data, A read version {:?}, modify returned {:?}",
                    now.version,
                    s.version
                );
                same_bytes(&now.data, &s.data)
                    .map_err(|e| format!("after modify replaced foreign data: {e}"))?;
            }
        }
        Ok(Outcome::Passed)
    }

    async fn debug_hides_data(&self) -> Check<Outcome> {
        let p = self.primary();
        let marker = "conformance-secret-4f1c9e";
        let data = format!(r#"{{"RefreshToken":{{"x":{{"secret":"{marker}"}}}}}}"#);
        self.put(&self.a, &p, data.as_bytes(), None).await?;
        // Let each instance hold the bytes, as a cache would.
        self.current(&self.a, &p, false).await?;
        self.current(&self.b, &p, true).await?;
        for (who, store) in [("A", &self.a), ("B", &self.b)] {
            for shown in [format!("{store:?}"), format!("{store:#?}")] {
                ensure!(
                    !shown.contains(marker),
                    "{who}'s Debug output shows stored bytes"
                );
            }
        }
        Ok(Outcome::Passed)
    }
}

#[cfg(test)]
mod tests;
