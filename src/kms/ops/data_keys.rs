//! Data keys and random bytes: GenerateDataKey, GenerateDataKeyWithoutPlaintext,
//! GenerateRandom, and the checks of KeySpec and NumberOfBytes.

use super::Result;
use super::check_grant_tokens;
use super::crypto::{checked_context, seal_blob};
use crate::crypto;
use crate::kms::error::KmsError;
use crate::kms::service::{Call, MAX_RANDOM};
use crate::kms::types::*;

/// NumberOfBytes: 1 to [`MAX_RANDOM`].
fn check_random_len(n: u32) -> Result<usize> {
    if n == 0 {
        return Err(KmsError::bound(
            n,
            "numberOfBytes",
            "Member must have value greater than or equal to 1",
        ));
    }
    if n > MAX_RANDOM {
        return Err(KmsError::bound(
            n,
            "numberOfBytes",
            "Member must have value less than or equal to 1024",
        ));
    }
    Ok(n as usize)
}

/// The data key's length: from exactly one of KeySpec and NumberOfBytes.
fn data_key_len(req: &GenerateDataKeyRequest) -> Result<usize> {
    match (&req.key_spec, req.number_of_bytes) {
        (Some(_), Some(_)) | (None, None) => Err(KmsError::Validation(
            "Please specify either number of bytes or key spec.".into(),
        )),
        (Some(s), None) => match s.as_str() {
            "AES_256" => Ok(32),
            "AES_128" => Ok(16),
            other => Err(KmsError::bound(
                other,
                "keySpec",
                "Member must satisfy enum value set: [AES_256, AES_128]",
            )),
        },
        (None, Some(n)) => check_random_len(n),
    }
}

/// A new data key and its blob under the request's key.
fn data_key(c: &Call, req: &GenerateDataKeyRequest) -> Result<GenerateDataKeyResponse> {
    c.note_context(&req.encryption_context);
    c.note_encryption_algorithm(None);
    check_grant_tokens(&req.grant_tokens)?;
    let n = data_key_len(req)?;
    let ec = checked_context(&req.encryption_context)?;
    let k = c.resolve_usable(&req.key_id)?;
    super::asym::require_symmetric(c, &k)?;
    let plaintext = crypto::random_secret(n)?;
    Ok(GenerateDataKeyResponse {
        ciphertext_blob: seal_blob(&k, &ec, plaintext.expose())?,
        plaintext,
        key_id: c.key_arn(&k).to_string(),
        key_material_id: k.material_ids.last().cloned().unwrap_or_default(),
    })
}

pub(super) fn generate_data_key(
    c: &Call,
    req: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyResponse> {
    data_key(c, &req)
}

pub(super) fn generate_data_key_without_plaintext(
    c: &Call,
    req: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyWithoutPlaintextResponse> {
    let r = data_key(c, &req)?;
    Ok(GenerateDataKeyWithoutPlaintextResponse {
        ciphertext_blob: r.ciphertext_blob,
        key_id: r.key_id,
        key_material_id: r.key_material_id,
    })
}

pub(super) fn generate_random(
    _: &Call,
    req: GenerateRandomRequest,
) -> Result<GenerateRandomResponse> {
    let n = req
        .number_of_bytes
        .ok_or_else(|| KmsError::Validation("NumberOfBytes is required.".into()))?;
    Ok(GenerateRandomResponse {
        plaintext: crypto::random_secret(check_random_len(n)?)?,
    })
}
