//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, with
//! AWS's validation (operations that suit the key, constraints, names, principals) beside
//! them. The store and the grant tokens are in `kms::grants`.

use super::Result;
use super::{check_grant_tokens, check_in_range, invalid_marker, next_marker, page};
use crate::kms::authorize::check_narrower;
use crate::kms::context::EncryptionContext;
use crate::kms::error::KmsError;
use crate::kms::grants::{Grant, GrantToken, is_grant_id, new_grant_id};
use crate::kms::service::Call;
use crate::kms::types::*;
use crate::timefmt::epoch_secs;
use std::sync::Arc;

/// Grants one key may have.
pub(crate) const MAX_GRANTS_PER_KEY: usize = 50_000;
/// Encryption context pairs in one constraint.
const MAX_CONSTRAINT_PAIRS: usize = 8;
/// Characters of a constraint's value.
const MAX_CONSTRAINT_VALUE: usize = 384;

/// Every `GrantOperation`, as the model lists them.
pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// The operations a grant on a key of `key_spec` and `key_usage` may allow (KMS guide
/// `grants.md`: a grant's operations must suit its key).
pub(crate) fn operations_for(key_spec: &str, key_usage: &str) -> Vec<&'static str> {
    let own: &[&str] = match (key_spec, key_usage) {
        ("SYMMETRIC_DEFAULT", _) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        (_, "SIGN_VERIFY") => &["Sign", "Verify", "GetPublicKey"],
        (_, "GENERATE_VERIFY_MAC") => &["GenerateMac", "VerifyMac"],
        (_, "KEY_AGREEMENT") => &["DeriveSharedSecret", "GetPublicKey"],
        (_, "ENCAPSULATE_DECAPSULATE") => &["Encapsulate", "Decapsulate", "GetPublicKey"],
        _ => &[
            "Encrypt",
            "Decrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
    };
    let mut ops = vec!["CreateGrant", "RetireGrant", "DescribeKey"];
    ops.extend_from_slice(own);
    ops
}

/// A principal member (`granteePrincipal`, `retiringPrincipal`): AWS's pattern and length,
/// and a principal a grant can name (an ARN, an account id, or a service principal).
fn check_principal(v: &str, member: &str) -> Result<()> {
    if v.is_empty() {
        return Err(KmsError::bound("null", member, "Member must not be null"));
    }
    let pattern_ok = v
        .chars()
        .all(|ch| ch.is_alphanumeric() || "_+=,.@:/-".contains(ch));
    if v.chars().count() > 256 || !pattern_ok {
        let shown: String = v.chars().take(257).collect();
        return Err(KmsError::bound(
            shown,
            member,
            "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$ and have length between 1 and 256",
        ));
    }
    let arn = v.starts_with("arn:") && v.split(':').count() >= 6;
    let account = v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit());
    let service = v.ends_with(".amazonaws.com") || v.ends_with(".amazonaws.com.cn");
    if !(arn || account || service) {
        return Err(KmsError::Validation(format!(
            "Invalid principal '{v}' for {member}: name an ARN (arn:aws:iam::111122223333:user/alice), an account id or a service principal (ebs.amazonaws.com)"
        )));
    }
    Ok(())
}

