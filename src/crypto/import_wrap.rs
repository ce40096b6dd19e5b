//! The wrapping of imported key material (AWS's `AlgorithmSpec` of GetParametersForImport):
//! RSAES-OAEP with SHA-1 or SHA-256 under the RSA wrapping key, or `RSA_AES_KEY_WRAP_*`:
//! an ephemeral AES key wrapped with RSAES-OAEP, then the material wrapped under it with
//! AES Key Wrap with Padding (RFC 5649, what `openssl enc -id-aes256-wrap-pad` makes):
//!
//! ```text
//! EncryptedKeyMaterial = RSAES-OAEP(wrapping key, AES key)   (modulus length: 256/384/512)
//!                      ‖ AES-KWP(AES key, material)          (RSA_AES_KEY_WRAP_* only)
//! ```
//!
//! No I/O, nothing of KMS. The unwrapped material is returned in a zeroizing buffer; errors
//! never carry it.

use super::SecretBytes;
use super::asym::{AsymError, EncryptionAlgorithm, KeySpec, PrivateKey, PublicKey};
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrapPadded};
use zeroize::Zeroizing;

/// AWS `AlgorithmSpec` values kmsfs accepts for wrapping imported material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
}

const ALGORITHMS: [(WrappingAlgorithm, &str, u8); 4] = [
    (WrappingAlgorithm::RsaesOaepSha1, "RSAES_OAEP_SHA_1", 1),
    (WrappingAlgorithm::RsaesOaepSha256, "RSAES_OAEP_SHA_256", 2),
    (
        WrappingAlgorithm::RsaAesKeyWrapSha1,
        "RSA_AES_KEY_WRAP_SHA_1",
        3,
    ),
    (
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        "RSA_AES_KEY_WRAP_SHA_256",
        4,
    ),
];

impl WrappingAlgorithm {
    /// The AWS name.
    pub fn name(self) -> &'static str {
        ALGORITHMS.iter().find(|a| a.0 == self).expect("listed").1
    }

    pub fn parse(s: &str) -> Option<WrappingAlgorithm> {
        ALGORITHMS.iter().find(|a| a.1 == s).map(|a| a.0)
    }

    /// The byte that names it in the import formats (docs/FORMAT.md, "Import parameters").
    pub fn code(self) -> u8 {
        ALGORITHMS.iter().find(|a| a.0 == self).expect("listed").2
    }

    pub fn from_code(c: u8) -> Option<WrappingAlgorithm> {
        ALGORITHMS.iter().find(|a| a.2 == c).map(|a| a.0)
    }

    /// The RSAES-OAEP hash of the RSA step.
    fn oaep(self) -> EncryptionAlgorithm {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                EncryptionAlgorithm::RsaesOaepSha1
            }
            _ => EncryptionAlgorithm::RsaesOaepSha256,
        }
    }

    fn key_wrap(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }
}

/// AWS `WrappingKeySpec` values: the RSA key specs.
pub fn wrapping_key_spec(s: &str) -> Option<KeySpec> {
    match s {
        "RSA_2048" => Some(KeySpec::Rsa2048),
        "RSA_3072" => Some(KeySpec::Rsa3072),
        "RSA_4096" => Some(KeySpec::Rsa4096),
        _ => None,
    }
}

/// Unwrap `wrapped` (EncryptedKeyMaterial) with the wrapping private key. Any failure
/// (wrong key, wrong algorithm, tampered bytes, an AES key that is not 128 or 256 bits) is
/// `AsymError::Decrypt`.
pub fn unwrap(
    private: &PrivateKey,
    alg: WrappingAlgorithm,
    wrapped: &[u8],
) -> Result<SecretBytes, AsymError> {
    if !alg.key_wrap() {
        return private.decrypt(alg.oaep(), wrapped);
    }
    let k = private.spec().rsa_bytes().ok_or(AsymError::Decrypt)?;
    if wrapped.len() <= k {
        return Err(AsymError::Decrypt);
    }
    let aes = private.decrypt(alg.oaep(), &wrapped[..k])?;
    let kek = match aes.len() {
        16 => AesKek::new(&AES_128, aes.expose()),
        32 => AesKek::new(&AES_256, aes.expose()),
        _ => return Err(AsymError::Decrypt),
    }
    .map_err(|_| AsymError::Decrypt)?;
    let body = &wrapped[k..];
    let mut out = Zeroizing::new(vec![0u8; body.len()]);
    let n = kek
        .unwrap_with_padding(body, &mut out[..])
        .map_err(|_| AsymError::Decrypt)?
        .len();
    Ok(SecretBytes::from_slice(&out[..n]))
}

/// Wrap `material` for import with the wrapping public key (what a client does; kmsfs uses
/// it in tests and tools). `RSA_AES_KEY_WRAP_*` uses a fresh 256-bit AES key.
pub fn wrap(
    public: &PublicKey,
    alg: WrappingAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>, AsymError> {
    if !alg.key_wrap() {
        return public.encrypt(alg.oaep(), material);
    }
    let aes = super::random_secret(32).map_err(|_| AsymError::Library("random"))?;
    let mut out = public.encrypt(alg.oaep(), aes.expose())?;
    let kek = AesKek::new(&AES_256, aes.expose()).map_err(|_| AsymError::Library("key wrap"))?;
    let mut body = vec![0u8; material.len() + 16];
    let n = kek
        .wrap_with_padding(material, &mut body)
        .map_err(|_| AsymError::Library("key wrap"))?
        .len();
    out.extend_from_slice(&body[..n]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_and_tampering_fails() {
        let private = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
        let public = private.public_key();
        let material = [7u8; 32];
        for (alg, name, code) in ALGORITHMS {
            assert_eq!(WrappingAlgorithm::parse(name), Some(alg));
            assert_eq!(WrappingAlgorithm::from_code(code), Some(alg));
            let mut w = wrap(&public, alg, &material).unwrap();
            assert_eq!(unwrap(&private, alg, &w).unwrap().expose(), &material);
            let last = w.len() - 1;
            w[last] ^= 1;
            assert!(matches!(unwrap(&private, alg, &w), Err(AsymError::Decrypt)));
        }
        let w = wrap(&public, WrappingAlgorithm::RsaesOaepSha1, &material).unwrap();
        assert!(unwrap(&private, WrappingAlgorithm::RsaesOaepSha256, &w).is_err());
        assert!(WrappingAlgorithm::parse("RSAES_PKCS1_V1_5").is_none());
    }
}
