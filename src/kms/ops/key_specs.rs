//! The kind of key a CreateKey asks for (KeySpec or the legacy CustomerMasterKeySpec, and
//! KeyUsage, with AWS's defaults and refusals), its first material (an AES key, a PKCS#8
//! private key or HMAC material), and the rules that follow from the kind: rotation only for
//! symmetric keys.

use super::Result;
use crate::crypto::asym::{Family, HmacKey, KeySpec, PrivateKey};
use crate::kms::error::KmsError;
use crate::kms::record::{KeyRecord, KeySecret, KeyUsage, SecretVec};
use crate::kms::service::Call;
use crate::kms::types::CreateKeyRequest;
use zeroize::Zeroizing;

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// What a new key is: its spec (`None`: SYMMETRIC_DEFAULT) and usage.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyKind {
    pub(super) spec: Option<KeySpec>,
    pub(super) usage: KeyUsage,
}

fn enum_error(v: &str, member: &str, all: &[&str]) -> KmsError {
    let set = format!("Member must satisfy enum value set: [{}]", all.join(", "));
    KmsError::bound(v, member, &set)
}

/// A KeySpec value: `Ok(None)` for SYMMETRIC_DEFAULT. SM2 (China Regions only) and ML-KEM
/// (ENCAPSULATE_DECAPSULATE: no Encapsulate/Decapsulate in kmsfs) are valid AWS values that
/// kmsfs does not implement: UnsupportedOperationException.
fn parse_spec(s: &str, member: &str) -> Result<Option<KeySpec>> {
    if s == "SYMMETRIC_DEFAULT" {
        return Ok(None);
    }
    if let Some(spec) = KeySpec::parse(s) {
        return Ok(Some(spec));
    }
    match s {
        "SM2" => Err(KmsError::UnsupportedOperation(
            "KeySpec SM2 is offered by AWS only in China Regions; kmsfs does not support it".into(),
        )),
        s if KEY_SPECS.contains(&s) => Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {s} (ML-KEM, for Encapsulate/Decapsulate) is not supported by kmsfs"
        ))),
        s => Err(enum_error(s, member, KEY_SPECS)),
    }
}

/// The usages a key of `spec` may have.
fn usages(spec: Option<KeySpec>) -> &'static [KeyUsage] {
    use KeyUsage::*;
    let Some(spec) = spec else {
        return &[EncryptDecrypt];
    };
    match spec.family() {
        Family::Rsa => &[EncryptDecrypt, SignVerify],
        Family::Ecc if !spec.key_agreement_algorithms().is_empty() => &[SignVerify, KeyAgreement],
        Family::Ecc | Family::Ed25519 | Family::MlDsa => &[SignVerify],
        Family::Hmac => &[GenerateVerifyMac],
    }
}

/// The kind a CreateKey request asks for. KeyUsage defaults to ENCRYPT_DECRYPT (AWS's
/// default), so it is required for every spec that cannot encrypt.
pub(super) fn key_kind(req: &CreateKeyRequest) -> Result<KeyKind> {
    if let (Some(a), Some(b)) = (&req.key_spec, &req.customer_master_key_spec)
        && a != b
    {
        return Err(KmsError::Validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.".into(),
        ));
    }
    let spec = match (&req.key_spec, &req.customer_master_key_spec) {
        (Some(s), _) => parse_spec(s, "keySpec")?,
        (None, Some(s)) => parse_spec(s, "customerMasterKeySpec")?,
        (None, None) => None,
    };
    let usage = match req.key_usage.as_deref() {
        None => KeyUsage::EncryptDecrypt,
        Some(u) => KeyUsage::parse(u).ok_or_else(|| match KEY_USAGES.contains(&u) {
            true => KmsError::UnsupportedOperation(format!(
                "KeyUsage {u} (ML-KEM keys) is not supported by kmsfs"
            )),
            false => enum_error(u, "keyUsage", KEY_USAGES),
        })?,
    };
    if !usages(spec).contains(&usage) {
        let spec_name = spec.map_or("SYMMETRIC_DEFAULT", KeySpec::name);
        return Err(KmsError::Validation(format!(
            "KeyUsage {} is not compatible with KeySpec {spec_name}",
            usage.as_str()
        )));
    }
    Ok(KeyKind { spec, usage })
}

/// Give a new record (made with symmetric material) the kind asked for: its spec, usage
/// and, for an asymmetric or HMAC spec, freshly generated material in place of the AES key.
pub(super) fn apply(rec: &mut KeyRecord, kind: KeyKind) -> Result<()> {
    rec.usage = kind.usage;
    rec.spec = kind.spec;
    if let Some(spec) = kind.spec {
        rec.materials[0].secret = new_secret(spec)?;
    }
    Ok(())
}

/// Fresh material of an asymmetric or HMAC spec.
fn new_secret(spec: KeySpec) -> Result<KeySecret> {
    Ok(match spec.family() {
        Family::Hmac => {
            let k = HmacKey::generate(spec)?;
            KeySecret::Hmac(SecretVec(Zeroizing::new(k.material().expose().to_vec())))
        }
        _ => {
            let k = PrivateKey::generate(spec)?;
            KeySecret::Private(SecretVec(Zeroizing::new(k.pkcs8().expose().to_vec())))
        }
    })
}

/// Rotation (automatic or on demand) exists only for symmetric keys, as in AWS.
pub(super) fn require_rotatable(c: &Call, r: &KeyRecord) -> Result<()> {
    match r.spec {
        None => Ok(()),
        Some(spec) => Err(KmsError::UnsupportedOperation(format!(
            "{} has key spec {spec}: only symmetric encryption keys (SYMMETRIC_DEFAULT) support key rotation",
            c.arn(&r.key_id)
        ))),
    }
}
