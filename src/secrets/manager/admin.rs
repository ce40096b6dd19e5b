//! DescribeSecret, ListSecrets, ListSecretVersionIds, UpdateSecretVersionStage,
//! DeleteSecret, RestoreSecret, TagResource, UntagResource and the resource policy
//! operations.

use super::error::{MARKED_FOR_DELETION, SmError};
use super::record::{self, SecretRecord};
use super::types::*;
use super::values::check_tags;
use super::{SecretsManager, filters, versions};
use crate::policy::{Policy, PolicyKind};
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

impl SecretsManager {
    pub fn describe_secret(&self, req: SecretIdRequest) -> Result<DescribeSecretResponse, SmError> {
        self.audited("DescribeSecret", &req.secret_id.clone(), || {
            Ok(describe(&self.find(&req.secret_id)?))
        })
    }

    pub fn list_secrets(&self, req: ListSecretsRequest) -> Result<ListSecretsResponse, SmError> {
        self.audited("ListSecrets", "", || self.list(req))
    }

    pub(crate) fn list(&self, req: ListSecretsRequest) -> Result<ListSecretsResponse, SmError> {
        let f = req.filters.clone().unwrap_or_default();
        filters::check(&f)?;
        let deleted = req.include_planned_deletion.unwrap_or(false);
        let mut all: Vec<SecretRecord> = self
            .all()?
            .into_iter()
            .filter(|r| deleted || r.deleted_ms.is_none())
            .filter(|r| filters::matches(r, &f, &self.ctx.region))
            .collect();
        filters::sort(&mut all, req.sort_by.as_deref(), req.sort_order.as_deref())?;
        let (page, next_token) =
            filters::page(all, req.next_token.as_deref(), req.max_results, 100)?;
        let secret_list = page
            .iter()
            .map(|r| {
                let mut d = describe(r);
                d.secret_versions_to_stages = d.version_ids_to_stages.take();
                d
            })
            .collect();
        Ok(ListSecretsResponse {
            secret_list,
            next_token,
        })
    }

    pub fn list_secret_version_ids(
        &self,
        req: ListSecretVersionIdsRequest,
    ) -> Result<ListSecretVersionIdsResponse, SmError> {
        self.audited("ListSecretVersionIds", &req.secret_id.clone(), || {
            let r = self.find(&req.secret_id)?;
            let all = req.include_deprecated.unwrap_or(false);
            let entries: Vec<VersionEntry> = r
                .versions
                .iter()
                .rev()
                .filter(|v| all || !v.stages.is_empty())
                .map(|v| VersionEntry {
                    version_id: v.id.clone(),
                    version_stages: (!v.stages.is_empty()).then(|| v.stages.clone()),
                    last_accessed_date: v.last_accessed_ms.map(secs),
                    created_date: Some(secs(v.created_ms)),
                    kms_key_ids: Some(vec![v.key_arn.clone()]),
                })
                .collect();
            let (versions, next_token) =
                filters::page(entries, req.next_token.as_deref(), req.max_results, 100)?;
            Ok(ListSecretVersionIdsResponse {
                versions,
                next_token,
                arn: r.arn,
                name: r.name,
            })
        })
    }

    pub fn update_secret_version_stage(
        &self,
        req: UpdateSecretVersionStageRequest,
    ) -> Result<ArnNameVersion, SmError> {
        self.audited("UpdateSecretVersionStage", &req.secret_id.clone(), || {
            self.modify(&req.secret_id, true, |r| {
                versions::update_stage(
                    r,
                    &req.version_stage,
                    req.remove_from_version_id.as_deref(),
                    req.move_to_version_id.as_deref(),
                )?;
                r.last_changed_ms = self.now();
                Ok(arn_name(r))
            })
        })
    }

    pub fn delete_secret(&self, req: DeleteSecretRequest) -> Result<DeleteSecretResponse, SmError> {
        self.audited("DeleteSecret", &req.secret_id.clone(), || self.delete(req))
    }

