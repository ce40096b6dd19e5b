//! Signals of a mount daemon: SIGTERM, SIGINT (Ctrl-C) and SIGHUP unmount its mount point, so
//! that the kernel writes back what it caches, the FUSE session ends, the daemon finishes its
//! writes and exits 0, as a systemd stop expects.
//!
//! The signals are caught by a process-wide handler (not blocked and waited for in one
//! thread: a thread started before the mask was set, such as the control socket's or a KMS
//! client's, would take the signal with its default action and kill the daemon, leaving a
//! dead mount). The handler only writes the signal's number to a pipe; a thread reads it and
//! unmounts, lazily (the mount point is detached at once, and the session ends when no file
//! of the mount is in use any more).

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The signals that stop a mount daemon.
const STOP: [nix::sys::signal::Signal; 3] = [
    nix::sys::signal::Signal::SIGTERM,
    nix::sys::signal::Signal::SIGINT,
    nix::sys::signal::Signal::SIGHUP,
];

/// The write end of the pipe the handler writes to (-1 before [`unmount_on_signal`]).
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// How long a signal that comes before the mount is up waits for it.
const MOUNT_WAIT: Duration = Duration::from_secs(60);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; `b` outlives the call.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// From now on, SIGTERM, SIGINT or SIGHUP unmount `mp` (lazily), whichever thread the
/// signal reaches; a signal that comes before `mp` is mounted unmounts it once it is.
pub fn unmount_on_signal(mp: PathBuf) -> std::io::Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let old = PIPE.swap(w.as_raw_fd(), Ordering::SeqCst);
    std::mem::forget(w); // The handler writes to it for the life of the process.
    if old >= 0 {
        // SAFETY: the previous write end, ours, is no longer reachable by the handler.
        drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(old) });
    }
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in STOP {
        // SAFETY: the handler only loads an atomic and calls write(2).
        unsafe { sigaction(s, &act) }?;
    }
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(r);
        let mut b = [0u8; 1];
        if f.read_exact(&mut b).is_ok() {
            stop(&mp, b[0]);
        }
    });
    Ok(())
}

/// Unmount `mp` because of signal `sig`, once it is mounted.
fn stop(mp: &std::path::Path, sig: u8) {
    let name = nix::sys::signal::Signal::try_from(sig as i32)
        .map(|s| s.as_str())
        .unwrap_or("a signal");
    eprintln!("kmsfs: {name}: unmounting {}", mp.display());
    let t0 = Instant::now();
    while !super::is_mount_point(mp) && t0.elapsed() < MOUNT_WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Err(e) = super::unmount(mp, true) {
        eprintln!("kmsfs: unmounting {} failed: {e}", mp.display());
    }
}
