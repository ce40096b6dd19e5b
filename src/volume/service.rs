//! The volume service: create, list, describe and delete volumes, the account's
//! encryption-by-default settings, and opening a volume for mounting (Decrypt of its DEK).
//! It acts as its own service principal (`ebs.amazonaws.com`) through `kms::Client`, and
//! as EBS does, it holds a grant on each encrypted volume's key (`super::grant`).
//!
//! A volume's directory (`volumes/<id>/` in the home) holds `volume.hdr` (written last: the
//! directory is a volume once it exists), `data/` (the stored tree the file system keeps),
//! `grant.json` (its grant, when encrypted: named in `super::grant`), `owner.json` (its
//! account, `super::owner`), `lock` (held while
//! mounted or changed), and while mounted `mount.json` and `ctl.sock`. These names are
//! spelled here only.
//!
//! Volumes belong to an account, as in EBS: the service acts for one ([`VolumeService::
//! acting_for`]; the home's account by default), which owns the volumes it creates, and
//! sees only those: another account's volume is "not found", as EBS answers
//! `InvalidVolume.NotFound`.

use super::grant::{self, VolumeGrant};
use super::header::{HeaderBody, VolumeHeader};
use super::keys::VolumeKeys;
use super::owner;
use super::{VolumeError, VolumeFs, is_resource_id, new_resource_id};
use crate::crypto::SecretKey;
use crate::fsutil::{self, FileLock};
use crate::home::Home;
use crate::kms::Client;
use crate::kms::types::{DecryptRequest, GenerateDataKeyRequest, KeyIdRequest};
use crate::timefmt::now_ms;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The principal the volume service acts as.
pub const EBS_PRINCIPAL: &str = "ebs.amazonaws.com";
/// The AWS-managed default key.
pub const DEFAULT_KEY_ALIAS: &str = "alias/aws/ebs";

/// The header in a volume's directory.
const HEADER: &str = "volume.hdr";
/// The stored tree (ciphertext names and contents when encrypted) in a volume's directory.
const DATA: &str = "data";
/// The lock file in a volume's directory.
const LOCK: &str = "lock";
/// Where a mounted volume is, beside its header.
const MOUNT_RECORD: &str = "mount.json";
/// The prefix of volume ids.
const ID_PREFIX: &str = "vol";

/// Account settings for volumes (`ebs.json` in the home).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EbsSettings {
    pub encryption_by_default: bool,
    /// A customer key to use instead of `alias/aws/ebs`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_kms_key_id: Option<String>,
}

impl Default for EbsSettings {
    fn default() -> Self {
        // kmsfs homes start with encryption by default on; `config encryption-by-default
        // disable` allows unencrypted volumes.
        EbsSettings {
            encryption_by_default: true,
            default_kms_key_id: None,
        }
    }
}

/// `volume create` options.
#[derive(Debug, Clone, Default)]
pub struct CreateVolume {
    pub size: u64,
    pub kms_key_id: Option<String>,
    /// `Some(true)` for `--encrypted`, `Some(false)` for `--unencrypted`.
    pub encrypted: Option<bool>,
    /// The snapshot the volume is made from (recorded in its header).
    pub snapshot_id: Option<String>,
}

/// A volume as `volume describe` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInfo {
    pub volume_id: String,
    pub size_bytes: u64,
    /// Size in GiB, as EBS reports it.
    pub size: f64,
    pub encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    pub create_time: String,
    /// `available` or `in-use`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
}

/// Where a mounted volume is (`mount.json` beside its header while mounted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MountedVolume {
    pub volume_id: String,
    pub mount_point: PathBuf,
    pub pid: u32,
}

/// A volume opened for mounting: its keys in memory and its exclusive lock held.
pub struct OpenVolume {
    pub header: VolumeHeader,
    pub fs: Arc<VolumeFs>,
    pub dir: PathBuf,
    keys_mlocked: bool,
    _lock: FileLock,
}

