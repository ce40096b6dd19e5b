//! RSA_2048/3072/4096: RSASSA-PSS and RSASSA-PKCS1-v1_5 signatures (SHA-256/384/512; PSS
//! with MGF1 of the same hash and a salt as long as the hash, as AWS), RSAES-OAEP with
//! SHA-1 or SHA-256 (MGF1 of the same hash, empty label).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, KeyPair, RsaEncoding, RsaKeyPair, UnparsedPublicKey};

use super::{AsymError, EncryptionAlgorithm, KeySpec, MessageType, SigningAlgorithm};
use crate::crypto::SecretBytes;

/// A parsed RSA private key: for signing and for OAEP decryption.
pub(super) struct Rsa {
    pair: RsaKeyPair,
    dec: OaepPrivateDecryptingKey,
}

/// A fresh RSA key of `spec`, as PKCS#8 DER.
pub(super) fn generate(spec: KeySpec) -> Result<SecretBytes, AsymError> {
    let size = match spec {
        KeySpec::Rsa2048 => KeySize::Rsa2048,
        KeySpec::Rsa3072 => KeySize::Rsa3072,
        _ => KeySize::Rsa4096,
    };
    let kp = RsaKeyPair::generate(size).map_err(|_| AsymError::Library("RSA key generation"))?;
    let der = kp
        .as_der()
        .map_err(|_| AsymError::Library("RSA key encoding"))?;
    Ok(SecretBytes::from_slice(der.as_ref()))
}

impl Rsa {
    pub(super) fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<Rsa, AsymError> {
        let bad = AsymError::InvalidKey {
            what: "PKCS#8 private key",
            spec,
        };
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| bad.clone())?;
        if Some(pair.public_modulus_len()) != spec.rsa_bytes() {
            return Err(bad);
        }
        let dec = PrivateDecryptingKey::from_pkcs8(der)
            .ok()
            .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
            .ok_or(bad)?;
        Ok(Rsa { pair, dec })
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        // An RSA public key always encodes; an empty key would fail every later parse.
        self.pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    pub(super) fn sign(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        let (enc, _) = encodings(alg);
        let mut sig = vec![0; self.pair.public_modulus_len()];
        let r = match mt {
            MessageType::Digest => {
                let d = super::import_digest(alg, message)?;
                self.pair.sign_digest(enc, &d, &mut sig)
            }
            _ => self.pair.sign(enc, &SystemRandom::new(), message, &mut sig),
        };
        r.map_err(|_| AsymError::Library("RSA signing"))?;
        Ok(sig)
    }

    pub(super) fn decrypt(
        &self,
        spec: KeySpec,
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes, AsymError> {
        if Some(ciphertext.len()) != spec.rsa_bytes() {
            return Err(AsymError::Decrypt);
        }
        let mut out = SecretBytes::zeroed(self.dec.min_output_size());
        let n = self
            .dec
            .decrypt(oaep(alg), ciphertext, out.expose_mut(), None)
            .map_err(|_| AsymError::Decrypt)?
            .len();
        out.expose_mut().truncate(n);
        Ok(out)
    }
}

/// The signing encoding and the verification parameters of an RSA algorithm.
fn encodings(
    alg: SigningAlgorithm,
) -> (&'static dyn RsaEncoding, &'static signature::RsaParameters) {
    use SigningAlgorithm as S;
    match alg {
        S::RsassaPssSha256 => (
            &signature::RSA_PSS_SHA256,
            &signature::RSA_PSS_2048_8192_SHA256,
        ),
        S::RsassaPssSha384 => (
            &signature::RSA_PSS_SHA384,
            &signature::RSA_PSS_2048_8192_SHA384,
        ),
        S::RsassaPssSha512 => (
            &signature::RSA_PSS_SHA512,
            &signature::RSA_PSS_2048_8192_SHA512,
        ),
        S::RsassaPkcs1V15Sha256 => (
            &signature::RSA_PKCS1_SHA256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        S::RsassaPkcs1V15Sha384 => (
            &signature::RSA_PKCS1_SHA384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
        ),
        // check_signing admits only RSA algorithms here.
        _ => (
            &signature::RSA_PKCS1_SHA512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
        ),
    }
}

fn oaep(alg: EncryptionAlgorithm) -> &'static OaepAlgorithm {
    match alg {
        EncryptionAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
        EncryptionAlgorithm::RsaesOaepSha256 => &OAEP_SHA256_MGF1SHA256,
    }
}

/// Whether `spki` is an RSA public key of `spec`'s size.
pub(super) fn check_spki(spec: KeySpec, spki: &[u8]) -> bool {
    PublicEncryptingKey::from_der(spki).is_ok_and(|k| Some(k.key_size_bytes()) == spec.rsa_bytes())
}

pub(super) fn verify(
    spki: &[u8],
    alg: SigningAlgorithm,
    mt: MessageType,
    message: &[u8],
    sig: &[u8],
) -> Result<(), AsymError> {
    let (_, params) = encodings(alg);
    let key = UnparsedPublicKey::new(params, spki);
    let r = match mt {
        MessageType::Digest => key.verify_digest(&super::import_digest(alg, message)?, sig),
        _ => key.verify(message, sig),
    };
    r.map_err(|_| AsymError::InvalidSignature)
}

pub(super) fn encrypt(
    spec: KeySpec,
    spki: &[u8],
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>, AsymError> {
    let max = alg.max_plaintext(spec).unwrap_or(0);
    if plaintext.len() > max {
        return Err(AsymError::PlaintextTooLarge { alg, spec, max });
    }
    let bad = AsymError::InvalidKey {
        what: "public key",
        spec,
    };
    let key = PublicEncryptingKey::from_der(spki)
        .ok()
        .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
        .ok_or(bad)?;
    let mut out = vec![0; key.ciphertext_size()];
    let n = key
        .encrypt(oaep(alg), plaintext, &mut out, None)
        .map_err(|_| AsymError::Library("RSA-OAEP encryption"))?
        .len();
    out.truncate(n);
    Ok(out)
}
