//! Reading a volume's backing tree into manifest entries and chunks (capture), and writing
//! a backing tree back from a manifest (restore). Both work on stored bytes only: names,
//! contents, symlink targets and xattrs stay as the volume stored them (ciphertext when the
//! volume is encrypted), so neither needs a key. Entries are reached through directory
//! handles one name at a time ([`AtPath`]), never by path: trees of any depth, and no
//! symlink in the backing tree is followed. One thread walks (and makes the entries, in
//! order); file contents are read, hashed and written on every core ([`pool`]), so the
//! manifest is the same as a one-thread walk's.

use super::SnapshotError;
use super::manifest::{CHUNK, Entry, EntryKind, Manifest};
use super::progress::Progress;
use super::store::{Hash, ObjectStore, name_of};
use crate::fsutil::at::{self, At, Kind, Meta};
use crate::fsutil::at_path::AtPath;
use crate::fsutil::xattr;
use crate::volume::backing::{data_runs, pool};
use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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

impl CaptureStats {
    /// Add what `s` did to this.
    pub(super) fn absorb(&mut self, s: CaptureStats) {
        self.bytes_added += s.bytes_added;
        self.chunks_added += s.chunks_added;
        self.bytes_read += s.bytes_read;
        self.files_skipped += s.files_skipped;
    }
}

/// Store `bytes` as one piece (at most [`CHUNK`]) unless the store has it, naming it in
/// `chunks` and counting what it added in `stats`.
pub(super) fn put_piece(
    store: &dyn ObjectStore,
    bytes: &[u8],
    chunks: &mut Vec<Hash>,
    stats: &mut CaptureStats,
) -> Result<(), SnapshotError> {
    let h = name_of(bytes);
    if store
        .put_if_absent(&h, bytes)
        .map_err(|e| SnapshotError::Store(e.to_string()))?
    {
        stats.bytes_added += bytes.len() as u64;
        stats.chunks_added += 1;
    }
    chunks.push(h);
    Ok(())
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
        prev,
        links: HashMap::new(),
        stats: CaptureStats::default(),
        progress,
        out: Vec::new(),
        failed: None,
    };
    let work = |j: ReadJob, stop: &AtomicBool| store_file(store, j, stop);
    pool::run(work, |feed| {
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        let mut walked = Ok(());
        while let Some(rel) = stack.pop() {
            match c.entry(rel, &mut stack) {
                Ok(Some((e, job))) => {
                    c.out.push(e);
                    if let Some(mut j) = job {
                        j.idx = c.out.len() - 1;
                        feed.submit(j, &mut |r| c.take(r));
                    }
                }
                Ok(None) => {}
                Err(e) => walked = Err(e),
            }
            if walked.is_err() || c.failed.is_some() {
                feed.stop();
                break;
            }
        }
        feed.finish(&mut |r| c.take(r));
        walked?;
        match c.failed.take() {
            Some(e) => Err(e),
            None => Ok((std::mem::take(&mut c.out), c.stats)),
        }
    })
}

/// A file to read into chunks: its entry's index, the open file, its path (messages), size.
struct ReadJob {
    idx: usize,
    file: File,
    path: PathBuf,
    size: u64,
}

/// What reading a file gave: its chunks, and what it added to the store.
struct ReadDone {
    idx: usize,
    chunks: Result<Vec<Hash>, SnapshotError>,
    stats: CaptureStats,
}

/// One capture's state: what it reads and where it stores, what it has seen.
struct Capture<'a> {
    data: &'a Path,
    walk: AtPath,
    /// The previous manifest's files by path.
    prev: HashMap<&'a [u8], &'a Entry>,
    /// Inode of a multiply-linked file -> the first path it was seen at.
    links: HashMap<u64, Vec<u8>>,
    stats: CaptureStats,
    progress: &'a mut Progress,
    /// The entries so far (files read by the pool get their chunks when it is done).
    out: Vec<Entry>,
    /// The first file that could not be read or stored.
    failed: Option<SnapshotError>,
}

