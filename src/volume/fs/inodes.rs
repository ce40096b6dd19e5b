//! The inode table: which (parent, backing name) links each inode the kernel knows has, its
//! lookup count; where an inode is in the backing tree (a directory handle and a name, the
//! handles of directories cached), and the attributes of an inode or handle.

use super::at::{self, At, DirFd, Meta};
use super::{Attr, FsError, FsResult, Ino, Kind, Node, ROOT, Target, VolumeFs, time};
use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

/// Deepest chain of links followed up to the root (more means a cycle: damage).
const MAX_DEPTH: usize = 1 << 16;

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

    /// The backing path of `ino` through its first known link, for messages only (every
    /// operation goes through directory handles: [`VolumeFs::at`]).
    pub(super) fn describe(&self, ino: Ino) -> PathBuf {
        let nodes = self.nodes.lock().expect("nodes");
        let mut parts = Vec::new();
        let mut cur = ino;
        while cur != ROOT {
            match nodes.get(&cur).and_then(|n| n.links.first()) {
                Some((p, name)) if parts.len() < MAX_DEPTH => {
                    parts.push(name.clone());
                    cur = *p;
                }
                _ => return self.data.join(format!("<inode {ino}>")),
            }
        }
        let mut path = self.data.clone();
        for p in parts.iter().rev() {
            path.push(p);
        }
        path
    }

    /// The first known link of `ino`: its parent and its backing name there.
    fn first_link(&self, ino: Ino) -> FsResult<(Ino, OsString)> {
        let nodes = self.nodes.lock().expect("nodes");
        let n = nodes.get(&ino).ok_or(FsError::NotFound)?;
        n.links.first().cloned().ok_or(FsError::NotFound)
    }

    /// Where `ino` is: its parent directory's handle and its backing name (the root: the
    /// root's handle and `.`).
    pub(super) fn at(&self, ino: Ino) -> FsResult<At> {
        if ino == ROOT {
            return Ok(At {
                dir: self.root.clone(),
                name: ".".into(),
            });
        }
        let (parent, name) = self.first_link(ino)?;
        Ok(At {
            dir: self.dir_fd(parent)?,
            name,
        })
    }

    /// The entry `backing` of directory `parent`.
    pub(super) fn child(&self, parent: Ino, backing: &OsStr) -> FsResult<At> {
        Ok(At {
            dir: self.dir_fd(parent)?,
            name: backing.to_os_string(),
        })
    }

    /// The handle of directory `ino`: cached, or opened from the nearest ancestor whose
    /// handle is cached (the root's always is), one name at a time, never through a
    /// symlink.
    pub(super) fn dir_fd(&self, ino: Ino) -> FsResult<DirFd> {
        if ino == ROOT {
            return Ok(self.root.clone());
        }
        if let Some(fd) = self.dirfds.lock().expect("dirfds").get(&ino) {
            return Ok(fd.clone());
        }
        let mut chain = Vec::new();
        let mut cur = ino;
        let mut fd = loop {
            let (parent, name) = self.first_link(cur)?;
            chain.push((cur, name));
            if parent == ROOT {
                break self.root.clone();
            }
            if let Some(fd) = self.dirfds.lock().expect("dirfds").get(&parent) {
                break fd.clone();
            }
            if chain.len() > MAX_DEPTH {
                return Err(FsError::Invalid);
            }
            cur = parent;
        };
        for (ino, name) in chain.into_iter().rev() {
            fd = Arc::new(at::open_dir(fd.as_fd(), &name)?);
            self.dirfds.lock().expect("dirfds").put(ino, fd.clone());
        }
        Ok(fd)
    }

    /// Keep `fd` as the handle of the directory `ino` (just made).
    pub(super) fn keep_dir_fd(&self, ino: Ino, fd: DirFd) {
        self.dirfds.lock().expect("dirfds").put(ino, fd);
    }

    /// Drop the handle of directory `ino` (removed: its inode number may come back).
    pub(super) fn drop_dir_fd(&self, ino: Ino) {
        self.dirfds.lock().expect("dirfds").pop(&ino);
    }

    /// Register a link and count a lookup.
    pub(super) fn remember(&self, parent: Ino, backing: &OsStr, m: &Meta) -> Attr {
        let ino = self.fuse_ino(m.ino);
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
                self.drop_dirid(ino);
                drop(nodes);
                self.drop_dir_fd(ino);
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

    pub(super) fn attr_of(&self, ino: Ino, m: &Meta) -> Attr {
        let kind = m.kind();
        let size = match kind {
            Kind::File => self.content().plain_size(m.size),
            Kind::Symlink => self.symlink_plain_len(m),
            _ => m.size,
        };
        Attr {
            ino,
            size,
            blocks: m.blocks,
            atime: time(m.atime.0, m.atime.1),
            mtime: time(m.mtime.0, m.mtime.1),
            ctime: time(m.ctime.0, m.ctime.1),
            kind,
            perm: (m.mode & 0o7777) as u16,
            nlink: m.nlink as u32,
            uid: m.uid,
            gid: m.gid,
            rdev: m.rdev as u32,
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
        Ok(self.attr_of(ino, &meta_of_target(t)?))
    }

    /// What a request on `ino` acts on: the handle `fh` if it is of `ino`; else the inode's
    /// entry; else (the path is gone: unlinked while open) any open handle of `ino`.
    pub(super) fn target(&self, ino: Ino, fh: Option<u64>) -> FsResult<Target> {
        let hs = self.handles.read().expect("handles");
        if let Some(h) = fh.and_then(|f| hs.get(&f)).filter(|h| h.ino == ino) {
            return Ok(Target::Open(h.clone()));
        }
        drop(hs);
        match self.at(ino) {
            Ok(a) => Ok(Target::At(a)),
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

/// The backing metadata of what `t` names.
pub(super) fn meta_of_target(t: &Target) -> FsResult<Meta> {
    Ok(match t {
        Target::Open(h) => Meta::of(&h.file)?,
        Target::At(a) => at::stat(a.fd(), a.name())?,
    })
}
