//! The io_uring adaptor: a decoded request ([`Op`]) onto the same [`VolumeFs`] calls, with
//! the same semantics, as fuser's adaptor (`volume::fuse`): the same TTL, errno, attributes,
//! open flags, ENOSYS for FLUSH and for what fuse.rs leaves to fuser's defaults, and fuser's
//! access rule for other users when `allow_other` is off.

use super::abi::{self, Dirent, FuseAttr, InHeader, Op, Out, fattr};
use crate::volume::fs::{Attr, Caller, FsError, Kind, SetAttr, VolumeFs};
use crate::volume::fuse::{REPLY_ENTRIES, TTL, in_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `FOPEN_KEEP_CACHE`: files keep the kernel's page cache across opens (as in fuse.rs).
const FOPEN_KEEP_CACHE: u32 = 1 << 1;
/// `FUSE_WRITE_KILL_SUIDGID` of `fuse_write_in.write_flags`.
const WRITE_KILL_SUIDGID: u32 = 1 << 2;

/// What every ring queue serves with.
pub(crate) struct Core {
    pub fs: Arc<VolumeFs>,
    /// Without `allow_other`: the mounting user, the only one fuser lets in (besides the
    /// requests the kernel makes on its own behalf).
    pub owner: Option<u32>,
    /// Drops cached attributes we changed on our own (over /dev/fuse: notifications do not
    /// go over the ring).
    pub notifier: Option<fuser::Notifier>,
    /// Requests answered over the rings.
    pub served: AtomicU64,
    /// Answers submitted under `SCHED_IDLE` (`stay`).
    pub stayed: AtomicU64,
}

type Reply = Result<(), i32>;

fn err(e: FsError) -> i32 {
    e.errno()
}

fn ttl() -> (u64, u32) {
    (TTL.as_secs(), TTL.subsec_nanos())
}

fn time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            match d.subsec_nanos() {
                0 => (-(d.as_secs() as i64), 0),
                n => (-(d.as_secs() as i64) - 1, 1_000_000_000 - n),
            }
        }
    }
}

fn from_time((s, n): (i64, u32)) -> SystemTime {
    let n = Duration::from_nanos(u64::from(n.min(999_999_999)));
    if s >= 0 {
        UNIX_EPOCH + Duration::from_secs(s as u64) + n
    } else {
        UNIX_EPOCH - Duration::from_secs(s.unsigned_abs()) + n
    }
}

/// The type bits of a mode (`S_IF*`).
fn type_bits(k: Kind) -> u32 {
    match k {
        Kind::File => libc::S_IFREG,
        Kind::Dir => libc::S_IFDIR,
        Kind::Symlink => libc::S_IFLNK,
        Kind::Fifo => libc::S_IFIFO,
        Kind::Socket => libc::S_IFSOCK,
        Kind::CharDevice => libc::S_IFCHR,
        Kind::BlockDevice => libc::S_IFBLK,
    }
}

fn fuse_attr(a: &Attr) -> FuseAttr {
    FuseAttr {
        ino: a.ino,
        size: a.size,
        blocks: a.blocks,
        atime: time(a.atime),
        mtime: time(a.mtime),
        ctime: time(a.ctime),
        mode: type_bits(a.kind) | u32::from(a.perm),
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
    }
}

fn entry(out: &mut Out, r: Result<Attr, FsError>) -> Reply {
    out.entry(&fuse_attr(&r.map_err(err)?), ttl());
    Ok(())
}

fn attr(out: &mut Out, r: Result<Attr, FsError>) -> Reply {
    out.attr_out(&fuse_attr(&r.map_err(err)?), ttl());
    Ok(())
}

fn empty(r: Result<(), FsError>) -> Reply {
    r.map_err(err)
}

fn data(out: &mut Out, r: Result<Vec<u8>, FsError>) -> Reply {
    out.0 = r.map_err(err)?;
    Ok(())
}

/// An xattr value or name list: its size when asked with `size` 0, else the bytes, or
/// ERANGE when they do not fit (as `fuseutil::xattr`).
fn xattr(out: &mut Out, size: u32, r: Result<Vec<u8>, FsError>) -> Reply {
    let v = r.map_err(err)?;
    if size == 0 {
        out.u32(v.len() as u32).u32(0);
    } else if v.len() <= size as usize {
        out.0 = v;
    } else {
        return Err(libc::ERANGE);
    }
    Ok(())
}

