//! The snapshot service of one home: create (consistent while mounted, incremental),
//! list, describe, delete (frees exactly the chunks no other snapshot needs), copy, verify
//! and restore to a new volume, following the EBS rules (docs/ARCHITECTURE.md indexes where
//! each rule is carried out and tested). Volumes are reached through `volume::backing` only.
//!
//! Layout: `snapshots/records/snap-*.json` (one record per snapshot, written last and
//! atomically: a snapshot exists when its record does), `snapshots/objects/` (chunks and
//! manifests by SHA-256), `snapshots/tmp/` (scratch volumes of copies under a new key),
//! `snapshots/lock` (held while the store changes).

use super::SnapshotError;
use super::manifest::{Entry, Manifest};
use super::progress::Progress;
use super::rekey;
use super::sharing::Record;
use super::store::{Hash, LocalStore, ObjectStore};
use super::tree;
use crate::crypto::{SecretKey, hex, sha256, unhex};
use crate::fsutil::{self, FileLock};
use crate::home::Home;
use crate::kms::Client;
use crate::kms::types::{DecryptRequest, KeyIdRequest};
use crate::timefmt::now_ms;
use crate::volume::backing::{self, CreateVolume, Held, StoredKey, VolumeInfo, Volumes};
use crate::volume::keys::VolumeKeys;
use crate::volume::rekey::Rekey;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A snapshot as `snapshot describe` prints it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotInfo {
    pub snapshot_id: String,
    pub volume_id: String,
    pub state: String,
    pub start_time: String,
    pub start_time_ms: i64,
    pub progress: String,
    pub description: String,
    pub encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kms_key_id: Option<String>,
    /// The volume's size in GiB (rounded up), as EBS reports it.
    pub volume_size: u64,
    pub volume_size_bytes: u64,
    /// Bytes of the volume's data the snapshot holds (its logical size).
    pub full_snapshot_size_in_bytes: u64,
    /// Bytes of chunks this snapshot added to the store.
    pub bytes_added: u64,
    pub chunks_added: u64,
    pub chunk_count: u64,
    pub manifest_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_snapshot_id: Option<String>,
    /// The account that owns the snapshot (records written before owners were kept: the
    /// home's account).
    #[serde(default)]
    pub owner_id: String,
}

/// What `snapshot verify` found for one snapshot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyReport {
    pub snapshot_id: String,
    pub chunks_checked: u64,
    pub bytes_checked: u64,
    /// One line per problem, naming the chunk or the manifest; empty when intact.
    pub problems: Vec<String>,
}

pub struct SnapshotService {
    home: Home,
    kms: Arc<dyn Client>,
    volumes: Volumes,
    store: LocalStore,
    /// The account the service acts for: owner of what it creates, checked by
    /// [`SnapshotService::may_copy`] before a copy or restore (the home's by default).
    account: String,
    /// The store's temp files of dead writers were swept (once per service: a CLI command
    /// makes one, so a create or copy walks the store at most once for it).
    swept: std::sync::Once,
}

/// The prefix of snapshot ids.
const ID_PREFIX: &str = "snap";

fn valid_id(id: &str) -> bool {
    backing::is_resource_id(ID_PREFIX, id)
}

fn new_id() -> Result<String, SnapshotError> {
    backing::new_resource_id(ID_PREFIX).map_err(|e| SnapshotError::Invalid(e.to_string()))
}

/// `r`'s value, or None where the file or directory at `path` does not exist.
fn unless_missing<T>(r: io::Result<T>, path: &Path) -> Result<Option<T>, SnapshotError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SnapshotError::io(path, e)),
    }
}

/// The manifest of the stored tree of `held` (a volume of `volume_id`) read as `entries`.
fn manifest_of(volume_id: &str, held: &Held, entries: Vec<Entry>) -> Manifest {
    let tree = (held.size(), held.encrypted());
    manifest_with(volume_id, tree, held.key().clone(), entries)
}

/// The manifest of `entries`, a stored tree of a volume of `volume_id` (`size` bytes,
/// `encrypted` or not) under the data key `key`.
fn manifest_with(
    volume_id: &str,
    (size, encrypted): (u64, bool),
    key: StoredKey,
    entries: Vec<Entry>,
) -> Manifest {
    Manifest {
        volume_id: volume_id.to_string(),
        volume_size: size,
        encrypted,
        kms_key_arn: key.kms_key_arn,
        wrapped_dek: key.wrapped_dek,
        dek_context: key.dek_context,
        entries,
    }
}

