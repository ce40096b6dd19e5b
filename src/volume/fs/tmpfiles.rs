//! Backing files made ahead. A thread keeps up to [`HIGH`] unnamed files (`O_TMPFILE`) open
//! in the backing root, and a create links one in under its name (`linkat`) instead of
//! making an inode while its caller waits. Making an inode is most of a create on ext4
//! after many removals: without a journal, ext4 skips every inode freed in the last
//! minutes (`recently_deleted`), reading the inode table to find them. Here that search
//! runs off the reply path. So does the rest of a new file's making that needs nothing
//! from its create and takes no disk space: the random file id of an encrypted volume's
//! file is drawn ahead (its header is written at the create, so that a file waiting here
//! holds no blocks and a create on a full disk fails as it would without them), and the
//! files are made with the mode the creates ask for (first 0644, then the plain
//! permissions the last create asked for, less the umask: `tar` as root creates 0600
//! until it sets each file's mode), so a create only changes it when it asks for another.
//! An unnamed file vanishes when it is closed, so an unmount, a kill -9 or a failed create
//! leaves nothing behind. Where the backing
//! file system cannot make unnamed files, the thread stops and creates make their files
//! as before.

use super::staging::{Staging, thread_cpu};
use super::{FsResult, VolumeFs};
use crate::fsutil::at::{self, At, DirFd};
use crate::volume::content::{new_file_id, write_header};
use nix::sys::stat::{Mode, fchmod, futimens};
use nix::sys::time::TimeSpec;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Below this many, the thread is woken to make more, up to [`HIGH`].
const LOW: usize = 32;
const HIGH: usize = 128;

/// The mode the first files are made with (less the umask), the one most creates ask for.
const MODE: u32 = 0o644;

/// A file made ahead: unnamed until a create links it in.
pub(super) struct Made {
    pub(super) file: File,
    /// Its mode, the umask applied.
    mode: u32,
    /// The file id drawn for its header (`None`: an unencrypted volume's file, which has
    /// no header).
    pub(super) id: Option<[u8; 16]>,
}

#[derive(Default)]
struct State {
    files: Vec<Made>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    want: Condvar,
    /// The mode to make the next files with (before the umask): that of the last create
    /// that asked for another plain mode.
    mode: AtomicU32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("tmpfiles")
    }
}

/// The files made ahead for one volume's creates, and the thread that makes them.
pub(super) struct TmpFiles {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// This process's umask, which a create's `openat` would apply to its mode.
    umask: u32,
}

impl TmpFiles {
    /// Start making files, in the staging directory under `volume_dir` if one can be made
    /// there (`staging.rs`), else in `root`, each with a file id drawn for its header when
    /// `encrypted`. `None` when this process's umask cannot be read (a file made ahead must
    /// get the mode an `openat` would give it) or no thread starts.
    pub(super) fn start(
        root: DirFd,
        volume_dir: Option<PathBuf>,
        encrypted: bool,
    ) -> Option<TmpFiles> {
        let umask = umask()?;
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            want: Condvar::new(),
            mode: AtomicU32::new(MODE),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("kmsfs-tmpfiles".into())
            .spawn(move || {
                let mut staging = volume_dir.and_then(|d| Staging::open(&d, root.as_fd()));
                make_ahead(&s, root.as_fd(), staging.as_mut(), encrypted, umask)
            })
            .ok()?;
        Some(TmpFiles {
            shared,
            thread: Mutex::new(Some(thread)),
            umask,
        })
    }

    /// A file made ahead, if one is ready (the thread is woken when few are left).
    pub(super) fn take(&self) -> Option<Made> {
        let mut st = self.shared.lock();
        let f = st.files.pop();
        if st.files.len() < LOW && !st.stop {
            self.shared.want.notify_one();
        }
        f
    }

    /// Give the unnamed file `made` its header, the `mode` (less the umask) and the current
    /// times, and link it in as `to` (EEXIST if the name is taken). A plain mode other than
    /// the file's becomes the one the next files are made with.
    fn link_in(&self, made: &Made, to: &At, mode: u32) -> io::Result<()> {
        let f = &made.file;
        // The header first: on a full disk the create fails with nothing linked.
        if let Some(id) = &made.id {
            write_header(f, id)?;
        }
        let asked = mode & 0o7777;
        let mode = asked & !self.umask;
        if mode != made.mode {
            fchmod(f, Mode::from_bits_truncate(mode))?;
            // Set-user-ID, set-group-ID and sticky files are made one at a time.
            if asked & 0o7000 == 0 {
                self.shared.mode.store(asked, Ordering::Relaxed);
            }
        }
        futimens(f, &TimeSpec::UTIME_NOW, &TimeSpec::UTIME_NOW)?;
        at::link_unnamed(f, to)
    }
}

