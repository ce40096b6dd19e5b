//! Rotation of key material: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations. (Automatic rotation when due is lazy maintenance,
//! in `maintenance.rs`.)

use super::{Result, check_in_range, check_limit, invalid_marker, next_marker, page};
use crate::crypto;
use crate::kms::clock::DAY_MS;
use crate::kms::error::KmsError;
use crate::kms::maintenance::push_material;
use crate::kms::record::{AutoRotation, KeyManager, KeyRecord, KeyState, Material, MaterialOrigin};
use crate::kms::service::{Call, MAX_ON_DEMAND_ROTATIONS, state_message};
use crate::kms::types::*;
use crate::timefmt::epoch_secs;

/// RotationPeriodInDays: 90 to 2560, 365 when absent.
pub(in crate::kms) fn check_rotation_period(days: Option<u32>) -> Result<u32> {
    check_in_range(days.unwrap_or(365), "rotationPeriodInDays", 90, 2560, "")
}

/// The key's rotation may be changed: it is enabled and customer managed.
fn rotation_change_allowed(c: &Call, r: &KeyRecord) -> Result<()> {
    super::import::refuse_rotation(c, r)?;
    let arn = c.arn(&r.key_id);
    match r.state {
        KeyState::Disabled => return Err(KmsError::Disabled(format!("{arn} is disabled."))),
        KeyState::PendingDeletion => {
            return Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            )));
        }
        KeyState::Enabled => {}
        s @ (KeyState::PendingImport | KeyState::PendingReplicaDeletion) => {
            return Err(KmsError::InvalidState(state_message(&arn, s)));
        }
    }
    super::key_specs::require_rotatable(c, r)?;
    if r.manager == KeyManager::Aws {
        return Err(KmsError::UnsupportedOperation(format!(
            "{arn} is an AWS managed key: AWS rotates it every year and its rotation cannot be changed"
        )));
    }
    Ok(())
}

/// Apply `f` to the record of a key whose rotation may be changed (of a multi-Region key:
/// the primary's, then copied to its replicas).
fn change_rotation<T>(
    c: &Call,
    key_id: &str,
    f: impl FnOnce(&mut KeyRecord) -> Result<T>,
) -> Result<T> {
    let mut changed = None;
    let t = c.change_key(key_id, |r| {
        rotation_change_allowed(c, r)?;
        super::multi_region::refuse_replica(c, r, "change the rotation")?;
        let t = f(r)?;
        changed = r.multi_region.is_some().then(|| r.clone());
        Ok(t)
    })?;
    if let Some(r) = changed {
        c.sync_replicas(&r)?;
    }
    Ok(t)
}

pub(super) fn enable_key_rotation(c: &Call, req: EnableKeyRotationRequest) -> Result<()> {
    let days = check_rotation_period(req.rotation_period_in_days)?;
    let next_ms = c.clock.now_ms() + days as i64 * DAY_MS;
    change_rotation(c, &req.key_id, |r| {
        r.rotation = Some(AutoRotation {
            period_days: days,
            next_ms,
        });
        Ok(())
    })
}

pub(super) fn disable_key_rotation(c: &Call, req: KeyIdRequest) -> Result<()> {
    change_rotation(c, &req.key_id, |r| {
        r.rotation = None;
        Ok(())
    })
}

pub(super) fn get_key_rotation_status(
    c: &Call,
    req: KeyIdRequest,
) -> Result<GetKeyRotationStatusResponse> {
    let k = c.resolve_noted(&req.key_id, false)?;
    let rot = k.record.rotation;
    Ok(GetKeyRotationStatusResponse {
        key_rotation_enabled: rot.is_some(),
        key_id: c.arn(&k.record.key_id),
        rotation_period_in_days: rot.map(|r| r.period_days),
        next_rotation_date: rot.map(|r| epoch_secs(r.next_ms)),
    })
}

pub(super) fn rotate_key_on_demand(c: &Call, req: KeyIdRequest) -> Result<KeyIdResponse> {
    let now = c.clock.now_ms();
    change_rotation(c, &req.key_id, |r| {
        let key_id = c.arn(&r.key_id);
        if r.on_demand_rotations() >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {key_id}"
            )));
        }
        push_material(r, now, MaterialOrigin::OnDemandRotation)?;
        Ok(KeyIdResponse { key_id })
    })
}

/// A ListKeyRotations entry for material `m` of a key whose current version is `current`.
fn rotation_entry(arn: &str, m: &Material, current: u32) -> RotationsListEntry {
    RotationsListEntry {
        key_id: arn.to_string(),
        key_material_id: crypto::hex(&m.id),
        rotation_date: epoch_secs(m.created_ms),
        rotation_type: match m.origin {
            MaterialOrigin::OnDemandRotation => "ON_DEMAND",
            _ => "AUTOMATIC",
        }
        .into(),
        key_material_state: if m.version == current {
            "CURRENT"
        } else {
            "NON_CURRENT"
        }
        .into(),
    }
}

pub(super) fn list_key_rotations(c: &Call, req: ListRequest) -> Result<ListKeyRotationsResponse> {
    let limit = check_limit(req.limit)?;
    let k = c.resolve_noted(req.key_id.as_deref().unwrap_or(""), false)?;
    let arn = c.arn(&k.record.key_id);
    let after: u32 = match &req.marker {
        Some(m) => m.parse().map_err(|_| invalid_marker())?,
        None => 1,
    };
    let current = k.record.current().version;
    let listed = k.record.materials.iter().filter(|m| m.version > after);
    let (materials, truncated) = page(listed, limit);
    Ok(ListKeyRotationsResponse {
        rotations: materials
            .iter()
            .map(|m| rotation_entry(&arn, m, current))
            .collect(),
        next_marker: next_marker(truncated, &materials, |m| m.version.to_string()),
        truncated,
    })
}