/// The data key `m` keeps, as a volume header keeps it.
fn stored_key(m: &Manifest) -> StoredKey {
    StoredKey {
        kms_key_arn: m.kms_key_arn.clone(),
        wrapped_dek: m.wrapped_dek.clone(),
        dek_context: m.dek_context.clone(),
    }
}

/// Total bytes of the regular files under `dir` (for the progress line).
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

impl SnapshotService {
    pub fn new(home: Home, kms: Arc<dyn Client>) -> SnapshotService {
        let volumes = Volumes::new(home.clone(), kms.clone());
        let store = LocalStore::new(&home.snapshots_dir().join("objects"));
        let account = home.config().account_id.clone();
        SnapshotService {
            home,
            kms,
            volumes,
            store,
            account,
            swept: std::sync::Once::new(),
        }
    }

    /// The same service acting for `account` (a 12-digit account id): it owns the snapshots
    /// this service creates and copies, and may copy or restore only what it owns or what is
    /// shared with it; it snapshots only the account's volumes, and restores into volumes
    /// the account owns.
    pub fn acting_for(mut self, account: &str) -> SnapshotService {
        self.account = account.to_string();
        self.volumes = self.volumes.acting_for(account);
        self
    }

    /// The account the service acts for.
    pub fn account(&self) -> &str {
        &self.account
    }

    pub(super) fn kms(&self) -> &dyn Client {
        self.kms.as_ref()
    }

    fn root(&self) -> PathBuf {
        self.home.snapshots_dir()
    }

    fn records(&self) -> PathBuf {
        self.root().join("records")
    }

    /// The object store (tests reach chunks through it).
    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    fn record_path(&self, id: &str) -> Result<PathBuf, SnapshotError> {
        if !valid_id(id) {
            return Err(SnapshotError::BadId(id.to_string()));
        }
        Ok(self.records().join(format!("{id}.json")))
    }

    /// Hold the store's lock (other processes wait up to the lock timeout).
    pub(super) fn lock(&self) -> Result<FileLock, SnapshotError> {
        let root = self.root();
        fsutil::create_dir_durable(&self.records(), 0o700)
            .map_err(|e| SnapshotError::io(&root, e))?;
        let p = root.join("lock");
        FileLock::acquire(&p, fsutil::lock_timeout().max(Duration::from_secs(60))).map_err(|e| {
            SnapshotError::Store(format!(
                "{}: another kmsfs process is changing the snapshot store ({e})",
                p.display()
            ))
        })
    }

    /// Scratch space of an earlier copy that did not finish, and (once) the temp files of
    /// store writers that died: the store's listing sweeps them, the walk gc also uses.
    fn clean_tmp(&self) {
        let _ = std::fs::remove_dir_all(self.root().join("tmp"));
        self.swept.call_once(|| {
            let _ = self.store.list();
        });
    }

    /// A change to the store that failed (a full disk) keeps no chunk that nothing
    /// references: collect them at once, still under the lock. The failure stands.
    fn collect_on_failure<T>(&self, r: Result<T, SnapshotError>) -> Result<T, SnapshotError> {
        if r.is_err() {
            self.store.discard();
            let _ = self.gc();
        }
        r
    }

    pub fn describe(&self, id: &str) -> Result<SnapshotInfo, SnapshotError> {
        Ok(self.read_record(id)?.info)
    }

    /// The snapshot's record: what `describe` prints and its `createVolumePermission`.
    pub(super) fn read_record(&self, id: &str) -> Result<Record, SnapshotError> {
        let p = self.record_path(id)?;
        let Some(b) = unless_missing(std::fs::read(&p), &p)? else {
            return Err(SnapshotError::NotFound(id.to_string()));
        };
        let mut r: Record = serde_json::from_slice(&b)
            .map_err(|e| SnapshotError::Invalid(format!("{}: damaged record: {e}", p.display())))?;
        if r.info.owner_id.is_empty() {
            r.info.owner_id = self.home.config().account_id.clone();
        }
        Ok(r)
    }

