//! Unmounting: umount(2) as root, `fusermount3 -u` otherwise; finding the daemon that
//! serves a volume's mount and waiting for it to finish its writes.

use super::MountError;
use crate::home::Layout;
use crate::volume::MountedVolume;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long to wait for a daemon to exit after its mount is gone.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a busy mount is tried again. A mount can stay busy for a moment after its
/// last file was closed (a copy of the descriptor in a process forked while it was open,
/// until that process execs), so `kmsfs umount` right after a write failed now and then.
const BUSY_RETRY: Duration = Duration::from_secs(2);

/// Unmount `mp` (lazily when `lazy`: detached now, gone when no longer busy). A busy mount
/// is tried again for up to [`BUSY_RETRY`] before its EBUSY is returned.
pub fn unmount(mp: &Path, lazy: bool) -> Result<(), MountError> {
    let t0 = Instant::now();
    loop {
        match unmount_once(mp, lazy) {
            Err(MountError::Unmount(why))
                if why.contains("busy") && !lazy && t0.elapsed() < BUSY_RETRY =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

fn unmount_once(mp: &Path, lazy: bool) -> Result<(), MountError> {
    if nix::unistd::getuid().is_root() {
        let flags = if lazy {
            nix::mount::MntFlags::MNT_DETACH
        } else {
            nix::mount::MntFlags::empty()
        };
        nix::mount::umount2(mp, flags).map_err(|e| MountError::Unmount(e.desc().to_string()))
    } else {
        let mut c = std::process::Command::new("fusermount3");
        c.arg("-u");
        if lazy {
            c.arg("-z");
        }
        let o = c
            .arg(mp)
            .output()
            .map_err(|e| MountError::Unmount(format!("fusermount3: {e}")))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(MountError::Unmount(
                String::from_utf8_lossy(&o.stderr).trim().to_string(),
            ))
        }
    }
}

/// The volume whose daemon serves the mount on `mp`, if it is a volume's (from the volumes'
/// mount records: no KMS, no key, no passphrase).
pub fn volume_daemon(layout: &Layout, mp: &Path) -> Option<MountedVolume> {
    let rd = std::fs::read_dir(layout.volumes_dir()).ok()?;
    rd.filter_map(|e| e.ok())
        .filter_map(|e| crate::volume::service::mounted_in(&e.path()))
        .find(|m| m.mount_point == mp)
}

/// Unmount `mp`, then wait (up to 30 s) for the daemon `pid`, if known, to finish writing.
pub fn unmount_and_wait(mp: &Path, pid: Option<u32>) -> Result<(), MountError> {
    unmount(mp, false)?;
    if let Some(pid) = pid {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let t0 = Instant::now();
        while nix::sys::signal::kill(pid, None).is_ok() && t0.elapsed() < EXIT_TIMEOUT {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}
