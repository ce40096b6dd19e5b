//! S3-style buckets and objects with server-side encryption. Every object gets its own
//! random data key, wrapped
//!
//! - by KMS under the AWS-managed `alias/aws/s3` key (SSE-S3, `AES256`),
//! - by KMS under the customer's key (SSE-KMS, `aws:kms`), encryption context
//!   `{"aws:s3:arn": "arn:aws:s3:::bucket/key"}` plus the caller's,
//! - locally under a bucket key (SSE-KMS with `BucketKeyEnabled`): a bucket-level key that
//!   KMS generates once per period (context `{"aws:s3:arn": "arn:aws:s3:::bucket"}`) and the
//!   service caches in memory, or
//! - locally under the caller's own 256-bit key (SSE-C), of which only a salted HMAC is kept.
//!
//! Object data is AES-256-GCM-SIV STREAM segments ([`crate::crypto::stream`]) under a key
//! derived from the data key, so ranged reads decrypt only the segments they need and any
//! reordering, truncation or extension is found. The service acts as its own principal
//! (`s3.amazonaws.com`) and reaches KMS only through [`crate::kms::Client`].
//!
//! - [`format`](mod@format): the object file (header, record, segments), key derivation, parsers;
//! - [`bucket`]: bucket names, `bucket.json`, the bucket lock;
//! - [`service`]: [`ObjectService`], the plain Rust API the CLI and the FUSE view use, and
//!   the plumbing its operations share; the operations by family: `buckets` (bucket
//!   create, list, delete, default encryption), `put` (PUT, copy, DELETE), `get` (open,
//!   GET, HEAD, stat) over `reader` ([`ObjectReader`]), `list` (ListObjectsV2); `info`:
//!   what they report ([`ObjectInfo`], [`ObjectSummary`]);
//! - `sse`: the key-wrapping policies (SSE-S3, SSE-KMS, SSE-C: how a data key is made
//!   and kept for a PUT, and unwrapped for a read), with `bucket_key` (bucket keys: made,
//!   stored, decrypted, cached in memory);
//! - [`view`]: the bucket as a directory tree (`mount-bucket`), transport-free, over the
//!   service; `spool`: its encrypted write spools; [`fuse`]: the thin fuser adaptor.
//!
//! Formats: docs/FORMAT.md section 9.

pub mod bucket;
mod bucket_key;
mod buckets;
pub mod format;
pub mod fuse;
mod get;
mod info;
mod list;
mod put;
mod reader;
pub mod service;
mod spool;
mod sse;
pub mod view;

pub use bucket::{BucketEncryption, BucketInfo};
pub use format::Sse;
pub use get::ByteRange;
pub use info::{ObjectInfo, ObjectSummary};
pub use list::{CommonPrefix, ListObjects, ListObjectsResult};
pub use reader::ObjectReader;
pub use service::{ObjectOptions, ObjectService, S3_PRINCIPAL};
pub use sse::{PutOptions, SseCustomerKey};

use crate::kms::KmsError;
use std::path::PathBuf;

