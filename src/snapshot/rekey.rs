//! A snapshot's stored tree under a new data key, straight from its manifest: every name,
//! symlink target, xattr and file content is re-encrypted item by item
//! ([`crate::volume::rekey`]) and the new file contents are cut into chunks and stored as
//! they stream, on every core, so nothing is laid out on disk and each byte is read and
//! written once. Each directory gets a fresh id. Entries keep the source's order (parents
//! before children, a hard link after its file), which is all restore needs. A file whose
//! first name does not decrypt lives on under its first link whose name does (as a mount
//! still shows it there): that link becomes the file, and later links name it.

use super::SnapshotError;
use super::manifest::{CHUNK, Entry, EntryKind, Manifest};
use super::progress::Progress;
use super::store::{Hash, ObjectStore};
use super::tree::{CaptureStats, fetch, put_piece};
use crate::volume::VolumeError;
use crate::volume::backing::pool;
use crate::volume::names::{DIRIV, Stored};
use crate::volume::rekey::{Rekey, long_kind, sidecar_of};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn item_err(path: &[u8], e: VolumeError) -> SnapshotError {
    let why = match e {
        VolumeError::Copy(s) => s,
        other => other.to_string(),
    };
    SnapshotError::Copy(format!("{}: {why}", shown(path)))
}

/// `(parent, last component)` of a `/`-separated path.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = parent.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The whole stored content of a small file entry (a directory id, a long name's sidecar).
fn small_content(store: &dyn ObjectStore, e: &Entry) -> Result<Vec<u8>, SnapshotError> {
    if e.size > CHUNK as u64 {
        return Err(SnapshotError::DamagedManifest(format!(
            "{}: {} bytes for a directory id or a name",
            shown(&e.path),
            e.size
        )));
    }
    let mut b = Vec::new();
    for h in &e.chunks {
        b.extend(fetch(store, h)?);
    }
    Ok(b)
}

/// Re-encrypt `m`'s tree under `keys` (old: `m`'s data key) into new entries and chunks.
/// Entries whose names do not decrypt are left out, as a mount hides them.
pub(super) fn rekey(
    m: &Manifest,
    keys: Rekey<'_>,
    store: &dyn ObjectStore,
    progress: &mut Progress,
) -> Result<(Vec<Entry>, CaptureStats), SnapshotError> {
    let mut t = Tree::read(m, keys, store)?;
    let work = |(idx, e): (usize, &Entry), stop: &AtomicBool| Done {
        idx,
        r: rekey_file(store, keys, e, stop),
    };
    let mut out: Vec<Entry> = Vec::with_capacity(m.entries.len());
    let mut stats = CaptureStats::default();
    let mut failed = None;
    let mut take = |d: Done, out: &mut Vec<Entry>| match d.r {
        Ok((chunks, s)) => {
            out[d.idx].chunks = chunks;
            stats.absorb(s);
            progress.add(s.bytes_read);
        }
        Err(e) => {
            failed.get_or_insert(e);
        }
    };
    let walked = pool::run(work, |feed| {
        let mut walked = Ok(());
        for e in &m.entries {
            match t.entry(e, store) {
                Ok(Some((n, content))) => {
                    out.push(n);
                    if let Some(src) = content {
                        feed.submit((out.len() - 1, src), &mut |d| take(d, &mut out));
                    }
                }
                Ok(None) => {}
                Err(err) => walked = Err(err),
            }
            if walked.is_err() {
                feed.stop();
                break;
            }
        }
        feed.finish(&mut |d| take(d, &mut out));
        walked
    });
    walked?;
    if let Some(e) = failed {
        return Err(e);
    }
    stats.absorb(t.stats);
    Ok((out, stats))
}

/// A re-encrypted file's chunks and what storing them did, or why it failed.
struct Done {
    idx: usize,
    r: Result<(Vec<Hash>, CaptureStats), SnapshotError>,
}

