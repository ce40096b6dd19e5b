//! Encrypt, Decrypt and ReEncrypt with an asymmetric key (RSA_2048..4096, ENCRYPT_DECRYPT):
//! RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256, as AWS does. The ciphertext is the raw OAEP
//! ciphertext (no kmsfs blob, nothing names the key), so Decrypt needs the KeyId, and no
//! encryption context can be bound. `crypto.rs` hands a request here when its key is not a
//! symmetric one.

use super::Result;
use super::asym::{private_key, require_symmetric, require_usage};
use super::crypto::{checked_context, open_blob, seal_blob};
use crate::crypto::SecretBytes;
use crate::crypto::asym::EncryptionAlgorithm;
use crate::kms::authorize::Ask;
use crate::kms::context::EncryptionContext;
use crate::kms::error::KmsError;
use crate::kms::keystore::LoadedKey;
use crate::kms::record::KeyUsage;
use crate::kms::service::Call;
use crate::kms::types::*;
use std::sync::Arc;

const ALGORITHMS: &str = "[SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]";

/// The key `key_id` names, when it is an asymmetric or HMAC key (not yet authorized: the
/// operation resolves it again through `resolve_usable`).
fn asymmetric(c: &Call, key_id: Option<&str>) -> Result<Option<Arc<LoadedKey>>> {
    let Some(id) = key_id else { return Ok(None) };
    let k = c.resolve(id, true)?;
    Ok(k.record.spec.is_some().then_some(k))
}

/// The EncryptionAlgorithm for an RSA key: required, and one of the key spec's.
fn algorithm(k: &LoadedKey, v: Option<&str>) -> Result<EncryptionAlgorithm> {
    let v = v.unwrap_or("SYMMETRIC_DEFAULT");
    let spec = k.record.spec_name();
    let alg = match EncryptionAlgorithm::parse(v) {
        Some(a) => a,
        None if ALGORITHMS.contains(v) => {
            return Err(KmsError::InvalidKeyUsage(format!(
                "Algorithm {v} is incompatible with key spec {spec}."
            )));
        }
        None => {
            let set = format!("Member must satisfy enum value set: {ALGORITHMS}");
            return Err(KmsError::bound(v, "encryptionAlgorithm", &set));
        }
    };
    Ok(alg)
}

/// An asymmetric key binds no encryption context.
fn no_context(ec: &Option<EncryptionContext>) -> Result<()> {
    if ec.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(KmsError::Validation(
            "EncryptionContext is not supported with asymmetric KMS keys.".into(),
        ));
    }
    Ok(())
}

/// The resolved, authorized, enabled RSA encryption key and its algorithm.
fn rsa(c: &Call, key_id: &str, alg: Option<&str>) -> Result<(Arc<LoadedKey>, EncryptionAlgorithm)> {
    let k = c.resolve_usable(key_id)?;
    require_usage(c, &k, KeyUsage::EncryptDecrypt)?;
    // The RSA family's token (the symmetric one was taken up front, before the key was
    // known: such a request counts against both).
    c.admit_key(k.record.spec)?;
    let alg = algorithm(&k, alg)?;
    Ok((k, alg))
}

fn rsa_encrypt(k: &LoadedKey, alg: EncryptionAlgorithm, plain: &[u8]) -> Result<Vec<u8>> {
    Ok(private_key(k)?.public_key().encrypt(alg, plain)?)
}

fn rsa_decrypt(k: &LoadedKey, alg: EncryptionAlgorithm, blob: &[u8]) -> Result<SecretBytes> {
    private_key(k)?
        .decrypt(alg, blob)
        .map_err(|_| KmsError::InvalidCiphertext(String::new()))
}

/// Encrypt under an asymmetric key; `None` when the key is symmetric.
pub(super) fn encrypt(c: &Call, req: &EncryptRequest) -> Result<Option<EncryptResponse>> {
    if asymmetric(c, Some(&req.key_id))?.is_none() {
        return Ok(None);
    }
    let (k, alg) = rsa(c, &req.key_id, req.encryption_algorithm.as_deref())?;
    no_context(&req.encryption_context)?;
    Ok(Some(EncryptResponse {
        ciphertext_blob: rsa_encrypt(&k, alg, req.plaintext.expose())?,
        key_id: c.key_arn(&k).to_string(),
        encryption_algorithm: alg.name().into(),
    }))
}

