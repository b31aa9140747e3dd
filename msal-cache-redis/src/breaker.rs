//! A small circuit breaker: after `threshold` consecutive failures it opens for `open_for`,
//! during which calls fail at once without touching Redis; then one probe call is let through
//! (half-open): its success closes the breaker, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// The state of the circuit breaker, from [`RedisCache::breaker_state`](crate::RedisCache::breaker_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go to Redis.
    Closed,
    /// Calls fail at once.
    Open,
    /// The open period is over: the next call probes Redis.
    HalfOpen,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

/// Permission to make one call; records its outcome. Dropped without an outcome (the caller
/// gave up on the call), it only releases the probe slot.
#[derive(Debug)]
pub(crate) struct Admission<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few plain fields, always consistent: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `None` when the breaker is open (or half-open with a probe already in flight).
    pub(crate) fn admit(&self) -> Option<Admission<'_>> {
        let mut s = self.lock();
        let probe = match s.open_until {
            None => false,
            Some(until) => {
                if Instant::now() < until || s.probing {
                    return None;
                }
                s.probing = true;
                true
            }
        };
        Some(Admission {
            breaker: self,
            probe,
            done: false,
        })
    }

    pub(crate) fn state(&self) -> BreakerState {
        let s = self.lock();
        match s.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until || s.probing => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }
}

impl Admission<'_> {
    /// Whether this call is the half-open breaker's probe.
    pub(crate) fn is_probe(&self) -> bool {
        self.probe
    }

    /// Redis answered (whatever it answered).
    pub(crate) fn success(mut self) {
        self.done = true;
        let mut s = self.breaker.lock();
        if s.open_until.is_some() {
            tracing::info!("redis circuit breaker closed");
        }
        *s = State::default();
    }

    /// Redis did not answer in time, or the connection failed.
    pub(crate) fn failure(mut self) {
        self.done = true;
        let b = self.breaker;
        let mut s = b.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if self.probe {
            s.probing = false;
            s.open_until = Some(Instant::now() + b.open_for);
            tracing::warn!(
                open_for_ms = b.open_for.as_millis() as u64,
                "redis probe failed; circuit breaker open again"
            );
        } else if s.open_until.is_none() && s.consecutive_failures >= b.threshold {
            s.open_until = Some(Instant::now() + b.open_for);
            tracing::warn!(
                failures = s.consecutive_failures,
                open_for_ms = b.open_for.as_millis() as u64,
                "redis circuit breaker open"
            );
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe && !self.done {
            self.breaker.lock().probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let b = Breaker::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            b.admit().expect("closed").failure();
            assert_eq!(b.state(), BreakerState::Closed);
        }
        b.admit().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.admit().is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.admit().expect("half-open lets one probe through");
        assert!(b.admit().is_none(), "only one probe at a time");
        probe.failure();
        assert!(b.admit().is_none(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(60));
        b.admit().expect("probe").success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.admit().is_some());
    }

    #[test]
    fn success_resets_the_count_and_an_abandoned_probe_frees_its_slot() {
        let b = Breaker::new(2, Duration::from_millis(20));
        b.admit().expect("closed").failure();
        b.admit().expect("closed").success();
        b.admit().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().expect("closed").failure();
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(30));
        drop(b.admit().expect("probe"));
        assert!(b.admit().is_some(), "the abandoned probe released its slot");
    }
}
