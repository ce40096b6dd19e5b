//! EBS-style volumes: a directory mounted with FUSE whose contents and names are encrypted
//! with a per-volume data key (DEK). The DEK comes from GenerateDataKeyWithoutPlaintext
//! under the volume's KMS key, is stored only wrapped in the volume header, and is
//! decrypted into memory at mount. The service reaches KMS only through `kms::Client`.
//!
//! - [`service`]: create, list, describe, delete and open volumes, the account's settings,
//!   and a volume directory's layout (`volume.hdr`, `data/`, `lock`, `mount.json`);
//! - [`header`], [`keys`]: the header format and the DEK's subkeys;
//! - [`grant`]: the grant an encrypted volume holds on its key for the volume service;
//! - `owner`: the account that owns a volume (`owner.json`);
//! - [`control`]: the mount daemon's control socket (freeze and thaw);
//! - [`backing`]: the one interface the snapshot layer uses;
//! - `fs`, `content`, `names`, `behind`, `spin`, `fuse`: the file system and its FUSE adaptor.

pub mod backing;
pub mod behind;
pub mod content;
pub(crate) mod control;
pub mod fs;
pub mod fuse;
pub mod grant;
pub mod header;
pub mod keys;
pub mod names;
pub(crate) mod owner;
pub mod rekey;
pub(crate) mod service;
pub mod spin;
mod tags;
pub mod uring;

pub use fs::{FsError, VolumeFs};
pub use service::{
    CreateVolume, EBS_PRINCIPAL, EbsSettings, MountedVolume, OpenVolume, VolumeInfo, VolumeService,
};

use crate::kms::KmsError;
use std::path::PathBuf;

/// Errors of the volume layer.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume {0} does not exist")]
    NotFound(String),
    #[error("'{0}' is not a volume id (vol- followed by 17 hex digits)")]
    BadId(String),
    #[error("the volume header is damaged: {0}")]
    DamagedHeader(String),
    #[error("{path}: the volume header is damaged: {why}")]
    DamagedHeaderAt { path: PathBuf, why: String },
    #[error("volume {0} is mounted (in use)")]
    InUse(String),
    #[error("volume {0} is not mounted")]
    NotMounted(String),
    #[error("encryption by default is enabled for this account: volumes must be encrypted")]
    EncryptionRequired,
    #[error("{0}")]
    Invalid(String),
    #[error("the KMS key {key} of volume {volume} cannot be used: {source}")]
    KeyUnusable {
        volume: String,
        key: String,
        #[source]
        source: KmsError,
    },
    #[error("{0}")]
    Kms(#[from] KmsError),
    #[error("{0}")]
    Fs(#[from] FsError),
    #[error("copying the volume's files: {0}")]
    Copy(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl VolumeError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> VolumeError {
        VolumeError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A new EBS resource id: `prefix` (`vol`, `snap`), a dash and 17 random lowercase hex
/// digits.
pub(crate) fn new_resource_id(prefix: &str) -> Result<String, crate::crypto::CryptoError> {
    let mut b = [0u8; 9];
    crate::crypto::fill_random(&mut b)?;
    Ok(format!("{prefix}-{}", &crate::crypto::hex(&b)[..17]))
}

/// Whether `id` has the form of [`new_resource_id`]`(prefix)`.
pub(crate) fn is_resource_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|h| {
            h.len() == 17
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

/// Parse a size such as `20GiB`, `512MiB`, `1G` (1 MiB to 64 TiB).
///
/// ```
/// use kmsfs::volume::parse_size;
/// assert_eq!(parse_size("20GiB").unwrap(), 20 << 30);
/// assert_eq!(parse_size("512M").unwrap(), 512 << 20);
/// assert!(parse_size("12 parsecs").is_err());
/// assert!(parse_size("4KiB").is_err(), "below the minimum");
/// ```
pub fn parse_size(s: &str) -> Result<u64, VolumeError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| {
        VolumeError::Invalid(format!("size '{s}' is not a number with a unit like 20GiB"))
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        u => {
            return Err(VolumeError::Invalid(format!(
                "size unit '{u}' is not one of KiB, MiB, GiB, TiB"
            )));
        }
    };
    let v = (n * mult as f64) as u64;
    if v < (1 << 20) {
        return Err(VolumeError::Invalid(format!(
            "size '{s}' is below the minimum of 1MiB"
        )));
    }
    if v > (64u64 << 40) {
        return Err(VolumeError::Invalid(format!(
            "size '{s}' is above the maximum of 64TiB"
        )));
    }
    Ok(v)
}
