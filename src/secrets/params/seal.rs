//! SecureString values sealed as AWS seals them. Standard parameters: KMS `Encrypt` of the
//! value under the parameter's key with the encryption context `{"PARAMETER_ARN": arn}`;
//! the stored blob is the KMS `CiphertextBlob`. Advanced parameters: envelope encryption,
//! a data key from `GenerateDataKey` (AES_256, the same context) seals the value with
//! AES-256-GCM-SIV, its AAD binding the ARN and the version, so a value moved to another
//! parameter or version does not open. Without decryption, a reader gets the base64 of
//! the stored blob (as AWS returns the ciphertext).
//!
//! Envelope layout (docs/FORMAT.md): `KMSFSPE\x01` ‖ u16 BE length of the wrapped key ‖
//! wrapped key (the KMS `CiphertextBlob`) ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag.

use super::error::ParamError;
use super::record::Stored;
use super::types::ParamValue;
use crate::crypto::{AeadKey, NONCE_LEN, TAG_LEN, random_nonce};
use crate::crypto::{SecretBytes, SecretKey};
use crate::kms::EncryptionContext;
use crate::kms::types::{DecryptRequest, EncryptRequest, GenerateDataKeyRequest};
use crate::secrets::ServiceContext;

/// The envelope's magic (version 1).
pub const ENVELOPE_MAGIC: &[u8; 8] = b"KMSFSPE\x01";
/// The encryption context key AWS uses for parameters.
pub const CONTEXT_KEY: &str = "PARAMETER_ARN";
/// The AAD's domain prefix.
const AAD_PREFIX: &[u8] = b"kmsfs ssm parameter v1\0";

/// `{"PARAMETER_ARN": arn}`.
pub fn context(arn: &str) -> EncryptionContext {
    EncryptionContext::from([(CONTEXT_KEY.to_string(), arn.to_string())])
}

/// The AAD of an Advanced value: the prefix, the ARN, a NUL, the version (u64 BE).
pub fn aad(arn: &str, version: u64) -> Vec<u8> {
    let mut a = AAD_PREFIX.to_vec();
    a.extend_from_slice(arn.as_bytes());
    a.push(0);
    a.extend_from_slice(&version.to_be_bytes());
    a
}

/// Seal `value` of version `version` of `arn` under `key_id`.
pub fn seal(
    ctx: &ServiceContext,
    key_id: &str,
    arn: &str,
    version: u64,
    advanced: bool,
    value: &ParamValue,
) -> Result<Stored, ParamError> {
    let plaintext = SecretBytes::from_slice(value.expose().as_bytes());
    if !advanced {
        let r = ctx
            .kms
            .encrypt(EncryptRequest {
                key_id: key_id.to_string(),
                plaintext,
                encryption_context: Some(context(arn)),
                ..Default::default()
            })
            .map_err(|e| ParamError::from_kms(e, key_id))?;
        return Ok(Stored::Kms(r.ciphertext_blob));
    }
    let dk = ctx
        .kms
        .generate_data_key(GenerateDataKeyRequest {
            key_id: key_id.to_string(),
            encryption_context: Some(context(arn)),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        })
        .map_err(|e| ParamError::from_kms(e, key_id))?;
    let key = SecretKey::from_slice(dk.plaintext.expose())
        .ok_or_else(|| ParamError::Internal("the data key is not 32 bytes".into()))?;
    let nonce = random_nonce().map_err(|e| ParamError::Internal(e.to_string()))?;
    let sealed = AeadKey::new(&key)
        .seal(&nonce, &aad(arn, version), plaintext.expose())
        .map_err(|e| ParamError::Internal(e.to_string()))?;
    drop(key);
    Ok(Stored::Envelope(envelope(
        &dk.ciphertext_blob,
        &nonce,
        &sealed,
    )?))
}

/// An envelope's bytes.
pub fn envelope(
    wrapped: &[u8],
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
) -> Result<Vec<u8>, ParamError> {
    let len = u16::try_from(wrapped.len())
        .map_err(|_| ParamError::Internal("the wrapped data key is too long".into()))?;
    let mut out = ENVELOPE_MAGIC.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(wrapped);
    out.extend_from_slice(nonce);
    out.extend_from_slice(sealed);
    Ok(out)
}

/// An envelope's parts: the wrapped key, the nonce, `ciphertext ‖ tag`.
pub type Envelope<'a> = (&'a [u8], [u8; NONCE_LEN], &'a [u8]);

/// Split an envelope into the wrapped key, the nonce and `ciphertext ‖ tag`.
pub fn parse_envelope(b: &[u8]) -> Result<Envelope<'_>, String> {
    let rest = b
        .strip_prefix(ENVELOPE_MAGIC.as_slice())
        .ok_or("not a parameter envelope (wrong magic)")?;
    if rest.len() < 2 {
        return Err("truncated envelope".into());
    }
    let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
    let rest = &rest[2..];
    if rest.len() < len + NONCE_LEN + TAG_LEN {
        return Err("truncated envelope".into());
    }
    let (wrapped, rest) = rest.split_at(len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| "bad nonce")?;
    Ok((wrapped, nonce, sealed))
}

/// The plaintext of a stored value of version `version` of `arn`.
pub fn open(
    ctx: &ServiceContext,
    key_id: &str,
    arn: &str,
    version: u64,
    stored: &Stored,
) -> Result<ParamValue, ParamError> {
    let decrypt = |blob: &[u8]| {
        ctx.kms
            .decrypt(DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                encryption_context: Some(context(arn)),
                ..Default::default()
            })
            .map_err(|e| ParamError::from_kms(e, key_id))
    };
    let bytes = match stored {
        Stored::Plain(v) => return Ok(ParamValue::new(v.clone())),
        Stored::Kms(blob) => decrypt(blob)?.plaintext,
        Stored::Envelope(b) => {
            let (wrapped, nonce, sealed) =
                parse_envelope(b).map_err(|why: String| tampered(arn, version, &why))?;
            let dk = decrypt(wrapped)?;
            let key = SecretKey::from_slice(dk.plaintext.expose())
                .ok_or_else(|| tampered(arn, version, "the data key is not 32 bytes"))?;
            AeadKey::new(&key)
                .open(&nonce, &aad(arn, version), sealed)
                .map_err(|_| tampered(arn, version, "it does not authenticate"))?
        }
    };
    let s = std::str::from_utf8(bytes.expose())
        .map_err(|_| tampered(arn, version, "the plaintext is not UTF-8"))?;
    Ok(ParamValue::new(s))
}

/// A stored value as a reader without decryption sees it: the value of a String, the
/// base64 of a SecureString's ciphertext.
pub fn shown(stored: &Stored) -> ParamValue {
    match stored {
        Stored::Plain(v) => ParamValue::new(v.clone()),
        Stored::Kms(b) | Stored::Envelope(b) => ParamValue::new(crate::kms::types::b64::encode(b)),
    }
}

fn tampered(arn: &str, version: u64, why: &str) -> ParamError {
    ParamError::Damaged(format!(
        "the stored value of {arn} version {version} does not decrypt: {why} \
         (the record was altered, or the value moved from another parameter or version)"
    ))
}
