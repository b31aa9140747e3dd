//! The kit against an in-memory store, correct and with one fault at a time: each fault must
//! fail the clause it breaks (and the correct store must pass everything), or the kit proves
//! nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{Backing, Clause, Options, Outcome, Report, run};
use crate::cache::store::{
    CacheStore, Modify, PartitionKey, ReadOutcome, Snapshot, Version, Written,
};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Compare-and-set: the operation runs without the lock, the write checks the version.
    None,
    /// The operation runs under the lock (a locking store).
    Locking,
    /// Writes without checking the version the operation saw.
    BlindWrite,
    /// Lower-cases partition keys, as a case-insensitive key column would.
    CaseInsensitiveKeys,
    /// Answers `Unchanged` whenever a version is known.
    AlwaysUnchanged,
    /// Versions are the length of the contents.
    LengthVersions,
    /// `Ok(None)` writes the current bytes again (a new version).
    WritesOnNone,
    /// Panics reading bytes that are not UTF-8.
    PanicsOnBinary,
    /// A consistent read never returns.
    HangsOnConsistentRead,
    /// `Debug` prints the partitions' bytes.
    LeakyDebug,
    /// Keeps only the first 1 MiB of a document.
    Truncates,
}

type Rows = Arc<Mutex<HashMap<String, (Arc<[u8]>, u64)>>>;

/// Versions unique across every partition and backing.
static COUNTER: AtomicU64 = AtomicU64::new(1);

struct MemStore {
    rows: Rows,
    fault: Fault,
}

impl fmt::Debug for MemStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if self.fault == Fault::LeakyDebug {
            let all: Vec<String> = rows
                .values()
                .map(|(d, _)| String::from_utf8_lossy(d).into_owned())
                .collect();
            return write!(f, "MemStore({all:?})");
        }
        write!(f, "MemStore({} partitions)", rows.len())
    }
}

impl MemStore {
    fn key(&self, p: &PartitionKey) -> String {
        if self.fault == Fault::CaseInsensitiveKeys {
            p.as_str().to_lowercase()
        } else {
            p.as_str().to_owned()
        }
    }

    fn current(&self, key: &str) -> Option<Snapshot> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(key).map(|(d, v)| Snapshot {
            data: Arc::clone(d),
            version: Version::new(v.to_be_bytes()),
        })
    }

    fn next_version(&self, data: &[u8]) -> u64 {
        if self.fault == Fault::LengthVersions {
            data.len() as u64
        } else {
            COUNTER.fetch_add(1, Ordering::Relaxed)
        }
    }

    fn store(&self, key: &str, mut data: Vec<u8>) -> Snapshot {
        if self.fault == Fault::Truncates {
            data.truncate(1024 * 1024);
        }
        let v = self.next_version(&data);
        let data: Arc<[u8]> = data.into();
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.insert(key.to_owned(), (Arc::clone(&data), v));
        Snapshot {
            data,
            version: Version::new(v.to_be_bytes()),
        }
    }
}

#[async_trait]
impl CacheStore for MemStore {
    async fn read(
        &self,
        partition: &PartitionKey,
        known: Option<&Version>,
        consistent: bool,
    ) -> Result<ReadOutcome> {
        if consistent && self.fault == Fault::HangsOnConsistentRead {
            std::future::pending::<()>().await;
        }
        let Some(s) = self.current(&self.key(partition)) else {
            return Ok(ReadOutcome::Missing);
        };
        if self.fault == Fault::PanicsOnBinary {
            #[allow(clippy::unwrap_used)]
            std::str::from_utf8(&s.data).unwrap();
        }
        if known == Some(&s.version) || (known.is_some() && self.fault == Fault::AlwaysUnchanged) {
            return Ok(ReadOutcome::Unchanged);
        }
        Ok(ReadOutcome::Current(s))
    }

    async fn modify(
        &self,
        partition: &PartitionKey,
        modify: &mut Modify<'_>,
    ) -> Result<Option<Snapshot>> {
        let key = self.key(partition);
        if self.fault == Fault::Locking {
            // The lock held across the operation: the whole read-modify-write is exclusive.
            let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            let current = rows.get(&key).map(|(d, v)| Snapshot {
                data: Arc::clone(d),
                version: Version::new(v.to_be_bytes()),
            });
            return match modify(current.as_ref())? {
                None => Ok(current),
                Some(w) => {
                    let v = COUNTER.fetch_add(1, Ordering::Relaxed);
                    let data: Arc<[u8]> = w.data.into();
                    rows.insert(key, (Arc::clone(&data), v));
                    Ok(Some(Snapshot {
                        data,
                        version: Version::new(v.to_be_bytes()),
                    }))
                }
            };
        }
        for _ in 0..1000 {
            let current = self.current(&key);
            let written = modify(current.as_ref())?;
            // Let other writers in between the read and the write.
            tokio::task::yield_now().await;
            let Some(Written { data, .. }) = written else {
                if self.fault == Fault::WritesOnNone
                    && let Some(c) = &current
                {
                    return Ok(Some(self.store(&key, c.data.to_vec())));
                }
                return Ok(current);
            };
            if self.fault == Fault::BlindWrite {
                return Ok(Some(self.store(&key, data)));
            }
            // The compare-and-set: written only when still at the version the operation saw.
            if let Some(s) = self.store_if(&key, current.as_ref(), data) {
                return Ok(Some(s));
            }
        }
        Err(Error::new(ErrorKind::Cache, "too many conflicts"))
    }