/// Whether fuser would refuse this request from a user other than the owner: all but the
/// operations the kernel may make without a caller's uid.
fn refused(owner: Option<u32>, h: &InHeader, op: &Op<'_>) -> bool {
    let exempt = matches!(
        op,
        Op::Destroy
            | Op::Read { .. }
            | Op::Readdir { .. }
            | Op::Write { .. }
            | Op::Fsync { .. }
            | Op::Fsyncdir
            | Op::Release { .. }
            | Op::Releasedir { .. }
    );
    owner.is_some_and(|o| o != h.uid) && !exempt
}

impl Core {
    /// Serve one request: the reply's body in `out`, or the errno.
    pub(crate) fn serve(&self, h: &InHeader, op: Op<'_>, out: &mut Out) -> Reply {
        self.served.fetch_add(1, Ordering::Relaxed);
        if refused(self.owner, h, &op) {
            return Err(libc::EACCES);
        }
        let (fs, ino) = (&self.fs, h.nodeid);
        let caller = Caller {
            uid: h.uid,
            gid: h.gid,
        };
        match op {
            // A missing name: a negative entry (node id 0) the kernel keeps for the TTL, as
            // fuse.rs answers it.
            Op::Lookup { name } => match fs.lookup(ino, name) {
                Err(FsError::NotFound) => {
                    out.entry(&FuseAttr::default(), ttl());
                    Ok(())
                }
                r => entry(out, r),
            },
            Op::Getattr { fh } => attr(out, fs.getattr_fh(ino, fh)),
            Op::Setattr(s) => attr(out, self.setattr(h, s)),
            Op::Readlink => data(out, fs.readlink(ino)),
            Op::Symlink { name, target } => entry(out, fs.symlink(ino, name, target, caller)),
            Op::Mknod {
                mode,
                rdev,
                umask,
                name,
            } => entry(out, fs.mknod(ino, name, mode & !umask, rdev, caller)),
            Op::Mkdir { mode, umask, name } => {
                entry(out, fs.mkdir(ino, name, mode & !umask, caller))
            }
            Op::Unlink { name } => empty(fs.unlink(ino, name)),
            Op::Rmdir { name } => empty(fs.rmdir(ino, name)),
            Op::Rename {
                newdir,
                flags,
                name,
                newname,
            } => empty(fs.rename(ino, name, newdir, newname, flags)),
            Op::Link { oldnodeid, name } => entry(out, fs.link(oldnodeid, ino, name)),
            op => self.serve_handle(h, op, out),
        }
    }

    /// The requests on open files and directories, xattrs and the rest (after [`Core::serve`]).
    fn serve_handle(&self, h: &InHeader, op: Op<'_>, out: &mut Out) -> Reply {
        let (fs, ino) = (&self.fs, h.nodeid);
        let caller = Caller {
            uid: h.uid,
            gid: h.gid,
        };
        match op {
            Op::Open { flags } => {
                out.open(fs.open(ino, flags as i32).map_err(err)?, FOPEN_KEEP_CACHE);
                Ok(())
            }
            Op::Read { fh, offset, size } => data(out, fs.read(fh, offset, size)),
            Op::Write {
                fh,
                offset,
                write_flags,
                data,
            } => {
                if write_flags & WRITE_KILL_SUIDGID != 0 {
                    self.kill_suidgid_on_write(h, fh)?;
                }
                out.u32(fs.write(fh, offset, data).map_err(err)?).u32(0);
                Ok(())
            }
            Op::Statfs => {
                let s = fs.statfs();
                out.u64(s.blocks)
                    .u64(s.bfree)
                    .u64(s.bfree)
                    .u64(s.files)
                    .u64(s.ffree);
                out.u32(s.bsize).u32(s.namelen).u32(s.bsize).u32(0);
                out.0.resize(80, 0);
                Ok(())
            }
            Op::Release { fh } => {
                fs.release(fh);
                Ok(())
            }
            Op::Fsync { fh, datasync } => empty(fs.fsync(fh, datasync)),
            Op::Fsyncdir => empty(fs.fsyncdir(ino)),
            Op::Setxattr { flags, name, value } => empty(fs.setxattr(ino, name, value, flags)),
            Op::Getxattr { size, name } => xattr(out, size, fs.getxattr(ino, name)),
            Op::Listxattr { size } => xattr(out, size, fs.listxattr(ino)),
            Op::Removexattr { name } => empty(fs.removexattr(ino, name)),
            // As fuse.rs: nothing to do at close, and ENOSYS stops further FLUSHes.
            Op::Flush => Err(libc::ENOSYS),
            Op::Opendir => {
                out.open(fs.opendir(ino).map_err(err)?, 0);
                Ok(())
            }
            Op::Readdir {
                fh,
                offset,
                size,
                plus,
            } => self.readdir(ino, fh, offset, size as usize, plus, out),
            Op::Releasedir { fh } => {
                fs.releasedir(fh);
                Ok(())
            }
            Op::Create {
                flags,
                mode,
                umask,
                name,
            } => {
                let (a, fh) = fs
                    .create(ino, name, mode & !umask, flags as i32, caller)
                    .map_err(err)?;
                out.entry(&fuse_attr(&a), ttl()).open(fh, FOPEN_KEEP_CACHE);
                Ok(())
            }
            Op::Destroy => Ok(()),
            // Op::Other (and nothing else reaches here): ENOSYS, as fuser's defaults.
            _ => Err(libc::ENOSYS),
        }
    }

