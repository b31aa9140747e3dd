//! How the cache's store is doing, observable without a `tracing` subscriber:
//! [`TokenCache::store_health`](super::TokenCache::store_health).
//!
//! A failing store never fails an acquisition: a read failure serves what memory holds, a
//! write failure keeps the change in memory as *unsaved* and retries it with the partition's
//! next write (or [`TokenCache::sync`](super::TokenCache::sync)). MSAL Python raises when its
//! cache cannot be written (msal_extensions' `PersistedTokenCache.modify`); msal-rs instead
//! keeps the token it already obtained, so that a daemon whose disk is full keeps serving its
//! cached token rather than asking the identity provider on every call, and reports the
//! failure here and from `sync()`.

use std::time::SystemTime;

use crate::error::{Error, ErrorKind};

/// A snapshot of the store's health.
#[derive(Debug, Clone, Default)]
pub struct StoreHealth {
    pub(crate) last_failure: Option<StoreFailure>,
    pub(crate) consecutive_failures: u64,
    pub(crate) total_failures: u64,
    pub(crate) unsaved_changes: usize,
}

impl StoreHealth {
    /// True when the last store call succeeded and nothing waits to be saved (always true
    /// for an in-memory cache).
    pub fn is_healthy(&self) -> bool {
        self.consecutive_failures == 0 && self.unsaved_changes == 0
    }

    /// The most recent failure, kept until a store call succeeds.
    pub fn last_failure(&self) -> Option<&StoreFailure> {
        self.last_failure.as_ref()
    }

    /// Store calls that failed in a row (0 after a success).
    pub fn consecutive_failures(&self) -> u64 {
        self.consecutive_failures
    }

    /// Store calls that failed since the cache was created.
    pub fn total_failures(&self) -> u64 {
        self.total_failures
    }

    /// Changes held in memory only because writing them failed; they are written with the
    /// partition's next successful write.
    pub fn unsaved_changes(&self) -> usize {
        self.unsaved_changes
    }
}

/// One store failure: what failed and when.
#[derive(Debug, Clone)]
pub struct StoreFailure {
    pub(crate) at: SystemTime,
    pub(crate) writing: bool,
    pub(crate) error: Error,
}

impl StoreFailure {
    /// When it happened.
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// True for a failed write, false for a failed read.
    pub fn was_write(&self) -> bool {
        self.writing
    }

    /// The error the store returned.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }
}

/// The counters behind [`StoreHealth`].
#[derive(Debug, Default)]
pub(crate) struct HealthState {
    last_failure: Option<StoreFailure>,
    consecutive_failures: u64,
    total_failures: u64,
}

impl HealthState {
    pub(crate) fn failed(&mut self, error: &Error, writing: bool) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.total_failures = self.total_failures.saturating_add(1);
        self.last_failure = Some(StoreFailure {
            at: SystemTime::now(),
            writing,
            error: error.clone(),
        });
    }

    pub(crate) fn succeeded(&mut self) {
        self.consecutive_failures = 0;
        self.last_failure = None;
    }

    pub(crate) fn snapshot(&self, unsaved_changes: usize) -> StoreHealth {
        StoreHealth {
            last_failure: self.last_failure.clone(),
            consecutive_failures: self.consecutive_failures,
            total_failures: self.total_failures,
            unsaved_changes,
        }
    }
}
