//! Who may create volumes from a snapshot, as EBS has it: the `createVolumePermission`
//! attribute (account ids, and the group `all` for public sharing) kept in the snapshot's
//! record; `modify-`, `describe-` and `reset-attribute` (owner only); the check a copy or a
//! restore makes ([`SnapshotService::may_copy`]); and the `--owner-ids` /
//! `--restorable-by-user-ids` filters of `snapshot list` (EC2 `DescribeSnapshots`).
//!
//! EBS's refusals, mirrored: an encrypted snapshot cannot be made public
//! (`UnsupportedOperation`), one encrypted under an AWS managed key (`aws/ebs`) cannot be
//! shared at all (`InvalidParameter`), and a snapshot not shared with the caller does not
//! exist for it (`InvalidSnapshot.NotFound`).

use super::SnapshotError;
use super::service::{SnapshotInfo, SnapshotService};
use crate::kms::types::KeyIdRequest;
use serde::{Deserialize, Serialize};

/// The attribute `modify-`, `describe-` and `reset-attribute` act on (the only one EBS lets
/// a snapshot's owner change).
pub const CREATE_VOLUME_PERMISSION: &str = "createVolumePermission";
/// The group of public sharing.
pub const ALL: &str = "all";
/// At most this many account ids and groups in one modification (as EC2).
const MAX_CHANGES: usize = 500;

/// One entry of `createVolumePermission`: `{"UserId":"222222222222"}` or `{"Group":"all"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    UserId(String),
    Group(String),
}

/// Whether `modify-attribute` adds or removes permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Remove,
}

/// A snapshot's record file: what `snapshot describe` prints, then who it is shared with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    #[serde(flatten)]
    pub info: SnapshotInfo,
    #[serde(
        rename = "CreateVolumePermissions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub create_volume_permissions: Vec<Permission>,
    /// The snapshot's EC2 tags (sorted by key).
    #[serde(rename = "Tags", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<crate::tags::Tag>,
}

/// `describe-attribute`'s reply, in EC2's shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotAttribute {
    pub snapshot_id: String,
    pub create_volume_permissions: Vec<Permission>,
}

/// Which snapshots `snapshot list` shows, besides being visible to the caller (owned by it,
/// shared with it, or public). `OwnerIds`: account ids, `self`, `amazon` (none here).
/// `RestorableByUserIds`: account ids (of the caller's own snapshots), `self` (owned or
/// explicitly shared), `all` (public).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub owner_ids: Vec<String>,
    pub restorable_by_user_ids: Vec<String>,
}

/// Whether `s` is an AWS account id (12 digits).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account of an ARN (`arn:aws:iam::111122223333:user/alice` → `111122223333`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, _, acct, _] if is_account_id(acct) => Some(acct),
        _ => None,
    }
}

fn check_attribute(attribute: &str) -> Result<(), SnapshotError> {
    if attribute == CREATE_VOLUME_PERMISSION {
        return Ok(());
    }
    Err(SnapshotError::InvalidParameter(format!(
        "Value ({attribute}) for parameter attribute is invalid: kmsfs snapshots have only {CREATE_VOLUME_PERMISSION}"
    )))
}

/// The permissions a modification names, checked: account ids of 12 digits, the group `all`.
fn permissions(user_ids: &[String], groups: &[String]) -> Result<Vec<Permission>, SnapshotError> {
    let bad = |why: String| Err(SnapshotError::InvalidParameter(why));
    if user_ids.is_empty() && groups.is_empty() {
        return bad("give the account ids (--user-ids) or the group (--group-names all)".into());
    }
    if user_ids.len() + groups.len() > MAX_CHANGES {
        return bad(format!("at most {MAX_CHANGES} changes in one operation"));
    }
    let mut out = Vec::new();
    for u in user_ids {
        if !is_account_id(u) {
            return bad(format!("'{u}' is not an AWS account id (12 digits)"));
        }
        out.push(Permission::UserId(u.clone()));
    }
    for g in groups {
        if g != ALL {
            return bad(format!(
                "Value ({g}) for parameter group is invalid: only '{ALL}'"
            ));
        }
        out.push(Permission::Group(g.clone()));
    }
    Ok(out)
}

/// Whether `account` owns the snapshot, or it is shared with `account` or public.
fn visible_to(r: &Record, account: &str) -> bool {
    r.info.owner_id == account || shared_with(r, account) || public(r)
}

fn shared_with(r: &Record, account: &str) -> bool {
    r.create_volume_permissions
        .contains(&Permission::UserId(account.to_string()))
}

fn public(r: &Record) -> bool {
    r.create_volume_permissions
        .contains(&Permission::Group(ALL.to_string()))
}

