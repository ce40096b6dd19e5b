//! The FUSE adaptor: maps fuser's requests onto [`VolumeFs`] and its errors onto errno.
//! Nothing here knows about encryption. Mount options: several dispatch loops on cloned
//! `/dev/fuse` fds, 1 MiB requests, the writeback cache, and the kernel page cache kept
//! across opens (every change goes through this mount, so the cache stays coherent).

use super::fs::{Attr, Caller, FsError, Kind, SetAttr, VolumeFs};
use super::spin::{Req, Spin};
use crate::fuseutil::{self, ToErrno, errno};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Entry and attribute lifetime in the kernel. Long, because this mount is the only writer
/// of its backing tree (the daemon holds the volume's lock), so nothing changes behind it.
pub(crate) const TTL: Duration = Duration::from_secs(60);
/// The largest read or write request, and the readahead: 1 MiB.
const MAX_REQUEST: u32 = 1 << 20;
/// Most directory entries taken for one READDIR or READDIRPLUS reply: more than the reply
/// to glibc's readdir (a 32 KiB buffer; an entry takes at least 32 bytes, 120 with
/// attributes) can hold; a caller with a larger buffer gets a few more replies.
pub(crate) const REPLY_ENTRIES: usize = 4096;

/// fuser's face of a volume.
pub(crate) struct FuseVolume {
    fs: Arc<VolumeFs>,
    /// Tells the kernel to drop cached attributes we changed on our own (set once mounted).
    notifier: Arc<std::sync::OnceLock<fuser::Notifier>>,
    /// Keeps one dispatch loop polling while requests come (set once mounted).
    spin: Arc<std::sync::OnceLock<Spin>>,
    /// Asks INIT for FUSE over io_uring and tells the rings the answer (`None`: /dev/fuse).
    uring: Option<Arc<super::uring::Offer>>,
}

impl FuseVolume {
    /// A request of kind `k` came (see [`Spin::note`]); served when the guard drops.
    fn busy(&self, k: Req) -> Option<super::spin::Busy<'_>> {
        self.spin.get().map(|s| s.note(k))
    }
}

impl ToErrno for FsError {
    #[inline]
    fn errno(&self) -> i32 {
        FsError::errno(self)
    }
}

fn ftype(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::NamedPipe,
        Kind::Socket => FileType::Socket,
        Kind::CharDevice => FileType::CharDevice,
        Kind::BlockDevice => FileType::BlockDevice,
    }
}

#[inline]
fn fattr(a: Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.ctime,
        kind: ftype(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        blksize: 4096,
        flags: 0,
    }
}

/// An entry reply (valid for [`TTL`]) of a result.
#[inline]
fn entry(reply: ReplyEntry, r: Result<Attr, FsError>) {
    fuseutil::entry(reply, &TTL, r.map(fattr))
}

/// The entry of a missing name: node id 0, which the kernel keeps as a negative entry for
/// [`TTL`], so that looking the name up again (a `stat` of a missing file, a search path, a
/// build tool probing) costs no round trip. Sound for the reason [`TTL`] is: every entry
/// made in this volume is made through this mount, and the kernel replaces the negative
/// entry when it makes one (create, mkdir, mknod, symlink, link, rename).
fn negative() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

/// An attribute reply (valid for [`TTL`]) of a result.
#[inline]
fn attr(reply: ReplyAttr, r: Result<Attr, FsError>) {
    fuseutil::attr(reply, &TTL, r.map(fattr))
}

fn caller(req: &Request) -> Caller {
    Caller {
        uid: req.uid(),
        gid: req.gid(),
    }
}

/// Whether the caller of `req` is in a group: its fs gid or a supplementary group (from
/// `/proc/<pid>/status`; the kernel drops a set-group-ID bit without group-execute when a
/// writer outside the file's group writes or truncates it).
fn caller_in_group(req: &Request) -> impl Fn(u32) -> bool {
    in_group(req.gid(), req.pid())
}

/// [`caller_in_group`] of a caller with fs gid `gid` and pid `pid` (both transports).
pub(crate) fn in_group(gid: u32, pid: u32) -> impl Fn(u32) -> bool {
    let groups: Vec<u32> = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Groups:").map(|g| {
                    g.split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect()
                })
            })
        })
        .unwrap_or_default();
    move |g| g == gid || groups.contains(&g)
}

fn when(t: Option<TimeOrNow>) -> Option<Option<SystemTime>> {
    t.map(|t| match t {
        TimeOrNow::SpecificTime(t) => Some(t),
        TimeOrNow::Now => None,
    })
}

/// Mount options and threading for a volume. With `allow_other`, other users get in and the
/// kernel checks each access against the modes (`default_permissions`), as gocryptfs does.
/// Without it only the mounting user gets in, and the backing files (which carry the same
/// modes and owners) are opened with that user's credentials, so the backing filesystem's
/// checks apply; the kernel then need not re-read a directory's attributes before each path
/// walk that follows a change in it (one round trip less per create, unlink or rename).
fn config(name: &str, allow_other: bool, loops: usize) -> fuser::Config {
    let mut c = fuseutil::config(name.to_string(), "kmsfs", allow_other);
    c.n_threads = Some(loops);
    c.clone_fd = true;
    c
}

