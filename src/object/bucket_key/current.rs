//! The current bucket keys of a bucket, shared by every process: `bucket-key.json` beside
//! `bucket.json` names, per KMS key as requested, the bucket key writers use and until when
//! (wall clock, ms). It holds ids only: a bucket key's material stays in its KMS blob in
//! `bucket-keys/<id>`, which a process that did not make it has KMS Decrypt. Changes are made
//! under `bucket-key.lock` and written atomically; a file that does not parse is read as
//! empty (the next writer makes a fresh key and replaces it).

use super::super::ObjectError;
use super::super::bucket::BucketPaths;
use crate::fsutil::{self, FileLock};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// `bucket-key.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct CurrentFile {
    pub(super) format: u32,
    pub(super) current: Vec<Current>,
}

/// The bucket key writers use under one KMS key (as the request names it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct Current {
    pub(super) kms_key_id: String,
    /// `bucket-keys/<this>`: 32 lowercase hex digits.
    pub(super) bucket_key_id: String,
    pub(super) expires_ms: i64,
}

const FORMAT: u32 = 1;

/// Lock the bucket's current-key file (exclusive, waiting up to `timeout`).
pub(super) fn lock(
    bucket: &str,
    p: &BucketPaths,
    timeout: Duration,
) -> Result<FileLock, ObjectError> {
    super::super::bucket::lock(bucket, &p.current_bucket_key_lock(), true, timeout)
}

/// The entries of `path` still valid at `now_ms` for a writer whose period is `ttl_ms`: not
/// expired, and not expiring further ahead than one period (a clock set back, or a file from
/// elsewhere, cannot keep a key in use for longer). Missing or unparsable: none.
pub(super) fn read(path: &Path, now_ms: i64, ttl_ms: i64) -> Result<Vec<Current>, ObjectError> {
    let b = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ObjectError::io(path, e)),
    };
    let f: CurrentFile = match serde_json::from_slice(&b) {
        Ok(f) => f,
        Err(_) => return Ok(Vec::new()),
    };
    if f.format != FORMAT {
        return Ok(Vec::new());
    }
    Ok(f.current
        .into_iter()
        .filter(|c| now_ms < c.expires_ms && c.expires_ms <= now_ms.saturating_add(ttl_ms))
        .filter(|c| c.bucket_key_id.len() == 32 && crate::crypto::unhex(&c.bucket_key_id).is_some())
        .collect())
}

/// Replace `path` with `current` (0600, atomically).
pub(super) fn write(path: &Path, current: Vec<Current>) -> Result<(), ObjectError> {
    let f = CurrentFile {
        format: FORMAT,
        current,
    };
    let json = serde_json::to_vec_pretty(&f).expect("serializes");
    fsutil::atomic_write(path, &json, 0o600).map_err(|e| ObjectError::io(path, e))
}
