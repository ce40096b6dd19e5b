//! Data key pairs: GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext. A fresh
//! key pair of the KeyPairSpec; its private key (PKCS#8 DER) is returned sealed under a
//! symmetric KMS key as an ordinary ciphertext blob bound to the request's encryption
//! context (so Decrypt gives it back), with the public key as DER SubjectPublicKeyInfo.

use super::Result;
use super::asym::{parse_enum, require_symmetric};
use super::check_grant_tokens;
use super::crypto::{checked_context, seal_blob};
use crate::crypto::asym::{KeySpec, PrivateKey};
use crate::kms::error::KmsError;
use crate::kms::service::Call;
use crate::kms::types::*;

/// The KeyPairSpec values AWS offers (SM2 only in China Regions: not in kmsfs).
const KEY_PAIR_SPECS: &[KeySpec] = &[
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
];

fn key_pair_spec(v: &str) -> Result<KeySpec> {
    if v == "SM2" {
        return Err(KmsError::UnsupportedOperation(
            "KeyPairSpec SM2 is offered by AWS only in China Regions; kmsfs does not support it"
                .into(),
        ));
    }
    let parse = |s: &str| KeySpec::parse(s).filter(|k| KEY_PAIR_SPECS.contains(k));
    parse_enum(v, "keyPairSpec", parse, KEY_PAIR_SPECS, KeySpec::name)
}

pub(super) fn generate_data_key_pair(
    c: &Call,
    req: GenerateDataKeyPairRequest,
) -> Result<GenerateDataKeyPairResponse> {
    c.note_context(&req.encryption_context);
    c.note_encryption_algorithm(None);
    check_grant_tokens(&req.grant_tokens)?;
    let spec = key_pair_spec(&req.key_pair_spec)?;
    let ec = checked_context(&req.encryption_context)?;
    let k = c.resolve_usable(&req.key_id)?;
    require_symmetric(c, &k)?;
    let pair = PrivateKey::generate(spec)?;
    let blob = seal_blob(&k, &ec, pair.pkcs8().expose())?;
    Ok(GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: blob,
        private_key_plaintext: pair.pkcs8().clone(),
        public_key: pair.public_key().spki().to_vec(),
        key_id: c.key_arn(&k).to_string(),
        key_pair_spec: spec.name().into(),
        key_material_id: k.material_ids.last().cloned().unwrap_or_default(),
    })
}

pub(super) fn generate_data_key_pair_without_plaintext(
    c: &Call,
    req: GenerateDataKeyPairRequest,
) -> Result<GenerateDataKeyPairWithoutPlaintextResponse> {
    let r = generate_data_key_pair(c, req)?;
    Ok(GenerateDataKeyPairWithoutPlaintextResponse {
        private_key_ciphertext_blob: r.private_key_ciphertext_blob,
        public_key: r.public_key,
        key_id: r.key_id,
        key_pair_spec: r.key_pair_spec,
        key_material_id: r.key_material_id,
    })
}
