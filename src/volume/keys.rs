//! A volume's keys: the plaintext DEK lives only here, in memory, while the volume is
//! mounted (mlocked where allowed); every purpose gets its own HKDF subkey.

use crate::crypto::{AeadKey, SecretKey, XtsKey, hkdf_sha256};

/// HKDF salt for volume subkeys. Deliberately not the volume id: volumes restored from a
/// snapshot under the same KMS key share the DEK and must decrypt the same blocks.
const SALT: &[u8] = b"kmsfs volume v1";

/// The subkeys of one DEK.
pub struct VolumeKeys {
    /// AES-256-XTS for file contents.
    pub(crate) xts: XtsKey,
    /// Deterministic AES-256-GCM-SIV for names.
    pub names: AeadKey,
    /// AES-256-GCM-SIV (random nonces) for symlink targets and xattr values.
    pub(crate) meta: AeadKey,
    /// HMAC-SHA-256 key sealing the volume header.
    pub header_mac: SecretKey,
}

impl std::fmt::Debug for VolumeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VolumeKeys(<redacted>)")
    }
}

impl VolumeKeys {
    pub fn derive(dek: &SecretKey) -> VolumeKeys {
        let k = |label: &str| hkdf_sha256(dek.expose(), SALT, label.as_bytes());
        lock_memory(dek);
        VolumeKeys {
            xts: XtsKey::new(&k("xts data key"), &k("xts tweak key")),
            names: AeadKey::new(&k("file names")),
            meta: AeadKey::new(&k("symlinks and xattrs")),
            header_mac: k("volume header mac"),
        }
    }

    /// Only the header MAC key (to check a header without mounting).
    pub fn header_mac(dek: &SecretKey) -> SecretKey {
        hkdf_sha256(dek.expose(), SALT, b"volume header mac")
    }
}

/// Best effort: keep the key's page out of swap.
fn lock_memory(k: &SecretKey) {
    let p = k.expose().as_ptr() as *const libc::c_void;
    // SAFETY: mlock only pins the pages of a live 32-byte buffer; failure is harmless.
    unsafe {
        libc::mlock(p, 32);
    }
}