/// Stream file entry `e`'s chunks through the re-encryption into new chunks (a pool worker;
/// gives up at once when `stop` is set).
fn rekey_file(
    store: &dyn ObjectStore,
    keys: Rekey<'_>,
    e: &Entry,
    stop: &AtomicBool,
) -> Result<(Vec<Hash>, CaptureStats), SnapshotError> {
    let mut stats = CaptureStats::default();
    let mut chunks = Vec::with_capacity(e.chunks.len());
    let mut fr = keys.file().map_err(|err| item_err(&e.path, err))?;
    let mut out = Vec::with_capacity(2 * CHUNK);
    let mut total = 0u64;
    for h in &e.chunks {
        if stop.load(Ordering::Relaxed) {
            return Err(SnapshotError::Copy(format!(
                "{}: not copied",
                shown(&e.path)
            )));
        }
        let b = fetch(store, h)?;
        stats.bytes_read += b.len() as u64;
        fr.push(&b, &mut out)
            .map_err(|err| item_err(&e.path, err))?;
        let mut at = 0;
        while out.len() - at >= CHUNK {
            put_piece(store, &out[at..at + CHUNK], &mut chunks, &mut stats)?;
            at += CHUNK;
        }
        total += at as u64;
        out.drain(..at);
    }
    fr.finish(&mut out).map_err(|err| item_err(&e.path, err))?;
    for piece in out.chunks(CHUNK) {
        put_piece(store, piece, &mut chunks, &mut stats)?;
        total += piece.len() as u64;
    }
    if total != e.size {
        return Err(SnapshotError::DamagedManifest(format!(
            "{}: the chunks hold {total} bytes, the manifest says {}",
            shown(&e.path),
            e.size
        )));
    }
    Ok((chunks, stats))
}

/// What the walk over the entries knows: directory ids, long names, new paths.
struct Tree<'m> {
    keys: Rekey<'m>,
    /// Every directory's (old id, new id), by its old path.
    dirs: HashMap<&'m [u8], ([u8; 16], [u8; 16])>,
    /// The full encodings of long names, by the old path of their sidecar.
    sidecars: HashMap<&'m [u8], String>,
    /// Old path -> new path; None for an entry left out (its name does not decrypt).
    paths: HashMap<&'m [u8], Option<Vec<u8>>>,
    /// Entries left out that a later hard link may still hold, by old path.
    dropped: HashMap<&'m [u8], &'m Entry>,
    /// What storing directory ids and sidecars added.
    stats: CaptureStats,
}

impl<'m> Tree<'m> {
    /// Read every directory's id and every long name's encoding from `m`'s chunks.
    fn read(
        m: &'m Manifest,
        keys: Rekey<'m>,
        store: &dyn ObjectStore,
    ) -> Result<Self, SnapshotError> {
        let mut ids: HashMap<&[u8], [u8; 16]> = HashMap::new();
        let mut sidecars = HashMap::new();
        for e in m.entries.iter().filter(|e| e.kind == EntryKind::File) {
            let (parent, name) = split(&e.path);
            if name == DIRIV.as_bytes() {
                let b = small_content(store, e)?;
                let id = b.try_into().map_err(|_| {
                    SnapshotError::DamagedManifest(format!("{}: not 16 bytes", shown(&e.path)))
                })?;
                ids.insert(parent, id);
            } else if long_kind(name).1 {
                let b = small_content(store, e)?;
                if let Ok(s) = String::from_utf8(b) {
                    sidecars.insert(e.path.as_slice(), s);
                }
            }
        }
        let mut dirs = HashMap::new();
        for e in m.entries.iter().filter(|e| e.kind == EntryKind::Dir) {
            let old = *ids.get(e.path.as_slice()).ok_or_else(|| {
                SnapshotError::DamagedManifest(format!(
                    "directory '{}' has no {DIRIV}",
                    shown(&e.path)
                ))
            })?;
            let mut new = [0u8; 16];
            crate::crypto::fill_random(&mut new).map_err(|e| SnapshotError::Copy(e.to_string()))?;
            dirs.insert(e.path.as_slice(), (old, new));
        }
        Ok(Tree {
            keys,
            dirs,
            sidecars,
            paths: HashMap::new(),
            dropped: HashMap::new(),
            stats: CaptureStats::default(),
        })
    }

    /// The new backing name of `name` (not a sidecar) in the directory at old path
    /// `parent`: `(name, the full encoding when it is a long name)`; None if it does not
    /// decrypt.
    fn name(&self, parent: &[u8], name: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
        if name == DIRIV.as_bytes() {
            return Some((name.to_vec(), None));
        }
        let (od, nd) = self.dirs.get(parent)?;
        let enc = match long_kind(name).0 {
            true => self
                .sidecars
                .get(join(parent, &sidecar_of(name)).as_slice())?
                .clone(),
            false => String::from_utf8(name.to_vec()).ok()?,
        };
        match self.keys.name(od, nd, &enc)? {
            Stored::Direct(n) => Some((n.into_encoded_bytes(), None)),
            Stored::Long { backing, full } => Some((backing.into_encoded_bytes(), Some(full))),
        }
    }