/// Decrypt with an asymmetric key: the request must name it (KeyId). `None` when it names
/// a symmetric key or none and uses no RSA algorithm.
pub(super) fn decrypt(c: &Call, req: &DecryptRequest) -> Result<Option<DecryptResponse>> {
    let rsa_alg = req
        .encryption_algorithm
        .as_deref()
        .is_some_and(|a| a.starts_with("RSAES_"));
    if req.key_id.is_none() && rsa_alg {
        return Err(KmsError::Validation(
            "KeyId is required to decrypt with an asymmetric KMS key (RSAES_OAEP_SHA_*).".into(),
        ));
    }
    if asymmetric(c, req.key_id.as_deref())?.is_none() {
        return Ok(None);
    }
    let key_id = req.key_id.as_deref().unwrap_or_default();
    let (k, alg) = rsa(c, key_id, req.encryption_algorithm.as_deref())?;
    no_context(&req.encryption_context)?;
    Ok(Some(DecryptResponse {
        key_id: c.key_arn(&k).to_string(),
        plaintext: rsa_decrypt(&k, alg, &req.ciphertext_blob)?,
        encryption_algorithm: alg.name().into(),
        key_material_id: k.material_ids.last().cloned().unwrap_or_default(),
    }))
}

/// ReEncrypt when the source or the destination key is asymmetric; `None` otherwise.
pub(super) fn re_encrypt(c: &Call, req: &ReEncryptRequest) -> Result<Option<ReEncryptResponse>> {
    let src_asym = asymmetric(c, req.source_key_id.as_deref())?.is_some();
    let dest_asym = asymmetric(c, Some(&req.destination_key_id))?.is_some();
    if !src_asym && !dest_asym {
        return Ok(None);
    }
    let src_alg = req.source_encryption_algorithm.as_deref();
    let (plain, src, src_alg, src_material) = if src_asym {
        let id = req.source_key_id.as_deref().unwrap_or_default();
        let (k, alg) = rsa(c, id, src_alg)?;
        no_context(&req.source_encryption_context)?;
        let plain = rsa_decrypt(&k, alg, &req.ciphertext_blob)?;
        let m = k.material_ids.last().cloned().unwrap_or_default();
        (plain, k, alg.name(), m)
    } else {
        let sec = checked_context(&req.source_encryption_context)?;
        let (plain, k, v) = open_blob(c, &req.ciphertext_blob, &sec, req.source_key_id.as_deref())?;
        let m = k.material_ids[v as usize - 1].clone();
        (plain, k, "SYMMETRIC_DEFAULT", m)
    };
    let dest_alg = req.destination_encryption_algorithm.as_deref();
    let dest = c.resolve(&req.destination_key_id, true)?;
    c.note_destination_key(c.arn(&dest.record.key_id));
    let dec = checked_context(&req.destination_encryption_context)?;
    let to = Ask {
        key_id: Some(&req.destination_key_id),
        context: Some(&dec).filter(|e| !e.is_empty()),
        ..Ask::default()
    };
    c.authorize(&dest, "kms:ReEncryptTo", to)?;
    c.require_usable(&dest)?;
    let (blob, dest_alg) = if dest_asym {
        require_usage(c, &dest, KeyUsage::EncryptDecrypt)?;
        let alg = algorithm(&dest, dest_alg)?;
        no_context(&req.destination_encryption_context)?;
        (rsa_encrypt(&dest, alg, plain.expose())?, alg.name())
    } else {
        require_symmetric(c, &dest)?;
        (seal_blob(&dest, &dec, plain.expose())?, "SYMMETRIC_DEFAULT")
    };
    Ok(Some(ReEncryptResponse {
        ciphertext_blob: blob,
        source_key_id: c.arn(&src.record.key_id),
        key_id: c.arn(&dest.record.key_id),
        source_encryption_algorithm: src_alg.into(),
        destination_encryption_algorithm: dest_alg.into(),
        source_key_material_id: src_material,
        destination_key_material_id: dest.material_ids.last().cloned().unwrap_or_default(),
    }))
}
