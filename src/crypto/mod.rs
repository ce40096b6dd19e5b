//! Cryptographic building blocks, knowing nothing of KMS, files or volumes:
//! secret types that zeroize, AES-256-GCM-SIV sealing, STREAM segments, HKDF and Argon2id,
//! randomness.

mod aead;
mod kdf;
mod locked;
mod secret;
pub mod stream;
mod xts;
mod xts_lc;

pub mod asym;
pub mod import_wrap;

pub use aead::{AeadKey, NONCE_LEN, TAG_LEN, random_nonce};
pub use kdf::{PassphraseParams, derive_from_passphrase, hkdf_sha256};
pub use locked::Locked;
pub use secret::{SecretBytes, SecretKey, ct_eq as secret_eq};
pub use xts::XtsKey;

/// Errors of the crypto layer. They never carry key material or plaintext.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// Authentication failed: wrong key, wrong associated data, or tampered bytes.
    #[error("authentication failed (wrong key, wrong context, or tampered data)")]
    Authentication,
    /// A key or nonce had the wrong length.
    #[error("invalid length: {0}")]
    Length(&'static str),
    /// The passphrase KDF rejected its parameters.
    #[error("passphrase KDF failed: {0}")]
    Kdf(String),
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}

/// Fill `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
}

/// `n` random bytes in a zeroizing buffer.
pub fn random_secret(n: usize) -> Result<SecretBytes, CryptoError> {
    let mut s = SecretBytes::zeroed(n);
    fill_random(s.expose_mut())?;
    Ok(s)
}

/// Lower-case hex of `bytes`.
///
/// ```
/// assert_eq!(kmsfs::crypto::hex(&[0x00, 0xab, 0x7f]), "00ab7f");
/// assert_eq!(kmsfs::crypto::unhex("00AB7f"), Some(vec![0x00, 0xab, 0x7f]));
/// ```
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

/// Parse lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
