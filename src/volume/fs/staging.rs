//! Where the files made ahead (`tmpfiles.rs`) are made: a directory of their own beside the
//! backing tree, `<volume>/made/<name>`, that ext4 places in a block group of its own.
//!
//! An unnamed file (`O_TMPFILE`) gets its inode near the directory it is made in. ext4
//! without a journal does not reuse an inode freed in the last minute or more
//! (`recently_deleted`): it reads the inode table past every such inode, from the start of
//! the group, at each allocation. Near a backing tree whose files were just removed (or any
//! other busy directory of the same file system) that made one unnamed file cost 30 µs to
//! 500 µs of CPU here, against 5 µs in an unused group. That CPU is spent on the cores the
//! callers run on, so it slows them even off the reply path. `made/` carries ext4's
//! top-directory flag (`chattr +T`), under which ext4 spreads each new directory to the
//! block group with the fewest directories (as it does the file system root's). Each
//! process makes its own directory there, and moves to a new one when making files there
//! gets slow (its own removals now fill that group), removing the old one.
//!
//! The directories hold no names: the files made in them stay unnamed until a create links
//! them into the backing tree, and vanish with their process if it never does. A directory
//! left by a killed daemon is empty and is removed by the next one. Where `made/` is on
//! another file system than the backing tree (`linkat` would fail) or cannot hold unnamed
//! files, nothing is staged and the files are made in the backing root.

use crate::fsutil::at;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

/// The folder beside the volume's `data/` that holds the staging directories.
const FOLDER: &str = "made";

/// Making files is slow when a batch took more CPU than this per file; the thread then
/// moves to a new directory (in an unused group it takes about 5 µs).
pub(super) const SLOW: Duration = Duration::from_micros(20);
/// Batches smaller than this say too little to move for.
pub(super) const MIN_BATCH: usize = 16;

/// ext4's "top of a directory hierarchy" flag (`FS_TOPDIR_FL`, `chattr +T`).
const TOPDIR_FL: libc::c_int = 0x0002_0000;

/// One process's staging directory.
pub(super) struct Staging {
    /// `made/`, open for reading (the flag's ioctl and the listing need a real descriptor).
    folder: File,
    /// Whether `made/` carries the top-directory flag: without it a new directory lands
    /// near the old one, and moving would not help.
    spread: bool,
    /// The current directory and its name in `made/`.
    dir: OwnedFd,
    name: OsString,
    /// Directories made so far (for the next one's name).
    made: u32,
}

impl Staging {
    /// The staging directory of this process under `volume_dir/made/` (which is made, and
    /// flagged where the file system allows it), when it is on the file system of the
    /// backing root `root` and can hold an unnamed file; `None` otherwise.
    pub(super) fn open(volume_dir: &Path, root: BorrowedFd) -> Option<Staging> {
        let path = volume_dir.join(FOLDER);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let folder = File::open(&path).ok()?;
        let meta = folder.metadata().ok()?;
        if !meta.is_dir() || meta.dev() != nix::sys::stat::fstat(root).ok()?.st_dev {
            return None;
        }
        // What a killed daemon left: empty directories (its unnamed files went with it).
        for e in at::list(folder.as_fd()).ok()? {
            if e.kind == at::Kind::Dir {
                let _ = at::unlink(folder.as_fd(), &e.name, true);
            }
        }
        let spread = set_topdir(&folder);
        let (dir, name) = make_dir(&folder, 0)?;
        let s = Staging {
            folder,
            spread,
            dir,
            name,
            made: 1,
        };
        // One unnamed file, to be sure the file system makes them here.
        at::open_unnamed(s.dir(), 0o600).ok()?;
        Some(s)
    }

    /// The directory to make files in.
    pub(super) fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Whether a batch of `files` files that took `cpu` of this thread's time was slow
    /// enough to move to a new directory (never where moving cannot help).
    pub(super) fn should_move(&self, files: usize, cpu: Duration) -> bool {
        self.spread && files >= MIN_BATCH && cpu > SLOW * files as u32
    }

    /// Move to a new directory, which ext4 places afresh, and remove the old one (empty:
    /// the files made there are unnamed). On failure the old one stays in use.
    pub(super) fn move_on(&mut self) -> io::Result<()> {
        let (dir, name) = make_dir(&self.folder, self.made).ok_or_else(io::Error::last_os_error)?;
        self.made += 1;
        let old = std::mem::replace(&mut self.name, name);
        self.dir = dir;
        let _ = at::unlink(self.folder.as_fd(), &old, true);
        Ok(())
    }
}

