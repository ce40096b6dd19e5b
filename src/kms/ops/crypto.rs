//! Cryptographic operations on caller data: Encrypt, Decrypt, ReEncrypt, with the sealing
//! and opening of ciphertext blobs under a key's materials and the checks of their
//! arguments (plaintext and blob sizes, algorithm, encryption context).

use super::Result;
use super::check_grant_tokens;
use crate::crypto::{self, SecretBytes};
use crate::kms::authorize::Ask;
use crate::kms::blob::{self, Blob};
use crate::kms::context::{self, EncryptionContext};
use crate::kms::error::KmsError;
use crate::kms::keystore::LoadedKey;
use crate::kms::service::{Call, MAX_PLAINTEXT};
use crate::kms::types::*;
use std::sync::Arc;

/// EncryptionAlgorithm: only SYMMETRIC_DEFAULT, the one of symmetric keys.
fn check_algorithm(a: Option<&str>) -> Result<()> {
    match a {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(s @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => {
            Err(KmsError::InvalidKeyUsage(format!(
                "encryption algorithm {s} is not valid for a SYMMETRIC_DEFAULT key"
            )))
        }
        Some(s) => Err(KmsError::bound(
            s,
            "encryptionAlgorithm",
            "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
        )),
    }
}

/// A request's encryption context (empty when absent), checked.
pub(super) fn checked_context(o: &Option<EncryptionContext>) -> Result<EncryptionContext> {
    let ec = o.clone().unwrap_or_default();
    context::validate(&ec)?;
    Ok(ec)
}

/// CiphertextBlob: 1 to 6144 bytes.
fn check_blob_len(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(KmsError::bound(
            "null",
            "ciphertextBlob",
            "Member must have length greater than or equal to 1",
        ));
    }
    if bytes.len() > blob::MAX_BLOB {
        return Err(KmsError::bound(
            format!("<{} bytes>", bytes.len()),
            "ciphertextBlob",
            "Member must have length less than or equal to 6144",
        ));
    }
    Ok(())
}

/// Seal `plaintext` under the current material of `k`.
pub(super) fn seal_blob(
    k: &LoadedKey,
    ec: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let m = k.record.current();
    let cipher = k
        .cipher(m.version)
        .ok_or_else(|| KmsError::Internal("material missing".into()))?;
    let nonce = crypto::random_nonce()?;
    Ok(blob::seal(
        cipher,
        &k.record.key_id,
        m.version,
        &nonce,
        ec,
        plaintext,
    )?)
}

/// Authenticate and decrypt a blob; `expected` is the caller's KeyId, if given. Notes the
/// blob's key (or the expected one, when they differ) in the trail.
pub(super) fn open_blob(
    c: &Call,
    bytes: &[u8],
    ec: &EncryptionContext,
    expected: Option<&str>,
) -> Result<(SecretBytes, Arc<LoadedKey>, u32)> {
    check_blob_len(bytes)?;
    let b = Blob::parse(bytes).map_err(|e| KmsError::InvalidCiphertext(e.to_string()))?;
    if let Some(exp) = expected {
        let k = c.resolve(exp, true)?;
        if k.record.key_id != b.key_id {
            c.note_key(c.arn(&k.record.key_id));
            return Err(KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
    }
    let k = c.get_live(&b.key_id)?;
    c.note_key(match &k {
        Some(k) => c.key_arn(k).to_string(),
        None => c.arn(&b.key_id),
    });
    let k = k.ok_or_else(|| {
        KmsError::InvalidCiphertext(
            "the ciphertext refers to a KMS key that does not exist in this keystore (deleted, or from another home)".into(),
        )
    })?;
    c.authorize_operation(&k, expected)?;
    c.require_usable(&k)?;
    let cipher = k.cipher(b.material_version).ok_or_else(|| {
        KmsError::InvalidCiphertext(
            "the ciphertext refers to key material this key does not have".into(),
        )
    })?;
    let plain = b.open(cipher, ec).map_err(|_| {
        KmsError::InvalidCiphertext(
            "the ciphertext or its encryption context is wrong (authentication failed)".into(),
        )
    })?;
    Ok((plain, k, b.material_version))
}

/// Plaintext of Encrypt: 1 to [`MAX_PLAINTEXT`] bytes.
fn check_plaintext_len(n: usize) -> Result<()> {
    if n == 0 {
        return Err(KmsError::bound(
            "",
            "plaintext",
            "Member must have length greater than or equal to 1",
        ));
    }
    if n > MAX_PLAINTEXT {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to {MAX_PLAINTEXT} (got {n} bytes; Encrypt takes at most {MAX_PLAINTEXT} bytes, use a data key for more)"
        )));
    }
    Ok(())
}

