//! ECC_NIST_P256/P384/P521 and ECC_SECG_P256K1: ECDSA with DER (ASN.1) signatures, the curve
//! fixing the hash (P-256 and secp256k1 SHA-256, P-384 SHA-384, P-521 SHA-512); ECDH on the
//! NIST curves.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair,
    UnparsedPublicKey,
};

use super::{AsymError, KeySpec, MessageType, SigningAlgorithm};
use crate::crypto::SecretBytes;

/// A parsed EC private key: for ECDSA, and for ECDH on the NIST curves.
pub(super) struct Ecc {
    alg: SigningAlgorithm,
    pair: EcdsaKeyPair,
    ecdh: Option<agreement::PrivateKey>,
}

fn signing(spec: KeySpec) -> &'static EcdsaSigningAlgorithm {
    match spec {
        KeySpec::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        KeySpec::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeySpec::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
    }
}

fn verification(spec: KeySpec) -> &'static EcdsaVerificationAlgorithm {
    match spec {
        KeySpec::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeySpec::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeySpec::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1,
        _ => &signature::ECDSA_P256K1_SHA256_ASN1,
    }
}

fn ecdh(spec: KeySpec) -> Option<&'static agreement::Algorithm> {
    match spec {
        KeySpec::EccNistP256 => Some(&agreement::ECDH_P256),
        KeySpec::EccNistP384 => Some(&agreement::ECDH_P384),
        KeySpec::EccNistP521 => Some(&agreement::ECDH_P521),
        _ => None,
    }
}

/// A fresh EC key of `spec`, as PKCS#8 DER.
pub(super) fn generate(spec: KeySpec) -> Result<SecretBytes, AsymError> {
    let err = AsymError::Library("EC key generation");
    let pair = EcdsaKeyPair::generate(signing(spec)).map_err(|_| err.clone())?;
    let doc = pair.to_pkcs8v1().map_err(|_| err)?;
    Ok(SecretBytes::from_slice(doc.as_ref()))
}

impl Ecc {
    pub(super) fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<Ecc, AsymError> {
        let bad = AsymError::InvalidKey {
            what: "PKCS#8 private key",
            spec,
        };
        let pair = EcdsaKeyPair::from_pkcs8(signing(spec), der).map_err(|_| bad.clone())?;
        let ecdh = match ecdh(spec) {
            Some(a) => Some(agreement::PrivateKey::from_private_key_der(a, der).map_err(|_| bad)?),
            None => None,
        };
        Ok(Ecc {
            alg: spec.signing_algorithms()[0],
            pair,
            ecdh,
        })
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    pub(super) fn sign(&self, mt: MessageType, message: &[u8]) -> Result<Vec<u8>, AsymError> {
        let sig = match mt {
            MessageType::Digest => self
                .pair
                .sign_digest(&super::import_digest(self.alg, message)?),
            _ => self.pair.sign(&SystemRandom::new(), message),
        };
        let sig = sig.map_err(|_| AsymError::Library("ECDSA signing"))?;
        Ok(sig.as_ref().to_vec())
    }

    pub(super) fn agree(&self, spec: KeySpec, peer_spki: &[u8]) -> Result<SecretBytes, AsymError> {
        let (Some(key), Some(alg)) = (&self.ecdh, ecdh(spec)) else {
            return Err(AsymError::WrongOperation {
                op: "derive a shared secret",
                spec,
            });
        };
        let peer = agreement::UnparsedPublicKey::new(alg, peer_spki);
        let bad = AsymError::InvalidKey {
            what: "peer public key",
            spec,
        };
        agreement::agree(key, peer, bad, |s| Ok(SecretBytes::from_slice(s)))
    }
}

/// Whether `spki` is a DER SubjectPublicKeyInfo of a point on `spec`'s curve.
pub(super) fn check_spki(spec: KeySpec, spki: &[u8]) -> bool {
    spki.first() == Some(&0x30)
        && UnparsedPublicKey::new(verification(spec), spki)
            .parse()
            .is_ok()
}

pub(super) fn verify(
    spec: KeySpec,
    spki: &[u8],
    mt: MessageType,
    message: &[u8],
    sig: &[u8],
) -> Result<(), AsymError> {
    let key = UnparsedPublicKey::new(verification(spec), spki);
    let r = match mt {
        MessageType::Digest => {
            let d = super::import_digest(spec.signing_algorithms()[0], message)?;
            key.verify_digest(&d, sig)
        }
        _ => key.verify(message, sig),
    };
    r.map_err(|_| AsymError::InvalidSignature)
}
