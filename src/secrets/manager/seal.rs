//! A version's value sealed as AWS does it: a data key from GenerateDataKey (AES_256) of
//! the secret's key with the encryption context `{"SecretARN": arn, "SecretVersionId":
//! id}`, the value under it with AES-256-GCM-SIV, the AAD binding the ARN, the version id
//! and the value's kind, so a value moved to another secret or version fails to open. The
//! plaintext data key lives only in zeroizing buffers, dropped right after use.

use super::error::SmError;
use super::record::Version;
use crate::crypto::{AeadKey, random_nonce};
use crate::crypto::{SecretBytes, SecretKey};
use crate::kms::Client;
use crate::kms::context::EncryptionContext;
use crate::kms::types::{DecryptRequest, GenerateDataKeyRequest};

/// The AWS-managed key secrets use by default.
pub const DEFAULT_KEY: &str = "alias/aws/secretsmanager";

/// The KMS encryption context of a version's data key.
pub fn context(arn: &str, version_id: &str) -> EncryptionContext {
    [
        ("SecretARN".to_string(), arn.to_string()),
        ("SecretVersionId".to_string(), version_id.to_string()),
    ]
    .into_iter()
    .collect()
}

/// The AAD of a version's value: `kmsfs-secretsmanager-v1 \0 arn \0 id \0 kind`.
pub fn aad(arn: &str, version_id: &str, binary: bool) -> Vec<u8> {
    let mut a = b"kmsfs-secretsmanager-v1\0".to_vec();
    a.extend_from_slice(arn.as_bytes());
    a.push(0);
    a.extend_from_slice(version_id.as_bytes());
    a.push(0);
    a.push(u8::from(binary));
    a
}

/// Seal `value` as version `id` of the secret `arn` under `key`.
pub fn seal(
    kms: &dyn Client,
    key: &str,
    arn: &str,
    id: &str,
    binary: bool,
    value: &[u8],
    now_ms: i64,
) -> Result<Version, SmError> {
    let dk = kms
        .generate_data_key(GenerateDataKeyRequest {
            key_id: key.to_string(),
            encryption_context: Some(context(arn, id)),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        })
        .map_err(SmError::from_kms_write)?;
    let data_key = SecretKey::from_slice(dk.plaintext.expose())
        .ok_or_else(|| SmError::Internal("the KMS returned a data key of the wrong size".into()))?;
    let nonce = random_nonce().map_err(|e| SmError::Internal(e.to_string()))?;
    let sealed = AeadKey::new(&data_key)
        .seal(&nonce, &aad(arn, id, binary), value)
        .map_err(|e| SmError::Internal(e.to_string()))?;
    Ok(Version {
        id: id.to_string(),
        stages: Vec::new(),
        created_ms: now_ms,
        last_accessed_ms: None,
        key_arn: dk.key_id,
        binary,
        wrapped_key: dk.ciphertext_blob,
        nonce,
        sealed,
    })
}

/// Open version `v` of the secret `arn`.
pub fn open(kms: &dyn Client, arn: &str, v: &Version) -> Result<SecretBytes, SmError> {
    let dk = kms
        .decrypt(DecryptRequest {
            ciphertext_blob: v.wrapped_key.clone(),
            encryption_context: Some(context(arn, &v.id)),
            ..Default::default()
        })
        .map_err(SmError::from_kms_read)?;
    let data_key = SecretKey::from_slice(dk.plaintext.expose())
        .ok_or_else(|| SmError::DecryptionFailure("the data key has the wrong size".into()))?;
    open_with(&data_key, arn, v)
}

/// Open version `v` of the secret `arn` under its plaintext data key (what [`open`] does
/// once the KMS has unwrapped it; the golden vectors and the fuzzer call it directly).
pub fn open_with(data_key: &SecretKey, arn: &str, v: &Version) -> Result<SecretBytes, SmError> {
    AeadKey::new(data_key)
        .open(&v.nonce, &aad(arn, &v.id, v.binary), &v.sealed)
        .map_err(|_| {
            SmError::DecryptionFailure(format!(
                "the value of version {} of {arn} does not authenticate: it was altered or moved from another secret or version",
                v.id
            ))
        })
}
