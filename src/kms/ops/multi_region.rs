//! Multi-Region keys: CreateKey's `MultiRegion`, ReplicateKey, UpdatePrimaryRegion, and
//! keeping a set in sync. A multi-Region key has the same id (`mrk-…`, `key_id.rs`) and
//! the same shared properties (material versions, rotation schedule, spec, usage, origin,
//! import state, the set itself) in the keystore of each Region of its set; its policy,
//! aliases, grants, tags, description and state are each Region's own. The primary is the
//! source of the shared properties: every change to them there is copied to each replica
//! ([`Kms::sync_replicas`], audited there as `SynchronizeMultiRegionKey`, as CloudTrail
//! does); a replica does not rotate by itself, it asks its primary to.

use super::Result;
use super::keys::check_description;
use super::tags::validate_tags;
use crate::kms::clock::{DAY_MS, Millis};
use crate::kms::error::KmsError;
use crate::kms::key_id;
use crate::kms::keystore::LoadedKey;
use crate::kms::policy::{check_policy, default_policy};
use crate::kms::record::{KeyManager, KeyRecord, KeyState, MultiRegion};
use crate::kms::resolve::NamesKey;
use crate::kms::service::{Call, Kms};
use crate::kms::types::*;
use std::collections::BTreeMap;
use std::sync::Arc;

impl NamesKey for ReplicateKeyRequest {}
impl NamesKey for UpdatePrimaryRegionRequest {}

/// CreateKey with `MultiRegion=true`: give the new record an `mrk-` id and make it the
/// primary of a set of one, in this Region.
pub(super) fn make_multi_region(c: &Call, rec: &mut KeyRecord, multi: Option<bool>) -> Result<()> {
    if multi != Some(true) {
        return Ok(());
    }
    let mut random = [0u8; 16];
    crate::crypto::fill_random(&mut random)?;
    rec.key_id = key_id::new_multi_region(random);
    rec.multi_region = Some(MultiRegion {
        primary_region: c.account.region.clone(),
        replica_regions: Vec::new(),
    });
    Ok(())
}

/// Whether `r` is a replica in this KMS's Region.
fn is_replica(kms: &Kms, r: &KeyRecord) -> bool {
    r.multi_region
        .as_ref()
        .is_some_and(|m| m.primary_region != kms.account.region)
}

/// The set of a key that must be a multi-Region primary here (UnsupportedOperation else).
fn primary_set(c: &Call, r: &KeyRecord) -> Result<MultiRegion> {
    let arn = c.arn(&r.key_id);
    match &r.multi_region {
        None => Err(KmsError::UnsupportedOperation(format!(
            "{arn} is not a multi-Region key."
        ))),
        Some(_) if is_replica(c, r) => Err(KmsError::UnsupportedOperation(format!(
            "{arn} is not a multi-region primary key."
        ))),
        Some(m) => Ok(m.clone()),
    }
}

/// Refuse `what` (a rotation change) on a multi-Region replica: only the primary's
/// rotation can be changed, and it is shared.
pub(super) fn refuse_replica(c: &Call, r: &KeyRecord, what: &str) -> Result<()> {
    if is_replica(c, r) {
        let primary = &r
            .multi_region
            .as_ref()
            .expect("a replica has a set")
            .primary_region;
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region replica key; {what} on its primary key in {primary}",
            c.arn(&r.key_id)
        )));
    }
    Ok(())
}

/// The replica record of `primary` in `region`: the shared properties and set, the
/// replica's own policy, description, tags, state (Enabled) and creation date.
fn replica_record(
    primary: &KeyRecord,
    set: MultiRegion,
    now: Millis,
    own: (String, String, BTreeMap<String, String>),
) -> KeyRecord {
    let mut r = primary.clone();
    (r.policy, r.description, r.tags) = own;
    r.created_ms = now;
    r.state = KeyState::Enabled;
    r.manager = KeyManager::Customer;
    r.deletion_ms = None;
    r.pending_window_days = None;
    r.multi_region = Some(set);
    r
}

