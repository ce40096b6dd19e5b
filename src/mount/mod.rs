//! The mount lifecycle of volumes and buckets, between the front ends and the services:
//! checking a mount point against /proc/self/mountinfo (`point`), starting a mount daemon
//! and waiting until its mount is up (`daemon`), serving a volume or a bucket in the
//! foreground until it is unmounted (`volume`, `bucket`), unmounting on SIGTERM, SIGINT
//! or SIGHUP (`signals`), and unmounting a kmsfs mount and waiting for its daemon
//! (`unmount`). Failures are [`MountError`]s; this layer knows nothing of the CLI.

mod bucket;
mod daemon;
mod point;
mod secrets;
mod signals;
mod unmount;
mod volume;

pub use bucket::serve_bucket;
pub use daemon::spawn_daemon;
pub use point::{MountEntry, check_mount_point, is_mount_point, kmsfs_mount_at, mount_at};
pub use secrets::{
    SECRET_VARS, encode_key, lock_key, protect_process, read_key_from_stdin, scrub_environment,
};
pub use signals::unmount_on_signal;
pub use unmount::{unmount, unmount_and_wait, volume_daemon};
pub use volume::{
    ServeOptions, VolumeMount, check_volume_exists, describe_when_in_use, unlock_volume,
};

use crate::home::HomeError;
use crate::object::view::ViewError;
use crate::volume::VolumeError;
use std::io;
use std::path::PathBuf;

/// Why mounting or unmounting failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("/dev/fuse does not exist (FUSE is not available here)")]
    NoFuse,
    /// A file of the mount (the mount point, the daemon's log) could not be reached.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{} is already a mount point", .0.display())]
    AlreadyMounted(PathBuf),
    /// Mounting would hide the directory's files (refused unless `--nonempty`).
    #[error("{} is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// The directory to unmount could not be resolved.
    #[error("{0}")]
    Resolve(#[source] io::Error),
    #[error("{} is not mounted", .0.display())]
    NotMounted(PathBuf),
    /// Something else than a kmsfs daemon is mounted there: `kmsfs umount` leaves it alone.
    #[error("{} is not a kmsfs mount (it is a {fstype} mount of {device})", .path.display())]
    NotKmsfs {
        path: PathBuf,
        fstype: String,
        device: String,
    },
    /// umount(2) or fusermount3 refused (busy, not permitted).
    #[error("{0}")]
    Unmount(String),
    /// The mount daemon could not be started.
    #[error("{0}")]
    Spawn(#[source] io::Error),
    /// The current executable or a log descriptor was not available.
    #[error("{0}")]
    Internal(#[source] io::Error),
    /// The mount daemon exited before its mount came up: what it logged, and its exit code.
    #[error("the mount daemon exited: {}", log.lines().next().unwrap_or_default())]
    DaemonExited { log: String, code: Option<i32> },
    /// A volume daemon's key pipe (its stdin) did not hold a key message.
    #[error("key pipe: {0}")]
    KeyPipe(String),
    #[error("the mount did not come up within 60 s")]
    Timeout,
    /// The FUSE transport asked for (`--fuse-transport`, KMSFS_FUSE_TRANSPORT) is not to
    /// be had, or not a transport.
    #[error("{0}")]
    Transport(String),
    #[error("control socket: {0}")]
    ControlSocket(#[source] io::Error),
    /// The FUSE session failed.
    #[error("{0}")]
    Fuse(#[source] io::Error),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// An id that is not a name (the home's layout refused it).
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The bucket's directory view could not be opened.
    #[error(transparent)]
    View(#[from] ViewError),
}

impl MountError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> MountError {
        MountError::Io {
            path: path.into(),
            source,
        }
    }
}
