//! An encrypted volume's stored items moved from one data key to another without a mount:
//! names, symlink targets, `user.*` xattrs and file contents, each in its stored form
//! (`docs/FORMAT.md` §7), decrypted under the old subkeys and encrypted anew under the new
//! ones (fresh file ids, fresh random nonces; the caller picks fresh directory ids). A
//! snapshot copy under a new key streams its manifest through this (`snapshot::rekey`), so
//! the tree is never laid out on disk.

use super::VolumeError;
use super::content::{BLOCK, HEADER_LEN, MAGIC, tweak};
use super::fs::{SYMLINK_AAD, XATTR_DIRID, open_meta, seal_meta};
use super::keys::VolumeKeys;
use super::names::{self, Stored};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fn bad(what: &str) -> VolumeError {
    VolumeError::Copy(what.to_string())
}

/// The old and the new subkeys.
#[derive(Clone, Copy)]
pub struct Rekey<'a> {
    pub old: &'a VolumeKeys,
    pub new: &'a VolumeKeys,
}

impl<'a> Rekey<'a> {
    /// The stored form under the new key, in the directory of id `new_dir`, of the name
    /// whose full encoding is `encoded` in the directory of id `old_dir`; None if it does
    /// not decrypt (a mount hides such names).
    pub fn name(&self, old_dir: &[u8; 16], new_dir: &[u8; 16], encoded: &str) -> Option<Stored> {
        let plain = names::decrypt(&self.old.names, old_dir, encoded)?;
        Some(names::encrypt(&self.new.names, new_dir, &plain))
    }

    /// A symlink's stored target under the new key.
    pub fn symlink(&self, stored: &[u8]) -> Result<Vec<u8>, VolumeError> {
        let raw = URL_SAFE_NO_PAD
            .decode(stored)
            .map_err(|_| bad("a symlink target is not kmsfs ciphertext"))?;
        let plain = open_meta(self.old, SYMLINK_AAD, &raw)
            .ok_or_else(|| bad("a symlink target does not authenticate"))?;
        let sealed = seal_meta(self.new, SYMLINK_AAD, &plain)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed).into_bytes())
    }

    /// A stored `user.*` xattr (name, value) under the new key.
    pub fn xattr(&self, name: &[u8], value: &[u8]) -> Result<(Vec<u8>, Vec<u8>), VolumeError> {
        let undecryptable = || bad("an extended attribute's name does not decrypt");
        let enc = name
            .strip_prefix(b"user.")
            .and_then(|n| std::str::from_utf8(n).ok())
            .ok_or_else(undecryptable)?;
        let new_name = match self.name(&XATTR_DIRID, &XATTR_DIRID, enc) {
            Some(Stored::Direct(n)) => [b"user.".as_slice(), n.as_encoded_bytes()].concat(),
            _ => return Err(undecryptable()),
        };
        let plain = open_meta(self.old, name, value)
            .ok_or_else(|| bad("an extended attribute's value does not authenticate"))?;
        Ok((new_name.clone(), seal_meta(self.new, &new_name, &plain)?))
    }

    /// A re-encryption of one file's stored bytes, fed in order.
    pub fn file(&self) -> Result<FileRekey<'a>, VolumeError> {
        let mut new_id = [0u8; 16];
        crate::crypto::fill_random(&mut new_id).map_err(|e| bad(&e.to_string()))?;
        Ok(FileRekey {
            keys: *self,
            header: Vec::with_capacity(HEADER_LEN as usize),
            old_id: None,
            new_id,
            pending: Vec::new(),
            block: 0,
        })
    }
}

/// One file's stored bytes (header, then XTS units) re-encrypted as they stream through:
/// a new random file id, every unit decrypted under the old id and key and encrypted under
/// the new; whole all-zero units (holes) stay as they are. The output is as long as the
/// input.
pub struct FileRekey<'a> {
    keys: Rekey<'a>,
    header: Vec<u8>,
    old_id: Option<[u8; 16]>,
    new_id: [u8; 16],
    /// Stored bytes after the header not yet making a whole unit.
    pending: Vec<u8>,
    /// The number of the first unit in `pending`.
    block: u64,
}

