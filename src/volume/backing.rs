//! The one interface the snapshot layer has to volumes.
//!
//! A snapshot reads a volume's stored tree (names, contents, symlink targets and `user.*`
//! xattrs as the volume stores them: ciphertext when it is encrypted) and its wrapped data
//! key, while the volume is held still ([`Volumes::hold`]: its lock, or a freeze by its
//! mount daemon). A restore under the same key writes a stored tree into a new volume
//! ([`Volumes::create_restored`]); under a new key, the plaintext of a stored tree is copied
//! into a new volume, every block re-encrypted ([`Volumes::create_reencrypted`]). Where
//! these live in a volume's directory stays inside the volume layer. [`pool`] and
//! [`data_runs`] are the copy path's pieces that snapshot capture and restore share.

mod copy;
pub mod pool;

pub use copy::data_runs;

pub use super::{CreateVolume, EBS_PRINCIPAL, VolumeError, VolumeInfo};
pub(crate) use super::{is_resource_id, new_resource_id};

use super::control::{self, Frozen};
use super::header::{HeaderBody, VolumeHeader};
use super::keys::VolumeKeys;
use super::service::{data_dir, lock_file};
use super::{VolumeFs, VolumeService};
use crate::crypto::SecretKey;
use crate::fsutil::{self, FileLock};
use crate::home::Home;
use crate::kms::Client;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A volume's data key as its header keeps it (all empty when the volume is unencrypted).
/// Volumes and snapshots with the same wrapped DEK share their blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredKey {
    /// ARN of the KMS key that wraps the DEK.
    pub kms_key_arn: Option<String>,
    /// The DEK as KMS returned it from GenerateDataKeyWithoutPlaintext.
    pub wrapped_dek: Option<Vec<u8>>,
    /// The encryption context the DEK was wrapped under.
    pub dek_context: BTreeMap<String, String>,
}

impl StoredKey {
    /// The data key as the volume header `body` keeps it.
    fn of(body: &HeaderBody) -> StoredKey {
        StoredKey {
            kms_key_arn: body.kms_key_arn.clone(),
            wrapped_dek: body.wrapped_dek.clone(),
            dek_context: body.dek_context.clone(),
        }
    }
}

/// The volumes of a home (or of a scratch directory), as the snapshot layer sees them.
pub struct Volumes {
    svc: VolumeService,
}

/// A volume held still while its stored tree is read: no change reaches the tree until
/// this is dropped (which releases the volume's lock or thaws its mount).
pub struct Held {
    tree: PathBuf,
    size: u64,
    encrypted: bool,
    key: StoredKey,
    _still: Still,
}

/// What keeps a volume still (held until dropped, never read).
#[allow(dead_code)]
enum Still {
    Locked(FileLock),
    Frozen(Frozen),
}

impl Volumes {
    pub fn new(home: Home, kms: Arc<dyn Client>) -> Volumes {
        Volumes {
            svc: VolumeService::new(home, kms),
        }
    }

    /// Volumes in `dir` (scratch volumes, e.g. while a snapshot is copied under a new key);
    /// the account's settings still come from the home.
    pub fn in_dir(home: Home, kms: Arc<dyn Client>, dir: PathBuf) -> Volumes {
        Volumes {
            svc: VolumeService::with_dir(home, kms, dir),
        }
    }

    /// The same volumes acting for `account`: it owns the volumes made here, and only its
    /// own are found ([`VolumeService::acting_for`]).
    pub fn acting_for(self, account: &str) -> Volumes {
        Volumes {
            svc: self.svc.acting_for(account),
        }
    }

    /// Whether the account has encryption by default on.
    pub fn encryption_by_default(&self) -> Result<bool, VolumeError> {
        Ok(self.svc.settings()?.encryption_by_default)
    }

    /// Hold volume `id` still and open its stored tree for reading: an unmounted volume is
    /// locked (waiting up to the lock timeout if another process changes it), a mounted one
    /// is frozen by its daemon (reads go on, changes wait).
    pub fn hold(&self, id: &str) -> Result<Held, VolumeError> {
        let dir = self.svc.volume_dir(id)?;
        let lock = lock_file(&dir);
        let still = match FileLock::acquire(&lock, Duration::ZERO) {
            Ok(l) => Still::Locked(l),
            Err(_) => match self.svc.mounted(id) {
                Some(m) => Still::Frozen(control::freeze(&dir, &m.mount_point)?),
                None => Still::Locked(
                    FileLock::acquire(&lock, fsutil::lock_timeout())
                        .map_err(|_| VolumeError::InUse(id.to_string()))?,
                ),
            },
        };
        let h = self.svc.header(id)?;
        Ok(Held::new(data_dir(&dir), &h, still))
    }

    /// Create a volume of `size` bytes from snapshot `snapshot_id` that keeps the data key
    /// `key` (`dek` is its plaintext, None when unencrypted), whose stored tree `fill` writes
    /// into the empty directory it is given. A crash or error part-way leaves no volume.
    pub fn create_restored<E: From<VolumeError>>(
        &self,
        size: u64,
        key: StoredKey,
        snapshot_id: &str,
        dek: Option<&SecretKey>,
        fill: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<VolumeInfo, E> {
        let body = HeaderBody {
            kms_key_arn: key.kms_key_arn,
            wrapped_dek: key.wrapped_dek,
            dek_context: key.dek_context,
            snapshot_id: Some(snapshot_id.to_string()),
        };
        self.svc.create_restored(size, body, dek, fill)
    }

    /// A new data key under `key` for a stored tree that is no volume (a snapshot copied
    /// under a new key): as a volume header keeps it, and the key itself.
    pub fn new_tree_key(&self, key: &str) -> Result<(StoredKey, SecretKey), VolumeError> {
        let (b, dek) = self.svc.new_tree_key(key.to_string())?;
        Ok((StoredKey::of(&b), dek))
    }

    /// Create a volume as `opts` asks and copy into it the plaintext of the stored tree
    /// `tree` (under the data key `dek`, or unencrypted; `tree_size` is its volume's size):
    /// every block is encrypted anew under the new volume's key. `progress` is told the
    /// bytes copied. Copy failures are [`VolumeError::Copy`]; the new volume is then deleted.
    pub fn create_reencrypted(
        &self,
        tree: &Path,
        dek: Option<&SecretKey>,
        tree_size: u64,
        opts: &CreateVolume,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VolumeInfo, VolumeError> {
        let src = VolumeFs::new(tree, dek.map(VolumeKeys::derive), tree_size)?;
        let v = self.svc.create(opts)?;
        let copied = self.svc.open(&v.volume_id).and_then(|o| {
            copy::copy_tree(&src, &o.fs, progress)?;
            if let Ok(f) = std::fs::File::open(data_dir(&o.dir)) {
                let _ = nix::unistd::syncfs(&f);
            }
            Ok(())
        });
        if let Err(e) = copied {
            let _ = self.svc.delete(&v.volume_id);
            return Err(e);
        }
        self.svc.describe(&v.volume_id)
    }
}

impl Held {
    fn new(tree: PathBuf, h: &VolumeHeader, still: Still) -> Held {
        Held {
            tree,
            size: h.size,
            encrypted: h.encrypted,
            key: StoredKey::of(&h.body),
            _still: still,
        }
    }

    /// The stored tree (read only).
    pub fn tree(&self) -> &Path {
        &self.tree
    }

    /// The volume's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// The volume's data key as its header keeps it.
    pub fn key(&self) -> &StoredKey {
        &self.key
    }
}
