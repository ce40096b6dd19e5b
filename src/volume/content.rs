//! File contents on disk. An encrypted volume's backing file is a 32-byte header (magic and
//! a random 16-byte file id) followed by the plaintext's 4 KiB blocks, each encrypted with
//! AES-256-XTS as its own data unit, tweak = (file id, block number). XTS is
//! length-preserving, so the plaintext size is the backing size minus 32. Every block but
//! the last is a full 4 KiB unit; the last is a unit of the remaining length (1..15 bytes
//! use the XTS key's short-tail keystream). An all-zero 4 KiB ciphertext block is a hole
//! and reads as zeros, as in gocryptfs. Unencrypted volumes store plaintext, no header.

use super::keys::VolumeKeys;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub(crate) const BLOCK: usize = 4096;
pub const HEADER_LEN: u64 = 32;
pub const MAGIC: [u8; 16] = *b"KMSFS-FILE-v1\0\0\0";

/// What a backing file's content layer needs: the keys (None when unencrypted).
#[derive(Clone, Copy)]
pub struct Content<'a> {
    pub keys: Option<&'a VolumeKeys>,
}

/// A damaged backing file.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("damaged file header: {0}")]
    Damaged(&'static str),
}

/// The XTS tweak of a block: high 64 bits from the file id, low 64 bits the block number,
/// so it is unique per (file, block).
pub fn tweak(id: &[u8; 16], block: u64) -> u128 {
    ((u64::from_le_bytes(id[..8].try_into().expect("8 bytes")) as u128) << 64) | block as u128
}

/// A new random file id. It takes no key, so the ids of files made ahead of their creates
/// can be drawn ahead too.
pub(crate) fn new_file_id() -> io::Result<[u8; 16]> {
    let mut id = [0u8; 16];
    crate::crypto::fill_random(&mut id).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(id)
}

/// Write the header (the magic and the file id `id`) into the empty backing file `f`.
pub(crate) fn write_header(f: &File, id: &[u8; 16]) -> io::Result<()> {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..16].copy_from_slice(&MAGIC);
    h[16..].copy_from_slice(id);
    f.write_all_at(&h, 0)
}