impl VolumeFs {
    /// A file made ahead, its header written, linked in as `p` with `mode`; `None` when
    /// none is ready (the first call starts the thread).
    pub(super) fn link_made_ahead(&self, p: &At, mode: u32) -> FsResult<Option<Made>> {
        let ahead = self.tmpfiles.get_or_init(|| {
            TmpFiles::start(self.root.clone(), self.staging.clone(), self.keys.is_some())
        });
        let Some((t, made)) = ahead.as_ref().and_then(|t| Some((t, t.take()?))) else {
            return Ok(None);
        };
        t.link_in(&made, p, mode)?;
        Ok(Some(made))
    }
}

impl TmpFiles {
    /// Stop the thread (which removes its staging directory); the files made so far can
    /// still be taken.
    pub(super) fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.want.notify_all();
        if let Some(t) = self.thread.lock().expect("tmpfiles").take() {
            let _ = t.join();
        }
    }
}

impl Drop for TmpFiles {
    /// Stop the thread; the files not taken are closed, and so gone.
    fn drop(&mut self) {
        self.stop();
    }
}

/// This process's umask, from /proc/self/status (reading it with umask(2) would change it
/// for a moment under the other threads).
fn umask() -> Option<u32> {
    let st = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = st.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// An unnamed file in `dir` with `mode` (less the `umask`), with a file id drawn when
/// `encrypted`.
fn make_one(dir: BorrowedFd, mode: u32, umask: u32, encrypted: bool) -> io::Result<Made> {
    let file = at::open_unnamed(dir, mode)?;
    let id = if encrypted {
        Some(new_file_id()?)
    } else {
        None
    };
    Ok(Made {
        file,
        mode: mode & !umask,
        id,
    })
}

/// The thread: whenever fewer than [`LOW`] are ready, make files up to [`HIGH`], in the
/// staging directory if there is one (moving on when a batch was slow), else in `root`;
/// stop when told to, or when the file system cannot make an unnamed file (or no file id
/// is drawn).
fn make_ahead(
    s: &Shared,
    root: BorrowedFd,
    mut staging: Option<&mut Staging>,
    encrypted: bool,
    umask: u32,
) {
    loop {
        let want = {
            let st = s.lock();
            let st = s
                .want
                .wait_while(st, |st| !st.stop && st.files.len() >= LOW)
                .expect("tmpfiles");
            if st.stop {
                return;
            }
            HIGH - st.files.len()
        };
        let mut made = Vec::with_capacity(want);
        let dir = staging.as_ref().map_or(root, |st| st.dir());
        let cpu = thread_cpu();
        let mode = s.mode.load(Ordering::Relaxed);
        for _ in 0..want {
            match make_one(dir, mode, umask, encrypted) {
                Ok(m) => made.push(m),
                Err(_) => break,
            }
        }
        if let Some(st) = staging.as_mut()
            && st.should_move(made.len(), thread_cpu().saturating_sub(cpu))
        {
            let _ = st.move_on();
        }
        let failed = made.len() < want;
        let mut st = s.lock();
        st.files.extend(made);
        if st.stop || failed {
            // No O_TMPFILE here (or no descriptors left): once the files made are taken,
            // creates make their own.
            st.stop = true;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A file made ahead, waiting for the thread to make one.
    fn take(t: &TmpFiles) -> Made {
        for _ in 0..1000 {
            if let Some(m) = t.take() {
                return m;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("no file was made ahead");
    }

    #[test]
    fn files_are_made_with_the_plain_mode_the_last_create_asked_for() {
        let d = tempfile::tempdir().unwrap();
        let root: DirFd = Arc::new(at::open_root(d.path()).unwrap());
        let t = TmpFiles::start(root.clone(), None, true).unwrap();
        let to = |n: &str| At {
            dir: root.clone(),
            name: n.into(),
        };
        let mode_of = |n: &str| d.path().join(n).metadata().unwrap().permissions().mode() & 0o7777;
        let u = t.umask;
        let m = take(&t);
        assert_eq!(m.mode, MODE & !u, "the first files have 0644");
        t.link_in(&m, &to("a"), 0o600).unwrap();
        assert_eq!(mode_of("a"), 0o600 & !u);
        // The files made before keep theirs; those made after have 0600 and need no chmod.
        let mut later = None;
        for _ in 0..4 * HIGH {
            let m = take(&t);
            if m.mode != MODE & !u {
                later = Some(m);
                break;
            }
        }
        let m = later.expect("a file made with the new mode");
        assert_eq!(m.mode, 0o600 & !u);
        // A set-user-ID mode is set on its file and not copied to the next ones.
        t.link_in(&m, &to("b"), 0o4750).unwrap();
        assert_eq!(mode_of("b"), 0o4750 & !u);
        assert_eq!(t.shared.mode.load(Ordering::Relaxed), 0o600);
        // A file linked in with another mode than its own gets the one asked.
        let m = take(&t);
        t.link_in(&m, &to("c"), 0o755).unwrap();
        assert_eq!(mode_of("c"), 0o755 & !u);
        assert_eq!(t.shared.mode.load(Ordering::Relaxed), 0o755);
        // Every linked file has its header and is its own.
        let headers: std::collections::HashSet<_> = ["a", "b", "c"]
            .iter()
            .map(|n| std::fs::read(d.path().join(n)).unwrap())
            .collect();
        assert_eq!(headers.len(), 3);
    }
}