fn attribute_of(r: Record) -> SnapshotAttribute {
    SnapshotAttribute {
        snapshot_id: r.info.snapshot_id,
        create_volume_permissions: r.create_volume_permissions,
    }
}

/// Whether `r` passes the `RestorableByUserIds` value `u` for the caller `me`.
fn restorable_by(r: &Record, u: &str, me: &str) -> bool {
    match u {
        ALL => public(r),
        "self" => r.info.owner_id == me || shared_with(r, me),
        id if id == me => r.info.owner_id == me || shared_with(r, me),
        id => r.info.owner_id == me && shared_with(r, id),
    }
}

impl SnapshotService {
    /// `describe-attribute`: who may create volumes from the snapshot (owner only).
    pub fn describe_attribute(
        &self,
        id: &str,
        attribute: &str,
    ) -> Result<SnapshotAttribute, SnapshotError> {
        check_attribute(attribute)?;
        let r = self.read_record(id)?;
        self.owner_only(&r, "describe the attributes of")?;
        Ok(attribute_of(r))
    }

    /// `modify-attribute`: add or remove account ids or the group `all` (owner only).
    /// Adding refuses public sharing of an encrypted snapshot and any sharing of one under
    /// an AWS managed key; removing what is absent is no error.
    pub fn modify_attribute(
        &self,
        id: &str,
        attribute: &str,
        op: Operation,
        user_ids: &[String],
        groups: &[String],
    ) -> Result<SnapshotAttribute, SnapshotError> {
        check_attribute(attribute)?;
        let change = permissions(user_ids, groups)?;
        let _lock = self.lock()?;
        let mut r = self.read_record(id)?;
        self.owner_only(&r, "modify")?;
        if op == Operation::Add {
            self.may_share(&r.info, &change)?;
        }
        let perms = &mut r.create_volume_permissions;
        match op {
            Operation::Add => {
                perms.extend(change);
                perms.sort();
                perms.dedup();
            }
            Operation::Remove => perms.retain(|p| !change.contains(p)),
        }
        self.write_record(&r)?;
        Ok(attribute_of(r))
    }

    /// `reset-attribute`: share the snapshot with no one (owner only).
    pub fn reset_attribute(
        &self,
        id: &str,
        attribute: &str,
    ) -> Result<SnapshotAttribute, SnapshotError> {
        check_attribute(attribute)?;
        let _lock = self.lock()?;
        let mut r = self.read_record(id)?;
        self.owner_only(&r, "reset the attributes of")?;
        r.create_volume_permissions.clear();
        self.write_record(&r)?;
        Ok(attribute_of(r))
    }

    /// Whether `caller_account` may copy the snapshot or create a volume from it: its owner
    /// may; another account only if `createVolumePermission` names it (or `all`), and never
    /// a snapshot under an AWS managed key. Else EBS's `InvalidSnapshot.NotFound`.
    pub fn may_copy(&self, id: &str, caller_account: &str) -> Result<(), SnapshotError> {
        let r = self.read_record(id)?;
        if r.info.owner_id == caller_account {
            return Ok(());
        }
        if !visible_to(&r, caller_account) {
            return Err(SnapshotError::NotShared {
                snapshot: id.to_string(),
                account: caller_account.to_string(),
                owner: r.info.owner_id,
            });
        }
        self.not_aws_managed(&r.info)
    }

