//! Key derivation: HKDF-SHA-256 for subkeys (one label per purpose) and Argon2id for
//! passphrase-derived root keys.

use super::{CryptoError, SecretKey};
use serde::{Deserialize, Serialize};

/// HKDF-SHA-256 of `ikm` with `salt` and `info`, producing a 256-bit key.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8]) -> SecretKey {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm);
    let mut okm = SecretKey::from_bytes([0; 32]);
    hk.expand(info, okm.expose_mut())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    okm
}

/// Argon2id parameters stored beside a passphrase-protected keystore.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PassphraseParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
    /// 16 or more random bytes.
    pub salt: Vec<u8>,
}

impl PassphraseParams {
    /// Fresh parameters: 64 MiB, 3 passes, 1 lane (OWASP's Argon2id guidance), random salt.
    pub fn generate() -> Result<PassphraseParams, CryptoError> {
        let mut salt = vec![0u8; 16];
        super::fill_random(&mut salt)?;
        Ok(PassphraseParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
            salt,
        })
    }
}

/// Derive a 256-bit key from a passphrase with Argon2id.
pub fn derive_from_passphrase(
    passphrase: &[u8],
    p: &PassphraseParams,
) -> Result<SecretKey, CryptoError> {
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    a.hash_password_into(passphrase, &p.salt, &mut out)
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let k = SecretKey::from_bytes(out);
    zeroize::Zeroize::zeroize(&mut out);
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 5869 test case 1 uses SHA-256 with a 42-byte output; check its first 32 bytes.
    #[test]
    fn rfc5869_case1_prefix() {
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let k = hkdf_sha256(&ikm, &salt, &info);
        assert_eq!(
            super::super::hex(k.expose()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn passphrase_is_deterministic_and_salted() {
        let mut p = PassphraseParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
            salt: vec![1; 16],
        };
        let a = derive_from_passphrase(b"pw", &p).unwrap();
        assert_eq!(a, derive_from_passphrase(b"pw", &p).unwrap());
        assert!(a != derive_from_passphrase(b"pX", &p).unwrap());
        p.salt = vec![2; 16];
        assert!(a != derive_from_passphrase(b"pw", &p).unwrap());
    }
}