/// Dispatch loops reading `/dev/fuse`: one per core, 2 to 4.
fn loops() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4)
}

/// Mount `fs` at `mountpoint` and serve until it is unmounted; with `uring` (from
/// [`super::uring::prepare`]) over io_uring if INIT agrees.
pub(crate) fn serve(
    fs: Arc<VolumeFs>,
    mountpoint: &Path,
    name: &str,
    allow_other: bool,
    uring: Option<Arc<super::uring::Offer>>,
) -> std::io::Result<()> {
    let notifier = Arc::new(std::sync::OnceLock::new());
    let spin = Arc::new(std::sync::OnceLock::new());
    let vol = FuseVolume {
        fs: fs.clone(),
        notifier: notifier.clone(),
        spin: spin.clone(),
        uring: uring.clone(),
    };
    // Computed once: the polling loop's thread name below follows from it.
    let loops = loops();
    let session = fuseutil::mount_session(vol, mountpoint, &config(name, allow_other, loops))?;
    let _ = notifier.set(session.notifier());
    let rings = match uring {
        Some(offer) => Some(super::uring::start(
            std::os::fd::AsFd::as_fd(&session).try_clone_to_owned()?,
            fs,
            (!allow_other).then(|| nix::unistd::geteuid().as_raw()),
            session.notifier(),
            offer,
            MAX_REQUEST as usize,
        )?),
        None => None,
    };
    if let Some(w) = super::spin::window_from_env() {
        // One loop reads the session's own descriptor (this one), the others their clones;
        // fuser starts that loop last, as thread `fuser-{n-1}`.
        use std::os::fd::AsFd;
        let poller = format!("fuser-{}", loops - 1);
        match Spin::start(session.as_fd(), w, Some(poller)) {
            Ok(s) => {
                let _ = spin.set(s);
            }
            Err(e) => eprintln!("kmsfs: polling /dev/fuse: {e}; going on without it"),
        }
    }
    tune_bdi(mountpoint);
    let r = session.run();
    if let Some(rings) = rings {
        rings.finish();
    }
    r
}

/// Readahead and dirty-page limits of this mount's backing device (`/sys/class/bdi`), set
/// when we may (root); best effort, found through /proc/self/mountinfo (no request to the
/// not-yet-serving mount).
/// - Readahead: the kernel caps a FUSE mount's readahead at its device's default, 128 KiB,
///   whatever `max_readahead` the daemon asks for, so a sequential read reaches the daemon
///   as 128 KiB requests, each waiting for its backing read and decryption in turn. 1 MiB,
///   the size we negotiate, lets one request carry a whole `max_read`.
/// - Dirty pages: every FUSE device may hold at most 1% of the dirty-page budget, so with
///   the writeback cache on, small random writes are throttled to the speed of their
///   write-back. This mount may hold half (`max_ratio` 50). `strict_limit` stays on: the
///   device's own share then decides when its background write-back starts, so a long
///   stream of writes reaches the daemon (and the disk) while the writer is still writing;
///   under the global limits alone nothing is written back before fsync until a tenth of
///   memory is dirty (seq-write with end_fsync +30% in an A/B, random writes unchanged).
fn tune_bdi(mountpoint: &Path) {
    let Ok(mp) = mountpoint.canonicalize() else {
        return;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let Some(dev) = info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() > 4 && f[4] == mp.to_string_lossy().replace(' ', "\\040"))
            .then(|| f[2].to_string())
    }) else {
        return;
    };
    let bdi = Path::new("/sys/class/bdi").join(&dev);
    let _ = std::fs::write(bdi.join("strict_limit"), "1");
    let _ = std::fs::write(bdi.join("max_ratio"), "50");
    let _ = std::fs::write(bdi.join("read_ahead_kb"), (MAX_REQUEST >> 10).to_string());
}