impl Capture<'_> {
    /// Take a read file's result into its entry.
    fn take(&mut self, r: ReadDone) {
        self.stats.absorb(r.stats);
        self.progress.add(r.stats.bytes_read);
        match r.chunks {
            Ok(c) => self.out[r.idx].chunks = c,
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
    }

    /// The entry of `rel` (None for a device node, which is not kept), and the file to read
    /// for its chunks if it must be read; a directory's children go on `stack`.
    fn entry(
        &mut self,
        rel: Vec<u8>,
        stack: &mut Vec<Vec<u8>>,
    ) -> Result<Option<(Entry, Option<ReadJob>)>, SnapshotError> {
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
        let mut job = None;
        match m.kind() {
            Kind::Dir => push_children(&at, &e.path, stack).map_err(io)?,
            Kind::File => {
                if let Some(first) = self.earlier_link(&e.path, &m) {
                    e.kind = EntryKind::HardLink;
                    e.target = first;
                    return Ok(Some((e, None)));
                }
                e.kind = EntryKind::File;
                e.size = m.size;
                job = self.contents(&at, &p, &mut e)?;
            }
            Kind::Symlink => {
                e.kind = EntryKind::Symlink;
                e.target = at::readlink(&at).map_err(io)?.as_bytes().to_vec();
                // Linux keeps no user.* attributes on symlinks.
                return Ok(Some((e, None)));
            }
            Kind::Fifo => e.kind = EntryKind::Fifo,
            Kind::Socket => e.kind = EntryKind::Socket,
            // Device nodes cannot be made in a volume; nothing else to keep.
            Kind::CharDevice | Kind::BlockDevice => return Ok(None),
        }
        e.xattrs = read_xattrs(&at).map_err(io)?;
        Ok(Some((e, job)))
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

    /// The chunk list of file entry `e` at `at` (`p` in messages) if the file is unchanged
    /// since the previous snapshot; else the file, opened, to read.
    fn contents(
        &mut self,
        at: &At,
        p: &Path,
        e: &mut Entry,
    ) -> Result<Option<ReadJob>, SnapshotError> {
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
                Ok(None)
            }
            _ if e.size == 0 => Ok(None),
            _ => {
                let file = at::open(at.fd(), at.name(), libc::O_RDONLY, 0)
                    .map_err(|err| SnapshotError::io(p, err))?;
                Ok(Some(ReadJob {
                    idx: 0,
                    file,
                    path: p.to_path_buf(),
                    size: e.size,
                }))
            }
        }
    }
}

