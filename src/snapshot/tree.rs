//! Reading a volume's backing tree into manifest entries and chunks (capture), and writing
//! a backing tree back from a manifest (restore). Both work on stored bytes only: names,
//! contents, symlink targets and xattrs stay as the volume stored them (ciphertext when the
//! volume is encrypted), so neither needs a key. Entries are reached through directory
//! handles one name at a time ([`AtPath`]), never by path: trees of any depth, and no
//! symlink in the backing tree is followed.

use super::SnapshotError;
use super::manifest::{CHUNK, Entry, EntryKind, Manifest};
use super::progress::Progress;
use super::store::{Hash, ObjectStore, name_of};
use crate::fsutil::at::{self, At, Kind, Meta};
use crate::fsutil::at_path::AtPath;
use crate::fsutil::xattr;
use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What a capture did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct CaptureStats {
    /// Bytes of chunks added to the store.
    pub(super) bytes_added: u64,
    pub(super) chunks_added: u64,
    /// Bytes of backing files read (unchanged files are not read).
    pub(super) bytes_read: u64,
    pub(super) files_skipped: u64,
}

/// The path of `rel` under `data`, for messages only (never opened).
fn join(data: &Path, rel: &[u8]) -> PathBuf {
    if rel.is_empty() {
        data.to_path_buf()
    } else {
        data.join(OsStr::from_bytes(rel))
    }
}

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Walk `data` and store every file's chunks that the store lacks. Files whose path, size,
/// mtime, ctime and inode match `prev` reuse its chunk list without being read.
pub(super) fn capture(
    data: &Path,
    store: &dyn ObjectStore,
    prev: Option<&Manifest>,
    progress: &mut Progress,
) -> Result<(Vec<Entry>, CaptureStats), SnapshotError> {
    let prev: HashMap<&[u8], &Entry> = prev
        .map(|m| {
            m.entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| (e.path.as_slice(), e))
                .collect()
        })
        .unwrap_or_default();
    let mut c = Capture {
        data,
        walk: AtPath::open(data).map_err(|e| SnapshotError::io(data, e))?,
        store,
        prev,
        links: HashMap::new(),
        stats: CaptureStats::default(),
        progress,
    };
    let mut out = Vec::new();
    let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(rel) = stack.pop() {
        if let Some(e) = c.entry(rel, &mut stack)? {
            out.push(e);
        }
    }
    Ok((out, c.stats))
}

/// One capture's state: what it reads and where it stores, what it has seen.
struct Capture<'a> {
    data: &'a Path,
    walk: AtPath,
    store: &'a dyn ObjectStore,
    /// The previous manifest's files by path.
    prev: HashMap<&'a [u8], &'a Entry>,
    /// Inode of a multiply-linked file -> the first path it was seen at.
    links: HashMap<u64, Vec<u8>>,
    stats: CaptureStats,
    progress: &'a mut Progress,
}