    /// Replace the snapshot's record, atomically (callers hold the store's lock).
    pub(super) fn write_record(&self, r: &Record) -> Result<(), SnapshotError> {
        let p = self.record_path(&r.info.snapshot_id)?;
        let b = serde_json::to_vec_pretty(r).expect("record serializes");
        fsutil::atomic_write(&p, &b, 0o600).map_err(|e| SnapshotError::io(&p, e))
    }

    /// Every snapshot, oldest first.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        Ok(self.list_records()?.into_iter().map(|r| r.info).collect())
    }

    /// Every snapshot's record, oldest first.
    pub(super) fn list_records(&self) -> Result<Vec<Record>, SnapshotError> {
        let dir = self.records();
        let Some(rd) = unless_missing(std::fs::read_dir(&dir), &dir)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let n = e.file_name();
            let Some(id) = n.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if valid_id(id) {
                match self.read_record(id) {
                    Ok(r) => out.push(r),
                    Err(SnapshotError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        out.sort_by(|a, b| {
            let key = |r: &Record| (r.info.start_time_ms, r.info.snapshot_id.clone());
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    /// A snapshot's record and manifest (the manifest checked against its name).
    pub fn load(&self, id: &str) -> Result<(SnapshotInfo, Manifest), SnapshotError> {
        let info = self.describe(id)?;
        let m = self.manifest(&info)?;
        Ok((info, m))
    }

    fn manifest(&self, info: &SnapshotInfo) -> Result<Manifest, SnapshotError> {
        let bad = |why: String| {
            SnapshotError::DamagedManifest(format!(
                "manifest {} of {}: {why}",
                info.manifest_sha256, info.snapshot_id
            ))
        };
        let h: Hash = unhex(&info.manifest_sha256)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("the record does not name it properly".into()))?;
        let b = self.store.get(&h).map_err(|e| bad(e.to_string()))?;
        if sha256(&b) != h {
            return Err(bad("its bytes do not match its SHA-256 name".into()));
        }
        Manifest::decode(&b).map_err(|e| bad(e.to_string()))
    }

    /// Decrypt the snapshot's DEK through KMS: the check that its key is usable.
    fn unwrap(&self, info: &SnapshotInfo, m: &Manifest) -> Result<SecretKey, SnapshotError> {
        let key = m.kms_key_arn.clone().unwrap_or_default();
        let blob = m.wrapped_dek.clone().unwrap_or_default();
        let r = self
            .kms
            .decrypt(DecryptRequest {
                ciphertext_blob: blob,
                encryption_context: Some(m.dek_context.clone()),
                key_id: Some(key.clone()),
                ..Default::default()
            })
            .map_err(|e| SnapshotError::KeyUnusable {
                snapshot: info.snapshot_id.clone(),
                key,
                source: e,
            })?;
        SecretKey::from_slice(r.plaintext.expose())
            .ok_or_else(|| SnapshotError::DamagedManifest("the data key is not 32 bytes".into()))
    }

    fn key_arn(&self, key_id: &str) -> Result<String, SnapshotError> {
        Ok(self
            .kms
            .describe_key(KeyIdRequest {
                key_id: key_id.to_string(),
                grant_tokens: None,
            })?
            .key_metadata
            .arn)
    }

    /// Snapshot a volume, mounted or not, at one point in time. Only chunks the store lacks
    /// are written; files unchanged since the volume's previous snapshot are not read.
    pub fn create(
        &self,
        volume_id: &str,
        description: &str,
    ) -> Result<SnapshotInfo, SnapshotError> {
        let _lock = self.lock()?;
        self.clean_tmp();
        let r = self.capture(volume_id, description);
        self.collect_on_failure(r)
    }

    /// [`SnapshotService::create`] under the store's lock.
    fn capture(&self, volume_id: &str, description: &str) -> Result<SnapshotInfo, SnapshotError> {
        let started = now_ms();
        let held = self.volumes.hold(volume_id)?;
        let prev = self.previous(volume_id, &held.key().wrapped_dek);
        let mut progress = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Progress::new(&format!("snapshot of {volume_id}"), du(held.tree()))
        } else {
            Progress::hidden()
        };
        let (entries, stats) =
            tree::capture(held.tree(), &self.store, prev.as_ref(), &mut progress)?;
        let m = manifest_of(volume_id, &held, entries);
        drop(held);
        progress.finish();
        self.commit(
            &m,
            started,
            description,
            None,
            (stats.bytes_added, stats.chunks_added),
        )
    }

    /// The newest snapshot of `volume_id` under the same data key, for incremental reads.
    fn previous(&self, volume_id: &str, wrapped: &Option<Vec<u8>>) -> Option<Manifest> {
        let list = self.list().ok()?;
        list.iter()
            .rev()
            .filter(|i| i.volume_id == volume_id && i.source_snapshot_id.is_none())
            .filter_map(|i| self.manifest(i).ok())
            .find(|m| &m.wrapped_dek == wrapped && m.volume_id == volume_id)
    }

    /// Store the manifest, then the record (the moment the snapshot exists). `started_ms`
    /// is when the snapshot (or copy) began: its `StartTime`, as EBS reports it.
    fn commit(
        &self,
        m: &Manifest,
        started_ms: i64,
        description: &str,
        source: Option<&str>,
        (bytes_added, chunks_added): (u64, u64),
    ) -> Result<SnapshotInfo, SnapshotError> {
        let bytes = m.encode();
        let mh = sha256(&bytes);
        let store_err = |e: std::io::Error| SnapshotError::Store(e.to_string());
        self.store.put_if_absent(&mh, &bytes).map_err(store_err)?;
        self.store.flush().map_err(store_err)?;
        let id = new_id()?;
        let info = SnapshotInfo {
            snapshot_id: id.clone(),
            volume_id: m.volume_id.clone(),
            state: "completed".into(),
            start_time: crate::timefmt::rfc3339(started_ms),
            start_time_ms: started_ms,
            progress: "100%".into(),
            description: description.to_string(),
            encrypted: m.encrypted,
            kms_key_id: m.kms_key_arn.clone(),
            volume_size: m.volume_size.div_ceil(1 << 30),
            volume_size_bytes: m.volume_size,
            full_snapshot_size_in_bytes: m.data_bytes(),
            bytes_added,
            chunks_added,
            chunk_count: m.chunk_set().len() as u64,
            manifest_sha256: hex(&mh),
            source_snapshot_id: source.map(str::to_string),
            owner_id: self.account.clone(),
        };
        self.write_record(&Record {
            info: info.clone(),
            create_volume_permissions: Vec::new(),
            tags: Vec::new(),
        })?;
        Ok(info)
    }

    /// Delete a snapshot and the chunks no other snapshot references.
    pub fn delete(&self, id: &str) -> Result<SnapshotInfo, SnapshotError> {
        let _lock = self.lock()?;
        let info = self.describe(id)?;
        let p = self.record_path(id)?;
        // The record first: from here on the snapshot is gone, whatever happens next.
        fsutil::durable_remove(&p).map_err(|e| SnapshotError::io(&p, e))?;
        self.gc()?;
        Ok(info)
    }

    /// Remove every object that no remaining snapshot needs (also what a crash left).
    /// Refuses to remove anything if a manifest cannot be read.
    fn gc(&self) -> Result<(), SnapshotError> {
        let mut live = std::collections::HashSet::new();
        for info in self.list()? {
            let m = self.manifest(&info)?;
            live.insert(
                <Hash>::try_from(unhex(&info.manifest_sha256).unwrap_or_default())
                    .unwrap_or([0; 32]),
            );
            live.extend(m.chunk_set());
        }
        let store_err = |e: std::io::Error| SnapshotError::Store(e.to_string());
        for h in self.store.list().map_err(store_err)? {
            if !live.contains(&h) {
                self.store.delete(&h).map_err(store_err)?;
            }
        }
        self.store.flush().map_err(store_err)
    }

    /// Check that every chunk the snapshot needs is present and intact.
    pub fn verify(&self, id: &str) -> Result<VerifyReport, SnapshotError> {
        let info = self.describe(id)?;
        let mut r = VerifyReport {
            snapshot_id: id.to_string(),
            chunks_checked: 0,
            bytes_checked: 0,
            problems: Vec::new(),
        };
        let m = match self.manifest(&info) {
            Ok(m) => m,
            Err(e) => {
                r.problems.push(e.to_string());
                return Ok(r);
            }
        };
        let set = m.chunk_set();
        let mut progress = Progress::new(&format!("verify {id}"), m.data_bytes());
        for h in &set {
            match tree::fetch(&self.store, h) {
                Ok(b) => {
                    r.bytes_checked += b.len() as u64;
                    progress.add(b.len() as u64);
                }
                Err(e) => r.problems.push(e.to_string()),
            }
            r.chunks_checked += 1;
        }
        Ok(r)
    }

    /// Create a volume from a snapshot. Under the snapshot's own key the volume gets the
    /// same wrapped DEK and the chunks as they are; under another key (or from an
    /// unencrypted snapshot to an encrypted volume) every block is re-encrypted.
    /// Only the owner, or an account the snapshot is shared with, may restore it.
    pub fn restore(&self, id: &str, opts: &CreateVolume) -> Result<VolumeInfo, SnapshotError> {
        self.may_copy(id, &self.account)?;
        let (info, m) = self.load(id)?;
        self.restore_into(&self.volumes, &info, &m, opts, &format!("restore of {id}"))
    }

    fn restore_into(
        &self,
        volumes: &Volumes,
        info: &SnapshotInfo,
        m: &Manifest,
        opts: &CreateVolume,
        label: &str,
    ) -> Result<VolumeInfo, SnapshotError> {
        let id = &info.snapshot_id;
        if opts.size != 0 && opts.size < m.volume_size {
            return Err(SnapshotError::Invalid(format!(
                "--size {} is smaller than snapshot {id} ({} bytes)",
                opts.size, m.volume_size
            )));
        }
        let size = opts.size.max(m.volume_size);
        let (encrypt, same) = self.target(info, m, opts.kms_key_id.as_deref(), opts.encrypted)?;
        let mut progress = Progress::new(label, m.data_bytes());
        let dek = if m.encrypted {
            Some(self.unwrap(info, m)?)
        } else {
            None
        };
        if same {
            return volumes.create_restored(size, stored_key(m), id, dek.as_ref(), |data| {
                tree::restore(m, data, &self.store, &mut progress)
            });
        }
        debug_assert!(encrypt);
        let opts = CreateVolume {
            size,
            kms_key_id: opts.kms_key_id.clone(),
            encrypted: Some(true),
            snapshot_id: Some(id.clone()),
        };
        self.reencrypt(volumes, m, dek.as_ref(), &opts, &mut progress)
    }

    /// A new data key: lay the snapshot's stored tree out in scratch space under its own key
    /// (`dek`), then copy the plaintext into a new volume made as `opts` asks.
    fn reencrypt(
        &self,
        volumes: &Volumes,
        m: &Manifest,
        dek: Option<&SecretKey>,
        opts: &CreateVolume,
        progress: &mut Progress,
    ) -> Result<VolumeInfo, SnapshotError> {
        let scratch = self.root().join("tmp").join(new_id()?);
        fsutil::create_dir_durable(&scratch, 0o700).map_err(|e| SnapshotError::io(&scratch, e))?;
        let r = tree::restore(m, &scratch, &self.store, &mut Progress::hidden()).and_then(|()| {
            let mut told = |n| progress.add(n);
            Ok(volumes.create_reencrypted(&scratch, dek, m.volume_size, opts, &mut told)?)
        });
        let _ = std::fs::remove_dir_all(&scratch);
        r
    }

    /// Whether the result is encrypted, and whether it keeps the snapshot's data key.
    fn target(
        &self,
        info: &SnapshotInfo,
        m: &Manifest,
        key: Option<&str>,
        encrypted: Option<bool>,
    ) -> Result<(bool, bool), SnapshotError> {
        if m.encrypted && encrypted == Some(false) {
            return Err(SnapshotError::MustStayEncrypted(info.snapshot_id.clone()));
        }
        if encrypted == Some(false) && key.is_some() {
            return Err(SnapshotError::Invalid(
                "--unencrypted and --kms-key-id contradict each other".into(),
            ));
        }
        let by_default = self.volumes.encryption_by_default()?;
        let encrypt = m.encrypted || key.is_some() || encrypted == Some(true) || by_default;
        let same = if m.encrypted {
            match key {
                None => true,
                Some(k) => Some(self.key_arn(k)?) == m.kms_key_arn,
            }
        } else {
            !encrypt
        };
        Ok((encrypt, same))
    }

    /// Copy a snapshot. Under the same key the copy shares every chunk and adds none; under
    /// another key (or encrypting an unencrypted snapshot) it is a full, re-encrypted copy.
    /// Only the owner, or an account the snapshot is shared with, may copy it; the copy
    /// belongs to the account the service acts for, and is shared with no one.
    pub fn copy(
        &self,
        id: &str,
        kms_key_id: Option<&str>,
        encrypted: bool,
        description: Option<&str>,
    ) -> Result<SnapshotInfo, SnapshotError> {
        let started = now_ms();
        let _lock = self.lock()?;
        self.may_copy(id, &self.account)?;
        self.clean_tmp();
        let (info, m) = self.load(id)?;
        let desc = description
            .map(str::to_string)
            .unwrap_or_else(|| format!("Copied for DestinationSnapshot from {id}"));
        let (_, same) = self.target(&info, &m, kms_key_id, encrypted.then_some(true))?;
        if same {
            if m.encrypted {
                // KMS must still allow the key (a disabled key stops the copy, as on EBS).
                drop(self.unwrap(&info, &m)?);
            }
            return self.commit(&m, started, &desc, Some(id), (0, 0));
        }
        let dir = self.root().join("tmp").join("volumes");
        let scratch = Volumes::in_dir(self.home.clone(), self.kms.clone(), dir.clone())
            .acting_for(&self.account);
        if let (true, Some(key)) = (m.encrypted, kms_key_id) {
            let r = self.copy_rekeyed(&info, &m, &scratch, key, started, &desc);
            return self.collect_on_failure(r);
        }
        fsutil::create_dir_durable(&dir, 0o700).map_err(|e| SnapshotError::io(&dir, e))?;
        let r = (|| {
            let v = self.restore_into(
                &scratch,
                &info,
                &m,
                &CreateVolume {
                    size: 0,
                    kms_key_id: kms_key_id.map(str::to_string),
                    encrypted: Some(true),
                    snapshot_id: Some(id.to_string()),
                },
                &format!("copy of {id}, step 1 of 2 (re-encrypting under the new key)"),
            )?;
            let held = scratch.hold(&v.volume_id)?;
            let mut progress = Progress::new(
                &format!("copy of {id}, step 2 of 2 (storing the re-encrypted chunks)"),
                du(held.tree()),
            );
            let (entries, stats) = tree::capture(held.tree(), &self.store, None, &mut progress)?;
            progress.finish();
            let nm = manifest_of(&info.volume_id, &held, entries);
            drop(held);
            self.commit(
                &nm,
                started,
                &desc,
                Some(id),
                (stats.bytes_added, stats.chunks_added),
            )
        })();
        self.clean_tmp();
        self.collect_on_failure(r)
    }

    /// Copy encrypted snapshot `info` (manifest `m`) under another KMS key: a new data key
    /// under `key` (its context names a fresh volume id, made through `scratch`), and the
    /// tree re-encrypted chunk by chunk from the store into the store.
    fn copy_rekeyed(
        &self,
        info: &SnapshotInfo,
        m: &Manifest,
        scratch: &Volumes,
        key: &str,
        started: i64,
        desc: &str,
    ) -> Result<SnapshotInfo, SnapshotError> {
        let id = &info.snapshot_id;
        let old = VolumeKeys::derive(&self.unwrap(info, m)?);
        let (stored, dek) = scratch.new_tree_key(key)?;
        let new = VolumeKeys::derive(&dek);
        drop(dek);
        let mut progress = Progress::new(
            &format!("copy of {id} (re-encrypting under the new key)"),
            m.data_bytes(),
        );
        let keys = Rekey {
            old: &old,
            new: &new,
        };
        let (entries, stats) = rekey::rekey(m, keys, &self.store, &mut progress)?;
        progress.finish();
        let nm = manifest_with(&m.volume_id, (m.volume_size, true), stored, entries);
        let added = (stats.bytes_added, stats.chunks_added);
        self.commit(&nm, started, desc, Some(id), added)
    }

    /// The principal this service acts as, for callers that set up KMS clients.
    pub fn principal() -> &'static str {
        backing::EBS_PRINCIPAL
    }
}
