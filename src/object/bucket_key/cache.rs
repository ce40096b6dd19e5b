//! The bucket-key cache: plaintext bucket keys in process memory (zeroized when dropped),
//! each used for a bounded time. Writers share one current key per (bucket, KMS key as
//! requested), so KMS is asked for a new one about once per period, not once per object;
//! readers keep the keys they decrypted, by id, for the same period. It holds no files.

use crate::crypto::SecretKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bucket key as a writer uses it.
#[derive(Clone)]
pub(crate) struct BucketKey {
    /// First 16 bytes of the SHA-256 of its KMS blob.
    pub(crate) id: [u8; 16],
    /// The ARN of the KMS key that made it.
    pub(crate) kms_key_arn: String,
    pub(crate) key: SecretKey,
}

impl std::fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BucketKey {{ id: {}, kms_key_arn: {}, key: <redacted> }}",
            crate::crypto::hex(&self.id),
            self.kms_key_arn
        )
    }
}

struct Timed<T> {
    value: T,
    expires: Instant,
}

/// Bucket keys in memory, each valid for `ttl` from when KMS produced or decrypted it.
pub(crate) struct BucketKeyCache {
    ttl: Duration,
    writers: Mutex<HashMap<(String, String), Timed<BucketKey>>>,
    readers: Mutex<HashMap<[u8; 16], Timed<SecretKey>>>,
}

impl std::fmt::Debug for BucketKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BucketKeyCache {{ ttl: {:?} }}", self.ttl)
    }
}

impl BucketKeyCache {
    pub(crate) fn new(ttl: Duration) -> BucketKeyCache {
        BucketKeyCache {
            ttl,
            writers: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// The current key of `bucket` under `kms_key_id` (as the request names it), or one from
    /// `make` (with how long it stays current, at most the cache's period) if there is none
    /// or it expired. `make` runs under the cache's lock, so concurrent writers ask once.
    pub(crate) fn current<E>(
        &self,
        bucket: &str,
        kms_key_id: &str,
        make: impl FnOnce() -> Result<(BucketKey, Duration), E>,
    ) -> Result<BucketKey, E> {
        let mut w = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        w.retain(|_, t| t.expires > now);
        let k = (bucket.to_string(), kms_key_id.to_string());
        if let Some(t) = w.get(&k) {
            return Ok(t.value.clone());
        }
        let (made, left) = make()?;
        self.insert_for_read(made.id, made.key.clone());
        w.insert(
            k,
            Timed {
                value: made.clone(),
                expires: now + left.min(self.ttl),
            },
        );
        Ok(made)
    }

    /// A bucket key decrypted earlier, if it has not expired.
    pub(crate) fn get_for_read(&self, id: &[u8; 16]) -> Option<SecretKey> {
        let r = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        r.get(id)
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone())
    }

    pub(crate) fn insert_for_read(&self, id: [u8; 16], key: SecretKey) {
        let mut r = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        r.retain(|_, t| t.expires > now);
        r.insert(
            id,
            Timed {
                value: key,
                expires: now + self.ttl,
            },
        );
    }

    /// Forget every key (they are zeroized as they drop).
    pub(crate) fn clear(&self) {
        self.writers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> BucketKey {
        BucketKey {
            id: [n; 16],
            kms_key_arn: "arn".into(),
            key: SecretKey::from_bytes([n; 32]),
        }
    }

    #[test]
    fn reuses_until_expiry() {
        let c = BucketKeyCache::new(Duration::from_millis(200));
        let mut calls = 0;
        for _ in 0..10 {
            let k = c
                .current::<()>("b", "k", || {
                    calls += 1;
                    Ok((key(1), Duration::MAX))
                })
                .unwrap();
            assert_eq!(k.id, [1; 16]);
        }
        assert_eq!(calls, 1);
        assert!(c.get_for_read(&[1; 16]).is_some());
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get_for_read(&[1; 16]).is_none());
        c.current::<()>("b", "k", || {
            calls += 1;
            Ok((key(2), Duration::MAX))
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert!(format!("{:?}", key(3)).contains("redacted"));
    }
}