impl FileRekey<'_> {
    /// Feed the next stored bytes; what is ready under the new key goes to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) -> Result<(), VolumeError> {
        if self.old_id.is_none() {
            let take = (HEADER_LEN as usize - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.header.len() < HEADER_LEN as usize {
                return Ok(());
            }
            if self.header[..16] != MAGIC {
                return Err(bad("damaged file header: bad magic"));
            }
            self.old_id = Some(self.header[16..].try_into().expect("16 bytes"));
            out.extend_from_slice(&MAGIC);
            out.extend_from_slice(&self.new_id);
        }
        if self.pending.is_empty() && bytes.len() >= BLOCK {
            // Whole units straight from the input, the rest kept.
            let whole = bytes.len() / BLOCK * BLOCK;
            let start = out.len();
            out.extend_from_slice(&bytes[..whole]);
            self.convert(&mut out[start..]);
            self.pending.extend_from_slice(&bytes[whole..]);
            return Ok(());
        }
        self.pending.extend_from_slice(bytes);
        let whole = self.pending.len() / BLOCK * BLOCK;
        if whole > 0 {
            let start = out.len();
            out.extend_from_slice(&self.pending[..whole]);
            self.convert(&mut out[start..]);
            self.pending.drain(..whole);
        }
        Ok(())
    }

    /// The end of the stored bytes: the last (short) unit goes to `out`. An empty stored
    /// file stays empty (its header comes with its first write); a partial header is damage.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), VolumeError> {
        if self.old_id.is_none() {
            return match self.header.is_empty() {
                true => Ok(()),
                false => Err(bad("damaged file header: shorter than the 32-byte header")),
            };
        }
        let start = out.len();
        out.extend_from_slice(&self.pending);
        self.convert(&mut out[start..]);
        Ok(())
    }

    /// Re-encrypt the consecutive units in `buf` (the last may be short), in place.
    fn convert(&mut self, buf: &mut [u8]) {
        let old_id = self.old_id.expect("header read");
        for unit in buf.chunks_mut(BLOCK) {
            // Only a whole all-zero unit is a hole; a short last unit whose ciphertext
            // happens to be all zeros (1 in 256 for a 1-byte file) is data.
            if unit.len() < BLOCK || unit.iter().any(|&b| b != 0) {
                self.keys
                    .old
                    .xts
                    .decrypt_unit(unit, tweak(&old_id, self.block));
                self.keys
                    .new
                    .xts
                    .encrypt_unit(unit, tweak(&self.new_id, self.block));
            }
            self.block += 1;
        }
    }
}

/// Whether the backing name `backing` is a long name (`.L.<hex>`) or a long name's sidecar
/// (`.L.<hex>.name`): `(is long, is sidecar)`.
pub fn long_kind(backing: &[u8]) -> (bool, bool) {
    let long = backing.starts_with(names::LONG_PREFIX.as_bytes());
    (
        long && !backing.ends_with(names::LONG_SUFFIX.as_bytes()),
        long && backing.ends_with(names::LONG_SUFFIX.as_bytes()),
    )
}

