//! Attribute changes (SETATTR): mode, owner, size and times, on an open handle when the
//! request names one (so that files unlinked while open answer), else through the path;
//! and the set-user-ID/set-group-ID clearing after writes and truncates.

use super::at;
use super::{Attr, FsError, FsResult, Ino, Kind, SetAttr, Target, VolumeFs, check_rc};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

/// The timespec for one time of a SETATTR: omitted, now, or a given time.
fn timespec(t: Option<Option<SystemTime>>) -> libc::timespec {
    match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(None) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(Some(t)) => {
            let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            libc::timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: d.subsec_nanos() as i64,
            }
        }
    }
}

impl VolumeFs {
    /// Clears set-user-ID, and set-group-ID when group-execute is set or the caller is not
    /// in the file's group (`in_group`), as the kernel does after a write or truncate by a
    /// caller without CAP_FSETID. With `FUSE_HANDLE_KILLPRIV_V2` (which spares every write a
    /// `security.capability` lookup) this is the filesystem's job.
    /// Returns whether the mode changed.
    pub(crate) fn kill_suidgid(
        &self,
        ino: Ino,
        fh: Option<u64>,
        in_group: impl Fn(u32) -> bool,
    ) -> FsResult<bool> {
        let a = self.getattr_fh(ino, fh)?;
        let m = u32::from(a.perm);
        let mut kept = m & !0o4000;
        if m & 0o010 != 0 || !in_group(a.gid) {
            kept &= !0o2000;
        }
        if kept == m {
            return Ok(false);
        }
        let a = SetAttr {
            mode: Some(kept),
            ..SetAttr::default()
        };
        self.setattr(ino, a, fh).map(|_| true)
    }

    pub fn setattr(&self, ino: Ino, a: SetAttr, fh: Option<u64>) -> FsResult<Attr> {
        let _hold = self.hold();
        let t = match self.target(ino, fh) {
            Ok(t) => t,
            Err(FsError::NotFound) if times_only(&a) => return Ok(self.gone(ino, &a)),
            Err(e) => return Err(e),
        };
        if let Some(mode) = a.mode {
            set_mode(&t, mode)?;
        }
        if a.uid.is_some() || a.gid.is_some() {
            set_owner(&t, a.uid, a.gid)?;
        }
        if let Some(size) = a.size {
            self.set_size(ino, &t, size)?;
        }
        // The mtime writes keep (see `FileState::mtime`) changes with the file's, under its
        // lock; after the size (whose change takes the file's write lock).
        let kept = match (&t, a.size.is_some() || a.mtime.is_some()) {
            (_, false) => None,
            (Target::Open(h), true) => Some(h.state.clone()),
            (Target::At(_), true) => self.open_state(ino),
        };
        let mut kept = kept.as_ref().map(|s| s.mtime.lock().expect("file mtime"));
        if a.atime.is_some() || a.mtime.is_some() {
            set_times(&t, a.atime, a.mtime)?;
        }
        let m = super::inodes::meta_of_target(&t)?;
        if let Some(k) = kept.as_mut().filter(|k| k.is_some()) {
            **k = Some(m.mtime);
        }
        Ok(self.attr_of(ino, &m))
    }

    /// The answer to a times-only SETATTR of `ino` when no link and no open handle of it is
    /// left: the kernel's flush of its cached times after it unlinked the file's last link
    /// (with the writeback cache every unlink of a regular file sends one; nothing reads the
    /// reply). There is nothing to keep the times on, so nothing is done; succeeding (rather
    /// than ENOENT) keeps the kernel from recording a write-back error on the inode.
    fn gone(&self, ino: Ino, a: &SetAttr) -> Attr {
        let t = |t: Option<Option<SystemTime>>| t.flatten().unwrap_or_else(SystemTime::now);
        Attr {
            ino,
            size: 0,
            blocks: 0,
            atime: t(a.atime),
            mtime: t(a.mtime),
            ctime: SystemTime::now(),
            kind: Kind::File,
            perm: 0,
            nlink: 0,
            uid: 0,
            gid: 0,
            rdev: 0,
        }
    }

    fn set_size(&self, ino: Ino, t: &Target, size: u64) -> FsResult<()> {
        let (file, st) = match t {
            Target::Open(h) => (h.file.try_clone()?, h.state.clone()),
            Target::At(a) => {
                let f = at::open(a.fd(), a.name(), libc::O_RDWR, 0)?;
                let st = self.state(ino, &f)?;
                (f, st)
            }
        };
        self.truncate(&file, &st, ino, size)
    }
}

/// Whether `a` changes times only (what the kernel sends to flush the times it keeps).
fn times_only(a: &SetAttr) -> bool {
    a.mode.is_none()
        && a.uid.is_none()
        && a.gid.is_none()
        && a.size.is_none()
        && (a.atime.is_some() || a.mtime.is_some())
}

fn set_mode(t: &Target, mode: u32) -> FsResult<()> {
    let perm = fs::Permissions::from_mode(mode & 0o7777);
    match t {
        Target::Open(h) => h.file.set_permissions(perm)?,
        Target::At(a) => at::chmod(a, mode)?,
    }
    Ok(())
}

fn set_owner(t: &Target, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
    match t {
        Target::Open(h) => std::os::unix::fs::fchown(&h.file, uid, gid)?,
        Target::At(a) => at::chown(a, uid, gid)?,
    }
    Ok(())
}

fn set_times(
    t: &Target,
    atime: Option<Option<SystemTime>>,
    mtime: Option<Option<SystemTime>>,
) -> FsResult<()> {
    let times = [timespec(atime), timespec(mtime)];
    match t {
        Target::Open(h) => {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid fd and two timespecs.
            check_rc(unsafe { libc::futimens(h.file.as_raw_fd(), times.as_ptr()) })
        }
        Target::At(a) => Ok(at::utimens(a, times[0], times[1])?),
    }
}