    /// SETATTR as fuse.rs does it: a truncate by anyone but root drops set-user-ID and
    /// set-group-ID.
    fn setattr(&self, h: &InHeader, s: abi::SetattrIn) -> Result<Attr, FsError> {
        let has = |bit| s.valid & bit != 0;
        let when = |bit, now, t| has(bit).then(|| (!has(now)).then(|| from_time(t)));
        let a = SetAttr {
            mode: has(fattr::MODE).then_some(s.mode),
            uid: has(fattr::UID).then_some(s.uid),
            gid: has(fattr::GID).then_some(s.gid),
            size: has(fattr::SIZE).then_some(s.size),
            atime: when(fattr::ATIME, fattr::ATIME_NOW, s.atime),
            mtime: when(fattr::MTIME, fattr::MTIME_NOW, s.mtime),
        };
        let fh = has(fattr::FH).then_some(s.fh);
        let r = self.fs.setattr(h.nodeid, a, fh);
        match r {
            Ok(_) if a.size.is_some() && a.mode.is_none() && h.uid != 0 => self
                .fs
                .kill_suidgid(h.nodeid, fh, in_group(h.gid, h.pid))
                .and_then(|_| self.fs.getattr_fh(h.nodeid, fh)),
            r => r,
        }
    }

    fn kill_suidgid_on_write(&self, h: &InHeader, fh: u64) -> Reply {
        match self
            .fs
            .kill_suidgid(h.nodeid, Some(fh), in_group(h.gid, h.pid))
        {
            Ok(true) => {
                if let Some(n) = &self.notifier {
                    let _ = n.inval_inode(fuser::INodeNo(h.nodeid), -1, 0);
                }
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    /// READDIR / READDIRPLUS: the entries from `offset` that fit `size` bytes; an entry
    /// READDIRPLUS could not send gives back the lookup count it took.
    fn readdir(
        &self,
        dir: u64,
        fh: u64,
        offset: u64,
        size: usize,
        plus: bool,
        out: &mut Out,
    ) -> Reply {
        let entries = self
            .fs
            .readdir_some(fh, offset, REPLY_ENTRIES)
            .map_err(err)?;
        for (off, e) in entries {
            let d = Dirent {
                ino: e.ino,
                off,
                typ: type_bits(e.kind) >> 12,
                name: &e.name,
            };
            if !plus {
                if !out.dirent(size, &d, None) {
                    break;
                }
                continue;
            }
            let Ok(a) = self.fs.lookup_entry(dir, &e) else {
                continue;
            };
            let d = Dirent { ino: a.ino, ..d };
            if !out.dirent(size, &d, Some((&fuse_attr(&a), ttl()))) {
                if e.name != "." && e.name != ".." {
                    self.fs.forget(a.ino, 1);
                }
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_before_and_after_the_epoch() {
        for t in [
            UNIX_EPOCH + Duration::new(1_700_000_000, 5),
            UNIX_EPOCH - Duration::new(10, 250),
            UNIX_EPOCH,
        ] {
            assert_eq!(from_time(time(t)), t);
        }
    }

    #[test]
    fn others_are_refused_but_kernel_requests_pass() {
        let h = InHeader {
            opcode: 1,
            unique: 1,
            nodeid: 1,
            uid: 1000,
            gid: 1000,
            pid: 1,
        };
        let lookup = Op::Lookup {
            name: std::ffi::OsStr::new("x"),
        };
        assert!(refused(Some(0), &h, &lookup));
        assert!(!refused(None, &h, &lookup));
        assert!(!refused(Some(1000), &h, &lookup));
        assert!(!refused(Some(0), &h, &Op::Release { fh: 1 }));
    }
}
