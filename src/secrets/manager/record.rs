//! A secret on disk: one record file per secret under the service's directory, named by
//! the hex SHA-256 of the secret's name (`<hex>.secret`), holding `KMSFSSM\x01` then the
//! postcard encoding of [`SecretRecord`]. Values inside are ciphertexts only (see
//! `seal.rs`). Written atomically (temp, fsync, rename) with mode 0600 under the
//! directory's lock file (`secrets.lock`), held for each read-modify-write. A damaged or
//! truncated file is [`SmError::Damaged`], never a panic. Format: docs/FORMAT.md.

use super::error::SmError;
use crate::fsutil::{self, FileLock};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The first 8 bytes of a record file (format version 1).
pub const MAGIC: &[u8; 8] = b"KMSFSSM\x01";
/// Largest record file read (100 versions of 64 KiB values, with room).
pub const MAX_RECORD: usize = 16 << 20;
/// The lock file of a service directory.
pub const LOCK_FILE: &str = "secrets.lock";
/// The file name suffix of records.
pub const SUFFIX: &str = ".secret";

/// One secret, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// The key as the caller named it; `None`: `alias/aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    pub created_ms: i64,
    pub last_changed_ms: i64,
    pub last_accessed_ms: Option<i64>,
    /// When DeleteSecret was called (`DeletedDate`), and when the secret is purged.
    pub deleted_ms: Option<i64>,
    pub purge_ms: Option<i64>,
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
    pub rotation: Rotation,
    /// Oldest first.
    pub versions: Vec<Version>,
}

/// A secret's rotation configuration and history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub enabled: bool,
    /// The rotation program (`RotationLambdaARN`): an absolute path.
    pub program: Option<String>,
    pub after_days: Option<i64>,
    pub duration: Option<String>,
    pub expression: Option<String>,
    pub last_rotated_ms: Option<i64>,
    pub next_rotation_ms: Option<i64>,
}

/// One version of a secret: its staging labels and its sealed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: String,
    pub stages: Vec<String>,
    pub created_ms: i64,
    pub last_accessed_ms: Option<i64>,
    /// The ARN of the KMS key that made the data key.
    pub key_arn: String,
    /// `SecretBinary` (true) or `SecretString`.
    pub binary: bool,
    /// The KMS CiphertextBlob of the data key.
    pub wrapped_key: Vec<u8>,
    pub nonce: [u8; 12],
    /// `ciphertext ‖ tag` of the value.
    pub sealed: Vec<u8>,
}

impl SecretRecord {
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }
    pub fn version_mut(&mut self, id: &str) -> Option<&mut Version> {
        self.versions.iter_mut().find(|v| v.id == id)
    }
    /// The version holding staging label `stage`.
    pub fn staged(&self, stage: &str) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }
}

/// The bytes of a record file.
pub fn encode(r: &SecretRecord) -> Result<Vec<u8>, SmError> {
    let mut out = MAGIC.to_vec();
    let body = postcard::to_allocvec(r).map_err(|e| SmError::Internal(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// A record from its file's bytes; `why` on anything but a whole, well-formed record.
pub fn decode(bytes: &[u8]) -> Result<SecretRecord, String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("it does not start with KMSFSSM\\x01 (not a secret record, or a newer format)")?;
    let (r, rest): (SecretRecord, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| format!("truncated or malformed: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the record", rest.len()));
    }
    Ok(r)
}

/// The record file of the secret `name` in `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(
        "{}{SUFFIX}",
        crate::crypto::hex(&crate::crypto::sha256(name.as_bytes()))
    ))
}

/// Take the directory's lock (making the directory, 0700, on first use).
pub fn lock(dir: &Path) -> Result<FileLock, SmError> {
    if !dir.exists() {
        fsutil::create_dir_durable(dir, 0o700).map_err(|e| SmError::io("secrets directory", e))?;
    }
    FileLock::acquire(&dir.join(LOCK_FILE), fsutil::lock_timeout())
        .map_err(|e| SmError::io("the secrets lock", e))
}

/// Read the record at `path`; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<SecretRecord>, SmError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SmError::io(&path.display().to_string(), e)),
    };
    if bytes.len() > MAX_RECORD {
        return Err(damaged(path, "it is larger than any record".into()));
    }
    decode(&bytes).map(Some).map_err(|why| damaged(path, why))
}

/// Read the record of `name`, checking the name inside matches the file's.
pub fn read_named(dir: &Path, name: &str) -> Result<Option<SecretRecord>, SmError> {
    let path = path_of(dir, name);
    match read(&path)? {
        Some(r) if r.name != name => Err(damaged(&path, "it holds another secret".into())),
        r => Ok(r),
    }
}

/// Write `r` (atomically, 0600).
pub fn write(dir: &Path, r: &SecretRecord) -> Result<(), SmError> {
    let path = path_of(dir, &r.name);
    fsutil::atomic_write(&path, &encode(r)?, 0o600)
        .map_err(|e| SmError::io(&path.display().to_string(), e))
}

/// Remove the record of `name`.
pub fn remove(dir: &Path, name: &str) -> Result<(), SmError> {
    let path = path_of(dir, name);
    match fsutil::durable_remove(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(SmError::io(&path.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

/// Every record in `dir` (a damaged one is an error).
pub fn read_all(dir: &Path) -> Result<Vec<SecretRecord>, SmError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SmError::io(&dir.display().to_string(), e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| SmError::io(&dir.display().to_string(), e))?;
        let name = e.file_name();
        if name.to_string_lossy().ends_with(SUFFIX)
            && let Some(r) = read(&e.path())?
        {
            out.push(r);
        }
    }
    Ok(out)
}

fn damaged(path: &Path, why: String) -> SmError {
    SmError::Damaged {
        path: path.to_path_buf(),
        why,
    }
}