    /// The new path of entry `e` (its parent came before it), and the new content of a
    /// sidecar; None if it is left out.
    fn path(&mut self, e: &'m Entry) -> Option<(Vec<u8>, Option<String>)> {
        if e.path.is_empty() {
            self.paths.insert(&e.path, Some(Vec::new()));
            return Some((Vec::new(), None));
        }
        let (parent, name) = split(&e.path);
        let new_parent = self.paths.get(parent).cloned().flatten();
        let got = new_parent.and_then(|np| {
            if long_kind(name).1 {
                let base = &name[..name.len() - crate::volume::names::LONG_SUFFIX.len()];
                let (nb, full) = self.name(parent, base)?;
                Some((join(&np, &sidecar_of(&nb)), full))
            } else {
                let (n, _) = self.name(parent, name)?;
                Some((join(&np, &n), None))
            }
        });
        self.paths
            .insert(&e.path, got.as_ref().map(|g| g.0.clone()));
        got
    }

    /// The new entry of `e` and, when its content must be re-encrypted by the pool, the
    /// entry holding that content (directory ids and sidecars are stored here); None if it
    /// is left out.
    fn entry(
        &mut self,
        e: &'m Entry,
        store: &dyn ObjectStore,
    ) -> Result<Option<(Entry, Option<&'m Entry>)>, SnapshotError> {
        let Some((path, sidecar)) = self.path(e) else {
            if e.kind != EntryKind::Dir {
                self.dropped.insert(&e.path, e);
            }
            return Ok(None);
        };
        let e = self.promoted(e, &path).unwrap_or(e);
        let mut n = Entry {
            path,
            chunks: Vec::new(),
            ..e.clone()
        };
        let mut content = None;
        let (parent, name) = split(&e.path);
        match e.kind {
            EntryKind::File if name == DIRIV.as_bytes() => {
                let id = self.dirs.get(parent).map(|d| d.1).ok_or_else(|| {
                    SnapshotError::DamagedManifest(format!("{}: no directory", shown(&e.path)))
                })?;
                put_piece(store, &id, &mut n.chunks, &mut self.stats)?;
            }
            EntryKind::File if sidecar.is_some() => {
                let full = sidecar.expect("checked");
                put_piece(store, full.as_bytes(), &mut n.chunks, &mut self.stats)?;
                n.size = full.len() as u64;
            }
            EntryKind::File => content = (e.size > 0).then_some(e),
            EntryKind::Symlink => {
                n.target = self
                    .keys
                    .symlink(&e.target)
                    .map_err(|err| item_err(&e.path, err))?
            }
            EntryKind::HardLink => match self.paths.get(e.target.as_slice()).cloned().flatten() {
                Some(t) => n.target = t,
                None => return Ok(None),
            },
            EntryKind::Dir | EntryKind::Fifo | EntryKind::Socket => {}
        }
        n.xattrs = e
            .xattrs
            .iter()
            .map(|(k, v)| self.keys.xattr(k, v))
            .collect::<Result<_, _>>()
            .map_err(|err| item_err(&e.path, err))?;
        n.xattrs.sort();
        Ok(Some((n, content)))
    }