/// The operations of a new grant: each a `GrantOperation`, each valid for the key, at least
/// one; each kept once, in the order given.
fn check_operations(ops: &[String], meta: &KeyMetadata) -> Result<Vec<String>> {
    if ops.is_empty() {
        return Err(KmsError::bound(
            "[]",
            "operations",
            "Member must have length greater than or equal to 1",
        ));
    }
    let unknown: Vec<&str> = ops
        .iter()
        .map(String::as_str)
        .filter(|o| !GRANT_OPERATIONS.contains(o))
        .collect();
    if !unknown.is_empty() {
        return Err(KmsError::bound(
            format!("[{}]", ops.join(", ")),
            "operations",
            &format!(
                "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                GRANT_OPERATIONS.join(", ")
            ),
        ));
    }
    let allowed = operations_for(&meta.key_spec, &meta.key_usage);
    let unsuited: Vec<&str> = ops
        .iter()
        .map(String::as_str)
        .filter(|o| !allowed.contains(o))
        .collect();
    if !unsuited.is_empty() {
        return Err(KmsError::Validation(format!(
            "Grant operations [{}] are not valid for {} ({} key, {}); valid: {}",
            unsuited.join(", "),
            meta.arn,
            meta.key_spec,
            meta.key_usage,
            allowed.join(", ")
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(ops.len());
    for o in ops {
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    Ok(out)
}

/// A grant's constraints: at most 8 pairs each, values up to 384 characters, only on
/// symmetric keys. An empty map counts as absent, and so do constraints with none.
fn check_constraints(
    c: &Option<GrantConstraints>,
    meta: &KeyMetadata,
) -> Result<Option<GrantConstraints>> {
    let Some(c) = c else { return Ok(None) };
    let keep = |m: &Option<EncryptionContext>, member: &str| -> Result<_> {
        let Some(m) = m.as_ref().filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        if m.len() > MAX_CONSTRAINT_PAIRS {
            return Err(KmsError::Validation(format!(
                "{member} has {} encryption context pairs; a grant constraint takes at most {MAX_CONSTRAINT_PAIRS}",
                m.len()
            )));
        }
        if let Some((k, _)) = m
            .iter()
            .find(|(_, v)| v.chars().count() > MAX_CONSTRAINT_VALUE)
        {
            return Err(KmsError::Validation(format!(
                "the value of '{k}' in {member} exceeds {MAX_CONSTRAINT_VALUE} characters"
            )));
        }
        crate::kms::context::validate(m)?;
        Ok(Some(m.clone()))
    };
    let out = GrantConstraints {
        encryption_context_subset: keep(&c.encryption_context_subset, "EncryptionContextSubset")?,
        encryption_context_equals: keep(&c.encryption_context_equals, "EncryptionContextEquals")?,
    };
    if out == GrantConstraints::default() {
        return Ok(None);
    }
    if meta.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(KmsError::Validation(format!(
            "Encryption context grant constraints apply only to symmetric encryption keys; {} is {}",
            meta.arn, meta.key_spec
        )));
    }
    Ok(Some(out))
}

/// A grant `Name`: 1 to 256 of `a-zA-Z0-9:/_-`.
fn check_name(n: &str) -> Result<()> {
    let ok = (1..=256).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b));
    if !ok {
        return Err(KmsError::bound(
            n,
            "name",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$ and have length between 1 and 256",
        ));
    }
    Ok(())
}

/// A request's GrantId: 1 to 128 characters, and a grant id this KMS makes.
fn check_grant_id(s: &str) -> Result<&str> {
    if s.is_empty() || s.len() > 128 {
        return Err(KmsError::bound(
            s.len(),
            "grantId",
            "Member must have length between 1 and 128",
        ));
    }
    if !is_grant_id(s) {
        return Err(KmsError::InvalidGrantId(format!("Invalid grant id '{s}'")));
    }
    Ok(s)
}

/// `arn:<partition>:iam::<account>:root` of the account of `principal` (the KMS's own for a
/// service principal).
fn account_root(c: &Call, principal: &str) -> String {
    let p: Vec<&str> = principal.splitn(6, ':').collect();
    if p.len() == 6 && p[0] == "arn" && (p[2] == "iam" || p[2] == "sts") && !p[4].is_empty() {
        return format!("arn:{}:iam::{}:root", p[1], p[4]);
    }
    format!(
        "arn:{}:iam::{}:root",
        c.account.partition, c.account.account_id
    )
}

/// Whether `caller` is the principal `named`: the same ARN, or a session of the role
/// `named` (`arn:P:sts::A:assumed-role/R/S` acts as `arn:P:iam::A:role/[path/]R`).
pub(crate) fn acts_as(caller: &str, named: &str) -> bool {
    if caller == named {
        return true;
    }
    let p: Vec<&str> = caller.splitn(6, ':').collect();
    if p.len() != 6 || p[2] != "sts" {
        return false;
    }
    let Some(role) = p[5]
        .strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next())
    else {
        return false;
    };
    let prefix = format!("arn:{}:iam::{}:role/", p[1], p[4]);
    named
        .strip_prefix(&prefix)
        .is_some_and(|r| r.rsplit('/').next() == Some(role))
}

/// Whether an existing grant has exactly what a new one would (Name idempotency).
fn same_grant(g: &Grant, new: &Grant) -> bool {
    let sorted = |o: &[String]| {
        let mut v = o.to_vec();
        v.sort();
        v
    };
    g.name == new.name
        && g.grantee_principal == new.grantee_principal
        && g.retiring_principal == new.retiring_principal
        && g.issuing_account == new.issuing_account
        && sorted(&g.operations) == sorted(&new.operations)
        && g.constraints == new.constraints
}

/// The grant a valid CreateGrant request describes (with a new id).
fn new_grant(c: &Call, req: &CreateGrantRequest, meta: &KeyMetadata) -> Result<Grant> {
    check_principal(&req.grantee_principal, "granteePrincipal")?;
    if let Some(r) = &req.retiring_principal {
        check_principal(r, "retiringPrincipal")?;
    }
    if let Some(n) = &req.name {
        check_name(n)?;
    }
    Ok(Grant {
        grant_id: new_grant_id()?,
        name: req.name.clone(),
        created_ms: c.clock.now_ms(),
        grantee_principal: req.grantee_principal.clone(),
        retiring_principal: req.retiring_principal.clone(),
        issuing_account: account_root(c, &c.principal()),
        operations: check_operations(&req.operations, meta)?,
        constraints: check_constraints(&req.constraints, meta)?,
    })
}

pub(super) fn create_grant(c: &Call, req: CreateGrantRequest) -> Result<CreateGrantResponse> {
    check_grant_tokens(&req.grant_tokens)?;
    c.note_grant_operations(&req.operations);
    let k = c.resolve(&req.key_id, false)?;
    c.note_key(c.key_arn(&k).to_string());
    let parent = c.authorize_operation(&k, Some(&req.key_id))?;
    c.require_usable(&k)?;
    let id = k.record.key_id;
    let grant = new_grant(c, &req, &c.metadata(&k.record))?;
    if let Some(parent) = parent {
        check_narrower(&parent, &grant, &c.principal(), c.key_arn(&k))?;
    }
    let _g = c.ks.lock()?;
    if grant.name.is_some()
        && let Some(old) = c.grants_of(&id)?.iter().find(|g| same_grant(g, &grant))
    {
        return Ok(CreateGrantResponse {
            grant_token: GrantToken::issue(&id, &old.grant_id)?,
            grant_id: old.grant_id.clone(),
        });
    }
    if c.grant_count(&id)? >= MAX_GRANTS_PER_KEY {
        return Err(KmsError::LimitExceeded(format!(
            "The request would exceed the limit of {MAX_GRANTS_PER_KEY} grants on {}",
            c.key_arn(&k)
        )));
    }
    c.put_grant(&id, &grant)?;
    Ok(CreateGrantResponse {
        grant_token: GrantToken::issue(&id, &grant.grant_id)?,
        grant_id: grant.grant_id,
    })
}

/// A ListGrants or ListRetirableGrants `Limit`: 1 to 1000, 50 when absent.
fn grant_limit(l: Option<u32>) -> Result<usize> {
    Ok(check_in_range(l.unwrap_or(50), "limit", 1, 1000, "")? as usize)
}

/// A grant as the lists show it.
fn entry(key_arn: &str, g: &Grant) -> GrantListEntry {
    GrantListEntry {
        key_id: key_arn.to_string(),
        grant_id: g.grant_id.clone(),
        name: g.name.clone().unwrap_or_default(),
        creation_date: epoch_secs(g.created_ms),
        grantee_principal: g.grantee_principal.clone(),
        retiring_principal: g.retiring_principal.clone(),
        issuing_account: g.issuing_account.clone(),
        operations: g.operations.clone(),
        constraints: g.constraints.clone(),
    }
}

/// A grant's place in a list: `<created_ms>:<grant id>` (keys come first in ListRetirableGrants).
fn place(g: &Grant) -> String {
    format!("{}:{}", g.created_ms, g.grant_id)
}

/// The place a marker names (an `InvalidMarkerException` if it names none).
fn parse_place(m: &str) -> Result<(i64, String)> {
    let (t, id) = m.split_once(':').ok_or_else(invalid_marker)?;
    let t: i64 = t.parse().map_err(|_| invalid_marker())?;
    if !is_grant_id(id) {
        return Err(invalid_marker());
    }
    Ok((t, id.to_string()))
}

pub(super) fn list_grants(c: &Call, req: ListGrantsRequest) -> Result<ListGrantsResponse> {
    let limit = grant_limit(req.limit)?;
    let after = req.marker.as_deref().map(parse_place).transpose()?;
    let wanted = req.grant_id.as_deref().map(check_grant_id).transpose()?;
    if let Some(p) = &req.grantee_principal {
        check_principal(p, "granteePrincipal")?;
    }
    let k = c.resolve_noted(&req.key_id, false)?;
    let arn = c.key_arn(&k).to_string();
    let grants = c.grants_of(&k.record.key_id)?;
    let listed = grants
        .iter()
        .filter(|g| wanted.is_none_or(|w| g.grant_id == w))
        .filter(|g| {
            req.grantee_principal
                .as_ref()
                .is_none_or(|p| g.grantee_principal == *p)
        })
        .filter(|g| {
            after
                .as_ref()
                .is_none_or(|(t, id)| g.order() > (*t, id.as_str()))
        });
    let (shown, truncated) = page(listed, limit);
    Ok(ListGrantsResponse {
        next_marker: next_marker(truncated, &shown, |g| place(g)),
        grants: shown.iter().map(|g| entry(&arn, g)).collect(),
        truncated,
    })
}

pub(super) fn list_retirable_grants(
    c: &Call,
    req: ListRetirableGrantsRequest,
) -> Result<ListGrantsResponse> {
    let limit = grant_limit(req.limit)?;
    check_principal(&req.retiring_principal, "retiringPrincipal")?;
    let after = match &req.marker {
        Some(m) => {
            let (key, rest) = m.split_once('/').ok_or_else(invalid_marker)?;
            let key = *uuid::Uuid::try_parse(key)
                .map_err(|_| invalid_marker())?
                .as_bytes();
            Some((key, parse_place(rest)?))
        }
        None => None,
    };
    let mut found: Vec<([u8; 16], Arc<Grant>)> = Vec::new();
    for id in c.ks.list_ids()? {
        if after.as_ref().is_some_and(|(k, _)| id < *k) || c.get_live(&id)?.is_none() {
            continue;
        }
        for g in c.grants_of(&id)? {
            let past = match &after {
                Some((k, (t, gid))) => id > *k || g.order() > (*t, gid.as_str()),
                None => true,
            };
            if past && g.retiring_principal.as_deref() == Some(&req.retiring_principal) {
                found.push((id, g));
            }
        }
    }
    let (shown, truncated) = page(found.into_iter(), limit);
    Ok(ListGrantsResponse {
        next_marker: next_marker(truncated, &shown, |(k, g)| {
            format!("{}/{}", uuid::Uuid::from_bytes(*k), place(g))
        }),
        grants: shown.iter().map(|(k, g)| entry(&c.arn(k), g)).collect(),
        truncated,
    })
}

/// The key and grant id a RetireGrant request names: by its token, or by KeyId and GrantId.
fn retire_target(c: &Call, req: &RetireGrantRequest) -> Result<([u8; 16], String)> {
    if let Some(t) = &req.grant_token {
        let t = GrantToken::parse(t)?;
        let k = c.get_live(&t.key_id)?.ok_or_else(|| {
            KmsError::NotFound(format!("Key '{}' does not exist", c.arn(&t.key_id)))
        })?;
        c.note_key(c.key_arn(&k).to_string());
        return Ok((t.key_id, t.grant_id_hex()));
    }
    match (&req.key_id, &req.grant_id) {
        (Some(key), Some(gid)) => {
            let gid = check_grant_id(gid)?.to_string();
            Ok((c.resolve_mgmt(key)?, gid))
        }
        _ => Err(KmsError::Validation(
            "RetireGrant needs a GrantToken, or a KeyId and a GrantId".into(),
        )),
    }
}

pub(super) fn retire_grant(c: &Call, req: RetireGrantRequest) -> Result<()> {
    let (id, gid) = retire_target(c, &req)?;
    let _g = c.ks.lock()?;
    let grants = c.grants_of(&id)?;
    let g = grants
        .iter()
        .find(|g| g.grant_id == gid)
        .ok_or_else(|| grant_not_found(c, &id, &gid))?;
    let caller = c.principal();
    let may = g
        .retiring_principal
        .as_deref()
        .is_some_and(|r| acts_as(&caller, r))
        || *caller == *g.issuing_account.as_str()
        || (acts_as(&caller, &g.grantee_principal)
            && g.operations.iter().any(|o| o == "RetireGrant"));
    if !may {
        return Err(KmsError::AccessDenied(format!(
            "User: {caller} is not authorized to perform: kms:RetireGrant on resource: {} \
             (only the grant's retiring principal, its issuing account, or its grantee when \
             the grant allows RetireGrant may retire it)",
            c.arn(&id)
        )));
    }
    c.remove_grant(&id, &gid)?;
    Ok(())
}

pub(super) fn revoke_grant(c: &Call, req: RevokeGrantRequest) -> Result<()> {
    let gid = check_grant_id(&req.grant_id)?.to_string();
    let id = c.resolve_mgmt(&req.key_id)?;
    let _g = c.ks.lock()?;
    if !c.remove_grant(&id, &gid)? {
        return Err(grant_not_found(c, &id, &gid));
    }
    Ok(())
}

fn grant_not_found(c: &Call, id: &[u8; 16], gid: &str) -> KmsError {
    KmsError::NotFound(format!("Grant ID {gid} not found for key '{}'", c.arn(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sessions_act_as_their_role() {
        let s = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
        assert!(acts_as(s, "arn:aws:iam::111122223333:role/Admin"));
        assert!(acts_as(s, "arn:aws:iam::111122223333:role/ops/Admin"));
        assert!(acts_as(s, s));
        assert!(!acts_as(s, "arn:aws:iam::111122223333:role/Other"));
        assert!(!acts_as(s, "arn:aws:iam::444455556666:role/Admin"));
        assert!(!acts_as(
            "arn:aws:iam::111122223333:user/bob",
            "arn:aws:iam::111122223333:user/alice"
        ));
    }

    #[test]
    fn principals_names_and_grant_ids() {
        for ok in [
            "arn:aws:iam::111122223333:user/alice",
            "111122223333",
            "ebs.amazonaws.com",
        ] {
            check_principal(ok, "granteePrincipal").unwrap();
        }
        for bad in ["", "alice", "a b", &"a".repeat(257)] {
            assert!(check_principal(bad, "granteePrincipal").is_err(), "{bad}");
        }
        check_name("my-grant:1/x_y").unwrap();
        assert!(check_name("has space").is_err() && check_name("").is_err());
        assert!(matches!(
            check_grant_id("abc"),
            Err(KmsError::InvalidGrantId(_))
        ));
        assert!(matches!(check_grant_id(""), Err(KmsError::Validation(_))));
    }
}
