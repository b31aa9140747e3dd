//! The clock every time decision goes through: token expiry and `refresh_on`, assertion
//! reuse, discovery cache age, throttling windows and polling intervals.
//!
//! Applications use [`SystemClock`] (the default). Tests replace it with a [`ManualClock`]
//! through the app builders' `dangerous()` options, so no test sleeps for a protocol timer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A boxed `Send` future, as returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time and of sleeps measured on that time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// The operating system's clock and tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to: [`ManualClock::advance`] or [`ManualClock::set`].
/// Sleeps complete as soon as the clock is moved past their deadline.
///
/// ```
/// use std::time::Duration;
/// use msal_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(1_700_000_000);
/// let before = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now().duration_since(before).unwrap(), Duration::from_secs(3600));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<SystemTime>>,
}

impl ManualClock {
    /// A manual clock starting at the current system time.
    pub fn new() -> ManualClock {
        ManualClock::starting_at(SystemTime::now())
    }

    /// A manual clock starting at `start`.
    pub fn starting_at(start: SystemTime) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    /// A manual clock starting at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> ManualClock {
        ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves the clock forward by `by`, waking the sleeps that are due.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|t| *t += by);
    }

    /// Sets the clock to `to` (which may be earlier than now).
    pub fn set(&self, to: SystemTime) {
        self.now.send_replace(to);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("unix", &unix_seconds(*self.now.borrow()))
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.borrow()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        let mut rx = self.now.subscribe();
        // A deadline past what `SystemTime` holds is never reached: the sleep never ends.
        let deadline = rx.borrow().checked_add(duration);
        Box::pin(async move {
            loop {
                let now = *rx.borrow_and_update();
                if deadline.is_some_and(|d| now >= d) {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone: nobody can move time any more, so this sleep never ends.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_completes_only_when_advanced() {
        let clock = ManualClock::at_unix(1000);
        let mut sleep = clock.sleep(Duration::from_secs(10));
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_secs(9));
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        clock.advance(Duration::from_secs(1));
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        assert_eq!(unix_seconds(clock.now()), 1010);
    }
}
