//! ECC_NIST_EDWARDS25519: ED25519_SHA_512 is pure Ed25519 over the message (RAW only);
//! ED25519_PH_SHA_512 is Ed25519ph (RFC 8032 HashEdDSA, empty context) over the caller's
//! SHA-512 digest (DIGEST only). aws-lc-rs wraps pure Ed25519; Ed25519ph over a digest is
//! AWS-LC's `ED25519ph_{sign,verify}_digest`, called through aws-lc-sys.

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use super::{AsymError, KeySpec, SigningAlgorithm};
use crate::crypto::SecretBytes;

/// DER SubjectPublicKeyInfo of an Ed25519 key, before its 32 key bytes (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

pub(super) struct Ed25519 {
    pair: Ed25519KeyPair,
}

/// A fresh Ed25519 key, as PKCS#8 (v1, as `openssl genpkey` writes it) DER.
pub(super) fn generate() -> Result<SecretBytes, AsymError> {
    let err = AsymError::Library("Ed25519 key generation");
    let pair = Ed25519KeyPair::generate().map_err(|_| err.clone())?;
    let doc = pair.to_pkcs8v1().map_err(|_| err)?;
    Ok(SecretBytes::from_slice(doc.as_ref()))
}

impl Ed25519 {
    pub(super) fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<Ed25519, AsymError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| AsymError::InvalidKey {
            what: "PKCS#8 private key",
            spec,
        })?;
        Ok(Ed25519 { pair })
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    pub(super) fn sign(&self, alg: SigningAlgorithm, message: &[u8]) -> Result<Vec<u8>, AsymError> {
        if alg == SigningAlgorithm::Ed25519Sha512 {
            return Ok(self.pair.sign(message).as_ref().to_vec());
        }
        let err = AsymError::Library("Ed25519ph signing");
        // AWS-LC's Ed25519 private key: seed ‖ public key (64 bytes).
        let seed = self.pair.seed().map_err(|_| err.clone())?;
        let seed = seed.as_be_bytes().map_err(|_| err.clone())?;
        let mut sk = Zeroizing::new([0u8; 64]);
        sk[..32].copy_from_slice(seed.as_ref());
        sk[32..].copy_from_slice(self.pair.public_key().as_ref());
        let digest: &[u8; 64] = message
            .try_into()
            .map_err(|_| AsymError::DigestLength(alg))?;
        let mut sig = [0u8; 64];
        // SAFETY: every pointer is valid for the length AWS-LC reads or writes: a 64-byte
        // signature buffer, a 64-byte digest, a 64-byte private key, an empty context.
        let ok = unsafe {
            aws_lc_sys::ED25519ph_sign_digest(
                sig.as_mut_ptr(),
                digest.as_ptr(),
                sk.as_ptr(),
                [].as_ptr(),
                0,
            )
        };
        if ok != 1 {
            return Err(err);
        }
        Ok(sig.to_vec())
    }
}

/// Whether `spki` is an Ed25519 SubjectPublicKeyInfo.
pub(super) fn check_spki(spki: &[u8]) -> bool {
    spki.len() == 44 && spki[..12] == SPKI_PREFIX
}

pub(super) fn verify(
    spki: &[u8],
    alg: SigningAlgorithm,
    message: &[u8],
    sig: &[u8],
) -> Result<(), AsymError> {
    if alg == SigningAlgorithm::Ed25519Sha512 {
        return UnparsedPublicKey::new(&signature::ED25519, spki)
            .verify(message, sig)
            .map_err(|_| AsymError::InvalidSignature);
    }
    if !check_spki(spki) {
        return Err(AsymError::InvalidKey {
            what: "public key",
            spec: KeySpec::EccNistEdwards25519,
        });
    }
    let digest: &[u8; 64] = message
        .try_into()
        .map_err(|_| AsymError::DigestLength(alg))?;
    let sig: &[u8; 64] = sig.try_into().map_err(|_| AsymError::InvalidSignature)?;
    // SAFETY: a 64-byte digest, a 64-byte signature, a 32-byte public key (the SPKI's tail,
    // length checked above) and an empty context, all read-only.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify_digest(
            digest.as_ptr(),
            sig.as_ptr(),
            spki[12..].as_ptr(),
            [].as_ptr(),
            0,
        )
    };
    if ok == 1 {
        Ok(())
    } else {
        Err(AsymError::InvalidSignature)
    }
}
