//! The clock, injectable so that tests can move time (key deletion windows, session expiry,
//! SigV4 skew) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(t.millis())))
    }

    /// Moves the clock forward (or backward, with a negative value).
    pub fn advance_millis(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_secs(100));
        let c2 = c.clone();
        assert_eq!(c.now(), Timestamp::from_secs(100));
        c2.advance_millis(1500);
        assert_eq!(c.now(), Timestamp::from_millis(101_500));
        c.set(Timestamp::from_secs(5));
        assert_eq!(c2.now(), Timestamp::from_secs(5));
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.now() > Timestamp::from_secs(1_704_067_200));
    }
}
