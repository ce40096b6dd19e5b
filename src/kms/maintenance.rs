//! Lazy maintenance, run on every access to a key and over all keys at open: deleting a key
//! whose waiting period is over, rotating one whose automatic rotation is due. Also the
//! AWS-managed keys (`alias/aws/<service>`), created on first use, and new key records and
//! material.

use super::clock::{DAY_MS, Millis};
use super::error::KmsError;
use super::keystore::{AliasEntry, LoadedKey};
use super::policy::managed_policy;
use super::record::{
    AutoRotation, KeyManager, KeyRecord, KeySecret, KeyState, KeyUsage, Material, Material32,
    MaterialOrigin, Origin,
};
use super::resolve::parse_uuid;
use super::service::{Kms, PurgeReport};
use crate::crypto;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Kms {
    pub(super) fn deletion_due(&self, r: &KeyRecord, now: Millis) -> bool {
        r.state == KeyState::PendingDeletion && r.deletion_ms.is_some_and(|d| now >= d)
    }

    /// Automatic rotation is due (a multi-Region replica asks its primary instead).
    fn rotation_due(&self, r: &KeyRecord, now: Millis) -> bool {
        r.state == KeyState::Enabled
            && r.rotation.is_some_and(|rot| now >= rot.next_ms)
            && !self.is_replica(r)
    }

    /// Delete the key if its waiting period is over; rotate it if rotation is due.
    pub(super) fn maintain(&self, k: Arc<LoadedKey>) -> Result<Option<Arc<LoadedKey>>, KmsError> {
        let k = self.expire_if_due(k)?;
        let now = self.clock.now_ms();
        if !self.deletion_due(&k.record, now) && !self.rotation_due(&k.record, now) {
            if k.record.rotation.is_some_and(|rot| now >= rot.next_ms) && self.is_replica(&k.record)
            {
                return self.replica_rotation(k);
            }
            return Ok(Some(k));
        }
        let id = k.record.key_id;
        let _g = self.ks.lock()?;
        let Some(cur) = self.ks.load_uncached(&id)? else {
            return Ok(None);
        };
        if self.deletion_due(&cur.record, now) {
            self.delete_locked(&id)?;
            return Ok(None);
        }
        if self.rotation_due(&cur.record, now) {
            let mut rec = cur.record.clone();
            let mut rot = rec.rotation.expect("rotation is due");
            let mut n = 0;
            while now >= rot.next_ms && n < 10_000 {
                push_material(&mut rec, rot.next_ms, MaterialOrigin::AutomaticRotation)?;
                rot.next_ms += rot.period_days as i64 * DAY_MS;
                n += 1;
            }
            rec.rotation = Some(rot);
            let arn = self.arn(&id);
            let loaded = self.system_action("RotateKey", arn, || self.ks.put(rec))?;
            drop(_g);
            self.sync_replicas(&loaded.record)?;
            return Ok(Some(loaded));
        }
        Ok(Some(cur))
    }

    /// Delete a key and its aliases (and a multi-Region key's Region from its set). The
    /// caller holds the lock.
    pub(super) fn delete_locked(&self, id: &[u8; 16]) -> Result<(), KmsError> {
        let gone = self.ks.load_uncached(id)?;
        self.system_action("DeleteKey", self.arn(id), || {
            let target = uuid::Uuid::from_bytes(*id).to_string();
            let table = self.ks.aliases()?;
            if table.values().any(|e| e.target == target) {
                let mut t = (*table).clone();
                t.retain(|_, e| e.target != target);
                self.ks.put_aliases(t)?;
            }
            self.remove_grants(id)?;
            self.remove_import_params(id)?;
            self.ks.remove(id)
        })?;
        match gone {
            Some(k) => self.leave_set(&k.record),
            None => Ok(()),
        }
    }

    /// Delete every key (customer and AWS-managed) and every alias of this KMS's region
    /// (for [`Kms::reset`], which does it in every region). How many keys were deleted.
    pub(super) fn wipe(&self) -> Result<usize, KmsError> {
        let _g = self.ks.lock()?;
        let ids = self.ks.list_ids()?;
        if !self.ks.aliases()?.is_empty() {
            self.ks.put_aliases(Default::default())?;
        }
        for id in &ids {
            self.remove_grants(id)?;
            self.remove_import_params(id)?;
            self.ks.remove(id)?;
        }
        Ok(ids.len())
    }

    /// Run lazy maintenance over every key now (`kmsfs kms purge`); the report names the
    /// keys deleted or rotated since the KMS opened, the sweep at open included (it runs
    /// first, so without it a `purge` would find nothing left to report).
    pub fn purge(&self) -> Result<PurgeReport, KmsError> {
        let now = self.sweep()?;
        let mut rep = std::mem::take(&mut *self.swept.lock().unwrap_or_else(|e| e.into_inner()));
        rep.deleted.extend(now.deleted);
        rep.rotated.extend(now.rotated);
        rep.damaged = now.damaged;
        Ok(rep)
    }

    /// The sweep at open; its deletions and rotations wait for the next [`Kms::purge`].
    pub(super) fn sweep_at_open(&self) -> Result<(), KmsError> {
        let r = self.sweep()?;
        let mut s = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        s.deleted.extend(r.deleted);
        s.rotated.extend(r.rotated);
        Ok(())
    }

    /// Run lazy maintenance over every key.
    fn sweep(&self) -> Result<PurgeReport, KmsError> {
        let mut rep = PurgeReport::default();
        for id in self.ks.list_ids()? {
            let before = match self.ks.get(&id) {
                Ok(Some(k)) => k,
                Ok(None) => continue,
                Err(e) => {
                    rep.damaged.push(e.to_string());
                    continue;
                }
            };
            let versions = before.record.materials.len();
            match self.maintain(before)? {
                None => rep.deleted.push(self.arn(&id)),
                Some(k) if k.record.materials.len() != versions => rep.rotated.push(self.arn(&id)),
                Some(_) => {}
            }
        }
        Ok(rep)
    }

    /// The AWS-managed key of `service`, created on first use.
    pub(super) fn managed_key(
        &self,
        service: &str,
        description: &str,
    ) -> Result<Arc<LoadedKey>, KmsError> {
        let alias = format!("alias/aws/{service}");
        let _g = self.ks.lock()?;
        let table = self.ks.aliases()?;
        if let Some(e) = table.get(&alias) {
            let id = parse_uuid(&e.target)?;
            if let Some(k) = self.ks.load_uncached(&id)? {
                return Ok(k);
            }
        }
        let now = self.clock.now_ms();
        let mut rec = new_record(
            now,
            description.to_string(),
            KeyManager::Aws,
            BTreeMap::new(),
        )?;
        rec.policy = managed_policy(&self.account, service);
        rec.rotation = Some(AutoRotation {
            period_days: 365,
            next_ms: now + 365 * DAY_MS,
        });
        let id = rec.key_id;
        self.system_action("CreateKey", self.arn(&id), || {
            let loaded = self.ks.put(rec)?;
            let mut t = (*table).clone();
            t.insert(
                alias,
                AliasEntry {
                    target: uuid::Uuid::from_bytes(id).to_string(),
                    created_ms: now,
                    updated_ms: now,
                },
            );
            self.ks.put_aliases(t)?;
            Ok(loaded)
        })
    }
}