pub(super) fn encrypt(c: &Call, req: EncryptRequest) -> Result<EncryptResponse> {
    c.note_context(&req.encryption_context);
    c.note_encryption_algorithm(req.encryption_algorithm.as_deref());
    check_grant_tokens(&req.grant_tokens)?;
    check_plaintext_len(req.plaintext.len())?;
    if let Some(r) = super::asym_crypto::encrypt(c, &req)? {
        return Ok(r);
    }
    check_algorithm(req.encryption_algorithm.as_deref())?;
    let ec = checked_context(&req.encryption_context)?;
    let k = c.resolve_usable(&req.key_id)?;
    let blob = seal_blob(&k, &ec, req.plaintext.expose())?;
    Ok(EncryptResponse {
        ciphertext_blob: blob,
        key_id: c.key_arn(&k).to_string(),
        encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
    })
}

pub(super) fn decrypt(c: &Call, req: DecryptRequest) -> Result<DecryptResponse> {
    c.note_context(&req.encryption_context);
    c.note_encryption_algorithm(req.encryption_algorithm.as_deref());
    check_grant_tokens(&req.grant_tokens)?;
    if let Some(r) = super::asym_crypto::decrypt(c, &req)? {
        return Ok(r);
    }
    check_algorithm(req.encryption_algorithm.as_deref())?;
    let ec = checked_context(&req.encryption_context)?;
    let expected = req.key_id.as_deref();
    let (plaintext, k, version) = open_blob(c, &req.ciphertext_blob, &ec, expected)?;
    Ok(DecryptResponse {
        key_id: c.key_arn(&k).to_string(),
        plaintext,
        encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        key_material_id: k.material_ids[version as usize - 1].clone(),
    })
}

pub(super) fn re_encrypt(c: &Call, req: ReEncryptRequest) -> Result<ReEncryptResponse> {
    c.note_context(&req.source_encryption_context);
    c.note_destination_context(&req.destination_encryption_context);
    c.note_encryption_algorithm(req.source_encryption_algorithm.as_deref());
    check_grant_tokens(&req.grant_tokens)?;
    if let Some(r) = super::asym_crypto::re_encrypt(c, &req)? {
        return Ok(r);
    }
    check_algorithm(req.source_encryption_algorithm.as_deref())?;
    check_algorithm(req.destination_encryption_algorithm.as_deref())?;
    let sec = checked_context(&req.source_encryption_context)?;
    let dec = checked_context(&req.destination_encryption_context)?;
    let dest = c.resolve(&req.destination_key_id, true)?;
    c.note_destination_key(c.arn(&dest.record.key_id));
    let to = Ask {
        key_id: Some(&req.destination_key_id),
        context: Some(&dec).filter(|e| !e.is_empty()),
        ..Ask::default()
    };
    c.authorize(&dest, "kms:ReEncryptTo", to)?;
    let expected = req.source_key_id.as_deref();
    let (plain, src, version) = open_blob(c, &req.ciphertext_blob, &sec, expected)?;
    c.require_usable(&dest)?;
    let blob = seal_blob(&dest, &dec, plain.expose())?;
    Ok(ReEncryptResponse {
        ciphertext_blob: blob,
        source_key_id: c.arn(&src.record.key_id),
        key_id: c.arn(&dest.record.key_id),
        source_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        destination_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        source_key_material_id: crypto::hex(&src.record.materials[version as usize - 1].id),
        destination_key_material_id: crypto::hex(&dest.record.current().id),
    })
}
