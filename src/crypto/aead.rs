//! AES-256-GCM-SIV with a 96-bit nonce and detached 128-bit tag, as used by KMS blobs,
//! sealed keystore records and (later) objects. Output layout is always `ciphertext ‖ tag`.

use super::{CryptoError, SecretBytes, SecretKey};
use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::{AeadInOut, KeyInit, inout::InOutBuf};

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// An expanded AES-256-GCM-SIV key, ready for many messages. Zeroized on drop.
pub struct AeadKey(Aes256GcmSiv);

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey(<redacted>)")
    }
}

/// A fresh random nonce.
pub fn random_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    let mut n = [0u8; NONCE_LEN];
    super::fill_random(&mut n)?;
    Ok(n)
}

impl AeadKey {
    pub fn new(key: &SecretKey) -> AeadKey {
        AeadKey(Aes256GcmSiv::new(key.expose().into()))
    }

    /// Encrypt `plaintext`, appending `ciphertext ‖ tag` to `out`.
    pub fn seal_into(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .encrypt_inout_detached(nonce.into(), aad, InOutBuf::from(&mut out[start..]))
            .map_err(|_| CryptoError::Length("plaintext too long"))?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Encrypt `plaintext` and return `ciphertext ‖ tag`.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        self.seal_into(nonce, aad, plaintext, &mut out)?;
        Ok(out)
    }

    /// Decrypt and authenticate `ciphertext ‖ tag`. The plaintext is returned only if the
    /// tag verifies; on failure nothing of it escapes.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        if sealed.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let (ct, tag) = sealed.split_at(sealed.len() - TAG_LEN);
        let mut buf = SecretBytes::from_slice(ct);
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| CryptoError::Authentication)?;
        self.0
            .decrypt_inout_detached(
                nonce.into(),
                aad,
                InOutBuf::from(&mut buf.expose_mut()[..]),
                tag.into(),
            )
            .map_err(|_| CryptoError::Authentication)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8452 appendix C.2, AES-256-GCM-SIV: plaintext 0100000000000000, no AAD.
    #[test]
    fn rfc8452_vector() {
        let mut key = [0u8; 32];
        key[0] = 1;
        let nonce: [u8; 12] = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let k = AeadKey::new(&SecretKey::from_bytes(key));
        let out = k.seal(&nonce, b"", &[1, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(
            super::super::hex(&out),
            "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28"
        );
        assert_eq!(
            k.open(&nonce, b"", &out).unwrap().expose(),
            &[1, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn wrong_aad_or_flip_fails() {
        let k = AeadKey::new(&SecretKey::from_bytes([7; 32]));
        let n = [9; 12];
        let mut s = k.seal(&n, b"ad", b"hello").unwrap();
        assert!(k.open(&n, b"ae", &s).is_err());
        s[0] ^= 1;
        assert!(k.open(&n, b"ad", &s).is_err());
        assert!(k.open(&n, b"ad", &s[..3]).is_err());
    }
}
