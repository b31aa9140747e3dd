//! Single flight: concurrent acquisitions of the same token (same app, authority, tenant,
//! scopes, claims and options) make one request and share its result, success or error.
//!
//! The request runs as a shared future owned by the flight, not by the caller that started
//! it: every caller awaits a clone, so the first caller can be cancelled without stranding the
//! others (whoever polls drives it). Nothing runs in the background: with no caller left the
//! request is dropped. Requests for different keys never wait for each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::error::Result;
use crate::result::AuthenticationResult;

/// A request in flight, as every caller awaits it.
pub(crate) type Flight = Shared<BoxFuture<'static, Result<AuthenticationResult>>>;

/// The flights of one app.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, (u64, Flight)>>,
    next: AtomicU64,
}

impl std::fmt::Debug for Flights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Flights").field("in_flight", &n).finish()
    }
}

impl Flights {
    /// True when a request for `key` is in flight.
    pub(crate) fn is_in_flight(&self, key: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// The flight for `key`: the one in the air, or a new one running `start(id)`. The started
    /// future must call [`land`](Self::land) with `key` and `id` when it completes.
    pub(crate) fn join(
        &self,
        key: &str,
        start: impl FnOnce(u64) -> BoxFuture<'static, Result<AuthenticationResult>>,
    ) -> Flight {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, f)) = map.get(key) {
            return f.clone();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let flight = start(id).shared();
        map.insert(key.to_owned(), (id, flight.clone()));
        flight
    }

    /// The flight `id` for `key` is over: later callers start a new one.
    pub(crate) fn land(&self, key: &str, id: u64) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(key).is_some_and(|(i, _)| *i == id) {
            map.remove(key);
        }
    }
}