/// New random key material.
fn random_material(
    version: u32,
    created_ms: Millis,
    origin: MaterialOrigin,
) -> Result<Material, KmsError> {
    let mut secret = Material32(zeroize::Zeroizing::new([0u8; 32]));
    crypto::fill_random(&mut secret.0[..])?;
    let mut id = [0u8; 32];
    crypto::fill_random(&mut id)?;
    Ok(Material {
        version,
        id,
        created_ms,
        origin,
        secret: KeySecret::Aes256(secret),
    })
}

/// Add a new current material version to `r` (a rotation).
pub(super) fn push_material(
    r: &mut KeyRecord,
    created_ms: Millis,
    origin: MaterialOrigin,
) -> Result<(), KmsError> {
    let v = r.materials.len() as u32 + 1;
    r.materials.push(random_material(v, created_ms, origin)?);
    Ok(())
}

/// A new enabled key with a random id and its first material.
pub(super) fn new_record(
    now: Millis,
    description: String,
    manager: KeyManager,
    tags: BTreeMap<String, String>,
) -> Result<KeyRecord, KmsError> {
    Ok(KeyRecord {
        key_id: *uuid::Uuid::new_v4().as_bytes(),
        created_ms: now,
        description,
        state: KeyState::Enabled,
        manager,
        deletion_ms: None,
        pending_window_days: None,
        rotation: None,
        materials: vec![random_material(1, now, MaterialOrigin::Created)?],
        tags,
        policy: String::new(),
        spec: None,
        usage: KeyUsage::EncryptDecrypt,
        origin: Origin::AwsKms,
        multi_region: None,
        imported: None,
    })
}
