//! Bucket keys: a bucket-level key obtained from KMS and reused for a bounded time to wrap
//! per-object keys ([`cache`]), by every process that writes to the bucket ([`current`]).
//!
//! [`ObjectService::bucket_key_for_write`] uses the bucket's current key if
//! `bucket-key.json` names one that has not expired (KMS Decrypts its blob once per process),
//! else asks KMS for a new one, stores its blob in `buckets/<b>/bucket-keys/<hex id>` and
//! names it in `bucket-key.json`, all before the key wraps anything.
//! [`ObjectService::bucket_key_for_read`] has KMS decrypt a blob the cache does not hold.

pub(crate) mod cache;
mod current;

use super::ObjectError;
use super::bucket::BucketPaths;
use super::format;
use super::service::{ObjectService, io_or};
use crate::crypto::{SecretKey, hex, sha256};
use crate::fsutil;
use crate::kms::EncryptionContext;
use crate::kms::types::b64;
use crate::timefmt::now_ms;
use cache::BucketKey;
use current::Current;
use serde::{Deserialize, Serialize};
use std::time::Duration;

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

    /// The current bucket key of `bucket` under `kms_key_id`: cached in this process, the
    /// one `bucket-key.json` names (Decrypted by KMS), or a new one from KMS.
    pub(crate) fn bucket_key_for_write(
        &self,
        p: &BucketPaths,
        bucket: &str,
        kms_key_id: &str,
    ) -> Result<BucketKey, ObjectError> {
        self.cache.current(bucket, kms_key_id, || {
            let lock = current::lock(bucket, p, self.opts.lock_timeout)?;
            let now = now_ms();
            let ttl = self.opts.bucket_key_ttl;
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            let path = p.current_bucket_key();
            let mut cur = current::read(&path, now, ttl_ms)?;
            if let Some(c) = cur.iter().find(|c| c.kms_key_id == kms_key_id) {
                let id: [u8; 16] = crate::crypto::unhex(&c.bucket_key_id)
                    .and_then(|v| v.try_into().ok())
                    .expect("checked by current::read");
                // A missing or damaged blob: a fresh key replaces it below.
                if let Ok(f) = self.bucket_key_file(p, &id, bucket) {
                    drop(lock);
                    let left = Duration::from_millis((c.expires_ms - now) as u64);
                    let kms_key_arn = f.kms_key_arn.clone();
                    let what = format!("the bucket key of {bucket}");
                    let key = self.unwrap_bucket_key(p, bucket, &id, f, &what)?;
                    let bk = BucketKey {
                        id,
                        kms_key_arn,
                        key,
                    };
                    return Ok((bk, left));
                }
            }
            let bk = self.new_bucket_key(p, bucket, kms_key_id)?;
            cur.retain(|c| c.kms_key_id != kms_key_id);
            cur.push(Current {
                kms_key_id: kms_key_id.to_string(),
                bucket_key_id: hex(&bk.id),
                expires_ms: now.saturating_add(ttl_ms),
            });
            current::write(&path, cur)?;
            Ok((bk, ttl))
        })
    }

    /// A new bucket key from KMS, its blob stored in `bucket-keys/` before it is used.
    fn new_bucket_key(
        &self,
        p: &BucketPaths,
        bucket: &str,
        kms_key_id: &str,
    ) -> Result<BucketKey, ObjectError> {
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
    }

    /// `bucket-keys/<id>`, checked against its id. `what` names what needs it.
    fn bucket_key_file(
        &self,
        p: &BucketPaths,
        id: &[u8; 16],
        what: &str,
    ) -> Result<BucketKeyFile, ObjectError> {
        let path = p.bucket_keys().join(hex(id));
        let b = std::fs::read(&path).map_err(|e| {
            io_or(&path, e, || {
                ObjectError::damaged(&path, format!("the bucket key of {what} is missing"))
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
        Ok(f)
    }

    /// KMS Decrypts the bucket key in `f` (for `what`); the key is cached for reading.
    fn unwrap_bucket_key(
        &self,
        p: &BucketPaths,
        bucket: &str,
        id: &[u8; 16],
        f: BucketKeyFile,
        what: &str,
    ) -> Result<SecretKey, ObjectError> {
        let k = self
            .decrypt_key(
                f.ciphertext_blob,
                self.bucket_context(bucket),
                &f.kms_key_arn,
            )
            .map_err(|e| ObjectError::Kms {
                what: what.to_string(),
                key: f.kms_key_arn.clone(),
                source: e,
            })?
            .ok_or_else(|| {
                let path = p.bucket_keys().join(hex(id));
                ObjectError::damaged(&path, "the bucket key is not 32 bytes")
            })?;
        self.cache.insert_for_read(*id, k.clone());
        Ok(k)
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
        let f = self.bucket_key_file(p, id, object)?;
        let what = format!("object {object} (through the bucket key of {bucket})");
        self.unwrap_bucket_key(p, bucket, id, f, &what)
    }
}
