//! Buckets on disk: names (S3's rules), `bucket.json` (creation time and default
//! encryption, written atomically), and the bucket lock (`flock` on `buckets/<b>/lock`:
//! shared while objects are written, exclusive while the bucket is deleted).

use super::ObjectError;
use super::format::Sse;
use crate::fsutil::{self, FileLock};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A bucket's default encryption (S3's `ApplyServerSideEncryptionByDefault` and
/// `BucketKeyEnabled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEncryption {
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: Sse,
    #[serde(
        rename = "KMSMasterKeyID",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub kms_master_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

impl Default for BucketEncryption {
    /// What S3 gives new buckets: SSE-S3.
    fn default() -> Self {
        BucketEncryption {
            sse_algorithm: Sse::Aes256,
            kms_master_key_id: None,
            bucket_key_enabled: false,
        }
    }
}

/// `bucket.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BucketConfig {
    pub(crate) format: u32,
    pub(crate) name: String,
    pub(crate) creation_date_ms: i64,
    pub(crate) encryption: BucketEncryption,
}

/// A bucket as `bucket list` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInfo {
    pub name: String,
    pub creation_date: String,
}

impl BucketConfig {
    pub(crate) fn info(&self) -> BucketInfo {
        BucketInfo {
            name: self.name.clone(),
            creation_date: crate::timefmt::rfc3339(self.creation_date_ms),
        }
    }

    pub(crate) fn read(path: &Path) -> Result<BucketConfig, ObjectError> {
        let b = std::fs::read(path).map_err(|e| ObjectError::io(path, e))?;
        let c: BucketConfig = serde_json::from_slice(&b)
            .map_err(|e| ObjectError::damaged(path, format!("bucket.json: {e}")))?;
        if c.format != 1 {
            return Err(ObjectError::damaged(
                path,
                format!("bucket.json format {} is not supported", c.format),
            ));
        }
        Ok(c)
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), ObjectError> {
        let b = serde_json::to_vec_pretty(self).expect("bucket config serializes");
        fsutil::atomic_write(path, &b, 0o600).map_err(|e| ObjectError::io(path, e))
    }
}

/// Check a bucket name against S3's rules for general purpose buckets.
///
/// ```
/// use kmsfs::object::bucket::check_name;
/// assert!(check_name("photos").is_ok());
/// assert!(check_name("my.bucket-2024").is_ok());
/// assert!(check_name("Photos").is_err());
/// assert!(check_name("ab").is_err());
/// assert!(check_name("a..b").is_err());
/// assert!(check_name("192.168.5.4").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| {
        Err(ObjectError::InvalidBucketName(format!(
            "'{name}' is not a valid bucket name: {why}"
        )))
    };
    if !(3..=63).contains(&name.len()) {
        return bad("it must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return bad("it must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("dots must not be adjacent to dots or hyphens");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("it must not look like an IP address");
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return bad(&format!("the prefix '{p}' is reserved"));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(s) {
            return bad(&format!("the suffix '{s}' is reserved"));
        }
    }
    Ok(())
}

/// Check an object key: 1 to 1024 bytes of UTF-8 (a `&str` is UTF-8), no NUL.
pub(crate) fn check_key(key: &str) -> Result<(), ObjectError> {
    if key.is_empty() {
        return Err(ObjectError::InvalidArgument(
            "the object key is empty".into(),
        ));
    }
    if key.len() > 1024 {
        return Err(ObjectError::KeyTooLong(format!(
            "the object key is {} bytes; the limit is 1024",
            key.len()
        )));
    }
    if key.contains('\0') {
        return Err(ObjectError::InvalidArgument(
            "the object key contains a NUL character".into(),
        ));
    }
    Ok(())
}

/// Lock a bucket's `path` shared (`exclusive = false`) or exclusively, waiting up to
/// `timeout` (then `SlowDown`); released when the lock drops.
pub(crate) fn lock(
    bucket: &str,
    path: &Path,
    exclusive: bool,
    timeout: Duration,
) -> Result<FileLock, ObjectError> {
    let r = if exclusive {
        FileLock::acquire(path, timeout)
    } else {
        FileLock::acquire_shared(path, timeout)
    };
    r.map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => ObjectError::Locked(bucket.to_string()),
        _ => ObjectError::io(path, e),
    })
}

/// The files of one bucket.
#[derive(Debug, Clone)]
pub(crate) struct BucketPaths {
    pub(crate) dir: PathBuf,
}

impl BucketPaths {
    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join("bucket.json")
    }
    pub(crate) fn objects(&self) -> PathBuf {
        self.dir.join("objects")
    }
    pub(crate) fn bucket_keys(&self) -> PathBuf {
        self.dir.join("bucket-keys")
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    /// The bucket keys writers use now, shared by every process.
    pub(crate) fn current_bucket_key(&self) -> PathBuf {
        self.dir.join("bucket-key.json")
    }
    pub(crate) fn current_bucket_key_lock(&self) -> PathBuf {
        self.dir.join("bucket-key.lock")
    }
    /// flock: shared by each `mount-bucket` of the bucket for as long as it is mounted.
    pub(crate) fn mount_lock(&self) -> PathBuf {
        self.dir.join("mount.lock")
    }
    /// `objects/<hex SHA-256 of the key>`.
    pub(crate) fn object(&self, key: &str) -> PathBuf {
        self.objects()
            .join(crate::crypto::hex(&crate::crypto::sha256(key.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["abc", "a-b.c", "0123", &"a".repeat(63)] {
            check_name(ok).unwrap();
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "-abc",
            "abc-",
            "a_b",
            "a.-b",
            "10.0.0.1",
            "xn--abc",
            "abc-s3alias",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(1025)),
            Err(ObjectError::KeyTooLong(_))
        ));
    }

    #[test]
    fn encryption_json_uses_s3_names() {
        let e = BucketEncryption {
            sse_algorithm: Sse::Kms,
            kms_master_key_id: Some("alias/app".into()),
            bucket_key_enabled: true,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"alias/app","BucketKeyEnabled":true})
        );
    }
}