/// Errors of the object layer, named as S3 names them where S3 has a name (`code()`).
/// Messages name buckets, keys and KMS keys, never key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("NoSuchBucket: the bucket {0} does not exist")]
    NoSuchBucket(String),
    #[error("NoSuchKey: the object {bucket}/{key} does not exist")]
    NoSuchKey { bucket: String, key: String },
    #[error("BucketAlreadyOwnedByYou: the bucket {0} already exists")]
    BucketAlreadyOwnedByYou(String),
    #[error("BucketNotEmpty: the bucket {0} is not empty (delete its objects, or use --force)")]
    BucketNotEmpty(String),
    /// `bucket delete` of a bucket that `kmsfs mount-bucket` has mounted.
    #[error("BucketMounted: the bucket {0} is mounted (kmsfs mount-bucket)")]
    Mounted(String),
    #[error("InvalidBucketName: {0}")]
    InvalidBucketName(String),
    #[error("KeyTooLongError: {0}")]
    KeyTooLong(String),
    #[error("InvalidArgument: {0}")]
    InvalidArgument(String),
    /// User metadata above S3's 2 KB.
    #[error("MetadataTooLarge: {0}")]
    MetadataTooLarge(String),
    #[error("InvalidRange: {0}")]
    InvalidRange(String),
    /// An SSE-C object read without its key, or an SSE-C key given for another object.
    #[error("InvalidRequest: {0}")]
    InvalidRequest(String),
    /// An SSE-C object read with a key that is not the one it was stored with.
    #[error("AccessDenied: {0}")]
    AccessDenied(String),
    #[error(
        "ServerSideEncryptionConfigurationNotFoundError: the bucket {0} has no encryption configuration"
    )]
    NoEncryptionConfiguration(String),
    /// KMS refused a request for an object or bucket key (`KMS.DisabledException`, ...).
    #[error("KMS.{}: the KMS key {key} of {what} cannot be used: {}", .source.code(), .source.message())]
    Kms {
        what: String,
        key: String,
        #[source]
        source: KmsError,
    },
    /// An object or bucket file failed its checks (tampered, truncated, swapped).
    #[error("ObjectDamaged: {path}: {why}")]
    Damaged { path: PathBuf, why: String },
    /// The bucket is locked by another process for longer than the lock timeout.
    #[error("SlowDown: the bucket {0} is locked by another kmsfs process; try again")]
    Locked(String),
    #[error("InternalError: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a GET's output (or reading a PUT's body) failed.
    #[error("{what}: {source}")]
    Stream {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("InternalError: {0}")]
    Internal(String),
}

impl ObjectError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ObjectError {
        ObjectError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn damaged(path: impl Into<PathBuf>, why: impl Into<String>) -> ObjectError {
        ObjectError::Damaged {
            path: path.into(),
            why: why.into(),
        }
    }

    /// The S3 error name (`KMS.<AWS KMS error name>` for KMS refusals).
    pub fn code(&self) -> String {
        use ObjectError::*;
        match self {
            NoSuchBucket(_) => "NoSuchBucket".into(),
            NoSuchKey { .. } => "NoSuchKey".into(),
            BucketAlreadyOwnedByYou(_) => "BucketAlreadyOwnedByYou".into(),
            BucketNotEmpty(_) => "BucketNotEmpty".into(),
            Mounted(_) => "BucketMounted".into(),
            InvalidBucketName(_) => "InvalidBucketName".into(),
            KeyTooLong(_) => "KeyTooLongError".into(),
            InvalidArgument(_) => "InvalidArgument".into(),
            InvalidRange(_) => "InvalidRange".into(),
            MetadataTooLarge(_) => "MetadataTooLarge".into(),
            InvalidRequest(_) => "InvalidRequest".into(),
            AccessDenied(_) => "AccessDenied".into(),
            NoEncryptionConfiguration(_) => "ServerSideEncryptionConfigurationNotFoundError".into(),
            Kms { source, .. } => format!("KMS.{}", source.code()),
            Damaged { .. } => "ObjectDamaged".into(),
            Locked(_) => "SlowDown".into(),
            Io { .. } | Internal(_) => "InternalError".into(),
            Stream { .. } => "IncompleteBody".into(),
        }
    }

    /// The HTTP status S3 answers with.
    pub fn http_status(&self) -> u16 {
        use ObjectError::*;
        match self {
            NoSuchBucket(_) | NoSuchKey { .. } | NoEncryptionConfiguration(_) => 404,
            BucketAlreadyOwnedByYou(_) | BucketNotEmpty(_) | Mounted(_) => 409,
            InvalidRange(_) => 416,
            AccessDenied(_) => 403,
            Locked(_) => 503,
            Kms { source, .. } => match source {
                KmsError::Store(_) | KmsError::Internal(_) => 500,
                KmsError::AccessDenied(_) => 403,
                _ => 400,
            },
            Io { .. } | Internal(_) | Damaged { .. } => 500,
            _ => 400,
        }
    }
}

impl From<crate::crypto::CryptoError> for ObjectError {
    fn from(e: crate::crypto::CryptoError) -> ObjectError {
        ObjectError::Internal(e.to_string())
    }
}
