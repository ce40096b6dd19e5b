//! Time for the KMS: the system clock, a manual clock tests can move, and an offset read
//! from `KMSFS_CLOCK_OFFSET_SECS` so that process-level tests can move time too.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use crate::timefmt::Millis;

/// One day in milliseconds.
pub const DAY_MS: Millis = 86_400_000;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> Millis;
}

/// The system clock, plus a fixed offset (from `KMSFS_CLOCK_OFFSET_SECS` when built with
/// [`SystemClock::from_env`]).
#[derive(Debug, Default, Clone)]
pub struct SystemClock {
    offset_ms: Millis,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock { offset_ms: 0 }
    }

    /// The system clock moved by `KMSFS_CLOCK_OFFSET_SECS` seconds (a testing hook; it only
    /// moves the KMS's idea of time, e.g. to reach the end of a deletion window).
    pub fn from_env() -> SystemClock {
        let offset_ms = std::env::var("KMSFS_CLOCK_OFFSET_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(0);
        SystemClock { offset_ms }
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_millis() as i64 + self.offset_ms
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start_ms: Millis) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn advance_ms(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn advance_days(&self, days: i64) {
        self.advance_ms(days * DAY_MS);
    }

    pub fn set_ms(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}