impl Capture<'_> {
    /// The entry of `rel` (None for a device node, which is not kept); a directory's
    /// children go on `stack`.
    fn entry(
        &mut self,
        rel: Vec<u8>,
        stack: &mut Vec<Vec<u8>>,
    ) -> Result<Option<Entry>, SnapshotError> {
        let p = join(self.data, &rel);
        let io = |err| SnapshotError::io(&p, err);
        let at = self.walk.at(&rel).map_err(io)?;
        let m = at::stat(at.fd(), at.name()).map_err(io)?;
        let mut e = Entry {
            path: rel,
            kind: EntryKind::Dir,
            mode: m.mode & 0o7777,
            uid: m.uid,
            gid: m.gid,
            atime_ns: ns(m.atime.0, m.atime.1),
            mtime_ns: ns(m.mtime.0, m.mtime.1),
            ctime_ns: ns(m.ctime.0, m.ctime.1),
            ino: m.ino,
            size: 0,
            target: Vec::new(),
            xattrs: Vec::new(),
            chunks: Vec::new(),
        };
        match m.kind() {
            Kind::Dir => push_children(&at, &e.path, stack).map_err(io)?,
            Kind::File => {
                if let Some(first) = self.earlier_link(&e.path, &m) {
                    e.kind = EntryKind::HardLink;
                    e.target = first;
                    return Ok(Some(e));
                }
                e.kind = EntryKind::File;
                e.size = m.size;
                self.contents(&at, &p, &mut e)?;
            }
            Kind::Symlink => {
                e.kind = EntryKind::Symlink;
                e.target = at::readlink(&at).map_err(io)?.as_bytes().to_vec();
                // Linux keeps no user.* attributes on symlinks.
                return Ok(Some(e));
            }
            Kind::Fifo => e.kind = EntryKind::Fifo,
            Kind::Socket => e.kind = EntryKind::Socket,
            // Device nodes cannot be made in a volume; nothing else to keep.
            Kind::CharDevice | Kind::BlockDevice => return Ok(None),
        }
        e.xattrs = read_xattrs(&at).map_err(io)?;
        Ok(Some(e))
    }

    /// The first path of the file `m` if it has more links and one was seen before;
    /// otherwise None, and `rel` is remembered as its first path.
    fn earlier_link(&mut self, rel: &[u8], m: &Meta) -> Option<Vec<u8>> {
        if m.nlink <= 1 {
            return None;
        }
        if let Some(first) = self.links.get(&m.ino) {
            return Some(first.clone());
        }
        self.links.insert(m.ino, rel.to_vec());
        None
    }

    /// The chunk list of file entry `e` at `at` (`p` in messages): the previous snapshot's if
    /// the file is unchanged, else read and stored.
    fn contents(&mut self, at: &At, p: &Path, e: &mut Entry) -> Result<(), SnapshotError> {
        match self.prev.get(e.path.as_slice()) {
            Some(pe)
                if pe.size == e.size
                    && pe.mtime_ns == e.mtime_ns
                    && pe.ctime_ns == e.ctime_ns
                    && pe.ino == e.ino =>
            {
                e.chunks = pe.chunks.clone();
                self.stats.files_skipped += 1;
                self.progress.add(e.size);
            }
            _ => e.chunks = self.store_file(at, p, e.size)?,
        }
        Ok(())
    }

    fn store_file(&mut self, at: &At, p: &Path, size: u64) -> Result<Vec<Hash>, SnapshotError> {
        let mut f =
            at::open(at.fd(), at.name(), libc::O_RDONLY, 0).map_err(|e| SnapshotError::io(p, e))?;
        let mut chunks = Vec::with_capacity(size.div_ceil(CHUNK as u64) as usize);
        let mut buf = vec![0u8; CHUNK];
        let mut left = size;
        while left > 0 {
            let want = left.min(CHUNK as u64) as usize;
            f.read_exact(&mut buf[..want])
                .map_err(|e| SnapshotError::io(p, e))?;
            let h = name_of(&buf[..want]);
            let store_err = |e: std::io::Error| SnapshotError::Store(e.to_string());
            if self
                .store
                .put_if_absent(&h, &buf[..want])
                .map_err(store_err)?
            {
                self.stats.bytes_added += want as u64;
                self.stats.chunks_added += 1;
            }
            self.stats.bytes_read += want as u64;
            chunks.push(h);
            left -= want as u64;
            self.progress.add(want as u64);
        }
        Ok(chunks)
    }
}

/// Push the children of directory `at` (at `rel`) on `stack`, so that they come off it in
/// sorted order.
fn push_children(at: &At, rel: &[u8], stack: &mut Vec<Vec<u8>>) -> io::Result<()> {
    let dir = at::open_dir(at.fd(), at.name())?;
    let mut names: Vec<Vec<u8>> = at::list(std::os::fd::AsFd::as_fd(&dir))?
        .into_iter()
        .map(|l| l.name.into_encoded_bytes())
        .collect();
    // Reverse order on the stack gives sorted order out.
    names.sort_unstable_by(|a, b| b.cmp(a));
    for n in names {
        let mut c = rel.to_vec();
        if !c.is_empty() {
            c.push(b'/');
        }
        c.extend_from_slice(&n);
        stack.push(c);
    }
    Ok(())
}

/// Fetch a chunk and check it against its name.
pub(super) fn fetch(store: &dyn ObjectStore, h: &Hash) -> Result<Vec<u8>, SnapshotError> {
    let name = crate::crypto::hex(h);
    let b = store.get(h).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => SnapshotError::MissingChunk(name.clone()),
        _ => SnapshotError::Store(format!("chunk {name}: {e}")),
    })?;
    if &name_of(&b) != h {
        return Err(SnapshotError::DamagedChunk(name));
    }
    Ok(b)
}

