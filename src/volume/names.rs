//! File names on disk: AES-256-GCM-SIV with the nonce taken from the parent directory's id
//! (its `.kmsfs.diriv`), so equal names in one directory encrypt equally and lookups work,
//! while the same name in two directories does not. Encoded as unpadded base64url. Names
//! whose encoding would pass 255 bytes are stored as `.L.<sha256 of the encoding>` with the
//! full encoding in a sidecar `.L.<hash>.name`.

use crate::crypto::{AeadKey, hex, sha256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The per-directory id file.
pub const DIRIV: &str = ".kmsfs.diriv";
/// Prefix of hashed long names.
pub(crate) const LONG_PREFIX: &str = ".L.";
/// Suffix of the long-name sidecar.
pub(crate) const LONG_SUFFIX: &str = ".name";
/// Longest backing name we create directly.
pub(crate) const MAX_DIRECT: usize = 255;
/// Longest plaintext name accepted (as on Linux).
pub(crate) const NAME_MAX: usize = 255;

/// Whether a backing entry is kmsfs bookkeeping, not a user file.
pub(crate) fn is_internal(backing: &OsStr) -> bool {
    let b = backing.as_bytes();
    b == DIRIV.as_bytes()
        || (b.starts_with(LONG_PREFIX.as_bytes()) && b.ends_with(LONG_SUFFIX.as_bytes()))
}

fn aad(dirid: &[u8; 16]) -> Vec<u8> {
    let mut a = b"kmsfs name v1".to_vec();
    a.extend_from_slice(dirid);
    a
}

/// How a plaintext name is stored.
pub enum Stored {
    /// The backing name itself.
    Direct(OsString),
    /// A hashed name plus the full encoding for the sidecar.
    Long { backing: OsString, full: String },
}

impl Stored {
    pub(crate) fn backing(&self) -> &OsStr {
        match self {
            Stored::Direct(n) => n,
            Stored::Long { backing, .. } => backing,
        }
    }
}

/// Encrypt a plaintext name for the directory `dirid`.
pub fn encrypt(key: &AeadKey, dirid: &[u8; 16], name: &OsStr) -> Stored {
    let nonce: [u8; 12] = dirid[..12].try_into().expect("12 bytes");
    let ct = key
        .seal(&nonce, &aad(dirid), name.as_bytes())
        .expect("name fits");
    let enc = URL_SAFE_NO_PAD.encode(ct);
    if enc.len() <= MAX_DIRECT {
        Stored::Direct(OsString::from(enc))
    } else {
        let h = hex(&sha256(enc.as_bytes()));
        Stored::Long {
            backing: OsString::from(format!("{LONG_PREFIX}{h}")),
            full: enc,
        }
    }
}

/// Decrypt a backing name's full encoding.
pub fn decrypt(key: &AeadKey, dirid: &[u8; 16], encoded: &str) -> Option<OsString> {
    let ct = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let nonce: [u8; 12] = dirid[..12].try_into().expect("12 bytes");
    let pt = key.open(&nonce, &aad(dirid), &ct).ok()?;
    let v = pt.expose().to_vec();
    if v.is_empty() || v.contains(&b'/') || v.contains(&0) {
        return None;
    }
    Some(OsString::from_vec(v))
}

/// The sidecar of a long backing name.
pub(crate) fn sidecar(backing: &OsStr) -> OsString {
    let mut s = backing.to_os_string();
    s.push(LONG_SUFFIX);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    #[test]
    fn deterministic_per_directory() {
        let k = AeadKey::new(&SecretKey::from_bytes([1; 32]));
        let (d1, d2) = ([1u8; 16], [2u8; 16]);
        let a = encrypt(&k, &d1, OsStr::new("secret-plan.txt"));
        let b = encrypt(&k, &d1, OsStr::new("secret-plan.txt"));
        let c = encrypt(&k, &d2, OsStr::new("secret-plan.txt"));
        assert_eq!(a.backing(), b.backing());
        assert_ne!(a.backing(), c.backing());
        let Stored::Direct(n) = a else { panic!() };
        assert_eq!(
            decrypt(&k, &d1, n.to_str().unwrap()).unwrap(),
            "secret-plan.txt"
        );
        assert!(decrypt(&k, &d2, n.to_str().unwrap()).is_none());
        let long = "x".repeat(255);
        match encrypt(&k, &d1, OsStr::new(&long)) {
            Stored::Long { backing, full } => {
                assert!(backing.len() < 80);
                assert_eq!(decrypt(&k, &d1, &full).unwrap(), OsStr::new(&long));
            }
            Stored::Direct(_) => panic!("255-byte name must be long"),
        }
    }
}
