//! The bucket-key cache: plaintext bucket keys in process memory (zeroized when dropped),
//! each used for a bounded time. Writers share one current key per (bucket, KMS key as
//! requested), so KMS is asked for a new one about once per period, not once per object;
//! readers keep the keys they decrypted, by id, for the same period.
//!
//! The cache holds no files: [`ObjectService::bucket_key_for_write`] stores each bucket
//! key's KMS blob in `buckets/<b>/bucket-keys/<hex id>` before the key wraps anything, and
//! [`ObjectService::bucket_key_for_read`] has KMS decrypt a blob the cache does not hold.

use super::ObjectError;
use super::bucket::BucketPaths;
use super::format;
use super::service::{ObjectService, io_or};
use crate::crypto::{SecretKey, hex, sha256};
use crate::fsutil;
use crate::kms::EncryptionContext;
use crate::kms::types::b64;
use crate::timefmt::now_ms;
use serde::{Deserialize, Serialize};
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

    /// The current key of `bucket` under `kms_key_id` (as the request names it), or a new
    /// one from `make` if there is none or it expired. `make` runs under the cache's lock,
    /// so concurrent writers ask KMS once.
    pub(crate) fn current<E>(
        &self,
        bucket: &str,
        kms_key_id: &str,
        make: impl FnOnce() -> Result<BucketKey, E>,
    ) -> Result<BucketKey, E> {
        let mut w = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        w.retain(|_, t| t.expires > now);
        let k = (bucket.to_string(), kms_key_id.to_string());
        if let Some(t) = w.get(&k) {
            return Ok(t.value.clone());
        }
        let made = make()?;
        self.insert_for_read(made.id, made.key.clone());
        w.insert(
            k,
            Timed {
                value: made.clone(),
                expires: now + self.ttl,
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

/// The bucket-key file: which KMS key made it and its blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BucketKeyFile {
    kms_key_arn: String,
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    created_ms: i64,
}

/// A bucket key's id: the first 16 bytes of the SHA-256 of its KMS blob.
fn bucket_key_id(blob: &[u8]) -> [u8; 16] {
    sha256(blob)[..16].try_into().expect("16 bytes")
}

impl ObjectService {
    /// The encryption context of a bucket's keys: `{"aws:s3:arn": "arn:aws:s3:::bucket"}`.
    fn bucket_context(&self, bucket: &str) -> EncryptionContext {
        [(
            format::ARN_CONTEXT_KEY.to_string(),
            format::s3_arn(&self.partition, bucket, None),
        )]
        .into()
    }

    /// The current bucket key of `bucket` under `kms_key_id`: cached, or a new one from KMS
    /// whose blob is stored in `bucket-keys/` before it is used.
    pub(crate) fn bucket_key_for_write(
        &self,
        p: &BucketPaths,
        bucket: &str,
        kms_key_id: &str,
    ) -> Result<BucketKey, ObjectError> {
        self.cache.current(bucket, kms_key_id, || {
            let what = format!("the bucket key of {bucket}");
            let ctx = self.bucket_context(bucket);
            let (key, arn, blob) = self.generate_key(kms_key_id, ctx, what, "a bucket key")?;
            let id = bucket_key_id(&blob);
            let file = BucketKeyFile {
                kms_key_arn: arn.clone(),
                ciphertext_blob: blob,
                created_ms: now_ms(),
            };
            let dir = p.bucket_keys();
            fsutil::create_dir_durable(&dir, 0o700).map_err(|e| ObjectError::io(&dir, e))?;
            let path = dir.join(hex(&id));
            let json = serde_json::to_vec_pretty(&file).expect("serializes");
            fsutil::atomic_write(&path, &json, 0o600).map_err(|e| ObjectError::io(&path, e))?;
            Ok(BucketKey {
                id,
                kms_key_arn: arn,
                key,
            })
        })
    }

    /// A bucket key for reading: cached, or its blob decrypted by KMS.
    pub(crate) fn bucket_key_for_read(
        &self,
        p: &BucketPaths,
        bucket: &str,
        id: &[u8; 16],
        object: &str,
    ) -> Result<SecretKey, ObjectError> {
        if let Some(k) = self.cache.get_for_read(id) {
            return Ok(k);
        }
        let path = p.bucket_keys().join(hex(id));
        let b = std::fs::read(&path).map_err(|e| {
            io_or(&path, e, || {
                ObjectError::damaged(&path, format!("the bucket key of {object} is missing"))
            })
        })?;
        let f: BucketKeyFile = serde_json::from_slice(&b)
            .map_err(|e| ObjectError::damaged(&path, format!("bucket key file: {e}")))?;
        if bucket_key_id(&f.ciphertext_blob) != *id {
            return Err(ObjectError::damaged(
                &path,
                "the bucket key's blob does not match its id",
            ));
        }
        let k = self
            .decrypt_key(
                f.ciphertext_blob,
                self.bucket_context(bucket),
                &f.kms_key_arn,
            )
            .map_err(|e| ObjectError::Kms {
                what: format!("object {object} (through the bucket key of {bucket})"),
                key: f.kms_key_arn.clone(),
                source: e,
            })?
            .ok_or_else(|| ObjectError::damaged(&path, "the bucket key is not 32 bytes"))?;
        self.cache.insert_for_read(*id, k.clone());
        Ok(k)
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
                    Ok(key(1))
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
            Ok(key(2))
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert!(format!("{:?}", key(3)).contains("redacted"));
    }
}
