//! Mounting a volume: the checks before its daemon starts, serving it in the foreground
//! (its control socket, signals, the FUSE session), and waiting until it shows as in use.

use super::{MountError, unmount_on_signal};
use crate::crypto::SecretKey;
use crate::home::Layout;
use crate::volume::service::OpenVolume;
use crate::volume::uring::Transport;
use crate::volume::{VolumeError, VolumeInfo, VolumeService};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Before a mount daemon is started for `volume_id`: the volume must exist. Reads no key,
/// so it needs no KMS.
pub fn check_volume_exists(layout: &Layout, volume_id: &str) -> Result<(), MountError> {
    if crate::volume::service::is_volume_dir(&layout.volume_dir(volume_id)?) {
        Ok(())
    } else {
        Err(VolumeError::NotFound(volume_id.into()).into())
    }
}

/// After its daemon mounted it: the volume as `describe` shows it, once it is in use (or
/// after about a second).
pub fn describe_when_in_use(
    svc: &VolumeService,
    volume_id: &str,
) -> Result<VolumeInfo, MountError> {
    let mut v = svc.describe(volume_id)?;
    for _ in 0..100 {
        if v.state == "in-use" {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        v = svc.describe(volume_id)?;
    }
    Ok(v)
}

/// What mounting `volume_id` needs from the KMS (the only KMS call of a mount, made before
/// any daemon starts): its data key, Decrypted, its header checked (`None`: unencrypted).
pub fn unlock_volume(
    svc: &VolumeService,
    volume_id: &str,
) -> Result<Option<SecretKey>, MountError> {
    Ok(svc.unlock(volume_id)?)
}

/// How a volume is served.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Let other users in (`--allow-other`).
    pub allow_other: bool,
    /// The FUSE transport.
    pub transport: Transport,
    /// Serve extended attributes (the default; `--no-xattr` turns them off).
    pub xattrs: bool,
}

/// A volume opened to be served at a mount point: locked, its subkeys in memory (and not
/// the KMS, nor the data key they come from).
pub struct VolumeMount {
    volume: OpenVolume,
    volume_id: String,
    mount_point: PathBuf,
}

impl VolumeMount {
    /// Lock the volume of `layout` and open it with its data key `dek` (from
    /// [`unlock_volume`], here or in the process that started this daemon). Opens no KMS.
    pub fn open(
        layout: &Layout,
        volume_id: &str,
        dek: Option<&SecretKey>,
        mp: &Path,
    ) -> Result<VolumeMount, MountError> {
        check_volume_exists(layout, volume_id)?;
        let volume = OpenVolume::open(&layout.volume_dir(volume_id)?, volume_id, dek)?;
        if !volume.keys_mlocked() {
            eprintln!(
                "kmsfs: warning: the volume's keys could not be locked in memory (mlock refused: \
                 RLIMIT_MEMLOCK, `ulimit -l`); they may be swapped out"
            );
        }
        Ok(VolumeMount {
            volume,
            volume_id: volume_id.to_string(),
            mount_point: mp.to_path_buf(),
        })
    }

    /// Record the mount, open the control socket (through which `snapshot create` holds
    /// changes while it reads the volume), unmount on SIGTERM, SIGINT or SIGHUP, call
    /// `ready`, and serve until the volume is unmounted, as `opts` say.
    pub fn serve(self, opts: ServeOptions, ready: impl FnOnce()) -> Result<(), MountError> {
        let uring = crate::volume::uring::prepare(opts.transport).map_err(MountError::Transport)?;
        let v = &self.volume;
        v.fs.set_xattrs(opts.xattrs);
        v.mounted_at(&self.mount_point)?;
        crate::volume::control::serve(&v.dir, v.fs.clone()).map_err(MountError::ControlSocket)?;
        unmount_on_signal(self.mount_point.clone()).map_err(MountError::Internal)?;
        ready();
        let r = crate::volume::fuse::serve(
            v.fs.clone(),
            &self.mount_point,
            &self.volume_id,
            opts.allow_other,
            uring,
        );
        // The mount is gone: a new mount (or a delete) now waits for the lock instead of
        // being refused. The directory ids still queued for their fsync are durable before
        // the daemon exits and the lock is let go (other threads, such as the control
        // socket's, keep the file system alive).
        v.unmounted();
        if let Err(e) = v.fs.settle() {
            eprintln!("kmsfs: unmount of {}: {e}", self.volume_id);
        }
        r.map_err(MountError::Fuse)
    }
}