/// Read job `j`'s file (`size` bytes, as it was when walked), storing each chunk the store
/// lacks (a pool worker; gives up at once when `stop` is set).
fn store_file(store: &dyn ObjectStore, mut j: ReadJob, stop: &AtomicBool) -> ReadDone {
    let mut stats = CaptureStats::default();
    let mut chunks = Vec::with_capacity(j.size.div_ceil(CHUNK as u64) as usize);
    let mut buf = vec![0u8; j.size.min(CHUNK as u64) as usize];
    let mut left = j.size;
    let mut read = || -> Result<(), SnapshotError> {
        while left > 0 {
            if stop.load(Ordering::Relaxed) {
                return Err(SnapshotError::Copy(format!(
                    "{}: not read",
                    j.path.display()
                )));
            }
            let want = left.min(CHUNK as u64) as usize;
            j.file
                .read_exact(&mut buf[..want])
                .map_err(|e| SnapshotError::io(&j.path, e))?;
            put_piece(store, &buf[..want], &mut chunks, &mut stats)?;
            stats.bytes_read += want as u64;
            left -= want as u64;
        }
        Ok(())
    };
    let r = read();
    ReadDone {
        idx: j.idx,
        chunks: r.map(|()| chunks),
        stats,
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

/// Write the backing tree of `m` into the empty directory `data`: entries made in order by
/// one thread, file contents written by the pool.
pub(super) fn restore(
    m: &Manifest,
    data: &Path,
    store: &dyn ObjectStore,
    progress: &mut Progress,
) -> Result<(), SnapshotError> {
    let mut walk = AtPath::open(data).map_err(|err| SnapshotError::io(data, err))?;
    let work = |j: WriteJob, stop: &AtomicBool| {
        if stop.load(Ordering::Relaxed) {
            return Err(SnapshotError::Copy(format!(
                "{}: not restored",
                j.path.display()
            )));
        }
        restore_file(j.entry, &j.file, &j.path, store)
    };
    pool::run(work, |feed| {
        let mut failed = None;
        let mut made = Ok(());
        for e in &m.entries {
            match make(e, data, &mut walk) {
                Ok(Some(j)) => feed.submit(j, &mut |r| note(progress, &mut failed, r)),
                Ok(None) => {}
                Err(err) => made = Err(err),
            }
            if made.is_err() || failed.is_some() {
                feed.stop();
                break;
            }
        }
        feed.finish(&mut |r| note(progress, &mut failed, r));
        made?;
        failed.map_or(Ok(()), Err)
    })?;
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

/// Take a restored file's result: its bytes to `progress`, its failure (the first) kept.
fn note(
    progress: &mut Progress,
    failed: &mut Option<SnapshotError>,
    r: Result<u64, SnapshotError>,
) {
    match r {
        Ok(n) => progress.add(n),
        Err(e) => {
            failed.get_or_insert(e);
        }
    }
}

/// A restored file to fill: its entry, the new file, its path (messages).
struct WriteJob<'m> {
    entry: &'m Entry,
    file: File,
    path: PathBuf,
}

/// Make entry `e` under `data`; a file is created empty and returned to be filled.
fn make<'m>(
    e: &'m Entry,
    data: &Path,
    walk: &mut AtPath,
) -> Result<Option<WriteJob<'m>>, SnapshotError> {
    let p = join(data, &e.path);
    let io = |err| SnapshotError::io(&p, err);
    let at = walk.at(&e.path).map_err(io)?;
    match e.kind {
        EntryKind::Dir if e.path.is_empty() => {}
        EntryKind::Dir => at::mkdir(at.fd(), at.name(), 0o700).map_err(io)?,
        EntryKind::File => {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
            let file = at::open(at.fd(), at.name(), flags, 0o600).map_err(io)?;
            return Ok(Some(WriteJob {
                entry: e,
                file,
                path: p.clone(),
            }));
        }
        EntryKind::Symlink => at::symlink(OsStr::from_bytes(&e.target), &at).map_err(io)?,
        EntryKind::HardLink => {
            let first = walk.at(&e.target).map_err(io)?;
            at::link(&first, &at).map_err(io)?;
        }
        EntryKind::Fifo => at::mknod(&at, libc::S_IFIFO | 0o600, 0).map_err(io)?,
        EntryKind::Socket => at::mknod(&at, libc::S_IFSOCK | 0o600, 0).map_err(io)?,
    }
    Ok(None)
}

/// Write file entry `e` into `f` (`p` in messages) from its chunks, each checked against
/// its name (a pool worker): the bytes written.
fn restore_file(
    e: &Entry,
    f: &File,
    p: &Path,
    store: &dyn ObjectStore,
) -> Result<u64, SnapshotError> {
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
        for r in data_runs(&b) {
            f.write_all_at(&b[r.clone()], off + r.start as u64)
                .map_err(|err| SnapshotError::io(p, err))?;
        }
        off += b.len() as u64;
    }
    if off != e.size {
        return Err(SnapshotError::DamagedManifest(format!(
            "{}: the chunks hold {off} bytes, the manifest says {}",
            p.display(),
            e.size
        )));
    }
    f.set_len(e.size).map_err(|err| SnapshotError::io(p, err))?;
    Ok(off)
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
