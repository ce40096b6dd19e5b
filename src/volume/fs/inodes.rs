//! The inode table: which (parent, backing name) links each inode the kernel knows has, its
//! lookup count, the backing path of an inode, and the attributes of an inode or handle.

use super::{Attr, FsError, FsResult, Ino, Kind, Node, ROOT, Target, VolumeFs, kind_of, time};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

impl VolumeFs {
    /// The inode number FUSE sees for a backing inode (the backing root swapped with 1).
    #[inline]
    pub(super) fn fuse_ino(&self, backing: u64) -> Ino {
        if backing == self.root_backing_ino {
            ROOT
        } else if backing == ROOT {
            self.root_backing_ino
        } else {
            backing
        }
    }

    /// The backing path of `ino` (through the first known link).
    pub(super) fn path(&self, ino: Ino) -> FsResult<PathBuf> {
        let nodes = self.nodes.lock().expect("nodes");
        let mut parts = Vec::new();
        let mut cur = ino;
        let mut depth = 0;
        while cur != ROOT {
            let n = nodes.get(&cur).ok_or(FsError::NotFound)?;
            let (p, name) = n.links.first().ok_or(FsError::NotFound)?;
            parts.push(name.clone());
            cur = *p;
            depth += 1;
            if depth > 4096 {
                return Err(FsError::Invalid);
            }
        }
        let mut path = self.data.clone();
        for p in parts.iter().rev() {
            path.push(p);
        }
        Ok(path)
    }

    /// Register a link and count a lookup.
    pub(super) fn remember(&self, parent: Ino, backing: &OsStr, m: &fs::Metadata) -> Attr {
        let ino = self.fuse_ino(m.ino());
        let mut nodes = self.nodes.lock().expect("nodes");
        let n = nodes.entry(ino).or_insert_with(|| Node {
            links: Vec::new(),
            nlookup: 0,
        });
        n.nlookup += 1;
        let link = (parent, backing.to_os_string());
        if !n.links.contains(&link) {
            n.links.insert(0, link);
        }
        drop(nodes);
        self.attr_of(ino, m)
    }

    pub(crate) fn forget(&self, ino: Ino, n: u64) {
        if ino == ROOT {
            return;
        }
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(node) = nodes.get_mut(&ino) {
            node.nlookup = node.nlookup.saturating_sub(n);
            if node.nlookup == 0 {
                nodes.remove(&ino);
                self.dirids.lock().expect("dirids").remove(&ino);
            }
        }
    }

    /// Forget the link (`parent`, `backing`) of `ino` (removed or replaced).
    pub(super) fn unlink_node(&self, ino: Ino, parent: Ino, backing: &OsStr) {
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(n) = nodes.get_mut(&ino) {
            n.links.retain(|(p, nm)| !(*p == parent && nm == backing));
        }
    }

    /// Move the link `old` of `ino` to `new` (renamed), making `new` its first.
    pub(super) fn relink(&self, ino: Ino, old: (Ino, &OsStr), new: (Ino, &OsStr)) {
        let mut nodes = self.nodes.lock().expect("nodes");
        if let Some(n) = nodes.get_mut(&ino) {
            n.links.retain(|(p, nm)| !(*p == old.0 && nm == old.1));
            n.links.insert(0, (new.0, new.1.to_os_string()));
        }
    }

    /// The parent of `ino` through its first known link (the root if none is known).
    pub(super) fn parent_of(&self, ino: Ino) -> Ino {
        self.nodes
            .lock()
            .expect("nodes")
            .get(&ino)
            .and_then(|n| n.links.first().map(|l| l.0))
            .unwrap_or(ROOT)
    }

    pub(super) fn attr_of(&self, ino: Ino, m: &fs::Metadata) -> Attr {
        let kind = kind_of(m.file_type());
        let size = match kind {
            Kind::File => self.content().plain_size(m.size()),
            Kind::Symlink => self.symlink_plain_len(m),
            _ => m.size(),
        };
        Attr {
            ino,
            size,
            blocks: m.blocks(),
            atime: time(m.atime(), m.atime_nsec()),
            mtime: time(m.mtime(), m.mtime_nsec()),
            ctime: time(m.ctime(), m.ctime_nsec()),
            kind,
            perm: (m.mode() & 0o7777) as u16,
            nlink: m.nlink() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev() as u32,
        }
    }

    pub fn getattr(&self, ino: Ino) -> FsResult<Attr> {
        self.getattr_fh(ino, None)
    }

    /// Attributes through the handle `fh` (or any open handle of `ino`) when there is one,
    /// so that files unlinked while open keep answering.
    pub(crate) fn getattr_fh(&self, ino: Ino, fh: Option<u64>) -> FsResult<Attr> {
        let t = self.target(ino, fh)?;
        self.attr_of_target(ino, &t)
    }

    pub(super) fn attr_of_target(&self, ino: Ino, t: &Target) -> FsResult<Attr> {
        let m = match t {
            Target::Open(h) => h.file.metadata()?,
            Target::Path(p) => fs::symlink_metadata(p)?,
        };
        Ok(self.attr_of(ino, &m))
    }

    /// What a request on `ino` acts on: the handle `fh` if it is of `ino`; else the inode's
    /// path; else (the path is gone: unlinked while open) any open handle of `ino`.
    pub(super) fn target(&self, ino: Ino, fh: Option<u64>) -> FsResult<Target> {
        let hs = self.handles.read().expect("handles");
        if let Some(h) = fh.and_then(|f| hs.get(&f)).filter(|h| h.ino == ino) {
            return Ok(Target::Open(h.clone()));
        }
        drop(hs);
        match self.path(ino) {
            Ok(p) => Ok(Target::Path(p)),
            Err(e) => self
                .handles
                .read()
                .expect("handles")
                .values()
                .find(|h| h.ino == ino)
                .map(|h| Target::Open(h.clone()))
                .ok_or(e),
        }
    }
}
