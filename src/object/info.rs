//! What the service says of an object: [`ObjectInfo`] (PUT, GET, HEAD) and
//! [`ObjectSummary`] (listings), with S3's field names, made from an object's header.

use super::format::{Header, Sse};
use crate::crypto::hex;
use crate::kms::types::b64;
use crate::timefmt::rfc3339;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An object as PUT, GET and HEAD report it (S3's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    /// Bytes of the object (of the range, for a ranged GET).
    pub content_length: u64,
    /// `bytes a-b/total` for a ranged GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_range: Option<String>,
    /// The whole object's length.
    #[serde(skip)]
    pub size: u64,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub last_modified: String,
    #[serde(skip)]
    pub last_modified_ms: i64,
    /// `AES256` or `aws:kms` (none for SSE-C).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
    /// The ARN of the KMS key (SSE-KMS).
    #[serde(rename = "SSEKMSKeyId", skip_serializing_if = "Option::is_none")]
    pub ssekms_key_id: Option<String>,
    /// Base64 of the caller's encryption context as JSON (when there is one).
    #[serde(
        rename = "SSEKMSEncryptionContext",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssekms_encryption_context: Option<String>,
    /// Whether the data key is wrapped by a bucket key (SSE-KMS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
    /// `AES256` for SSE-C.
    #[serde(
        rename = "SSECustomerAlgorithm",
        skip_serializing_if = "Option::is_none"
    )]
    pub sse_customer_algorithm: Option<String>,
    /// Base64 of the MD5 of the request's SSE-C key.
    #[serde(rename = "SSECustomerKeyMD5", skip_serializing_if = "Option::is_none")]
    pub sse_customer_key_md5: Option<String>,
    /// The Content-Type given at PUT, else `binary/octet-stream` (as S3 reports).
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// User metadata (keys lowercased, without `x-amz-meta-`); omitted when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// What S3 reports as the Content-Type of an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

fn default_content_type() -> String {
    DEFAULT_CONTENT_TYPE.to_string()
}

/// An entry of a listing (no key needed to produce it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectSummary {
    pub key: String,
    pub last_modified: String,
    #[serde(skip)]
    pub last_modified_ms: i64,
    #[serde(rename = "ETag")]
    pub etag: String,
    pub size: u64,
    pub storage_class: String,
    /// `AES256`, `aws:kms` or `SSE-C` (not an S3 list field; kmsfs adds it).
    pub server_side_encryption: String,
}

fn etag(md5: &[u8; 16]) -> String {
    format!("\"{}\"", hex(md5))
}

impl ObjectInfo {
    /// What HEAD says of the object whose header is `h` (`sse_c_md5`: of the SSE-C key the
    /// request gave).
    pub(crate) fn of(h: &Header, sse_c_md5: Option<String>) -> ObjectInfo {
        let kms = h.sse != Sse::Customer;
        ObjectInfo {
            bucket: h.record.bucket.clone(),
            key: h.record.key.clone(),
            content_length: h.content_length,
            content_range: None,
            size: h.content_length,
            etag: etag(&h.etag),
            last_modified: rfc3339(h.last_modified_ms),
            last_modified_ms: h.last_modified_ms,
            server_side_encryption: h.sse.s3_name().map(String::from),
            ssekms_key_id: if h.sse == Sse::Kms {
                h.record.kms_key_arn.clone()
            } else {
                None
            },
            ssekms_encryption_context: (!h.record.context.is_empty())
                .then(|| b64::encode(&serde_json::to_vec(&h.record.context).expect("serializes"))),
            bucket_key_enabled: (kms && h.sse == Sse::Kms).then_some(h.bucket_key()),
            sse_customer_algorithm: (!kms).then(|| "AES256".to_string()),
            sse_customer_key_md5: sse_c_md5,
            content_type: h
                .record
                .content_type
                .clone()
                .unwrap_or_else(default_content_type),
            metadata: h.record.metadata.iter().cloned().collect(),
        }
    }
}

impl ObjectSummary {
    /// The listing entry of the object whose header is `h`.
    pub(crate) fn of(h: &Header) -> ObjectSummary {
        ObjectSummary {
            key: h.record.key.clone(),
            last_modified: rfc3339(h.last_modified_ms),
            last_modified_ms: h.last_modified_ms,
            etag: etag(&h.etag),
            size: h.content_length,
            storage_class: "STANDARD".into(),
            server_side_encryption: match h.sse {
                Sse::Aes256 => "AES256",
                Sse::Kms => "aws:kms",
                Sse::Customer => "SSE-C",
            }
            .into(),
        }
    }
}