impl Content<'_> {
    pub(crate) fn encrypted(&self) -> bool {
        self.keys.is_some()
    }

    fn hdr(&self) -> u64 {
        if self.encrypted() { HEADER_LEN } else { 0 }
    }

    /// Plaintext size of a backing file of `backing_len` bytes.
    pub(crate) fn plain_size(&self, backing_len: u64) -> u64 {
        backing_len.saturating_sub(self.hdr())
    }

    /// Write a fresh header into an empty backing file; returns the file id.
    pub(crate) fn init(&self, f: &File) -> Result<Option<[u8; 16]>, ContentError> {
        if !self.encrypted() {
            return Ok(None);
        }
        let id = new_file_id()?;
        write_header(f, &id)?;
        Ok(Some(id))
    }

    /// Read the file id. An empty backing file (a crash before its header) gets one now.
    pub(crate) fn file_id(&self, f: &File) -> Result<Option<[u8; 16]>, ContentError> {
        if !self.encrypted() {
            return Ok(None);
        }
        let mut h = [0u8; HEADER_LEN as usize];
        let n = read_full_at(f, &mut h, 0)?;
        if n == 0 {
            return self.init(f);
        }
        if n < HEADER_LEN as usize {
            return Err(ContentError::Damaged("shorter than the 32-byte header"));
        }
        if h[..16] != MAGIC {
            return Err(ContentError::Damaged("bad magic"));
        }
        Ok(Some(h[16..].try_into().expect("16 bytes")))
    }

    fn decrypt_block(&self, id: &[u8; 16], block: u64, buf: &mut [u8]) {
        if let Some(k) = self.keys
            && !is_zero(buf)
        {
            k.xts.decrypt_unit(buf, tweak(id, block));
        }
    }

    fn encrypt_block(&self, id: &[u8; 16], block: u64, buf: &mut [u8]) {
        if let Some(k) = self.keys {
            k.xts.encrypt_unit(buf, tweak(id, block));
        }
    }

    /// Read up to `len` plaintext bytes at `offset`.
    pub(crate) fn read(
        &self,
        f: &File,
        id: Option<&[u8; 16]>,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, ContentError> {
        let size = self.plain_size(f.metadata()?.len());
        if offset >= size || len == 0 {
            return Ok(Vec::new());
        }
        let end = size.min(offset + len as u64);
        let Some(id) = id else {
            let mut buf = vec![0u8; (end - offset) as usize];
            let n = read_full_at(f, &mut buf, offset)?;
            buf.truncate(n);
            return Ok(buf);
        };
        let first = offset / BLOCK as u64;
        let last = (end - 1) / BLOCK as u64;
        let start = first * BLOCK as u64;
        let stop = ((last + 1) * BLOCK as u64).min(size);
        let mut buf = vec![0u8; (stop - start) as usize];
        let n = read_full_at(f, &mut buf, HEADER_LEN + start)?;
        buf.truncate(n);
        for (i, chunk) in buf.chunks_mut(BLOCK).enumerate() {
            self.decrypt_block(id, first + i as u64, chunk);
        }
        let a = (offset - start) as usize;
        let b = ((end - start) as usize).min(buf.len());
        if a >= b {
            return Ok(Vec::new());
        }
        buf.truncate(b);
        buf.drain(..a);
        Ok(buf)
    }

    /// The plaintext of block `b` as it is now (unit length from `size`), zero-padded to `want`.
    fn old_block(
        &self,
        f: &File,
        id: &[u8; 16],
        b: u64,
        size: u64,
        want: usize,
    ) -> Result<Vec<u8>, ContentError> {
        let base = b * BLOCK as u64;
        let old_len = size.saturating_sub(base).min(BLOCK as u64) as usize;
        let mut buf = vec![0u8; want.max(old_len)];
        if old_len > 0 {
            let n = read_full_at(f, &mut buf[..old_len], HEADER_LEN + base)?;
            self.decrypt_block(id, b, &mut buf[..n]);
        }
        buf.truncate(want);
        Ok(buf)
    }

    /// Write `data` at `offset` (the caller holds the file's write lock).
    pub fn write(
        &self,
        f: &File,
        id: Option<&[u8; 16]>,
        offset: u64,
        data: &[u8],
    ) -> Result<(), ContentError> {
        let len = if id.is_some() { f.metadata()?.len() } else { 0 };
        self.write_at_len(f, id, offset, data, len)
    }

    /// [`write`](Self::write) when the caller already knows the backing file's length
    /// `backing_len` (and holds the file's lock so that it cannot change).
    pub(crate) fn write_at_len(
        &self,
        f: &File,
        id: Option<&[u8; 16]>,
        offset: u64,
        data: &[u8],
        backing_len: u64,
    ) -> Result<(), ContentError> {
        if data.is_empty() {
            return Ok(());
        }
        let Some(id) = id else {
            f.write_all_at(data, offset)?;
            return Ok(());
        };
        let size = self.plain_size(backing_len);
        let end = offset + data.len() as u64;
        let new_size = size.max(end);
        let bs = BLOCK as u64;
        let unit_len = |b: u64| (new_size - b * bs).min(bs) as usize;
        // The old last block, if partial and now followed by more data, becomes a longer unit.
        if !size.is_multiple_of(bs) && new_size > size {
            let lb = size / bs;
            if lb < offset / bs {
                let mut blk = self.old_block(f, id, lb, size, unit_len(lb))?;
                self.encrypt_block(id, lb, &mut blk);
                f.write_all_at(&blk, HEADER_LEN + lb * bs)?;
            }
        }
        let first = offset / bs;
        let last = (end - 1) / bs;
        let start = first * bs;
        let stop = (last * bs + unit_len(last) as u64).max(end);
        let mut buf = vec![0u8; (stop - start) as usize];
        // Head and tail blocks not wholly overwritten keep their old bytes.
        if offset > start || (end < stop) {
            for b in [first, last] {
                let bstart = b * bs;
                let blen = unit_len(b) as u64;
                let covered = offset <= bstart && end >= bstart + blen;
                if !covered && bstart < size {
                    let old = self.old_block(f, id, b, size, blen as usize)?;
                    let at = (bstart - start) as usize;
                    buf[at..at + old.len()].copy_from_slice(&old);
                }
                if first == last {
                    break;
                }
            }
        }
        let at = (offset - start) as usize;
        buf[at..at + data.len()].copy_from_slice(data);
        for (i, chunk) in buf.chunks_mut(BLOCK).enumerate() {
            self.encrypt_block(id, first + i as u64, chunk);
        }
        f.write_all_at(&buf, HEADER_LEN + start)?;
        Ok(())
    }

    /// Change the plaintext size (the caller holds the file's write lock).
    pub(crate) fn truncate(
        &self,
        f: &File,
        id: Option<&[u8; 16]>,
        new_size: u64,
    ) -> Result<(), ContentError> {
        let Some(id) = id else {
            f.set_len(new_size)?;
            return Ok(());
        };
        let size = self.plain_size(f.metadata()?.len());
        let bs = BLOCK as u64;
        if new_size < size {
            if !new_size.is_multiple_of(bs) {
                let b = new_size / bs;
                let want = (new_size - b * bs) as usize;
                let mut blk = self.old_block(f, id, b, size, want)?;
                self.encrypt_block(id, b, &mut blk);
                f.write_all_at(&blk, HEADER_LEN + b * bs)?;
            }
            f.set_len(HEADER_LEN + new_size)?;
        } else if new_size > size {
            if !size.is_multiple_of(bs) {
                let lb = size / bs;
                let want = (new_size - lb * bs).min(bs) as usize;
                let mut blk = self.old_block(f, id, lb, size, want)?;
                self.encrypt_block(id, lb, &mut blk);
                f.write_all_at(&blk, HEADER_LEN + lb * bs)?;
            }
            f.set_len(HEADER_LEN + new_size)?;
            // A new partial last block must be real ciphertext: only full blocks can be holes.
            let nb = new_size / bs;
            if !new_size.is_multiple_of(bs) && (size == 0 || nb > (size - 1) / bs) {
                let mut blk = vec![0u8; (new_size - nb * bs) as usize];
                self.encrypt_block(id, nb, &mut blk);
                f.write_all_at(&blk, HEADER_LEN + nb * bs)?;
            }
        }
        Ok(())
    }
}

fn is_zero(b: &[u8]) -> bool {
    b.len() == BLOCK && b.iter().all(|&x| x == 0)
}

/// pread until `buf` is full or EOF; returns the bytes read.
pub(crate) fn read_full_at(f: &File, buf: &mut [u8], mut off: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                off += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