    fn is_partitioned(&self) -> bool {
        true
    }
}

impl MemStore {
    /// Writes when the partition is still at `expected`'s version.
    fn store_if(&self, key: &str, expected: Option<&Snapshot>, data: Vec<u8>) -> Option<Snapshot> {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let now = rows.get(key).map(|(_, v)| Version::new(v.to_be_bytes()));
        if now.as_ref() != expected.map(|s| &s.version) {
            return None;
        }
        let mut data = data;
        if self.fault == Fault::Truncates {
            data.truncate(1024 * 1024);
        }
        let v = self.next_version(&data);
        let data: Arc<[u8]> = data.into();
        rows.insert(key.to_owned(), (Arc::clone(&data), v));
        Some(Snapshot {
            data,
            version: Version::new(v.to_be_bytes()),
        })
    }
}

struct MemBacking {
    rows: Rows,
    fault: Fault,
}

#[async_trait]
impl Backing for MemBacking {
    type Store = MemStore;

    async fn open(&self) -> Result<MemStore> {
        Ok(MemStore {
            rows: Arc::clone(&self.rows),
            fault: self.fault,
        })
    }

    async fn write_foreign(&self, partition: &PartitionKey) -> Result<bool> {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.insert(
            partition.as_str().to_owned(),
            (Arc::from(&b"\x00\xffforeign"[..]), u64::MAX),
        );
        Ok(true)
    }
}

async fn report(fault: Fault) -> Report {
    let options = Options::default()
        .call_timeout(Duration::from_millis(500))
        .large_document_bytes(2 * 1024 * 1024)
        .interleave_wait(Duration::from_millis(500));
    run(
        || async {
            Ok(MemBacking {
                rows: Rows::default(),
                fault,
            })
        },
        &options,
    )
    .await
}

fn failed(report: &Report, clause: Clause) -> String {
    match report.outcome(clause) {
        Some(Outcome::Failed(why)) => why.clone(),
        other => panic!("{clause} did not fail: {other:?}\n{report}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_compare_and_set_store_passes_every_clause() {
    let report = report(Fault::None).await;
    report.assert_passed();
    for (clause, outcome) in report.checks() {
        assert_eq!(*outcome, Outcome::Passed, "{clause}");
    }
    assert!(report.to_string().contains("conforms"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_locking_store_passes_every_clause() {
    let report = report(Fault::Locking).await;
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_write_loses_updates() {
    let report = report(Fault::BlindWrite).await;
    let why = failed(&report, Clause::StaleVersionRefused);
    assert!(why.contains("was accepted"), "{why}");
    let why = failed(&report, Clause::ConcurrentWriters);
    assert!(why.contains("lost updates"), "{why}");
    assert_eq!(report.outcome(Clause::RoundTrip), Some(&Outcome::Passed));
    // The panic message names the clause.
    let panic = std::panic::catch_unwind(|| report.assert_passed()).expect_err("it failed");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("FAILED   StaleVersionRefused"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_keys_merge_partitions() {
    let why = failed(
        &report(Fault::CaseInsensitiveKeys).await,
        Clause::PartitionIsolation,
    );
    assert!(why.contains("another partition's bytes"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_for_any_known_version_misses_writes() {
    let report = report(Fault::AlwaysUnchanged).await;
    let why = failed(&report, Clause::RoundTrip);
    assert!(why.contains("never stored"), "{why}");
    let why = failed(&report, Clause::NewVersionEveryWrite);
    assert!(why.contains("the write was missed"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_the_contents_repeat() {
    let why = failed(
        &report(Fault::LengthVersions).await,
        Clause::NewVersionEveryWrite,
    );
    assert!(why.contains("which an earlier write had"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_on_nothing_to_write_is_caught() {
    let why = failed(&report(Fault::WritesOnNone).await, Clause::NothingToWrite);
    assert!(why.contains("not the current"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_store_is_reported_not_propagated() {
    let report = report(Fault::PanicsOnBinary).await;
    let why = failed(&report, Clause::OpaqueBytes);
    assert!(why.starts_with("panicked"), "{why}");
    let why = failed(&report, Clause::ForeignData);
    assert!(why.starts_with("panicked"), "{why}");
    assert_eq!(report.outcome(Clause::RoundTrip), Some(&Outcome::Passed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_call_fails_within_the_call_timeout() {
    let why = failed(
        &report(Fault::HangsOnConsistentRead).await,
        Clause::EmptyRead,
    );
    assert!(why.contains("did not return within 500 ms"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debug_showing_data_is_caught() {
    let why = failed(&report(Fault::LeakyDebug).await, Clause::DebugHidesData);
    assert!(why.contains("Debug output shows stored bytes"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_large_document_is_caught() {
    let report = report(Fault::Truncates).await;
    let why = failed(&report, Clause::LargeDocument);
    assert!(why.contains("first difference at byte 1048576"), "{why}");
    assert_eq!(report.outcome(Clause::Clearing), Some(&Outcome::Passed));
}

#[tokio::test(flavor = "current_thread")]
async fn the_stale_version_check_is_skipped_on_a_current_thread_runtime() {
    let report = report(Fault::None).await;
    assert!(
        matches!(
            report.outcome(Clause::StaleVersionRefused),
            Some(Outcome::Skipped(why)) if why.contains("multi-thread")
        ),
        "{report}"
    );
    report.assert_passed();
}