pub(super) fn replicate_key(c: &Call, req: ReplicateKeyRequest) -> Result<ReplicateKeyResponse> {
    let description = req.description.clone().unwrap_or_default();
    check_description(&description)?;
    let tags = validate_tags(&BTreeMap::new(), req.tags.as_deref().unwrap_or(&[]))?;
    let k = c.resolve_usable(&req.key_id)?;
    let mut set = primary_set(c, &k.record)?;
    let region = req.replica_region.as_str();
    let replica_arn = c.arn_in(region, &k.record.key_id);
    c.note_destination_key(replica_arn.clone());
    if set.primary_region == region || set.replica_regions.iter().any(|g| g == region) {
        return Err(already_exists(&replica_arn));
    }
    let there = c.in_region(region)?;
    // AWS also needs kms:CreateKey in the replica's Region (an identity policy: IAM is
    // global, so the caller's own check decides it).
    c.authorize_star("kms:CreateKey")?;
    let policy = match &req.policy {
        Some(p) => {
            let p = check_policy(p)?;
            c.check_lockout(&p, &replica_arn, req.bypass_policy_lockout_safety_check)?;
            p
        }
        None => default_policy(&there.account),
    };
    set.replica_regions.push(region.to_string());
    set.replica_regions.sort();
    let now = c.clock.now_ms();
    let replica = replica_record(&k.record, set.clone(), now, (policy, description, tags));
    {
        let _g = there.ks.lock()?;
        if there.ks.load_uncached(&replica.key_id)?.is_some() {
            return Err(already_exists(&replica_arn));
        }
        there.ks.put(replica.clone())?;
    }
    let id = k.record.key_id;
    let primary = c.mutate(&id, |r| {
        r.multi_region = Some(set.clone());
        Ok(r.clone())
    })?;
    c.sync_replicas(&primary)?;
    Ok(ReplicateKeyResponse {
        replica_key_metadata: c.metadata_in(region, &replica),
        replica_policy: replica.policy.clone(),
        replica_tags: replica
            .tags
            .iter()
            .map(|(k, v)| Tag {
                tag_key: k.clone(),
                tag_value: v.clone(),
            })
            .collect(),
    })
}

fn already_exists(replica_arn: &str) -> KmsError {
    KmsError::AlreadyExists(format!("Replica key {replica_arn} already exists."))
}

pub(super) fn update_primary_region(c: &Call, req: UpdatePrimaryRegionRequest) -> Result<()> {
    let k = c.resolve_usable(&req.key_id)?;
    let set = primary_set(c, &k.record)?;
    let new = req.primary_region.as_str();
    if new == set.primary_region {
        return Ok(());
    }
    if !set.replica_regions.iter().any(|g| g == new) {
        return Err(KmsError::NotFound(format!(
            "{} has no replica in the Region {new}: replicate it there first.",
            c.arn(&k.record.key_id)
        )));
    }
    let mut replicas: Vec<String> = set
        .replica_regions
        .iter()
        .filter(|g| *g != new)
        .cloned()
        .chain([set.primary_region.clone()])
        .collect();
    replicas.sort();
    let swapped = MultiRegion {
        primary_region: new.to_string(),
        replica_regions: replicas,
    };
    let rec = c.mutate(&k.record.key_id, |r| {
        if r.multi_region.as_ref() != Some(&set) {
            return Err(KmsError::InvalidState(format!(
                "{} is updating.",
                c.arn(&r.key_id)
            )));
        }
        r.multi_region = Some(swapped.clone());
        Ok(r.clone())
    })?;
    c.sync_replicas(&rec)
}