/// The sidecar name of a long backing name.
pub fn sidecar_of(backing: &[u8]) -> Vec<u8> {
    names::sidecar(OsStr::from_bytes(backing)).into_encoded_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::volume::content::Content;

    fn keys(b: u8) -> VolumeKeys {
        VolumeKeys::derive(&SecretKey::from_slice(&[b; 32]).unwrap())
    }

    /// A file written under `old`, re-encrypted in pieces of every size, reads back under
    /// `new` as the same plaintext, holes kept.
    #[test]
    fn file_contents_stream_to_the_new_key() {
        let (old, new) = (keys(1), keys(2));
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 5, 4096, 4100, 3 * 4096 + 15, 70_000] {
            let p = dir.path().join(format!("f{len}"));
            let f = std::fs::File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&p)
                .unwrap();
            let c = Content { keys: Some(&old) };
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            if len > 0 {
                let id = c.init(&f).unwrap();
                c.write(&f, id.as_ref(), 0, &plain).unwrap();
            }
            let stored = std::fs::read(&p).unwrap();
            for piece in [1usize, 7, 4096, 5000, 1 << 20] {
                let r = Rekey {
                    old: &old,
                    new: &new,
                };
                let mut fr = r.file().unwrap();
                let mut out = Vec::new();
                for s in stored.chunks(piece) {
                    fr.push(s, &mut out).unwrap();
                }
                fr.finish(&mut out).unwrap();
                assert_eq!(out.len(), stored.len());
                if len == 0 {
                    continue;
                }
                let q = dir.path().join("out");
                std::fs::write(&q, &out).unwrap();
                let g = std::fs::File::open(&q).unwrap();
                let n = Content { keys: Some(&new) };
                let id = n.file_id(&g).unwrap();
                assert_ne!(id, c.file_id(&f).unwrap(), "a fresh file id");
                assert_eq!(
                    n.read(&g, id.as_ref(), 0, len + 1).unwrap(),
                    plain,
                    "{len}/{piece}"
                );
            }
        }
    }

    /// A last unit whose ciphertext is all zeros is data, not a hole: it is re-encrypted
    /// (it was copied as it stood, and read back as garbage under the new key). A whole
    /// zero unit before it stays a hole.
    #[test]
    fn a_short_last_unit_of_zero_ciphertext_is_re_encrypted() {
        let (old, new) = (keys(7), keys(8));
        let id = [5u8; 16];
        for tail in [1usize, 15, 16, 100] {
            let mut stored = [MAGIC.as_slice(), &id].concat();
            stored.extend_from_slice(&[0u8; BLOCK]);
            stored.extend(std::iter::repeat_n(0u8, tail));
            // The plaintext whose ciphertext is that zero tail.
            let mut plain = vec![0u8; BLOCK + tail];
            old.xts.decrypt_unit(&mut plain[BLOCK..], tweak(&id, 1));
            assert!(plain[BLOCK..].iter().any(|&b| b != 0));
            let r = Rekey {
                old: &old,
                new: &new,
            };
            let mut fr = r.file().unwrap();
            let mut out = Vec::new();
            fr.push(&stored, &mut out).unwrap();
            fr.finish(&mut out).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let q = dir.path().join("out");
            std::fs::write(&q, &out).unwrap();
            let g = std::fs::File::open(&q).unwrap();
            let n = Content { keys: Some(&new) };
            let nid = n.file_id(&g).unwrap();
            assert_eq!(
                n.read(&g, nid.as_ref(), 0, BLOCK + tail).unwrap(),
                plain,
                "tail {tail}"
            );
            let h = HEADER_LEN as usize;
            assert_eq!(out[h..h + BLOCK], [0u8; BLOCK], "the hole stays a hole");
        }
    }

    #[test]
    fn names_targets_and_xattrs_move_to_the_new_key() {
        let (old, new) = (keys(3), keys(4));
        let r = Rekey {
            old: &old,
            new: &new,
        };
        let (d1, d2) = ([7u8; 16], [8u8; 16]);
        let Stored::Direct(enc) = names::encrypt(&old.names, &d1, OsStr::new("hello")) else {
            panic!("short name")
        };
        let Some(Stored::Direct(got)) = r.name(&d1, &d2, enc.to_str().unwrap()) else {
            panic!("renamed")
        };
        assert_eq!(
            names::decrypt(&new.names, &d2, got.to_str().unwrap()).unwrap(),
            "hello"
        );
        assert!(
            r.name(&d2, &d2, enc.to_str().unwrap()).is_none(),
            "wrong dir id"
        );

        let t = URL_SAFE_NO_PAD.encode(seal_meta(&old, SYMLINK_AAD, b"a/b").unwrap());
        let nt = r.symlink(t.as_bytes()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&nt).unwrap();
        assert_eq!(open_meta(&new, SYMLINK_AAD, &raw).unwrap(), b"a/b");
        assert!(r.symlink(b"not base64!").is_err());

        let Stored::Direct(xn) = names::encrypt(&old.names, &XATTR_DIRID, OsStr::new("user.t"))
        else {
            panic!("short name")
        };
        let xn = [b"user.".as_slice(), xn.as_encoded_bytes()].concat();
        let xv = seal_meta(&old, &xn, b"v").unwrap();
        let (nn, nv) = r.xattr(&xn, &xv).unwrap();
        assert_eq!(open_meta(&new, &nn, &nv).unwrap(), b"v");
        assert!(r.xattr(&xn, &nv).is_err(), "a value under another key");
    }

    #[test]
    fn damaged_headers_are_errors() {
        let (old, new) = (keys(5), keys(6));
        let r = Rekey {
            old: &old,
            new: &new,
        };
        let mut out = Vec::new();
        let mut f = r.file().unwrap();
        f.push(&[0u8; 10], &mut out).unwrap();
        assert!(f.finish(&mut out).is_err(), "short header");
        let mut f = r.file().unwrap();
        assert!(f.push(&[9u8; 40], &mut out).is_err(), "bad magic");
    }
}
