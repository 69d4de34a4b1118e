//! The clock at the edge: [`Clock`] is what the service layer and adapters ask for "now",
//! [`SystemClock`] is the one place that reads the system time, and [`FixedClock`] lets tests
//! set and advance time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A source of the current time. Everything below the edge takes `now` as a parameter; the
/// service layer asks its clock once per operation.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock; everything else gets time from a Clock"
    )]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<SystemTime>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: SystemTime) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Sets the time.
    pub fn set(&self, now: SystemTime) {
        // A poisoned lock only means a test panicked while holding it; the time is still valid.
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clock = FixedClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), t0 + Duration::from_secs(90));
        clock.set(t0);
        assert_eq!(clock.now(), t0);
        assert!(SystemClock.now() > t0 - Duration::from_secs(10 * 365 * 86_400));
    }
}