impl Drop for Staging {
    /// Remove the directory (the files still unnamed stay usable: they are not in it).
    fn drop(&mut self) {
        let _ = at::unlink(self.folder.as_fd(), &self.name, true);
    }
}

/// A new directory in `folder`, named after this process and `n` (ext4 starts its search
/// for a group from a hash of the name, so each name starts elsewhere).
fn make_dir(folder: &File, n: u32) -> Option<(OwnedFd, OsString)> {
    let name = OsString::from(format!("{}-{n}", std::process::id()));
    match at::mkdir(folder.as_fd(), &name, 0o700) {
        Ok(()) => {}
        // A name of this pid left by an earlier process of the same pid: reuse it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    let dir = at::open_dir(folder.as_fd(), &name).ok()?;
    Some((dir, name))
}

/// Set the top-directory flag on `dir`; whether it is set (false where the file system
/// has no such flag).
fn set_topdir(dir: &File) -> bool {
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS/SETFLAGS read and write one int at the pointer given, which
    // points at `flags`, alive for both calls; the descriptor is open.
    unsafe {
        if libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) != 0 {
            return false;
        }
        if flags & TOPDIR_FL != 0 {
            return true;
        }
        flags |= TOPDIR_FL;
        libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) == 0
    }
}

/// This thread's CPU time so far.
pub(super) fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec at the pointer given, which points at `ts`.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    /// Name the unnamed file `f` as `name` in the backing root `root`.
    fn link(root: &OwnedFd, f: &File, name: &str) {
        let to = at::At {
            dir: std::sync::Arc::new(root.try_clone().unwrap()),
            name: name.into(),
        };
        at::link_unnamed(f, &to).unwrap();
    }

    fn backing(t: &Path) -> OwnedFd {
        std::fs::create_dir_all(t.join("data")).unwrap();
        at::open_root(&t.join("data")).unwrap()
    }

    #[test]
    fn stages_in_a_directory_of_its_own_and_leaves_none() {
        let t = tempfile::tempdir().unwrap();
        let root = backing(t.path());
        let made = t.path().join(FOLDER);
        // What a killed daemon would have left: an empty directory.
        std::fs::create_dir_all(made.join("1-0")).unwrap();
        let mut s = Staging::open(t.path(), root.as_fd()).expect("staged");
        let first = names(&made);
        assert_eq!(
            first,
            [format!("{}-0", std::process::id())],
            "the leftover is removed"
        );
        // Files made there are unnamed, and link into the backing tree.
        let f = at::open_unnamed(s.dir(), 0o644).unwrap();
        link(&root, &f, "f");
        assert!(t.path().join("data/f").is_file());
        assert_eq!(names(&made), first, "the staging directory holds no name");
        s.move_on().unwrap();
        assert_eq!(
            names(&made),
            [format!("{}-1", std::process::id())],
            "the old one is removed"
        );
        // A file made before the move still links in.
        let g = at::open_unnamed(s.dir(), 0o644).unwrap();
        drop(s);
        assert!(names(&made).is_empty(), "nothing left at the end");
        link(&root, &g, "g");
        assert!(t.path().join("data/g").is_file());
    }

    #[test]
    fn moves_only_for_slow_batches_where_it_can_help() {
        let t = tempfile::tempdir().unwrap();
        let root = backing(t.path());
        let mut s = Staging::open(t.path(), root.as_fd()).expect("staged");
        s.spread = true;
        assert!(s.should_move(MIN_BATCH, SLOW * MIN_BATCH as u32 * 2));
        assert!(!s.should_move(MIN_BATCH, SLOW * MIN_BATCH as u32));
        assert!(!s.should_move(MIN_BATCH - 1, Duration::from_secs(1)));
        s.spread = false;
        assert!(!s.should_move(100, Duration::from_secs(1)));
    }

    #[test]
    fn stages_nothing_on_another_file_system() {
        // The volume directory on tmpfs, its backing tree on the temporary directory's
        // file system: linkat would fail across them.
        let t = tempfile::tempdir().unwrap();
        let root = backing(t.path());
        let shm = Path::new("/dev/shm");
        let same = std::fs::metadata(shm).map(|m| m.dev()).ok()
            == std::fs::metadata(t.path()).map(|m| m.dev()).ok();
        assert!(
            shm.is_dir() && !same,
            "this test needs /dev/shm on a file system of its own"
        );
        let v = tempfile::tempdir_in(shm).unwrap();
        assert!(Staging::open(v.path(), root.as_fd()).is_none());
    }
}
