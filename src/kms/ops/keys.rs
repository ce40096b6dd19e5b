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

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// A valid AWS enum value that kmsfs does not implement yet is UnsupportedOperation; an
/// invalid one is a ValidationException listing the valid set.
fn check_enum(
    v: Option<&str>,
    member: &str,
    all: &[&str],
    supported: &str,
    what: &str,
) -> Result<()> {
    match v {
        None => Ok(()),
        Some(s) if s == supported => Ok(()),
        Some(s) if all.contains(&s) => Err(KmsError::UnsupportedOperation(format!(
            "{what} {s} is not supported by kmsfs yet; only {supported} keys are"
        ))),
        Some(s) => Err(KmsError::bound(
            s,
            member,
            &format!("Member must satisfy enum value set: [{}]", all.join(", ")),
        )),
    }
}

/// The kind of key a CreateKey request asks for: only symmetric, single-Region AWS_KMS keys.
fn check_key_kind(req: &CreateKeyRequest) -> Result<()> {
    check_enum(
        req.key_usage.as_deref(),
        "keyUsage",
        KEY_USAGES,
        "ENCRYPT_DECRYPT",
        "KeyUsage",
    )?;
    if let (Some(a), Some(b)) = (&req.key_spec, &req.customer_master_key_spec)
        && a != b
    {
        return Err(KmsError::Validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.".into(),
        ));
    }
    for (spec, member) in [
        (&req.key_spec, "keySpec"),
        (&req.customer_master_key_spec, "customerMasterKeySpec"),
    ] {
        check_enum(
            spec.as_deref(),
            member,
            KEY_SPECS,
            "SYMMETRIC_DEFAULT",
            "KeySpec",
        )?;
    }
    super::import::check_origin(req.origin.as_deref())?;
    if req.multi_region == Some(true) {
        return Err(KmsError::UnsupportedOperation(
            "multi-Region keys are not supported by kmsfs".into(),
        ));
    }
    Ok(())
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
    check_key_kind(&req)?;
    let description = req.description.clone().unwrap_or_default();
    check_description(&description)?;
    let tags = validate_tags(&BTreeMap::new(), req.tags.as_deref().unwrap_or(&[]))?;
    let policy = match &req.policy {
        Some(pol) => check_policy(pol)?,
        None => default_policy(&c.account),
    };
    let mut rec = new_record(c.clock.now_ms(), description, KeyManager::Customer, tags)?;
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
            key_id: uuid::Uuid::from_bytes(*id).to_string(),
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