    /// The snapshots visible to the account the service acts for, oldest first, that pass
    /// `f` (each list: any value matches).
    pub fn list_visible(&self, f: &ListFilter) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        let bad = |v: &str, what: &str| {
            Err(SnapshotError::InvalidParameter(format!(
                "'{v}' is not an account id (12 digits) or {what}"
            )))
        };
        for o in &f.owner_ids {
            if !is_account_id(o) && o != "self" && o != "amazon" {
                return bad(o, "'self' or 'amazon'");
            }
        }
        for u in &f.restorable_by_user_ids {
            if !is_account_id(u) && u != "self" && u != ALL {
                return bad(u, "'self' or 'all'");
            }
        }
        let me = self.account();
        let owner_ok = |r: &Record| {
            f.owner_ids.is_empty()
                || f.owner_ids
                    .iter()
                    .any(|o| r.info.owner_id == if o == "self" { me } else { o.as_str() })
        };
        let restorable_ok = |r: &Record| {
            f.restorable_by_user_ids.is_empty()
                || f.restorable_by_user_ids
                    .iter()
                    .any(|u| restorable_by(r, u, me))
        };
        Ok(self
            .list_records()?
            .into_iter()
            .filter(|r| visible_to(r, me) && owner_ok(r) && restorable_ok(r))
            .map(|r| r.info)
            .collect())
    }

    /// Refuse `action` on `r` unless the service's account owns it (a snapshot it cannot
    /// see does not exist for it).
    fn owner_only(&self, r: &Record, action: &'static str) -> Result<(), SnapshotError> {
        let me = self.account();
        if r.info.owner_id == me {
            return Ok(());
        }
        if !visible_to(r, me) {
            return Err(SnapshotError::NotShared {
                snapshot: r.info.snapshot_id.clone(),
                account: me.to_string(),
                owner: r.info.owner_id.clone(),
            });
        }
        Err(SnapshotError::NotOwner {
            snapshot: r.info.snapshot_id.clone(),
            account: me.to_string(),
            owner: r.info.owner_id.clone(),
            action,
        })
    }

    /// EBS's rules for adding `change`: no public encrypted snapshot, no sharing of one
    /// under an AWS managed key.
    fn may_share(&self, info: &SnapshotInfo, change: &[Permission]) -> Result<(), SnapshotError> {
        let to_all = change.contains(&Permission::Group(ALL.to_string()));
        if info.encrypted && to_all {
            return Err(SnapshotError::EncryptedPublic(info.snapshot_id.clone()));
        }
        self.not_aws_managed(info)
    }

    /// Refuse a snapshot encrypted under an AWS managed key (`aws/ebs`): its key's policy
    /// lets no other account use it, so EBS forbids sharing it.
    fn not_aws_managed(&self, info: &SnapshotInfo) -> Result<(), SnapshotError> {
        let Some(key) = info.kms_key_id.as_deref().filter(|_| info.encrypted) else {
            return Ok(());
        };
        let meta = self
            .kms()
            .describe_key(KeyIdRequest {
                key_id: key.to_string(),
                grant_tokens: None,
            })
            .map_err(|e| SnapshotError::KeyUnusable {
                snapshot: info.snapshot_id.clone(),
                key: key.to_string(),
                source: e,
            })?
            .key_metadata;
        if meta.key_manager == "AWS" {
            return Err(SnapshotError::AwsManagedKey {
                snapshot: info.snapshot_id.clone(),
                key: key.to_string(),
            });
        }
        Ok(())
    }
}

impl SnapshotService {
    /// The snapshot's tags (any account that may see it may read them).
    pub fn tags(&self, id: &str) -> Result<Vec<crate::tags::Tag>, SnapshotError> {
        let r = self.read_record(id)?;
        if !visible_to(&r, self.account()) {
            return Err(SnapshotError::NotFound(id.to_string()));
        }
        Ok(r.tags)
    }

    /// Set `add` on the snapshot (CreateTags; its owner only); its tags after.
    pub fn tag(
        &self,
        id: &str,
        add: &[crate::tags::Tag],
    ) -> Result<Vec<crate::tags::Tag>, SnapshotError> {
        self.change_tags(id, |t| {
            crate::tags::apply(t, add).map_err(SnapshotError::Invalid)
        })
    }

    /// Remove tags (DeleteTags; its owner only); its tags after.
    pub fn untag(
        &self,
        id: &str,
        remove: &[(String, Option<String>)],
    ) -> Result<Vec<crate::tags::Tag>, SnapshotError> {
        self.change_tags(id, |t| Ok(crate::tags::delete(t, remove)))
    }

    fn change_tags(
        &self,
        id: &str,
        f: impl FnOnce(&[crate::tags::Tag]) -> Result<Vec<crate::tags::Tag>, SnapshotError>,
    ) -> Result<Vec<crate::tags::Tag>, SnapshotError> {
        let _lock = self.lock()?;
        let mut r = self.read_record(id)?;
        self.owner_only(&r, "tag")?;
        r.tags = f(&r.tags)?;
        self.write_record(&r)?;
        Ok(r.tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_of_arns() {
        let a = |s| account_of_arn(s);
        assert_eq!(
            a("arn:aws:iam::111122223333:user/alice"),
            Some("111122223333")
        );
        assert_eq!(a("arn:aws:iam::222222222222:root"), Some("222222222222"));
        assert_eq!(
            a("arn:aws:sts::222222222222:assumed-role/r/s"),
            Some("222222222222")
        );
        assert_eq!(a("ebs.amazonaws.com"), None);
        assert_eq!(a("arn:aws:iam::12345:root"), None);
    }

    #[test]
    fn permission_shape() {
        let p = vec![
            Permission::UserId("222222222222".into()),
            Permission::Group("all".into()),
        ];
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"[{"UserId":"222222222222"},{"Group":"all"}]"#
        );
        assert!(permissions(&["12345678901".into()], &[]).is_err());
        assert!(permissions(&[], &["everyone".into()]).is_err());
        assert!(permissions(&[], &[]).is_err());
    }
}
