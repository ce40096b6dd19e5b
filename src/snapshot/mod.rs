//! EBS-style snapshots of volumes: point-in-time, incremental, content-addressed copies of a
//! volume's backing tree (ciphertext when the volume is encrypted), with copies and
//! restores that share the data key where the KMS key stays and re-encrypt every block
//! where it changes. Sits on the volume layer, which it reaches only through
//! `volume::backing`; reaches KMS only through `kms::Client`.
//!
//! - [`store`]: the object store trait and its local-directory implementation;
//! - [`manifest`]: a snapshot's manifest (format in docs/FORMAT.md);
//! - `tree`: stored tree to chunks and back;
//! - `service`: create, list, describe, delete, copy, verify, restore;
//! - `sharing`: the `createVolumePermission` attribute and who may copy or restore;
//! - `progress`: the progress line on a terminal.

pub mod manifest;
mod progress;
mod rekey;
mod service;
mod sharing;
pub mod store;
mod tree;

pub use manifest::Manifest;
pub use service::{SnapshotInfo, SnapshotService, VerifyReport};
pub use sharing::{
    ALL, CREATE_VOLUME_PERMISSION, ListFilter, Operation, Permission, SnapshotAttribute,
    account_of_arn, is_account_id,
};

use crate::kms::KmsError;
use crate::volume::backing::VolumeError;
use std::path::PathBuf;

/// Errors of the snapshot layer.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {0} does not exist")]
    NotFound(String),
    #[error("'{0}' is not a snapshot id (snap- followed by 17 hex digits)")]
    BadId(String),
    #[error("the snapshot manifest is damaged: {0}")]
    DamagedManifest(String),
    #[error("chunk {0} is missing from the snapshot store")]
    MissingChunk(String),
    #[error("chunk {0} is damaged (its bytes do not match its SHA-256 name)")]
    DamagedChunk(String),
    #[error("snapshot store: {0}")]
    Store(String),
    #[error("copying the volume's files: {0}")]
    Copy(String),
    #[error(
        "snapshot {0} is encrypted: a volume or copy made from it must be encrypted too (an encrypted snapshot cannot become unencrypted)"
    )]
    MustStayEncrypted(String),
    #[error("the KMS key {key} of snapshot {snapshot} cannot be used: {source}")]
    KeyUnusable {
        snapshot: String,
        key: String,
        #[source]
        source: KmsError,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "InvalidSnapshot.NotFound: snapshot {snapshot} is not shared with account {account} (its createVolumePermission does not name it; the owner is account {owner})"
    )]
    NotShared {
        snapshot: String,
        account: String,
        owner: String,
    },
    #[error(
        "UnauthorizedOperation: account {account} may not {action} snapshot {snapshot}: only its owner, account {owner}, may"
    )]
    NotOwner {
        snapshot: String,
        account: String,
        owner: String,
        action: &'static str,
    },
    #[error(
        "InvalidParameter: Snapshots encrypted with the AWS Managed CMK can't be shared ({snapshot} is encrypted under the AWS managed key {key})"
    )]
    AwsManagedKey { snapshot: String, key: String },
    #[error(
        "UnsupportedOperation: Encrypted snapshots can't be shared publicly ({0} is encrypted)"
    )]
    EncryptedPublic(String),
    #[error("InvalidParameterValue: {0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Volume(#[source] VolumeError),
    #[error("{0}")]
    Kms(#[from] KmsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<VolumeError> for SnapshotError {
    /// A failed copy of a volume's files stays a snapshot error ([`SnapshotError::Copy`]).
    fn from(e: VolumeError) -> SnapshotError {
        match e {
            VolumeError::Copy(why) => SnapshotError::Copy(why),
            e => SnapshotError::Volume(e),
        }
    }
}

impl SnapshotError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SnapshotError {
        SnapshotError::Io {
            path: path.into(),
            source,
        }
    }
}
