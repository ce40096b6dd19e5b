//! A parameter's record file and the directory that holds them.
//!
//! One file per parameter, `<hex SHA-256 of the name>.param`, in the account's and
//! region's directory: the 8-byte magic `KMSFSPS\x01`, then the postcard encoding of a
//! [`Record`] (docs/FORMAT.md, "Parameter Store records"). Values of SecureStrings are
//! ciphertexts only. Every operation holds the directory's lock file (`.lock`) for its
//! whole read-modify-write, so concurrent writers (threads or processes) never lose an
//! update. Writes are atomic (temp, fsync, rename, fsync dir), files 0600.

use super::error::ParamError;
use crate::fsutil::{FileLock, atomic_write, create_dir_durable, lock_timeout};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The record files' magic (version 1).
pub const MAGIC: &[u8; 8] = b"KMSFSPS\x01";
/// The largest record file read (100 versions of 8 KB values, with room to spare).
pub const MAX_RECORD_BYTES: usize = 4 << 20;
/// The record files' extension.
const EXT: &str = "param";
/// The events file (JSON lines) in the directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// One parameter: its name, tags, versions (oldest first) and the notifications of its
/// policies already recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub versions: Vec<Version>,
    /// `(policy type, version)` of each notification recorded, so each is recorded once.
    pub notified: Vec<(String, u64)>,
}

/// One version of a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub version: u64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    pub value: Stored,
    /// The KMS key of a SecureString, as the caller named it (default `alias/aws/ssm`).
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    /// `Standard` or `Advanced`.
    pub tier: String,
    pub data_type: String,
    /// The policies' JSON array, as given (Advanced only).
    pub policies: Option<String>,
    pub labels: Vec<String>,
    pub modified_ms: i64,
    pub modified_by: String,
}

/// A stored value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum Stored {
    /// A String or StringList value (not secret: AWS returns it to any reader).
    Plain(String),
    /// A Standard SecureString: the KMS `CiphertextBlob` of Encrypt with the context
    /// `{"PARAMETER_ARN": arn}`.
    Kms(Vec<u8>),
    /// An Advanced SecureString: an envelope (see `seal.rs`).
    Envelope(Vec<u8>),
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::Plain(v) => write!(f, "Plain(<{} bytes>)", v.len()),
            Stored::Kms(b) => write!(f, "Kms(<{} bytes>)", b.len()),
            Stored::Envelope(b) => write!(f, "Envelope(<{} bytes>)", b.len()),
        }
    }
}

impl Record {
    pub fn latest(&self) -> Result<&Version, ParamError> {
        self.versions
            .last()
            .ok_or_else(|| ParamError::Damaged(format!("parameter {} has no version", self.name)))
    }
}

/// A record file's bytes.
pub fn encode(r: &Record) -> Result<Vec<u8>, ParamError> {
    let mut out = MAGIC.to_vec();
    let body = postcard::to_allocvec(r).map_err(|e| ParamError::Internal(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Parse a record file's bytes; a wrong magic, a truncated or extended body, or a record
/// without versions is an error (never a panic).
pub fn decode(bytes: &[u8]) -> Result<Record, String> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(format!("{} bytes is more than a record holds", bytes.len()));
    }
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("not a parameter record (wrong magic or version)")?;
    let (r, rest): (Record, _) =
        postcard::take_from_bytes(body).map_err(|e| format!("truncated or malformed: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the record", rest.len()));
    }
    if r.versions.is_empty() || r.versions.windows(2).any(|w| w[0].version >= w[1].version) {
        return Err("its versions are missing or out of order".into());
    }
    Ok(r)
}

/// The file name of parameter `name`.
pub fn file_name(name: &str) -> String {
    let d = crate::crypto::sha256(name.as_bytes());
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{EXT}")
}

/// The parameters' directory, locked for one operation.
pub struct Store {
    dir: PathBuf,
    _lock: FileLock,
}

impl Store {
    /// Lock `dir` (made on first use, 0700).
    pub fn lock(dir: &Path) -> Result<Store, ParamError> {
        create_dir_durable(dir, 0o700).map_err(|e| ParamError::io("parameters directory", e))?;
        let lock = FileLock::acquire(&dir.join(".lock"), lock_timeout()).map_err(|e| {
            ParamError::TooManyUpdates(format!("the parameters are locked by another writer: {e}"))
        })?;
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Parameter `name`'s record, if it exists.
    pub fn read(&self, name: &str) -> Result<Option<Record>, ParamError> {
        let path = self.dir.join(file_name(name));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ParamError::io("reading a parameter", e)),
        };
        let r = decode(&bytes).map_err(|why| damaged(&path, &why))?;
        if r.name != name {
            return Err(damaged(&path, "it holds another parameter (swapped)"));
        }
        Ok(Some(r))
    }

    pub fn write(&self, r: &Record) -> Result<(), ParamError> {
        let path = self.dir.join(file_name(&r.name));
        atomic_write(&path, &encode(r)?, 0o600)
            .map_err(|e| ParamError::io("writing a parameter", e))
    }

    pub fn remove(&self, name: &str) -> Result<(), ParamError> {
        let path = self.dir.join(file_name(name));
        crate::fsutil::durable_remove(&path).map_err(|e| ParamError::io("deleting a parameter", e))
    }

    /// Every parameter, by name.
    pub fn all(&self) -> Result<Vec<Record>, ParamError> {
        let mut out = Vec::new();
        let rd =
            std::fs::read_dir(&self.dir).map_err(|e| ParamError::io("listing parameters", e))?;
        for entry in rd {
            let path = entry
                .map_err(|e| ParamError::io("listing parameters", e))?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXT) {
                continue;
            }
            let bytes =
                std::fs::read(&path).map_err(|e| ParamError::io("reading a parameter", e))?;
            let r = decode(&bytes).map_err(|why| damaged(&path, &why))?;
            if path.file_name().and_then(|n| n.to_str()) != Some(&file_name(&r.name)) {
                return Err(damaged(&path, "it holds another parameter (swapped)"));
            }
            out.push(r);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Append one line to the events file (one `write` of the whole line, under the lock).
    pub fn append_event(&self, line: &[u8]) -> Result<(), ParamError> {
        let path = self.dir.join(EVENTS_FILE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ParamError::io("opening the events file", e))?;
        let mut buf = line.to_vec();
        buf.push(b'\n');
        f.write_all(&buf)
            .and_then(|()| f.sync_data())
            .map_err(|e| ParamError::io("appending an event", e))
    }
}

fn damaged(path: &Path, why: &str) -> ParamError {
    ParamError::Damaged(format!(
        "the parameter record {} is damaged or was swapped: {why}; it was not used",
        path.display()
    ))
}
