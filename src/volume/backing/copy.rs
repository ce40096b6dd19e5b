//! Copying a volume's plaintext tree from one [`VolumeFs`] into another through the plain
//! filesystem API: how a stored tree moves to a new data key (every block re-encrypted) or
//! from unencrypted to encrypted. Contents, holes, modes, owners, times, symlinks, hard
//! links, FIFOs and `user.*` xattrs carry over. One thread walks and creates the entries in
//! order; file contents move on every core ([`super::pool`]), in runs of whole non-zero
//! blocks; times are set last, once every content is written.

use super::pool::{self, Feed};
use crate::volume::fs::{Attr, Caller, Ino, Kind, ROOT, SetAttr};
use crate::volume::{FsError, VolumeError, VolumeFs};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

const PIECE: u32 = 1 << 20;

fn fs_err(what: &str, e: FsError) -> VolumeError {
    VolumeError::Copy(format!("{what}: {e}"))
}

/// The runs of `data` made of whole 4 KiB blocks that are not all zeros (zero blocks are
/// left as holes: they read as zeros all the same).
pub fn data_runs(data: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    const B: usize = 4096;
    let zero = |i: usize| {
        data[i * B..data.len().min((i + 1) * B)]
            .iter()
            .all(|&b| b == 0)
    };
    let n = data.len().div_ceil(B);
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < n && zero(i) {
            i += 1;
        }
        if i == n {
            return None;
        }
        let start = i;
        while i < n && !zero(i) {
            i += 1;
        }
        Some(start * B..data.len().min(i * B))
    })
}

/// One file's contents to copy: source and destination handles, size, path for messages.
struct Job {
    sfh: u64,
    dfh: u64,
    ino: Ino,
    size: u64,
    path: String,
}

/// A finished job: bytes copied, or what failed.
type Done = Result<u64, VolumeError>;

/// Copy everything under `src`'s root into `dst`'s (empty) root; `progress` is told the
/// bytes of contents copied.
pub(super) fn copy_tree(
    src: &VolumeFs,
    dst: &VolumeFs,
    progress: &mut dyn FnMut(u64),
) -> Result<(), VolumeError> {
    let work = |j: Job, stop: &AtomicBool| {
        let r = if stop.load(Ordering::Relaxed) {
            Err(VolumeError::Copy(format!("{}: not copied", j.path)))
        } else {
            contents(src, dst, &j)
        };
        src.release(j.sfh);
        dst.release(j.dfh);
        r
    };
    pool::run(work, |feed| {
        let mut c = Copier {
            src,
            dst,
            links: HashMap::new(),
            progress,
            later: Vec::new(),
            failed: None,
            feed,
        };
        let walked = c.dir(ROOT, ROOT, "/");
        c.feed
            .finish(&mut |r| note(&mut *c.progress, &mut c.failed, r));
        walked?;
        if let Some(e) = c.failed.take() {
            return Err(e);
        }
        for (d, a, path) in &c.later {
            c.meta(*d, a, path)?;
        }
        let a = src.getattr(ROOT).map_err(|e| fs_err("/", e))?;
        c.meta(ROOT, &a, "/")
    })
}

/// Take a finished job's result: its bytes to `progress`, its failure (the first) kept.
fn note(progress: &mut dyn FnMut(u64), failed: &mut Option<VolumeError>, r: Done) {
    match r {
        Ok(n) => progress(n),
        Err(e) => {
            failed.get_or_insert(e);
        }
    }
}

/// Copy the contents of job `j`: read in pieces, write the runs of non-zero blocks, set
/// the size (which keeps a trailing hole).
fn contents(src: &VolumeFs, dst: &VolumeFs, j: &Job) -> Done {
    let mut off = 0u64;
    while off < j.size {
        let data = src
            .read(j.sfh, off, PIECE)
            .map_err(|e| fs_err(&j.path, e))?;
        if data.is_empty() {
            break;
        }
        for r in data_runs(&data) {
            dst.write(j.dfh, off + r.start as u64, &data[r])
                .map_err(|e| fs_err(&j.path, e))?;
        }
        off += data.len() as u64;
    }
    let size = SetAttr {
        size: Some(j.size),
        ..SetAttr::default()
    };
    dst.setattr(j.ino, size, Some(j.dfh))
        .map_err(|e| fs_err(&j.path, e))?;
    Ok(off)
}

struct Copier<'a, 'f> {
    src: &'a VolumeFs,
    dst: &'a VolumeFs,
    /// Source inode of a multiply-linked file -> its copy.
    links: HashMap<Ino, Ino>,
    progress: &'a mut dyn FnMut(u64),
    /// Copies whose owner, mode and times are set once every content is written, in order
    /// (children before their directory).
    later: Vec<(Ino, Attr, String)>,
    /// The first content copy that failed.
    failed: Option<VolumeError>,
    feed: &'f mut Feed<Job, Done>,
}

impl Copier<'_, '_> {
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
                self.later.push((new, a, path));
            }
            if self.failed.is_some() {
                self.feed.stop();
                return Ok(());
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

    /// Create the copy of file `a` and queue its contents.
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
        let job = Job {
            sfh,
            dfh,
            ino: n.ino,
            size: a.size,
            path: path.to_string(),
        };
        let (progress, failed) = (&mut *self.progress, &mut self.failed);
        self.feed.submit(job, &mut |r| note(progress, failed, r));
        Ok(n.ino)
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