/// Write the backing tree of `m` into the empty directory `data`.
pub(super) fn restore(
    m: &Manifest,
    data: &Path,
    store: &dyn ObjectStore,
    progress: &mut Progress,
) -> Result<(), SnapshotError> {
    let mut walk = AtPath::open(data).map_err(|err| SnapshotError::io(data, err))?;
    for e in &m.entries {
        let p = join(data, &e.path);
        let io = |err| SnapshotError::io(&p, err);
        let at = walk.at(&e.path).map_err(io)?;
        match e.kind {
            EntryKind::Dir if e.path.is_empty() => {}
            EntryKind::Dir => at::mkdir(at.fd(), at.name(), 0o700).map_err(io)?,
            EntryKind::File => restore_file(e, &at, &p, store, progress)?,
            EntryKind::Symlink => at::symlink(OsStr::from_bytes(&e.target), &at).map_err(io)?,
            EntryKind::HardLink => {
                let first = walk.at(&e.target).map_err(io)?;
                at::link(&first, &at).map_err(io)?;
            }
            EntryKind::Fifo => at::mknod(&at, libc::S_IFIFO | 0o600, 0).map_err(io)?,
            EntryKind::Socket => at::mknod(&at, libc::S_IFSOCK | 0o600, 0).map_err(io)?,
        }
    }
    // Metadata after contents; directories deepest first so their times stay.
    for e in m.entries.iter().rev() {
        if e.kind == EntryKind::HardLink {
            continue;
        }
        let p = join(data, &e.path);
        let at = walk.at(&e.path).map_err(|err| SnapshotError::io(&p, err))?;
        set_meta(e, &at).map_err(|err| SnapshotError::io(&p, err))?;
    }
    Ok(())
}

/// Write file entry `e` at `at` (`p` in messages) from its chunks.
fn restore_file(
    e: &Entry,
    at: &At,
    p: &Path,
    store: &dyn ObjectStore,
    progress: &mut Progress,
) -> Result<(), SnapshotError> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
    let f = at::open(at.fd(), at.name(), flags, 0o600).map_err(|err| SnapshotError::io(p, err))?;
    let mut off = 0u64;
    for h in &e.chunks {
        let b = fetch(store, h).map_err(|err| match err {
            SnapshotError::MissingChunk(c) => {
                SnapshotError::MissingChunk(format!("{c} (of {})", p.display()))
            }
            SnapshotError::DamagedChunk(c) => {
                SnapshotError::DamagedChunk(format!("{c} (of {})", p.display()))
            }
            other => other,
        })?;
        // Runs of zero blocks stay holes (they read as zeros either way).
        for (i, blk) in b.chunks(4096).enumerate() {
            if blk.iter().any(|&x| x != 0) {
                f.write_all_at(blk, off + (i * 4096) as u64)
                    .map_err(|err| SnapshotError::io(p, err))?;
            }
        }
        off += b.len() as u64;
        progress.add(b.len() as u64);
    }
    if off != e.size {
        return Err(SnapshotError::DamagedManifest(format!(
            "{}: the chunks hold {off} bytes, the manifest says {}",
            p.display(),
            e.size
        )));
    }
    f.set_len(e.size).map_err(|err| SnapshotError::io(p, err))?;
    Ok(())
}

/// Owner, xattrs, mode and times of entry `e` at `at`.
fn set_meta(e: &Entry, at: &At) -> io::Result<()> {
    // Ownership only sticks for root; others keep their own.
    match at::chown(at, Some(e.uid), Some(e.gid)) {
        Err(err) if err.raw_os_error() != Some(libc::EPERM) => return Err(err),
        _ => {}
    }
    if e.kind != EntryKind::Symlink {
        if !e.xattrs.is_empty() {
            let fd = at::open_path(at)?;
            let c = at::fd_path(&fd);
            for (n, v) in &e.xattrs {
                let name = CString::new(n.clone()).map_err(io::Error::other)?;
                xattr::set(&c, &name, v, 0, true)?;
            }
        }
        at::chmod(at, e.mode)?;
    }
    let ts = |t: i64| libc::timespec {
        tv_sec: t.div_euclid(1_000_000_000) as libc::time_t,
        tv_nsec: t.rem_euclid(1_000_000_000) as libc::c_long,
    };
    at::utimens(at, ts(e.atime_ns), ts(e.mtime_ns))
}

/// The `user.*` extended attributes of `at` (not a symlink), sorted.
fn read_xattrs(at: &At) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let fd = at::open_path(at)?;
    let c = at::fd_path(&fd);
    let names = match xattr::list(&c, true) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| n.starts_with(b"user.")) {
        let cn = CString::new(name).map_err(io::Error::other)?;
        out.push((name.to_vec(), xattr::get(&c, &cn, true)?));
    }
    out.sort();
    Ok(out)
}