    /// The file left out that hard link `e` (new path `path`) now holds, when its first
    /// name did not decrypt; later links to it then name `path`.
    fn promoted(&mut self, e: &'m Entry, path: &[u8]) -> Option<&'m Entry> {
        if e.kind != EntryKind::HardLink || self.paths.get(e.target.as_slice()) != Some(&None) {
            return None;
        }
        let file = self.dropped.remove(e.target.as_slice())?;
        self.paths.insert(&file.path, Some(path.to_vec()));
        Some(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::snapshot::store::LocalStore;
    use crate::volume::content::Content;
    use crate::volume::keys::VolumeKeys;
    use crate::volume::names;
    use std::ffi::OsStr;
    use std::io::{Read, Seek, Write};

    fn keys(b: u8) -> VolumeKeys {
        VolumeKeys::derive(&SecretKey::from_slice(&[b; 32]).unwrap())
    }

    fn entry(path: &[u8], kind: EntryKind) -> Entry {
        Entry {
            path: path.to_vec(),
            kind,
            mode: 0o640,
            uid: 1,
            gid: 2,
            atime_ns: 3,
            mtime_ns: 4,
            ctime_ns: 5,
            ino: 6,
            size: 0,
            target: Vec::new(),
            xattrs: Vec::new(),
            chunks: Vec::new(),
        }
    }

    /// A file whose first name does not decrypt lives on under its next link (as a mount
    /// shows it), with its content under the new key; a later link names that one.
    #[test]
    fn a_file_whose_first_name_is_damaged_lives_on_in_its_link() {
        let (old, new) = (keys(1), keys(2));
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(&dir.path().join("store"));
        let mut stats = CaptureStats::default();
        let id = [9u8; 16];
        let mut diriv = entry(DIRIV.as_bytes(), EntryKind::File);
        diriv.size = 16;
        put_piece(&store, &id, &mut diriv.chunks, &mut stats).unwrap();

        let plain = b"kept through its link".repeat(300);
        let stored = store_under(&old, &plain);
        let mut file = entry(b"not-a-kmsfs-name", EntryKind::File);
        file.size = stored.len() as u64;
        put_piece(&store, &stored, &mut file.chunks, &mut stats).unwrap();

        let name = |n: &str| match names::encrypt(&old.names, &id, OsStr::new(n)) {
            Stored::Direct(s) => s.into_encoded_bytes(),
            Stored::Long { .. } => panic!("short name"),
        };
        let mut one = entry(&name("one"), EntryKind::HardLink);
        one.target = file.path.clone();
        let mut two = entry(&name("two"), EntryKind::HardLink);
        two.target = file.path.clone();
        store.flush().unwrap();
        let m = Manifest {
            volume_id: "vol-0123456789abcdef0".into(),
            volume_size: 1 << 30,
            encrypted: true,
            kms_key_arn: None,
            wrapped_dek: None,
            dek_context: Default::default(),
            entries: vec![entry(b"", EntryKind::Dir), diriv, file, one, two],
        };
        let keys = Rekey {
            old: &old,
            new: &new,
        };
        let (out, _) = rekey(&m, keys, &store, &mut Progress::hidden()).unwrap();
        store.flush().unwrap();

        assert_eq!(out.len(), 4, "{out:?}");
        let new_id: [u8; 16] = fetch(&store, &out[1].chunks[0])
            .unwrap()
            .try_into()
            .unwrap();
        let plain_name =
            |p: &[u8]| names::decrypt(&new.names, &new_id, std::str::from_utf8(p).unwrap());
        assert_eq!(out[2].kind, EntryKind::File);
        assert_eq!(plain_name(&out[2].path).unwrap(), "one");
        assert_eq!((out[2].mode, out[2].size), (0o640, stored.len() as u64));
        assert_eq!(out[3].kind, EntryKind::HardLink);
        assert_eq!(plain_name(&out[3].path).unwrap(), "two");
        assert_eq!(
            out[3].target, out[2].path,
            "the later link names the promoted one"
        );

        let bytes: Vec<u8> = out[2]
            .chunks
            .iter()
            .flat_map(|h| fetch(&store, h).unwrap())
            .collect();
        assert_eq!(read_under(&new, &bytes, plain.len()), plain);
    }

    /// The stored bytes (header and encrypted units) of a file holding `plain` under `keys`.
    fn store_under(keys: &VolumeKeys, plain: &[u8]) -> Vec<u8> {
        let f = tempfile::tempfile().unwrap();
        let c = Content { keys: Some(keys) };
        let id = c.init(&f).unwrap();
        c.write(&f, id.as_ref(), 0, plain).unwrap();
        let mut out = Vec::new();
        (&f).seek(std::io::SeekFrom::Start(0)).unwrap();
        (&f).read_to_end(&mut out).unwrap();
        out
    }

    /// Up to `len` plaintext bytes of the stored file `bytes` under `keys`.
    fn read_under(keys: &VolumeKeys, bytes: &[u8], len: usize) -> Vec<u8> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        let c = Content { keys: Some(keys) };
        let id = c.file_id(&f).unwrap();
        c.read(&f, id.as_ref(), 0, len + 1).unwrap()
    }
}
