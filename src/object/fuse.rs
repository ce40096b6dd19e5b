//! The FUSE adaptor of the bucket view: maps fuser's requests onto [`BucketView`] and its
//! errors onto errno. No writeback cache and short attribute lifetimes: other processes may
//! PUT and delete objects behind the mount, and close() must be the PUT.

use super::view::{BucketView, NodeAttr, NodeKind, ROOT, ViewError};
use crate::fuseutil::{self, ToErrno};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo, KernelConfig,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const TTL: Duration = Duration::from_secs(1);

/// fuser's face of a bucket view.
pub(crate) struct FuseBucket {
    view: Arc<BucketView>,
    uid: u32,
    gid: u32,
}

impl ToErrno for ViewError {
    fn errno(&self) -> i32 {
        ViewError::errno(self)
    }
}

/// The file type of a node.
fn ftype(k: NodeKind) -> FileType {
    match k {
        NodeKind::File => FileType::RegularFile,
        NodeKind::Dir => FileType::Directory,
    }
}

impl FuseBucket {
    pub(crate) fn new(view: Arc<BucketView>) -> FuseBucket {
        FuseBucket {
            view,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }

    fn fattr(&self, a: NodeAttr) -> FileAttr {
        let (perm, nlink) = match a.kind {
            NodeKind::File => (0o644, 1),
            NodeKind::Dir => (0o755, 2),
        };
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: a.mtime,
            mtime: a.mtime,
            ctime: a.mtime,
            crtime: a.mtime,
            kind: ftype(a.kind),
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// An entry reply (valid for [`TTL`]) of a result.
    fn entry(&self, reply: ReplyEntry, r: Result<NodeAttr, ViewError>) {
        fuseutil::entry(reply, &TTL, r.map(|a| self.fattr(a)))
    }

    /// An attribute reply (valid for [`TTL`]) of a result.
    fn attr(&self, reply: ReplyAttr, r: Result<NodeAttr, ViewError>) {
        fuseutil::attr(reply, &TTL, r.map(|a| self.fattr(a)))
    }
}

/// Mount `view` at `mountpoint` and serve until it is unmounted.
pub(crate) fn serve(
    view: Arc<BucketView>,
    mountpoint: &Path,
    allow_other: bool,
) -> std::io::Result<()> {
    let fsname = format!("s3:{}", view.bucket());
    let mut c = fuseutil::config(fsname, "kmsfs-bucket", allow_other);
    c.n_threads = Some(2);
    fuseutil::mount_session(FuseBucket::new(view), mountpoint, &c)?.run()
}

impl Filesystem for FuseBucket {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.entry(reply, self.view.lookup(parent.0, name))
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.attr(reply, self.view.getattr(ino.0))
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // Objects have no modes, owners or settable times: only the size can change.
        let r = match size {
            Some(s) => self.view.set_size(ino.0, s, fh.map(|f| f.0)),
            None => self.view.getattr(ino.0),
        };
        self.attr(reply, r)
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        self.entry(reply, self.view.mkdir(parent.0, name))
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        fuseutil::empty(reply, self.view.unlink(parent.0, name))
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        fuseutil::empty(reply, self.view.rmdir(parent.0, name))
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
        let bits = flags.bits();
        if bits & !libc::RENAME_NOREPLACE != 0 {
            return reply.error(Errno::EINVAL);
        }
        let no_replace = bits & libc::RENAME_NOREPLACE != 0;
        fuseutil::empty(
            reply,
            self.view
                .rename(parent.0, name, newparent.0, newname, no_replace),
        )
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        fuseutil::opened(reply, self.view.open(ino.0, flags.0), FopenFlags::empty())
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
        fuseutil::data(reply, self.view.read(fh.0, offset, size))
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        fuseutil::written(reply, self.view.write(fh.0, offset, data))
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(): the PUT, so that its error reaches the caller.
        fuseutil::empty(reply, self.view.flush(fh.0))
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        fuseutil::empty(reply, self.view.flush(fh.0))
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
        fuseutil::empty(reply, self.view.release(fh.0))
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        let r = self.view.readdir(ino.0);
        fuseutil::answer(reply, r, |mut reply, entries| {
            let dots = [
                (ino.0, FileType::Directory, ".".to_string()),
                (ROOT, FileType::Directory, "..".to_string()),
            ];
            let all = dots.into_iter().chain(
                entries
                    .into_iter()
                    .map(|e| (e.attr.ino, ftype(e.attr.kind), e.name)),
            );
            for (i, (ino, kind, name)) in all.enumerate().skip(offset as usize) {
                if reply.add(INodeNo(ino), (i + 1) as u64, kind, &name) {
                    break;
                }
            }
            reply.ok();
        })
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // A bucket has no size of its own: `df` shows the file system that holds its
        // objects (as gocryptfs shows its backing directory's), real figures, not made up.
        // (The spool is made at the first write; the bucket's directory is beside it.)
        let spool = self.view.spool_dir();
        let st = nix::sys::statvfs::statvfs(spool)
            .or_else(|e| spool.parent().map_or(Err(e), nix::sys::statvfs::statvfs));
        match st {
            Ok(s) => reply.statfs(
                s.blocks(),
                s.blocks_free(),
                s.blocks_available(),
                s.files(),
                s.files_free(),
                s.block_size() as u32,
                s.name_max() as u32,
                s.fragment_size() as u32,
            ),
            Err(e) => reply.error(Errno::from_i32(e as i32)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let r = self.view.create(parent.0, name);
        let r = r.map(|(a, fh)| (self.fattr(a), fh));
        fuseutil::created(reply, &TTL, r, FopenFlags::empty())
    }
}
