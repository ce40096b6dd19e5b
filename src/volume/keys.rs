//! A volume's keys: the plaintext DEK lives only here, in memory, while the volume is
//! mounted; every purpose gets its own HKDF subkey. The subkeys live in pages of their own,
//! mlocked and excluded from core dumps, zeroized when the volume is closed
//! ([`crate::crypto::Locked`]).

use crate::crypto::{AeadKey, Locked, SecretKey, XtsKey, hkdf_sha256};

/// HKDF salt for volume subkeys. Deliberately not the volume id: volumes restored from a
/// snapshot under the same KMS key share the DEK and must decrypt the same blocks.
const SALT: &[u8] = b"kmsfs volume v1";

/// The subkeys of one DEK.
pub struct Subkeys {
    /// AES-256-XTS for file contents.
    pub(crate) xts: XtsKey,
    /// Deterministic AES-256-GCM-SIV for names.
    pub names: AeadKey,
    /// AES-256-GCM-SIV (random nonces) for symlink targets and xattr values.
    pub(crate) meta: AeadKey,
    /// HMAC-SHA-256 key sealing the volume header.
    pub header_mac: SecretKey,
}

/// The subkeys of one DEK, in locked, undumpable pages (fields through `Deref`).
pub struct VolumeKeys(Locked<Subkeys>);

impl std::ops::Deref for VolumeKeys {
    type Target = Subkeys;
    fn deref(&self) -> &Subkeys {
        &self.0
    }
}

impl std::fmt::Debug for VolumeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VolumeKeys(<redacted>)")
    }
}

impl VolumeKeys {
    /// The subkeys of `dek` (which the caller drops, and so zeroizes, afterwards).
    pub fn derive(dek: &SecretKey) -> VolumeKeys {
        let k = |label: &str| hkdf_sha256(dek.expose(), SALT, label.as_bytes());
        VolumeKeys(Locked::new(Subkeys {
            xts: XtsKey::new(&k("xts data key"), &k("xts tweak key")),
            names: AeadKey::new(&k("file names")),
            meta: AeadKey::new(&k("symlinks and xattrs")),
            header_mac: k("volume header mac"),
        }))
    }

    /// Whether the subkeys' pages are mlocked (RLIMIT_MEMLOCK may refuse).
    pub fn is_mlocked(&self) -> bool {
        self.0.is_mlocked()
    }

    /// Only the header MAC key (to check a header without mounting).
    pub fn header_mac(dek: &SecretKey) -> SecretKey {
        hkdf_sha256(dek.expose(), SALT, b"volume header mac")
    }
}