impl Filesystem for FuseVolume {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        for cap in [
            InitFlags::FUSE_WRITEBACK_CACHE,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_HANDLE_KILLPRIV_V2,
        ] {
            if config.add_capabilities(cap).is_err() {
                eprintln!("kmsfs: the kernel does not offer {cap:?}; going on without it");
            } else if cap == InitFlags::FUSE_WRITEBACK_CACHE {
                self.fs.set_kernel_times(true);
            }
        }
        if let Some(offer) = &self.uring {
            offer.decide(
                config
                    .add_capabilities(InitFlags::FUSE_OVER_IO_URING)
                    .is_ok(),
            )?;
        }
        let _ = config.set_max_write(MAX_REQUEST);
        let _ = config.set_max_readahead(MAX_REQUEST);
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _busy = self.busy(Req::Meta);
        match self.fs.lookup(parent.0, name) {
            Err(FsError::NotFound) => reply.entry(&TTL, &negative(), Generation(0)),
            r => entry(reply, r),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let _busy = self.busy(Req::Async);
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let _busy = self.busy(Req::Meta);
        attr(reply, self.fs.getattr_fh(ino.0, fh.map(|f| f.0)))
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let _busy = self.busy(Req::Meta);
        let a = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: when(atime),
            mtime: when(mtime),
        };
        // A truncate by anyone but root drops set-user-ID/set-group-ID (FUSE_HANDLE_KILLPRIV_V2
        // leaves it to us; fuser does not pass the kernel's FATTR_KILL_SUIDGID bit).
        let r = self.fs.setattr(ino.0, a, fh.map(|f| f.0));
        let r = match r {
            Ok(_) if size.is_some() && mode.is_none() && req.uid() != 0 => self
                .fs
                .kill_suidgid(ino.0, fh.map(|f| f.0), caller_in_group(req))
                .and_then(|_| self.fs.getattr_fh(ino.0, fh.map(|f| f.0))),
            r => r,
        };
        attr(reply, r)
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let _busy = self.busy(Req::Meta);
        fuseutil::data(reply, self.fs.readlink(ino.0))
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self
            .fs
            .mknod(parent.0, name, mode & !umask, rdev, caller(req));
        entry(reply, r)
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self.fs.mkdir(parent.0, name, mode & !umask, caller(req));
        entry(reply, r)
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.unlink(parent.0, name))
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.rmdir(parent.0, name))
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self
            .fs
            .symlink(parent.0, link_name, target.as_os_str(), caller(req));
        entry(reply, r)
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self
            .fs
            .rename(parent.0, name, newparent.0, newname, flags.bits());
        fuseutil::empty(reply, r)
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let _busy = self.busy(Req::Meta);
        entry(reply, self.fs.link(ino.0, newparent.0, newname))
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _busy = self.busy(Req::Meta);
        fuseutil::opened(
            reply,
            self.fs.open(ino.0, flags.0),
            FopenFlags::FOPEN_KEEP_CACHE,
        )
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let _busy = self.busy(Req::Data);
        fuseutil::data(reply, self.fs.read(fh.0, offset, size))
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let _busy = self.busy(Req::Data);
        if write_flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
            match self
                .fs
                .kill_suidgid(ino.0, Some(fh.0), caller_in_group(req))
            {
                Ok(true) => {
                    if let Some(n) = self.notifier.get() {
                        let _ = n.inval_inode(ino, -1, 0);
                    }
                }
                Ok(false) => {}
                Err(e) => return reply.error(errno(&e)),
            }
        }
        fuseutil::written(reply, self.fs.write(fh.0, offset, data))
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Meta);
        // Nothing to do at close: the kernel has already written the dirty pages back (and
        // reported their errors) before it sends FLUSH. ENOSYS tells it not to send FLUSH
        // again, saving a round trip per close.
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Async);
        self.fs.release(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.fsync(fh.0, datasync))
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.fsyncdir(ino.0))
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let _busy = self.busy(Req::Meta);
        fuseutil::opened(reply, self.fs.opendir(ino.0), FopenFlags::empty())
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self.fs.readdir_some(fh.0, offset, REPLY_ENTRIES);
        fuseutil::answer(reply, r, |mut reply, entries| {
            for (off, e) in entries {
                if reply.add(INodeNo(e.ino), off, ftype(e.kind), &e.name) {
                    break;
                }
            }
            reply.ok();
        })
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectoryPlus,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self.fs.readdir_some(fh.0, offset, REPLY_ENTRIES);
        fuseutil::answer(reply, r, |mut reply, entries| {
            for (off, e) in entries {
                let Ok(a) = self.fs.lookup_entry(ino.0, &e) else {
                    continue;
                };
                if reply.add(INodeNo(a.ino), off, &e.name, &TTL, &fattr(a), Generation(0)) {
                    // Not sent: undo the lookup count it took.
                    if e.name != "." && e.name != ".." {
                        self.fs.forget(a.ino, 1);
                    }
                    break;
                }
            }
            reply.ok();
        })
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Async);
        self.fs.releasedir(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let _busy = self.busy(Req::Meta);
        let s = self.fs.statfs();
        reply.statfs(
            s.blocks, s.bfree, s.bfree, s.files, s.ffree, s.bsize, s.namelen, s.bsize,
        );
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.setxattr(ino.0, name, value, flags))
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let _busy = self.busy(Req::Meta);
        fuseutil::xattr(reply, size, self.fs.getxattr(ino.0, name))
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _busy = self.busy(Req::Meta);
        fuseutil::xattr(reply, size, self.fs.listxattr(ino.0))
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _busy = self.busy(Req::Meta);
        fuseutil::empty(reply, self.fs.removexattr(ino.0, name))
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let _busy = self.busy(Req::Meta);
        let r = self
            .fs
            .create(parent.0, name, mode & !umask, flags, caller(req));
        let r = r.map(|(a, fh)| (fattr(a), fh));
        fuseutil::created(reply, &TTL, r, FopenFlags::FOPEN_KEEP_CACHE)
    }
}
