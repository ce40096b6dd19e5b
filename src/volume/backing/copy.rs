//! Copying a volume's plaintext tree from one [`VolumeFs`] into another through the plain
//! filesystem API: how a stored tree moves to a new data key (every block re-encrypted) or
//! from unencrypted to encrypted. Contents, holes, modes, owners, times, symlinks, hard
//! links, FIFOs and `user.*` xattrs carry over.

use crate::volume::fs::{Attr, Caller, Ino, Kind, ROOT, SetAttr};
use crate::volume::{FsError, VolumeError, VolumeFs};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

const PIECE: u32 = 1 << 20;

fn fs_err(what: &str, e: FsError) -> VolumeError {
    VolumeError::Copy(format!("{what}: {e}"))
}

/// Copy everything under `src`'s root into `dst`'s (empty) root; `progress` is told the
/// bytes of contents copied.
pub(super) fn copy_tree(
    src: &VolumeFs,
    dst: &VolumeFs,
    progress: &mut dyn FnMut(u64),
) -> Result<(), VolumeError> {
    let mut c = Copier {
        src,
        dst,
        links: HashMap::new(),
        progress,
    };
    c.dir(ROOT, ROOT, "/")?;
    let a = src.getattr(ROOT).map_err(|e| fs_err("/", e))?;
    c.meta(ROOT, &a, "/")?;
    Ok(())
}

struct Copier<'a> {
    src: &'a VolumeFs,
    dst: &'a VolumeFs,
    /// Source inode of a multiply-linked file -> its copy.
    links: HashMap<Ino, Ino>,
    progress: &'a mut dyn FnMut(u64),
}

impl Copier<'_> {
    fn entries(&self, ino: Ino, at: &str) -> Result<Vec<OsString>, VolumeError> {
        let fh = self.src.opendir(ino).map_err(|e| fs_err(at, e))?;
        let r = self.src.readdir(fh, 0);
        self.src.releasedir(fh);
        Ok(r.map_err(|e| fs_err(at, e))?
            .into_iter()
            .map(|(_, e)| e.name)
            .filter(|n| n != "." && n != "..")
            .collect())
    }

    fn dir(&mut self, s: Ino, d: Ino, at: &str) -> Result<(), VolumeError> {
        for name in self.entries(s, at)? {
            let path = format!("{at}{}", name.to_string_lossy());
            let a = self.src.lookup(s, &name).map_err(|e| fs_err(&path, e))?;
            if let Some(new) = self.node(&a, d, &name, &path)? {
                self.xattrs(a.ino, new, &path)?;
                self.meta(new, &a, &path)?;
            }
        }
        Ok(())
    }

    /// Copy the node `a` (and what is below it) as `name` in `d`: the copy's inode, or None
    /// when it carries no xattrs and times of its own (a further hard link, a symlink, a
    /// device node, which is not copied).
    fn node(
        &mut self,
        a: &Attr,
        d: Ino,
        name: &OsStr,
        path: &str,
    ) -> Result<Option<Ino>, VolumeError> {
        let who = Caller {
            uid: a.uid,
            gid: a.gid,
        };
        let new = match a.kind {
            Kind::Dir => {
                let n = self
                    .dst
                    .mkdir(d, name, 0o700, who)
                    .map_err(|e| fs_err(path, e))?;
                self.dir(a.ino, n.ino, &format!("{path}/"))?;
                n.ino
            }
            Kind::File => {
                if a.nlink > 1
                    && let Some(&first) = self.links.get(&a.ino)
                {
                    self.dst.link(first, d, name).map_err(|e| fs_err(path, e))?;
                    return Ok(None);
                }
                let n = self.file(a, d, name, who, path)?;
                if a.nlink > 1 {
                    self.links.insert(a.ino, n);
                }
                n
            }
            Kind::Symlink => {
                let t = self.src.readlink(a.ino).map_err(|e| fs_err(path, e))?;
                self.dst
                    .symlink(d, name, OsStr::from_bytes(&t), who)
                    .map_err(|e| fs_err(path, e))?;
                // Symlinks keep no mode, and their times are not carried.
                return Ok(None);
            }
            Kind::Fifo | Kind::Socket => {
                let fmt = if a.kind == Kind::Fifo {
                    libc::S_IFIFO
                } else {
                    libc::S_IFSOCK
                };
                self.dst
                    .mknod(d, name, fmt | 0o600, 0, who)
                    .map_err(|e| fs_err(path, e))?
                    .ino
            }
            Kind::CharDevice | Kind::BlockDevice => return Ok(None),
        };
        Ok(Some(new))
    }

    fn file(
        &mut self,
        a: &Attr,
        d: Ino,
        name: &OsStr,
        who: Caller,
        path: &str,
    ) -> Result<Ino, VolumeError> {
        let sfh = self
            .src
            .open(a.ino, libc::O_RDONLY)
            .map_err(|e| fs_err(path, e))?;
        let made = self.dst.create(d, name, 0o600, libc::O_WRONLY, who);
        let (n, dfh) = match made {
            Ok(x) => x,
            Err(e) => {
                self.src.release(sfh);
                return Err(fs_err(path, e));
            }
        };
        let r = (|| {
            let mut off = 0u64;
            while off < a.size {
                let data = self
                    .src
                    .read(sfh, off, PIECE)
                    .map_err(|e| fs_err(path, e))?;
                if data.is_empty() {
                    break;
                }
                // Zero blocks are left as holes (they read as zeros all the same).
                for (i, blk) in data.chunks(4096).enumerate() {
                    if blk.iter().any(|&b| b != 0) {
                        self.dst
                            .write(dfh, off + (i * 4096) as u64, blk)
                            .map_err(|e| fs_err(path, e))?;
                    }
                }
                off += data.len() as u64;
                (self.progress)(data.len() as u64);
            }
            let size = SetAttr {
                size: Some(a.size),
                ..SetAttr::default()
            };
            self.dst
                .setattr(n.ino, size, Some(dfh))
                .map_err(|e| fs_err(path, e))?;
            Ok(())
        })();
        self.src.release(sfh);
        self.dst.release(dfh);
        r.map(|()| n.ino)
    }

    fn xattrs(&self, s: Ino, d: Ino, path: &str) -> Result<(), VolumeError> {
        let names = self.src.listxattr(s).map_err(|e| fs_err(path, e))?;
        for n in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let n = OsStr::from_bytes(n);
            let v = self.src.getxattr(s, n).map_err(|e| fs_err(path, e))?;
            self.dst
                .setxattr(d, n, &v, 0)
                .map_err(|e| fs_err(path, e))?;
        }
        Ok(())
    }

    fn meta(&self, d: Ino, a: &Attr, path: &str) -> Result<(), VolumeError> {
        let set = SetAttr {
            mode: Some(u32::from(a.perm)),
            uid: Some(a.uid),
            gid: Some(a.gid),
            size: None,
            atime: Some(Some(a.atime)),
            mtime: Some(Some(a.mtime)),
        };
        self.dst
            .setattr(d, set, None)
            .map_err(|e| fs_err(path, e))?;
        Ok(())
    }
}
