//! Keys: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, UpdateKeyDescription, and
//! the validation of a new key's usage, spec, origin and description.

use super::Result;
use super::tags::validate_tags;
use super::{check_grant_tokens, check_limit, invalid_marker, next_marker, page};
use crate::kms::error::KmsError;
use crate::kms::maintenance::new_record;
use crate::kms::policy::{check_policy, default_policy};
use crate::kms::record::{KeyManager, KeyState};
use crate::kms::resolve::parse_uuid;
use crate::kms::service::Call;
use crate::kms::types::*;
use std::collections::BTreeMap;

/// The origin of a CreateKey request (`import::check_origin`: AWS_KMS or EXTERNAL; the key
/// spec and usage are `key_specs::key_kind`'s, the Region `multi_region`'s).
fn check_key_kind(req: &CreateKeyRequest) -> Result<()> {
    super::import::check_origin(req.origin.as_deref()).map(|_| ())
}

/// Description: at most 8192 characters.
pub(in crate::kms) fn check_description(d: &str) -> Result<()> {
    if d.len() > 8192 {
        return Err(KmsError::bound(
            format!("<{} characters>", d.len()),
            "description",
            "Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

pub(super) fn create_key(c: &Call, req: CreateKeyRequest) -> Result<CreateKeyResponse> {
    // kms:KeySpec and kms:KeyUsage are the request's (authorize.rs, STAR_CHECKED_INSIDE).
    let spec = req
        .key_spec
        .as_ref()
        .or(req.customer_master_key_spec.as_ref());
    c.note_request_keys(|k| {
        k.key_spec = spec.cloned();
        k.key_usage = req.key_usage.clone();
    });
    c.authorize_star("kms:CreateKey")?;
    let kind = super::key_specs::key_kind(&req)?;
    check_key_kind(&req)?;
    let description = req.description.clone().unwrap_or_default();
    check_description(&description)?;
    let tags = validate_tags(&BTreeMap::new(), req.tags.as_deref().unwrap_or(&[]))?;
    let policy = match &req.policy {
        Some(pol) => check_policy(pol)?,
        None => default_policy(&c.account),
    };
    let mut rec = new_record(c.clock.now_ms(), description, KeyManager::Customer, tags)?;
    super::key_specs::apply(&mut rec, kind)?;
    super::multi_region::make_multi_region(c, &mut rec, req.multi_region)?;
    if req.policy.is_some() {
        let bypass = req.bypass_policy_lockout_safety_check;
        c.check_lockout(&policy, &c.arn(&rec.key_id), bypass)?;
    }
    rec.policy = policy;
    super::import::apply_origin(req.origin.as_deref(), &mut rec)?;
    c.note_key(c.arn(&rec.key_id));
    let _g = c.ks.lock()?;
    let loaded = c.ks.put(rec)?;
    Ok(CreateKeyResponse {
        key_metadata: c.metadata(&loaded.record),
    })
}

pub(super) fn describe_key(c: &Call, req: KeyIdRequest) -> Result<DescribeKeyResponse> {
    check_grant_tokens(&req.grant_tokens)?;
    let k = c.resolve_noted(&req.key_id, true)?;
    Ok(DescribeKeyResponse {
        key_metadata: c.metadata(&k.record),
    })
}

pub(super) fn list_keys(c: &Call, req: ListRequest) -> Result<ListKeysResponse> {
    let limit = check_limit(req.limit)?;
    let after = match &req.marker {
        Some(m) => Some(parse_uuid(m).map_err(|_| invalid_marker())?),
        None => None,
    };
    let ids = c.ks.list_ids()?;
    let live = ids.into_iter().filter(|id| {
        // Keys whose deletion is due disappear; damaged records are still listed.
        after.is_none_or(|a| *id > a) && !matches!(c.get_live(id), Ok(None))
    });
    let (ids, truncated) = page(live, limit);
    let keys: Vec<KeyListEntry> = ids
        .iter()
        .map(|id| KeyListEntry {
            key_id: c.key_id_string(id),
            key_arn: c.arn(id),
        })
        .collect();
    Ok(ListKeysResponse {
        next_marker: next_marker(truncated, &keys, |k| k.key_id.clone()),
        keys,
        truncated,
    })
}

pub(super) fn enable_key(c: &Call, req: KeyIdRequest) -> Result<()> {
    c.change_customer_key(&req.key_id, "AWS manages its state", |r| {
        super::import::refuse_pending_import(c, r)?;
        r.state = KeyState::Enabled;
        Ok(())
    })
}

pub(super) fn disable_key(c: &Call, req: KeyIdRequest) -> Result<()> {
    c.change_customer_key(&req.key_id, "it cannot be disabled", |r| {
        super::import::refuse_pending_import(c, r)?;
        r.state = KeyState::Disabled;
        Ok(())
    })
}

pub(super) fn update_key_description(c: &Call, req: UpdateKeyDescriptionRequest) -> Result<()> {
    check_description(&req.description)?;
    c.change_customer_key(&req.key_id, "its description cannot be changed", |r| {
        r.description = req.description.clone();
        Ok(())
    })
}