impl Kms {
    /// Copy the shared properties of `src` (this Region's record of a multi-Region key,
    /// just changed) to the record of every other Region of its set. Holds no lock of this
    /// Region's keystore while it writes the others'.
    pub(in crate::kms) fn sync_replicas(&self, src: &KeyRecord) -> Result<()> {
        let Some(set) = &src.multi_region else {
            return Ok(());
        };
        let here = &self.account.region;
        for region in std::iter::once(&set.primary_region).chain(&set.replica_regions) {
            if region == here {
                continue;
            }
            let there = self.in_region(region)?;
            let arn = there.arn(&src.key_id);
            there.system_action("SynchronizeMultiRegionKey", arn, || {
                match there.mutate(&src.key_id, |r| {
                    copy_shared(src, r);
                    Ok(())
                }) {
                    // A replica deleted meanwhile leaves the set when its deletion is done.
                    Err(KmsError::NotFound(_)) => Ok(()),
                    other => other,
                }
            })?;
        }
        Ok(())
    }

    /// A replica whose automatic rotation is due asks its primary (whose lazy maintenance
    /// rotates it and copies the new material here), then is read again.
    pub(in crate::kms) fn replica_rotation(
        &self,
        k: Arc<LoadedKey>,
    ) -> Result<Option<Arc<LoadedKey>>> {
        let primary = match &k.record.multi_region {
            Some(m) if m.primary_region != self.account.region => m.primary_region.clone(),
            _ => return Ok(Some(k)),
        };
        self.in_region(&primary)?.get_live(&k.record.key_id)?;
        Ok(self.ks.load_uncached(&k.record.key_id)?.or(Some(k)))
    }

    /// Whether `r` is a replica here (it does not rotate by itself).
    pub(in crate::kms) fn is_replica(&self, r: &KeyRecord) -> bool {
        is_replica(self, r)
    }

    /// Key `r` of this Region was deleted: take this Region out of its set in the other
    /// Regions. A primary waiting for its replicas' deletion (PendingReplicaDeletion) whose
    /// last replica this was begins its own waiting period.
    pub(in crate::kms) fn leave_set(&self, r: &KeyRecord) -> Result<()> {
        let Some(set) = &r.multi_region else {
            return Ok(());
        };
        let here = &self.account.region;
        let mut left = set.clone();
        left.replica_regions.retain(|g| g != here);
        let now = self.clock.now_ms();
        for region in std::iter::once(&set.primary_region).chain(&left.replica_regions) {
            if region == here {
                continue;
            }
            let there = self.in_region(region)?;
            let arn = there.arn(&r.key_id);
            there.system_action("SynchronizeMultiRegionKey", arn, || {
                match there.mutate(&r.key_id, |o| {
                    if let Some(m) = &mut o.multi_region {
                        m.replica_regions.retain(|g| g != here);
                        if m.replica_regions.is_empty()
                            && o.state == KeyState::PendingReplicaDeletion
                        {
                            let days = o.pending_window_days.unwrap_or(30);
                            o.state = KeyState::PendingDeletion;
                            o.deletion_ms = Some(now + days as i64 * DAY_MS);
                        }
                    }
                    Ok(())
                }) {
                    Err(KmsError::NotFound(_)) => Ok(()),
                    other => other,
                }
            })?;
        }
        Ok(())
    }
}

/// ScheduleKeyDeletion of a multi-Region primary that has replicas: it waits for them
/// (PendingReplicaDeletion, no deletion date yet); its window starts when the last is gone.
pub(super) fn waits_for_replicas(kms: &Kms, r: &KeyRecord) -> bool {
    r.multi_region
        .as_ref()
        .is_some_and(|m| !is_replica(kms, r) && !m.replica_regions.is_empty())
}

/// The shared properties of a multi-Region key, from `src` to `dst`.
fn copy_shared(src: &KeyRecord, dst: &mut KeyRecord) {
    dst.materials = src.materials.clone();
    dst.rotation = src.rotation;
    dst.spec = src.spec;
    dst.usage = src.usage;
    dst.origin = src.origin;
    dst.imported = src.imported.clone();
    dst.multi_region = src.multi_region.clone();
}
