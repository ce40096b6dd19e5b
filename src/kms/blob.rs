//! The ciphertext blob returned by Encrypt and GenerateDataKey. It names its own key, so
//! Decrypt needs no KeyId, and records the key-material version so rotated keys still
//! decrypt old blobs. Specified byte by byte in `docs/FORMAT.md`.
//!
//! ```text
//! off len  field
//!   0   4  magic "KMSB"
//!   4   1  format version (1)
//!   5   1  algorithm (1 = SYMMETRIC_DEFAULT: AES-256-GCM-SIV)
//!   6   2  reserved, zero
//!   8  16  key id (UUID bytes)
//!  24   4  key-material version (u32 big-endian, 1 = original material)
//!  28  12  nonce
//!  40   n  ciphertext
//! 40+n 16  tag
//! ```
//! AAD = bytes 0..40 ‖ canonical encryption context (see `context.rs`).

use super::context::{self, EncryptionContext};
use crate::crypto::{AeadKey, NONCE_LEN, SecretBytes, TAG_LEN};

pub const MAGIC: [u8; 4] = *b"KMSB";
pub const VERSION: u8 = 1;
pub const ALG_SYMMETRIC_DEFAULT: u8 = 1;
pub const HEADER_LEN: usize = 40;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest blob accepted (AWS `CiphertextType`).
pub const MAX_BLOB: usize = 6144;

/// Why a blob could not be parsed. All map to `InvalidCiphertextException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error(
        "the ciphertext is {0} bytes, shorter than the smallest possible blob ({OVERHEAD} bytes)"
    )]
    TooShort(usize),
    #[error("the ciphertext is not a kmsfs KMS blob (bad magic)")]
    BadMagic,
    #[error("blob format version {0} is not supported")]
    BadVersion(u8),
    #[error("blob algorithm {0} is not supported")]
    BadAlgorithm(u8),
    #[error("reserved header bytes are not zero")]
    BadReserved,
    #[error("key-material version 0 is invalid")]
    BadMaterialVersion,
}

/// A parsed, not yet authenticated, blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a> {
    pub key_id: [u8; 16],
    pub material_version: u32,
    pub nonce: [u8; NONCE_LEN],
    header: &'a [u8],
    sealed: &'a [u8],
}

impl<'a> Blob<'a> {
    /// Parse the header. Never panics, whatever the input.
    pub fn parse(bytes: &'a [u8]) -> Result<Blob<'a>, BlobError> {
        if bytes.len() < OVERHEAD {
            return Err(BlobError::TooShort(bytes.len()));
        }
        let (header, sealed) = bytes.split_at(HEADER_LEN);
        if header[0..4] != MAGIC {
            return Err(BlobError::BadMagic);
        }
        if header[4] != VERSION {
            return Err(BlobError::BadVersion(header[4]));
        }
        if header[5] != ALG_SYMMETRIC_DEFAULT {
            return Err(BlobError::BadAlgorithm(header[5]));
        }
        if header[6..8] != [0, 0] {
            return Err(BlobError::BadReserved);
        }
        let key_id: [u8; 16] = header[8..24].try_into().expect("16 bytes");
        let material_version = u32::from_be_bytes(header[24..28].try_into().expect("4 bytes"));
        if material_version == 0 {
            return Err(BlobError::BadMaterialVersion);
        }
        let nonce: [u8; NONCE_LEN] = header[28..40].try_into().expect("12 bytes");
        Ok(Blob {
            key_id,
            material_version,
            nonce,
            header,
            sealed,
        })
    }

    /// Authenticate and decrypt under `key` with `ec`.
    pub fn open(
        &self,
        key: &AeadKey,
        ec: &EncryptionContext,
    ) -> Result<SecretBytes, crate::crypto::CryptoError> {
        let mut aad = Vec::with_capacity(HEADER_LEN + 64);
        aad.extend_from_slice(self.header);
        context::encode_into(ec, &mut aad);
        key.open(&self.nonce, &aad, self.sealed)
    }
}

/// Build the 40-byte header.
fn header(key_id: &[u8; 16], material_version: u32, nonce: &[u8; NONCE_LEN]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC);
    h[4] = VERSION;
    h[5] = ALG_SYMMETRIC_DEFAULT;
    h[8..24].copy_from_slice(key_id);
    h[24..28].copy_from_slice(&material_version.to_be_bytes());
    h[28..40].copy_from_slice(nonce);
    h
}

/// Encrypt `plaintext` into a blob with an explicit nonce (tests and vectors use this;
/// the KMS always passes a fresh random nonce).
pub fn seal(
    key: &AeadKey,
    key_id: &[u8; 16],
    material_version: u32,
    nonce: &[u8; NONCE_LEN],
    ec: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, crate::crypto::CryptoError> {
    let h = header(key_id, material_version, nonce);
    let mut aad = Vec::with_capacity(HEADER_LEN + 64);
    aad.extend_from_slice(&h);
    context::encode_into(ec, &mut aad);
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&h);
    key.seal_into(nonce, &aad, plaintext, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    #[test]
    fn round_trip_and_every_flip_fails() {
        let k = AeadKey::new(&SecretKey::from_bytes([5; 32]));
        let ec: EncryptionContext = [("a".to_string(), "b".to_string())].into();
        let b = seal(&k, &[1; 16], 3, &[2; 12], &ec, b"secret").unwrap();
        assert_eq!(b.len(), OVERHEAD + 6);
        let p = Blob::parse(&b).unwrap();
        assert_eq!((p.key_id, p.material_version), ([1; 16], 3));
        assert_eq!(p.open(&k, &ec).unwrap().expose(), b"secret");
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            let ok = Blob::parse(&c)
                .map(|p| p.open(&k, &ec).is_ok())
                .unwrap_or(false);
            assert!(!ok, "flip at {i} accepted");
        }
        for n in 0..b.len() {
            let ok = Blob::parse(&b[..n])
                .map(|p| p.open(&k, &ec).is_ok())
                .unwrap_or(false);
            assert!(!ok, "truncation to {n} accepted");
        }
    }
}