    fn delete(&self, req: DeleteSecretRequest) -> Result<DeleteSecretResponse, SmError> {
        let force = req.force_delete_without_recovery.unwrap_or(false);
        if force && req.recovery_window_in_days.is_some() {
            return Err(SmError::InvalidParameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.".into(),
            ));
        }
        let days = req.recovery_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(SmError::InvalidParameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
            ));
        }
        let _lock = record::lock(&self.ctx.dir)?;
        let mut r = self.find(&req.secret_id)?;
        let now = self.now();
        if force {
            record::remove(&self.ctx.dir, &r.name)?;
            return Ok(DeleteSecretResponse {
                arn: r.arn,
                name: r.name,
                deletion_date: Some(secs(now)),
            });
        }
        if r.deleted_ms.is_some() {
            return Err(SmError::InvalidRequest(MARKED_FOR_DELETION.into()));
        }
        r.deleted_ms = Some(now);
        r.purge_ms = Some(now + days * DAY_MS);
        record::write(&self.ctx.dir, &r)?;
        Ok(DeleteSecretResponse {
            arn: r.arn,
            name: r.name,
            deletion_date: r.purge_ms.map(secs),
        })
    }

    pub fn restore_secret(&self, req: SecretIdRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("RestoreSecret", &req.secret_id.clone(), || {
            self.modify(&req.secret_id, false, |r| {
                r.deleted_ms = None;
                r.purge_ms = None;
                Ok(arn_name(r))
            })
        })
    }

    pub fn tag_resource(&self, req: TagResourceRequest) -> Result<(), SmError> {
        self.audited("TagResource", &req.secret_id.clone(), || {
            check_tags(&req.tags)?;
            self.modify(&req.secret_id, true, |r| {
                for t in &req.tags {
                    match r.tags.iter_mut().find(|(k, _)| *k == t.key) {
                        Some(x) => x.1 = t.value.clone(),
                        None => r.tags.push((t.key.clone(), t.value.clone())),
                    }
                }
                let all: Vec<Tag> = r
                    .tags
                    .iter()
                    .map(|(k, v)| Tag {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect();
                check_tags(&all)
            })
        })
    }

    pub fn untag_resource(&self, req: UntagResourceRequest) -> Result<(), SmError> {
        self.audited("UntagResource", &req.secret_id.clone(), || {
            self.modify(&req.secret_id, true, |r| {
                r.tags.retain(|(k, _)| !req.tag_keys.contains(k));
                Ok(())
            })
        })
    }

    pub fn put_resource_policy(
        &self,
        req: PutResourcePolicyRequest,
    ) -> Result<ArnNameVersion, SmError> {
        self.audited("PutResourcePolicy", &req.secret_id.clone(), || {
            check_policy(&req.resource_policy)?;
            if req.block_public_policy.unwrap_or(false) && is_public(&req.resource_policy) {
                return Err(SmError::PublicPolicy(
                    "This resource policy contains a public policy that allows broad access to the secret; BlockPublicPolicy refuses it.".into(),
                ));
            }
            self.modify(&req.secret_id, true, |r| {
                r.policy = Some(req.resource_policy.clone());
                Ok(arn_name(r))
            })
        })
    }

    pub fn get_resource_policy(
        &self,
        req: SecretIdRequest,
    ) -> Result<ResourcePolicyResponse, SmError> {
        self.audited("GetResourcePolicy", &req.secret_id.clone(), || {
            let r = self.find_live(&req.secret_id)?;
            Ok(ResourcePolicyResponse {
                arn: r.arn,
                name: r.name,
                resource_policy: r.policy,
            })
        })
    }

    pub fn delete_resource_policy(&self, req: SecretIdRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("DeleteResourcePolicy", &req.secret_id.clone(), || {
            self.modify(&req.secret_id, true, |r| {
                r.policy = None;
                Ok(arn_name(r))
            })
        })
    }

    pub fn validate_resource_policy(
        &self,
        req: ValidateResourcePolicyRequest,
    ) -> Result<ValidateResourcePolicyResponse, SmError> {
        let id = req.secret_id.clone().unwrap_or_default();
        self.audited("ValidateResourcePolicy", &id, || {
            if let Some(id) = &req.secret_id {
                self.find(id)?;
            }
            check_policy(&req.resource_policy)?;
            let public = is_public(&req.resource_policy);
            Ok(ValidateResourcePolicyResponse {
                policy_validation_passed: Some(!public),
                validation_errors: if public {
                    vec![ValidationError {
                        check_name: "BLOCK_PUBLIC_POLICY".into(),
                        error_message: "The policy allows access to every principal (\"*\")."
                            .into(),
                    }]
                } else {
                    Vec::new()
                },
            })
        })
    }
}

/// A resource policy must parse as one (size, JSON, grammar).
fn check_policy(text: &str) -> Result<(), SmError> {
    if text.is_empty() || text.len() > 20480 {
        return Err(SmError::InvalidParameter(
            "1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must have length between 1 and 20480".into(),
        ));
    }
    Policy::parse(text, PolicyKind::Key)
        .map(|_| ())
        .map_err(|e| SmError::MalformedPolicyDocument(e.message().to_string()))
}

/// Whether a policy allows every principal without a condition.
fn is_public(text: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    let stmts = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s => vec![s.clone()],
    };
    stmts.iter().any(|s| {
        let star = |p: &serde_json::Value| {
            p == "*" || p.as_array().is_some_and(|a| a.iter().any(|x| x == "*"))
        };
        s["Effect"] == "Allow"
            && s.get("Condition").is_none()
            && (star(&s["Principal"]) || star(&s["Principal"]["AWS"]))
    })
}

fn arn_name(r: &SecretRecord) -> ArnNameVersion {
    ArnNameVersion {
        arn: r.arn.clone(),
        name: r.name.clone(),
        version_id: None,
    }
}

/// DescribeSecret's answer for `r`.
pub(crate) fn describe(r: &SecretRecord) -> DescribeSecretResponse {
    let stages: BTreeMap<String, Vec<String>> = r
        .versions
        .iter()
        .filter(|v| !v.stages.is_empty())
        .map(|v| (v.id.clone(), v.stages.clone()))
        .collect();
    let rot = &r.rotation;
    let rules = (rot.after_days.is_some() || rot.expression.is_some()).then(|| RotationRules {
        automatically_after_days: rot.after_days,
        duration: rot.duration.clone(),
        schedule_expression: rot.expression.clone(),
    });
    DescribeSecretResponse {
        arn: r.arn.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        kms_key_id: r.kms_key_id.clone(),
        rotation_enabled: Some(rot.enabled),
        rotation_lambda_arn: rot.program.clone(),
        rotation_rules: rules,
        last_rotated_date: rot.last_rotated_ms.map(secs),
        last_changed_date: Some(secs(r.last_changed_ms)),
        last_accessed_date: r.last_accessed_ms.map(secs),
        deleted_date: r.deleted_ms.map(secs),
        next_rotation_date: rot.next_rotation_ms.filter(|_| rot.enabled).map(secs),
        tags: (!r.tags.is_empty()).then(|| {
            r.tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect()
        }),
        version_ids_to_stages: Some(stages),
        secret_versions_to_stages: None,
        created_date: Some(secs(r.created_ms)),
        primary_region: None,
    }
}