/// The volume service of one home.
pub struct VolumeService {
    home: Home,
    kms: Arc<dyn Client>,
    /// Where the volumes live: `volumes/` in the home, or a scratch directory.
    dir: PathBuf,
    /// Whether encrypted volumes hold a grant (not scratch volumes, which live only
    /// while a snapshot is copied under a new key, as a CopySnapshot makes no volume).
    grants: bool,
    /// The account the service acts for: the owner of what it creates, and of all it sees.
    account: String,
}

/// Whether `dir`, a volume's directory, holds a volume (its header). Reads no key, so it
/// serves before the KMS is opened (e.g. before a mount daemon is started).
pub fn is_volume_dir(dir: &Path) -> bool {
    dir.join("volume.hdr").exists()
}

/// Where the volume in directory `dir` is mounted, while its daemon holds the volume lock
/// (reads no key: `kmsfs umount` needs none).
pub fn mounted_in(dir: &Path) -> Option<MountedVolume> {
    let m: MountedVolume =
        serde_json::from_slice(&std::fs::read(dir.join(MOUNT_RECORD)).ok()?).ok()?;
    match FileLock::acquire(&lock_file(dir), std::time::Duration::ZERO) {
        Ok(_) => None,
        Err(_) => Some(m),
    }
}

/// Take the lock of volume `id` (in directory `dir`) for what needs it unmounted (a mount, a
/// delete). A mounted volume (its daemon's mount record is there) is `InUse` at once; a
/// lock held by anything else is waited for, up to the lock timeout: a daemon settling
/// after its unmount (it removes its record when the mount is gone, then makes the last
/// directory ids durable), a snapshot reading it, another delete.
fn lock_unmounted(dir: &Path, id: &str) -> Result<FileLock, VolumeError> {
    let (lock, record) = (lock_file(dir), dir.join(MOUNT_RECORD));
    let (t0, timeout) = (std::time::Instant::now(), fsutil::lock_timeout());
    loop {
        if let Ok(l) = FileLock::acquire(&lock, std::time::Duration::ZERO) {
            return Ok(l);
        }
        // Checked each time: a mount that takes the lock meanwhile is refused at once.
        if record.exists() || t0.elapsed() >= timeout {
            return Err(VolumeError::InUse(id.to_string()));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn valid_id(id: &str) -> bool {
    is_resource_id(ID_PREFIX, id)
}

/// The stored tree in the volume directory `dir`.
pub(crate) fn data_dir(dir: &Path) -> PathBuf {
    dir.join(DATA)
}

/// The lock file of the volume directory `dir`.
pub(crate) fn lock_file(dir: &Path) -> PathBuf {
    dir.join(LOCK)
}

impl VolumeService {
    pub fn new(home: Home, kms: Arc<dyn Client>) -> VolumeService {
        let dir = home.volumes_dir();
        let account = home.config().account_id.clone();
        VolumeService {
            home,
            kms,
            dir,
            grants: true,
            account,
        }
    }

    /// The same service acting for `account` (a 12-digit account id): it owns the volumes
    /// this service creates, and lists, describes, mounts and deletes only its own.
    pub fn acting_for(mut self, account: &str) -> VolumeService {
        self.account = account.to_string();
        self
    }

    /// The account the service acts for.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// A service whose volumes live in `dir` (scratch volumes, e.g. while a snapshot is
    /// copied under a new key); settings still come from the home.
    pub(crate) fn with_dir(home: Home, kms: Arc<dyn Client>, dir: PathBuf) -> VolumeService {
        let account = home.config().account_id.clone();
        VolumeService {
            home,
            kms,
            dir,
            grants: false,
            account,
        }
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The KMS client the service acts through.
    pub fn kms_client(&self) -> Arc<dyn Client> {
        self.kms.clone()
    }

    pub fn volumes_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    pub fn volume_dir(&self, id: &str) -> Result<PathBuf, VolumeError> {
        if !valid_id(id) {
            return Err(VolumeError::BadId(id.to_string()));
        }
        let d = self.volumes_dir().join(id);
        if !d.join(HEADER).exists() {
            return Err(VolumeError::NotFound(id.to_string()));
        }
        // Another account's volume does not exist for this one.
        if owner::read(&d, &self.home.config().account_id)? != self.account {
            return Err(VolumeError::NotFound(id.to_string()));
        }
        Ok(d)
    }

    fn settings_path(&self) -> PathBuf {
        self.home.root().join("ebs.json")
    }

    pub fn settings(&self) -> Result<EbsSettings, VolumeError> {
        let p = self.settings_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| VolumeError::Invalid(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(EbsSettings::default()),
            Err(e) => Err(VolumeError::io(&p, e)),
        }
    }

    pub fn set_settings(&self, s: &EbsSettings) -> Result<(), VolumeError> {
        let p = self.settings_path();
        let b = serde_json::to_vec_pretty(s).expect("settings serialize");
        fsutil::atomic_write(&p, &b, 0o600).map_err(|e| VolumeError::io(&p, e))
    }

    /// Set the default key after checking that it exists.
    pub fn set_default_key(&self, key_id: &str) -> Result<EbsSettings, VolumeError> {
        let arn = self
            .kms
            .describe_key(KeyIdRequest {
                key_id: key_id.into(),
                grant_tokens: None,
            })?
            .key_metadata
            .arn;
        let mut s = self.settings()?;
        s.default_kms_key_id = Some(arn);
        self.set_settings(&s)?;
        Ok(s)
    }

    /// Create a volume (encrypted unless allowed and asked otherwise). An encrypted volume
    /// gets its grant on its key before its header is written.
    pub fn create(&self, opts: &CreateVolume) -> Result<VolumeInfo, VolumeError> {
        let settings = self.settings()?;
        let encrypted = encryption_choice(opts, &settings)?;
        let id = new_id()?;
        let (body, mac_key, grant) = if encrypted {
            let key = opts
                .kms_key_id
                .clone()
                .or(settings.default_kms_key_id.clone())
                .unwrap_or_else(|| DEFAULT_KEY_ALIAS.to_string());
            self.new_dek(&id, key, opts.snapshot_id.clone())?
        } else {
            let body = HeaderBody {
                kms_key_arn: None,
                wrapped_dek: None,
                dek_context: BTreeMap::new(),
                snapshot_id: opts.snapshot_id.clone(),
            };
            (body, None, None)
        };
        let h = VolumeHeader {
            volume_id: id.clone(),
            size: opts.size,
            created_ms: now_ms(),
            encrypted,
            body,
        };
        if let Err(e) = self.write_new(&h, mac_key.as_ref(), grant.as_ref()) {
            self.undo(&id, grant.as_ref());
            return Err(e);
        }
        self.describe(&id)
    }

    /// Lay out the new volume `h` describes: its directory, empty stored tree (with the
    /// root's directory id when encrypted), its grant, and last its header.
    fn write_new(
        &self,
        h: &VolumeHeader,
        mac_key: Option<&SecretKey>,
        grant: Option<&VolumeGrant>,
    ) -> Result<(), VolumeError> {
        let (dir, data) = self.lay_out(&h.volume_id)?;
        // The root's directory id, so that an empty volume's layout is complete.
        if h.encrypted {
            let mut id16 = [0u8; 16];
            crate::crypto::fill_random(&mut id16)
                .map_err(|e| VolumeError::Invalid(e.to_string()))?;
            let p = data.join(super::names::DIRIV);
            fsutil::atomic_write(&p, &id16, 0o400).map_err(|e| VolumeError::io(&p, e))?;
        }
        if let Some(g) = grant {
            grant::write(&dir, g)?;
        }
        write_header(&dir, h, mac_key)
    }

    /// Undo a volume `id` that failed part-way: retire its grant (best effort) and remove
    /// its directory.
    fn undo(&self, id: &str, grant: Option<&VolumeGrant>) {
        if let Some(g) = grant {
            let _ = grant::retire(&*self.kms, id, g);
        }
        let _ = std::fs::remove_dir_all(self.volumes_dir().join(id));
    }

    /// A new DEK for volume `id` under `key` (GenerateDataKeyWithoutPlaintext), as the header
    /// body keeps it, its header MAC key, and the volume's grant on the key (none for a
    /// scratch volume).
    fn new_dek(
        &self,
        id: &str,
        key: String,
        snapshot_id: Option<String>,
    ) -> Result<(HeaderBody, Option<SecretKey>, Option<VolumeGrant>), VolumeError> {
        let (body, dek, grant) = self.new_data_key(id, key, snapshot_id)?;
        Ok((body, Some(VolumeKeys::header_mac(&dek)), grant))
    }

    /// A new DEK under `key` for a stored tree that is no volume (a snapshot copied under a
    /// new key), and the DEK itself: its encryption context names a fresh volume id, as the
    /// scratch volume such a copy once went through did. No grant outlives the call.
    pub(crate) fn new_tree_key(&self, key: String) -> Result<(HeaderBody, SecretKey), VolumeError> {
        let id = new_id()?;
        let (body, dek, grant) = self.new_data_key(&id, key, None)?;
        if let Some(g) = grant {
            let _ = grant::retire(&*self.kms, &id, &g);
        }
        Ok((body, dek))
    }

    /// A new DEK for volume `id` under `key` as the header body keeps it, the DEK itself
    /// (zeroized when dropped), and the volume's grant on the key (none for a scratch
    /// volume).
    fn new_data_key(
        &self,
        id: &str,
        key: String,
        snapshot_id: Option<String>,
    ) -> Result<(HeaderBody, SecretKey, Option<VolumeGrant>), VolumeError> {
        let ctx: BTreeMap<String, String> = [("aws:ebs:id".to_string(), id.to_string())].into();
        let r = self
            .kms
            .generate_data_key_without_plaintext(GenerateDataKeyRequest {
                key_id: key,
                key_spec: Some("AES_256".into()),
                encryption_context: Some(ctx.clone()),
                ..Default::default()
            })?;
        let grant = if self.grants {
            Some(grant::create(&*self.kms, id, &r.key_id, &ctx)?)
        } else {
            None
        };
        // Unwrap once (the header MAC key is derived from it).
        let dek = match self.unwrap_dek(id, &r.key_id, &r.ciphertext_blob, &ctx, grant.as_ref()) {
            Ok(dek) => dek,
            Err(e) => {
                self.undo(id, grant.as_ref());
                return Err(e);
            }
        };
        let body = HeaderBody {
            kms_key_arn: Some(r.key_id),
            wrapped_dek: Some(r.ciphertext_blob),
            dek_context: ctx,
            snapshot_id,
        };
        Ok((body, dek, grant))
    }

    /// Make the directory of a new volume `id`, owned by the account the service acts
    /// for, and its empty stored tree: `(dir, data)`.
    fn lay_out(&self, id: &str) -> Result<(PathBuf, PathBuf), VolumeError> {
        let dir = self.volumes_dir().join(id);
        fsutil::create_dir_durable(&dir, 0o700).map_err(|e| VolumeError::io(&dir, e))?;
        owner::write(&dir, &self.account)?;
        let data = data_dir(&dir);
        std::fs::create_dir(&data).map_err(|e| VolumeError::io(&data, e))?;
        Ok((dir, data))
    }

    /// Decrypt a wrapped DEK through KMS (as the volume service, with the token of the
    /// volume's grant when it has one), naming `volume` and the key if KMS refuses.
    fn unwrap_dek(
        &self,
        volume: &str,
        key: &str,
        blob: &[u8],
        ctx: &BTreeMap<String, String>,
        grant: Option<&VolumeGrant>,
    ) -> Result<SecretKey, VolumeError> {
        let r = self
            .kms
            .decrypt(DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                encryption_context: Some(ctx.clone()),
                key_id: Some(key.to_string()),
                grant_tokens: grant.map(|g| vec![g.grant_token.clone()]),
                ..Default::default()
            })
            .map_err(|e| VolumeError::KeyUnusable {
                volume: volume.to_string(),
                key: key.to_string(),
                source: e,
            })?;
        SecretKey::from_slice(r.plaintext.expose())
            .ok_or_else(|| VolumeError::DamagedHeader("the data key is not 32 bytes".into()))
    }

    /// Create a volume whose backing tree `fill` writes (a restore that keeps the data key):
    /// then its own grant on the key (encrypted), and last the header, sealed with `dek`'s
    /// MAC key, so a crash part-way leaves no volume in `list`.
    pub(crate) fn create_restored<E: From<VolumeError>>(
        &self,
        size: u64,
        body: HeaderBody,
        dek: Option<&SecretKey>,
        fill: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<VolumeInfo, E> {
        let id = new_id()?;
        let h = VolumeHeader {
            volume_id: id.clone(),
            size,
            created_ms: now_ms(),
            encrypted: dek.is_some(),
            body,
        };
        let (dir, data) = self.lay_out(&id)?;
        if let Err(e) = fill(&data) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        // Everything written so far reaches the disk before the header makes it a volume.
        if let Ok(f) = std::fs::File::open(&data) {
            let _ = nix::unistd::syncfs(&f);
        }
        let mut grant = None;
        let sealed = self.new_grant(&h).and_then(|g| {
            grant = g;
            if let Some(g) = &grant {
                grant::write(&dir, g)?;
            }
            write_header(&dir, &h, dek.map(VolumeKeys::header_mac).as_ref())
        });
        if let Err(e) = sealed {
            self.undo(&id, grant.as_ref());
            return Err(e.into());
        }
        Ok(self.describe(&id)?)
    }

    /// The grant the encrypted volume `h` describes gets on its key, constrained to the
    /// context its data key is wrapped under (none when unencrypted or a scratch volume).
    fn new_grant(&self, h: &VolumeHeader) -> Result<Option<VolumeGrant>, VolumeError> {
        match &h.body.kms_key_arn {
            Some(key) if self.grants && h.encrypted => Ok(Some(grant::create(
                &*self.kms,
                &h.volume_id,
                key,
                &h.body.dek_context,
            )?)),
            _ => Ok(None),
        }
    }

    /// The grant of the encrypted volume in `dir` (header `h`): the one it keeps, else (a
    /// volume made before volumes had grants) one created now and kept.
    fn grant_of(&self, dir: &Path, h: &VolumeHeader) -> Result<Option<VolumeGrant>, VolumeError> {
        if let Some(g) = grant::read(dir)? {
            return Ok(Some(g));
        }
        let g = self.new_grant(h)?;
        if let Some(g) = &g {
            grant::write(dir, g)?;
        }
        Ok(g)
    }

    /// Read a volume's header (its seal is checked at mount, when the DEK is known).
    pub fn header(&self, id: &str) -> Result<VolumeHeader, VolumeError> {
        read_header(&self.volume_dir(id)?, id)
    }

    /// The grant volume `id` holds on its key (none when unencrypted, or made before
    /// volumes had grants and not mounted since).
    pub fn grant(&self, id: &str) -> Result<Option<VolumeGrant>, VolumeError> {
        grant::read(&self.volume_dir(id)?)
    }

    pub fn mounted(&self, id: &str) -> Option<MountedVolume> {
        mounted_in(&self.volume_dir(id).ok()?)
    }

    pub fn describe(&self, id: &str) -> Result<VolumeInfo, VolumeError> {
        let h = self.header(id)?;
        let m = self.mounted(id);
        Ok(VolumeInfo {
            volume_id: h.volume_id.clone(),
            size_bytes: h.size,
            size: h.size as f64 / (1u64 << 30) as f64,
            encrypted: h.encrypted,
            kms_key_id: h.body.kms_key_arn.clone(),
            snapshot_id: h.body.snapshot_id.clone(),
            create_time: crate::timefmt::rfc3339(h.created_ms),
            state: if m.is_some() { "in-use" } else { "available" }.into(),
            mount_point: m.map(|m| m.mount_point.display().to_string()),
        })
    }

    pub fn list(&self) -> Result<Vec<VolumeInfo>, VolumeError> {
        let dir = self.volumes_dir();
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(VolumeError::io(&dir, e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| valid_id(n))
            .collect();
        ids.sort();
        for id in ids {
            match self.describe(&id) {
                Ok(v) => out.push(v),
                Err(VolumeError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Delete a volume that is not mounted (waiting out a daemon settling after its
    /// unmount), retiring its grant first (a crash after that leaves a volume whose grant
    /// its next mount makes again).
    pub fn delete(&self, id: &str) -> Result<(), VolumeError> {
        let dir = self.volume_dir(id)?;
        let _lock = lock_unmounted(&dir, id)?;
        if let Some(g) = grant::read(&dir)? {
            grant::retire(&*self.kms, id, &g)?;
            grant::remove(&dir)?;
        }
        // Remove the header first: a crash part-way leaves no half volume in `list`.
        let hp = dir.join(HEADER);
        fsutil::durable_remove(&hp).map_err(|e| VolumeError::io(&hp, e))?;
        std::fs::remove_dir_all(&dir).map_err(|e| VolumeError::io(&dir, e))?;
        Ok(())
    }

    /// Lock the volume, Decrypt its DEK, check its header, and open its filesystem.
    pub fn open(&self, id: &str) -> Result<OpenVolume, VolumeError> {
        let dek = self.unlock(id)?;
        OpenVolume::open(&self.volume_dir(id)?, id, dek.as_ref())
    }

    /// What mounting volume `id` needs from the KMS: its DEK, Decrypted under the volume's
    /// grant (made now if it has none) (`None` for an unencrypted volume), its header
    /// checked against it. A mount daemon is handed this and
    /// never opens the KMS ([`OpenVolume::open`]).
    pub fn unlock(&self, id: &str) -> Result<Option<SecretKey>, VolumeError> {
        let dir = self.volume_dir(id)?;
        let h = read_header(&dir, id)?;
        if !h.encrypted {
            return Ok(None);
        }
        let key = h.body.kms_key_arn.clone().unwrap_or_default();
        let blob = h
            .body
            .wrapped_dek
            .as_ref()
            .expect("encrypted volumes have a DEK");
        let grant = self.grant_of(&dir, &h)?;
        let dek = self.unwrap_dek(id, &key, blob, &h.body.dek_context, grant.as_ref())?;
        verify_header(&dir, &dek)?;
        Ok(Some(dek))
    }
}

impl OpenVolume {
    /// Lock the volume in `dir` (volume `id`; a lock held by no mount, such as a daemon's
    /// settling after its unmount, is waited for), check its header against `dek` (which
    /// must be given exactly when the volume is encrypted), and open its filesystem with
    /// the DEK's subkeys. Needs no KMS.
    pub fn open(dir: &Path, id: &str, dek: Option<&SecretKey>) -> Result<OpenVolume, VolumeError> {
        let lock = lock_unmounted(dir, id)?;
        let h = read_header(dir, id)?;
        let keys = match (h.encrypted, dek) {
            (true, Some(dek)) => {
                verify_header(dir, dek)?;
                Some(VolumeKeys::derive(dek))
            }
            (false, None) => None,
            (true, None) => {
                return Err(VolumeError::Invalid(format!(
                    "{id} is encrypted: its data key is needed"
                )));
            }
            (false, Some(_)) => {
                return Err(VolumeError::Invalid(format!(
                    "{id} is not encrypted: it takes no data key"
                )));
            }
        };
        let keys_mlocked = keys.as_ref().is_none_or(VolumeKeys::is_mlocked);
        let fs = VolumeFs::new(&data_dir(dir), keys, h.size)?.with_staging(dir);
        Ok(OpenVolume {
            header: h,
            fs: Arc::new(fs),
            dir: dir.to_path_buf(),
            keys_mlocked,
            _lock: lock,
        })
    }

    /// Whether the volume's subkeys are mlocked (true when it has none).
    pub fn keys_mlocked(&self) -> bool {
        self.keys_mlocked
    }

    /// Record where the volume is mounted (removed by [`OpenVolume::unmounted`]).
    pub fn mounted_at(&self, mount_point: &Path) -> Result<(), VolumeError> {
        let p = self.dir.join(MOUNT_RECORD);
        let m = MountedVolume {
            volume_id: self.header.volume_id.clone(),
            mount_point: mount_point.to_path_buf(),
            pid: std::process::id(),
        };
        fsutil::atomic_write(&p, &serde_json::to_vec(&m).expect("serializes"), 0o600)
            .map_err(|e| VolumeError::io(&p, e))
    }

    /// Record that the volume's mount is gone (its daemon may still be settling, holding
    /// the lock: [`lock_unmounted`] waits for that).
    pub fn unmounted(&self) {
        let _ = std::fs::remove_file(self.dir.join(MOUNT_RECORD));
        let _ = std::fs::remove_file(self.dir.join(super::control::SOCKET));
    }
}

/// Read the header of volume `id` in `dir`; an unencrypted one's seal is checked here.
fn read_header(dir: &Path, id: &str) -> Result<VolumeHeader, VolumeError> {
    let p = dir.join(HEADER);
    let b = std::fs::read(&p).map_err(|e| VolumeError::io(&p, e))?;
    let h = VolumeHeader::parse_unverified(&b).map_err(|e| at(&p, e))?;
    if h.volume_id != id {
        return Err(at(
            &p,
            VolumeError::DamagedHeader(format!("it names volume {}", h.volume_id)),
        ));
    }
    if !h.encrypted {
        VolumeHeader::verify_seal(&b, None).map_err(|e| at(&p, e))?;
    }
    Ok(h)
}

/// Check the seal of the encrypted volume's header in `dir` with `dek`'s MAC key.
fn verify_header(dir: &Path, dek: &SecretKey) -> Result<(), VolumeError> {
    let hp = dir.join(HEADER);
    let raw = std::fs::read(&hp).map_err(|e| VolumeError::io(&hp, e))?;
    VolumeHeader::verify_seal(&raw, Some(&VolumeKeys::header_mac(dek))).map_err(|e| at(&hp, e))
}

fn at(path: &Path, e: VolumeError) -> VolumeError {
    match e {
        VolumeError::DamagedHeader(why) => VolumeError::DamagedHeaderAt {
            path: path.to_path_buf(),
            why,
        },
        e => e,
    }
}

/// Whether a new volume is encrypted: as `opts` asks, within the account's settings.
fn encryption_choice(opts: &CreateVolume, settings: &EbsSettings) -> Result<bool, VolumeError> {
    Ok(match (opts.encrypted, &opts.kms_key_id) {
        (Some(false), Some(_)) => {
            return Err(VolumeError::Invalid(
                "--unencrypted and --kms-key-id contradict each other".into(),
            ));
        }
        (Some(false), None) if settings.encryption_by_default => {
            return Err(VolumeError::EncryptionRequired);
        }
        (Some(false), None) => false,
        (_, Some(_)) | (Some(true), None) => true,
        (None, None) => settings.encryption_by_default,
    })
}

fn new_id() -> Result<String, VolumeError> {
    new_resource_id(ID_PREFIX).map_err(|e| VolumeError::Invalid(e.to_string()))
}

/// Write the header of the volume in `dir`: from here on the directory is a volume.
fn write_header(dir: &Path, h: &VolumeHeader, mac: Option<&SecretKey>) -> Result<(), VolumeError> {
    let hp = dir.join(HEADER);
    fsutil::atomic_write(&hp, &h.encode(mac), 0o600).map_err(|e| VolumeError::io(&hp, e))
}
