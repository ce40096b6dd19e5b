//! Backing off a throttled KMS, as botocore's standard mode does: exponential backoff with
//! full jitter ([`backoff`]: a wait uniformly random up to `base * 2^(attempt-1)`, capped at
//! 20 s). [`Remote`](super::Remote) uses it between its attempts; [`Retrying`] is the
//! [`Client`] kmsfs's own services get, which retries a `ThrottlingException` (a request
//! quota, `quota.rs`) from whatever client it wraps.

use super::client::Client;
use super::error::KmsError;
use super::ops::for_each_operation;
use super::types::*;
use std::sync::Arc;
use std::time::Duration;

/// No wait is longer than this (botocore's cap).
pub(super) const BACKOFF_CAP: Duration = Duration::from_secs(20);
/// The first retry of a service waits up to this long; each further one up to twice as
/// long (botocore's base).
const SERVICE_BASE: Duration = Duration::from_millis(100);
/// Attempts a service makes before a throttled request fails: more than botocore's 3, as
/// AWS's own services keep trying when a customer's quota throttles them.
pub const SERVICE_ATTEMPTS: u32 = 12;

/// The wait before retry number `attempt` (1, 2, ...): full jitter, uniformly random in
/// `0 ..= min(cap, base * 2^(attempt-1))`.
pub(super) fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let mut r = [0u8; 8];
    if crate::crypto::fill_random(&mut r).is_err() {
        return ceiling / 2;
    }
    let f = (u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(f)
}

/// A [`Client`] that retries throttled requests of the client it wraps, with backoff.
pub struct Retrying {
    inner: Arc<dyn Client>,
    max_attempts: u32,
    base: Duration,
}

impl Retrying {
    /// `inner`, its throttled requests tried up to [`SERVICE_ATTEMPTS`] times.
    pub fn new(inner: Arc<dyn Client>) -> Retrying {
        Retrying {
            inner,
            max_attempts: SERVICE_ATTEMPTS,
            base: SERVICE_BASE,
        }
    }

    /// Try at most `max_attempts` times, the first retry after up to `base`.
    pub fn with_attempts(mut self, max_attempts: u32, base: Duration) -> Retrying {
        self.max_attempts = max_attempts.max(1);
        self.base = base;
        self
    }

    /// Run `f` until it is not throttled or the attempts are used up.
    fn retry<T>(&self, f: impl Fn() -> Result<T, KmsError>) -> Result<T, KmsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f() {
                Err(KmsError::Throttling(_)) if attempt < self.max_attempts => {
                    std::thread::sleep(backoff(self.base, attempt));
                }
                r => return r,
            }
        }
    }
}

/// [`Client`] for [`Retrying`], from the one list of operations ([`for_each_operation!`]).
macro_rules! retrying_client {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        impl Client for Retrying {
            $(fn $name(&self, r: $req) -> Result<$out, KmsError> {
                self.retry(|| self.inner.$name(r.clone()))
            })*

            fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
                self.retry(|| self.inner.delete_alias(alias_name))
            }
        }
    };
}
for_each_operation!(retrying_client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_the_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let ceiling = base * (1 << (attempt - 1));
            for _ in 0..50 {
                assert!(backoff(base, attempt) <= ceiling);
            }
        }
        assert!(backoff(base, 40) <= BACKOFF_CAP);
    }
}
