//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, and the rules for an alias
//! name and for the key it may point at.

use super::Result;
use super::{check_limit, invalid_marker, next_marker, page};
use crate::kms::error::KmsError;
use crate::kms::keystore::AliasEntry;
use crate::kms::resolve::parse_uuid;
use crate::kms::service::{Call, MAX_ALIASES_PER_KEY};
use crate::kms::types::*;
use crate::timefmt::epoch_secs;

/// AliasName: 1 to 256 characters of `[a-zA-Z0-9:/_-]`, `alias/` and a name, not in the
/// `alias/aws/` space of AWS-managed keys.
pub(in crate::kms) fn check_alias_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 256 {
        return Err(KmsError::bound(
            name,
            "aliasName",
            "Member must have length between 1 and 256",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-:".contains(&b))
    {
        return Err(KmsError::bound(
            name,
            "aliasName",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    if !name.starts_with("alias/") || name.len() == "alias/".len() {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name '{name}' must begin with 'alias/' followed by a name"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias name '{name}' is reserved: the prefix 'alias/aws/' is for AWS managed keys"
        )));
    }
    Ok(())
}

/// Resolve an alias target (key id or ARN) that may receive an alias; its UUID string.
fn alias_target(c: &Call, target: &str) -> Result<String> {
    let k = c.resolve_noted(target, false)?;
    c.require_changeable(&k.record, "an alias cannot be associated with it")?;
    Ok(uuid::Uuid::from_bytes(k.record.key_id).to_string())
}

fn alias_not_found(c: &Call, name: &str) -> KmsError {
    KmsError::NotFound(format!("Alias {} is not found.", c.alias_arn(name)))
}

pub(super) fn create_alias(c: &Call, req: AliasRequest) -> Result<()> {
    check_alias_name(&req.alias_name)?;
    let target = alias_target(c, &req.target_key_id)?;
    let _g = c.ks.lock()?;
    let mut t = (*c.ks.aliases()?).clone();
    if t.contains_key(&req.alias_name) {
        return Err(KmsError::AlreadyExists(format!(
            "An alias with the name {} already exists",
            c.alias_arn(&req.alias_name)
        )));
    }
    if t.values().filter(|e| e.target == target).count() >= MAX_ALIASES_PER_KEY {
        return Err(KmsError::LimitExceeded(format!(
            "a key can have at most {MAX_ALIASES_PER_KEY} aliases"
        )));
    }
    let now = c.clock.now_ms();
    t.insert(
        req.alias_name.clone(),
        AliasEntry {
            target,
            created_ms: now,
            updated_ms: now,
        },
    );
    c.ks.put_aliases(t)?;
    Ok(())
}

/// UpdateAlias: as in AWS, the caller needs `kms:UpdateAlias` on both the key the alias
/// points at now and the new target key.
pub(super) fn update_alias(c: &Call, req: AliasRequest) -> Result<()> {
    check_alias_name(&req.alias_name)?;
    let current =
        c.ks.aliases()?
            .get(&req.alias_name)
            .map(|e| e.target.clone());
    if let Some(Ok(id)) = current.map(|t| parse_uuid(&t))
        && let Some(k) = c.get_live(&id)?
    {
        c.authorize_operation(&k, Some(&req.alias_name))?;
    }
    let target = alias_target(c, &req.target_key_id)?;
    let _g = c.ks.lock()?;
    let mut t = (*c.ks.aliases()?).clone();
    let Some(e) = t.get_mut(&req.alias_name) else {
        return Err(alias_not_found(c, &req.alias_name));
    };
    e.target = target;
    e.updated_ms = c.clock.now_ms();
    c.ks.put_aliases(t)?;
    Ok(())
}

pub(super) fn delete_alias(c: &Call, alias_name: &str) -> Result<()> {
    check_alias_name(alias_name)?;
    let target = c.ks.aliases()?.get(alias_name).map(|e| e.target.clone());
    let key = match target.map(|t| parse_uuid(&t)) {
        Some(Ok(id)) => c.get_live(&id)?,
        _ => None,
    };
    match key {
        Some(k) => {
            c.authorize_operation(&k, Some(alias_name))?;
        }
        None => c.authorize_star("kms:DeleteAlias")?,
    }
    let _g = c.ks.lock()?;
    let mut t = (*c.ks.aliases()?).clone();
    let Some(e) = t.remove(alias_name) else {
        return Err(alias_not_found(c, alias_name));
    };
    if let Ok(id) = parse_uuid(&e.target) {
        c.note_key(c.arn(&id));
    }
    c.ks.put_aliases(t)?;
    Ok(())
}

pub(super) fn list_aliases(c: &Call, req: ListRequest) -> Result<ListAliasesResponse> {
    let limit = check_limit(req.limit)?;
    let filter = match &req.key_id {
        Some(k) => {
            let k = c.resolve_noted(k, false)?;
            Some(uuid::Uuid::from_bytes(k.record.key_id).to_string())
        }
        None => None,
    };
    let table = c.ks.aliases()?;
    if let Some(m) = &req.marker
        && !table.contains_key(m)
        && !m.starts_with("alias/")
    {
        return Err(invalid_marker());
    }
    let listed = table.iter().filter(|(name, e)| {
        req.marker.as_ref().is_none_or(|m| *name > m)
            && filter.as_ref().is_none_or(|f| *f == e.target)
    });
    let (entries, truncated) = page(listed, limit);
    let aliases: Vec<AliasListEntry> = entries
        .into_iter()
        .map(|(name, e)| AliasListEntry {
            alias_name: name.clone(),
            alias_arn: c.alias_arn(name),
            target_key_id: Some(
                crate::kms::key_id::parse_stored(&e.target)
                    .map_or_else(|| e.target.clone(), |id| c.key_id_string(&id)),
            ),
            creation_date: Some(epoch_secs(e.created_ms)),
            last_updated_date: Some(epoch_secs(e.updated_ms)),
        })
        .collect();
    Ok(ListAliasesResponse {
        next_marker: next_marker(truncated, &aliases, |a| a.alias_name.clone()),
        aliases,
        truncated,
    })
}
