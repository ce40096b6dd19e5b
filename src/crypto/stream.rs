//! STREAM segmented AEAD (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as in age): a message is
//! cut into fixed-size segments, each sealed with AES-256-GCM-SIV under a per-message key with
//! the nonce `segment index (88-bit big-endian) ‖ last flag (0x00 or 0x01)`. Reordering,
//! dropping, duplicating segments or cutting the message after any segment but the last fails
//! authentication; a reader can open any one segment on its own (ranged reads).
//!
//! The per-message key must be unique per message (derive it with HKDF from a data key and a
//! random salt or message id); nonces then never repeat.

use super::{AeadKey, CryptoError, NONCE_LEN, SecretBytes, SecretKey, TAG_LEN};

/// Largest segment index the 88-bit counter allows (far beyond any file size).
pub const MAX_SEGMENTS: u128 = 1 << 88;

/// The nonce of segment `index`, final or not.
pub fn segment_nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = last as u8;
    n
}

/// A per-message STREAM key. Zeroized on drop; `Debug` shows nothing of it.
#[derive(Debug)]
pub struct StreamKey(AeadKey);

impl StreamKey {
    pub fn new(key: &SecretKey) -> StreamKey {
        StreamKey(AeadKey::new(key))
    }

    /// Seal segment `index` (`last` for the final one), appending `ciphertext ‖ tag` to `out`.
    pub fn seal_segment(
        &self,
        index: u64,
        last: bool,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        self.0
            .seal_into(&segment_nonce(index, last), aad, plaintext, out)
    }

    /// Open segment `index`; `last` must say whether the reader expects it to be the final one.
    /// A segment sealed with the other flag, at another index or with other `aad` fails.
    pub fn open_segment(
        &self,
        index: u64,
        last: bool,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        self.0.open(&segment_nonce(index, last), aad, sealed)
    }
}

/// Sealed length of a message of `len` plaintext bytes in segments of `seg` bytes. An empty
/// message is one empty final segment (a lone tag), so truncation to nothing is detected too.
pub fn sealed_len(len: u64, seg: u64) -> u64 {
    let n = segment_count(len, seg);
    len + n * TAG_LEN as u64
}

/// Number of segments of a message of `len` bytes (at least one).
pub fn segment_count(len: u64, seg: u64) -> u64 {
    len.div_ceil(seg).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StreamKey {
        StreamKey::new(&SecretKey::from_bytes([5; 32]))
    }

    #[test]
    fn nonce_layout() {
        assert_eq!(
            crate::crypto::hex(&segment_nonce(0x0102, true)),
            "000000000000000000010201"
        );
        assert_eq!(segment_nonce(7, false)[11], 0);
    }

    #[test]
    fn segments_are_bound_to_index_flag_and_aad() {
        let k = key();
        let mut s = Vec::new();
        k.seal_segment(3, false, b"ad", b"hello", &mut s).unwrap();
        assert_eq!(
            k.open_segment(3, false, b"ad", &s).unwrap().expose(),
            b"hello"
        );
        assert!(k.open_segment(4, false, b"ad", &s).is_err());
        assert!(k.open_segment(3, true, b"ad", &s).is_err());
        assert!(k.open_segment(3, false, b"ae", &s).is_err());
    }

    #[test]
    fn lengths() {
        assert_eq!(segment_count(0, 10), 1);
        assert_eq!(sealed_len(0, 10), 16);
        assert_eq!(segment_count(10, 10), 1);
        assert_eq!(segment_count(11, 10), 2);
        assert_eq!(sealed_len(11, 10), 11 + 32);
    }
}
