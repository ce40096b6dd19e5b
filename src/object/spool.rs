//! Write spools of the bucket view: the bytes of a file being written through `mount-bucket`,
//! held until close turns them into a PUT. They sit in an unlinked temporary file encrypted
//! with AES-256-XTS under a random key that exists only in this process's memory, so no
//! plaintext reaches the disk and a crash leaves nothing readable behind.

use crate::crypto::{SecretKey, XtsKey};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Spool block size: each block is one XTS data unit, its index the tweak.
const BLOCK: usize = 4096;

/// An encrypted, random-access scratch file of plaintext length `len` (`Debug` shows
/// nothing of the key).
#[derive(Debug)]
pub(crate) struct Spool {
    file: File,
    key: XtsKey,
    len: u64,
}

impl Spool {
    /// A new empty spool in `dir` (an unlinked file; nothing to clean up after a crash but
    /// ciphertext under a forgotten key).
    pub(crate) fn new(dir: &Path) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let file = tempfile_in(dir)?;
        let key = XtsKey::new(
            &SecretKey::random().map_err(io::Error::other)?,
            &SecretKey::random().map_err(io::Error::other)?,
        );
        Ok(Spool { file, key, len: 0 })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn load(&self, b: u64, buf: &mut [u8; BLOCK]) -> io::Result<()> {
        if b * BLOCK as u64 >= self.len {
            buf.fill(0);
            return Ok(());
        }
        self.file.read_exact_at(buf, b * BLOCK as u64)?;
        self.key.decrypt_sector(buf, b as u128);
        Ok(())
    }

    fn store(&self, b: u64, buf: &mut [u8; BLOCK]) -> io::Result<()> {
        self.key.encrypt_sector(buf, b as u128);
        self.file.write_all_at(buf, b * BLOCK as u64)
    }

    /// Read up to `out.len()` bytes at `offset`; short at the end.
    pub(crate) fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = out.len().min((self.len - offset) as usize);
        let mut blk = zeroizing_block();
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let (b, o) = (pos / BLOCK as u64, (pos % BLOCK as u64) as usize);
            self.load(b, &mut blk)?;
            let k = (BLOCK - o).min(n - done);
            out[done..done + k].copy_from_slice(&blk[o..o + k]);
            done += k;
        }
        Ok(n)
    }

    /// Write `data` at `offset`, growing the spool (a gap reads as zeros).
    pub(crate) fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if offset > self.len {
            self.set_len(offset)?;
        }
        let mut blk = zeroizing_block();
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (b, o) = (pos / BLOCK as u64, (pos % BLOCK as u64) as usize);
            let k = (BLOCK - o).min(data.len() - done);
            if k < BLOCK {
                self.load(b, &mut blk)?;
            }
            blk[o..o + k].copy_from_slice(&data[done..done + k]);
            self.store(b, &mut blk)?;
            done += k;
            self.len = self.len.max(pos + k as u64);
        }
        Ok(())
    }

    /// Truncate or extend to `len` bytes (new bytes read as zeros).
    pub(crate) fn set_len(&mut self, len: u64) -> io::Result<()> {
        let bs = BLOCK as u64;
        let mut blk = zeroizing_block();
        if len < self.len {
            // Zero the tail of the new last block so that a later growth reads zeros.
            if !len.is_multiple_of(bs) {
                let b = len / bs;
                self.load(b, &mut blk)?;
                blk[(len % bs) as usize..].fill(0);
                self.store(b, &mut blk)?;
            }
            self.len = len;
            self.file.set_len(len.div_ceil(bs) * bs)?;
            return Ok(());
        }
        // Growing: every block up to the new end holds encrypted zeros where nothing was
        // written (the current last block already has zeros past the old end).
        let first_new = self.len.div_ceil(bs);
        for b in first_new..len.div_ceil(bs) {
            blk.fill(0);
            self.store(b, &mut blk)?;
        }
        self.len = len;
        Ok(())
    }

    /// A reader of the whole plaintext, from the start.
    pub(crate) fn reader(&self) -> SpoolReader<'_> {
        SpoolReader {
            spool: self,
            pos: 0,
        }
    }
}

/// Sequential reader over a [`Spool`].
pub(crate) struct SpoolReader<'a> {
    spool: &'a Spool,
    pos: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.spool.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn zeroizing_block() -> zeroize::Zeroizing<[u8; BLOCK]> {
    zeroize::Zeroizing::new([0u8; BLOCK])
}

/// An unlinked temporary file in `dir` (O_TMPFILE where the filesystem has it).
fn tempfile_in(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let r = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    match r {
        Ok(f) => Ok(f),
        Err(_) => {
            let mut name = [0u8; 12];
            crate::crypto::fill_random(&mut name).map_err(io::Error::other)?;
            let p = dir.join(format!(".spool-{}", crate::crypto::hex(&name)));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)?;
            std::fs::remove_file(&p)?;
            Ok(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_writes_and_truncates_match_a_vec() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(dir.path()).unwrap();
        let mut model: Vec<u8> = Vec::new();
        let mut x = 0x1234_5678_u64;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for i in 0..400 {
            match rnd(5) {
                0 => {
                    let len = rnd(20_000);
                    s.set_len(len).unwrap();
                    model.resize(len as usize, 0);
                }
                _ => {
                    let off = rnd(30_000) as usize;
                    let n = rnd(9000) as usize;
                    let data: Vec<u8> = (0..n).map(|j| (i + j) as u8 | 1).collect();
                    s.write_at(off as u64, &data).unwrap();
                    if model.len() < off + n {
                        model.resize(off + n, 0);
                    }
                    model[off..off + n].copy_from_slice(&data);
                }
            }
            assert_eq!(s.len(), model.len() as u64);
            let mut all = Vec::new();
            s.reader().read_to_end(&mut all).unwrap();
            assert!(all == model, "step {i}");
        }
    }

    #[test]
    fn nothing_plain_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(dir.path()).unwrap();
        s.write_at(0, &[b'A'; 10_000]).unwrap();
        let mut raw = vec![0u8; 12_288];
        s.file.read_exact_at(&mut raw, 0).unwrap();
        assert!(!raw.windows(16).any(|w| w == [b'A'; 16]));
    }
}
