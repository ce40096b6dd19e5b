//! Writing and reading values: CreateSecret, PutSecretValue, UpdateSecret, GetSecretValue,
//! BatchGetSecretValue, GetRandomPassword.

use super::error::{MARKED_FOR_DELETION, SmError};
use super::record::{self, Rotation, SecretRecord};
use super::types::*;
use super::versions::{self, CURRENT};
use super::{SecretsManager, check_len, password, seal};
use crate::crypto::SecretBytes;

/// Largest value (SecretString or SecretBinary), in bytes.
pub const MAX_VALUE: usize = 65536;
/// Most tags on a secret.
pub const MAX_TAGS: usize = 50;

/// A value to write: its kind and bytes.
pub(crate) struct NewValue {
    pub binary: bool,
    pub bytes: SecretBytes,
}

impl NewValue {
    /// The value of a request's `SecretString`/`SecretBinary` (at most one; `None` if neither).
    pub fn of(
        s: &Option<SecretText>,
        b: &Option<SecretBytes>,
    ) -> Result<Option<NewValue>, SmError> {
        let v = match (s, b) {
            (Some(_), Some(_)) => {
                return Err(SmError::InvalidParameter(
                    "You can't specify both a binary secret value and a string secret value in the same secret.".into(),
                ));
            }
            (Some(s), None) => NewValue {
                binary: false,
                bytes: SecretBytes::from_slice(s.expose().as_bytes()),
            },
            (None, Some(b)) => NewValue {
                binary: true,
                bytes: b.clone(),
            },
            (None, None) => return Ok(None),
        };
        if v.bytes.is_empty() || v.bytes.len() > MAX_VALUE {
            let member = if v.binary {
                "secretBinary"
            } else {
                "secretString"
            };
            return Err(SmError::InvalidParameter(format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between 1 and {MAX_VALUE}"
            )));
        }
        Ok(Some(v))
    }
}

/// A secret name's rules: 1..=512 characters of `A-Za-z0-9/_+=.@-`.
fn check_name(name: &str) -> Result<(), SmError> {
    check_len("name", name, 1, 512)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
    {
        return Err(SmError::InvalidParameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!".into(),
        ));
    }
    Ok(())
}

/// A ClientRequestToken's rules (32..=64 characters), or a new UUID.
fn token_or_new(t: &Option<String>) -> Result<String, SmError> {
    match t {
        Some(t) => {
            check_len("clientRequestToken", t, 32, 64)?;
            Ok(t.clone())
        }
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// Tags' rules: at most 50, keys 1..=128 not starting `aws:`, values 0..=256.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), SmError> {
    if tags.len() > MAX_TAGS {
        return Err(SmError::InvalidParameter(format!(
            "A secret can have at most {MAX_TAGS} tags."
        )));
    }
    for t in tags {
        check_len("tags.member.key", &t.key, 1, 128)?;
        check_len("tags.member.value", &t.value, 0, 256)?;
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SmError::InvalidParameter(
                "Invalid tag key: the prefix aws: is reserved for AWS use.".into(),
            ));
        }
    }
    Ok(())
}

impl SecretsManager {
    pub fn create_secret(&self, req: CreateSecretRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("CreateSecret", &req.name.clone(), || self.create(req))
    }

    fn create(&self, req: CreateSecretRequest) -> Result<ArnNameVersion, SmError> {
        check_name(&req.name)?;
        check_len(
            "description",
            req.description.as_deref().unwrap_or(""),
            0,
            2048,
        )?;
        let value = NewValue::of(&req.secret_string, &req.secret_binary)?;
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        if req
            .add_replica_regions
            .as_ref()
            .is_some_and(|r| !r.is_empty())
        {
            return Err(SmError::InvalidRequest(
                "kmsfs does not replicate secrets to other Regions: create the secret without AddReplicaRegions.".into(),
            ));
        }
        let token = token_or_new(&req.client_request_token)?;
        let _lock = record::lock(&self.ctx.dir)?;
        if let Some(old) =
            record::read_named(&self.ctx.dir, &req.name)?.filter(|r| !self.expired(r))
        {
            return self.create_again(&old, &token, value);
        }
        let now = self.now();
        let mut r = SecretRecord {
            name: req.name.clone(),
            arn: self.new_arn(&req.name)?,
            description: req.description.clone(),
            kms_key_id: req.kms_key_id.clone().filter(|k| !k.is_empty()),
            created_ms: now,
            last_changed_ms: now,
            last_accessed_ms: None,
            deleted_ms: None,
            purge_ms: None,
            tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
            policy: None,
            rotation: Rotation::default(),
            versions: Vec::new(),
        };
        let version_id = match value {
            Some(v) => Some(self.add_version(&mut r, &token, &v, &[CURRENT.to_string()])?),
            None => None,
        };
        record::write(&self.ctx.dir, &r)?;
        Ok(ArnNameVersion {
            arn: r.arn,
            name: r.name,
            version_id,
        })
    }

    /// CreateSecret of a name that exists: the same request again (same token, same
    /// value) is answered as the first; anything else is refused.
    fn create_again(
        &self,
        old: &SecretRecord,
        token: &str,
        value: Option<NewValue>,
    ) -> Result<ArnNameVersion, SmError> {
        if old.deleted_ms.is_some() {
            return Err(SmError::InvalidRequest(
                "You can't create this secret because a secret with this name is already scheduled for deletion.".into(),
            ));
        }
        if let (Some(v), Some(value)) = (old.version(token), value)
            && self.same_value(old, v, &value)?
        {
            return Ok(ArnNameVersion {
                arn: old.arn.clone(),
                name: old.name.clone(),
                version_id: Some(v.id.clone()),
            });
        }
        Err(SmError::ResourceExists(format!(
            "The operation failed because the secret {} already exists.",
            old.name
        )))
    }

    /// Whether version `v` of `r` holds `value` (compared in constant time).
    pub(super) fn same_value(
        &self,
        r: &SecretRecord,
        v: &record::Version,
        value: &NewValue,
    ) -> Result<bool, SmError> {
        let old = seal::open(self.ctx.kms.as_ref(), &r.arn, v)?;
        Ok(v.binary == value.binary && old == value.bytes)
    }

    /// Seal `value` as the new version `id` of `r` with `stages`; the version id.
    pub(super) fn add_version(
        &self,
        r: &mut SecretRecord,
        id: &str,
        value: &NewValue,
        stages: &[String],
    ) -> Result<String, SmError> {
        let key = r.kms_key_id.as_deref().unwrap_or(seal::DEFAULT_KEY);
        let now = self.now();
        let v = seal::seal(
            self.ctx.kms.as_ref(),
            key,
            &r.arn,
            id,
            value.binary,
            value.bytes.expose(),
            now,
        )?;
        r.versions.push(v);
        for s in stages {
            versions::attach(r, s, id)?;
        }
        versions::cap(r);
        r.last_changed_ms = now;
        Ok(id.to_string())
    }

    /// Write `value` as version `token` of `r`: the same value again under the same token
    /// is the existing version; another value under it is refused.
    fn put_value(
        &self,
        r: &mut SecretRecord,
        token: &str,
        value: &NewValue,
        stages: &[String],
    ) -> Result<String, SmError> {
        if let Some(v) = r.version(token) {
            if self.same_value(r, v, value)? {
                return Ok(token.to_string());
            }
            return Err(SmError::ResourceExists(
                "You can't modify an existing version, you can only create a new version.".into(),
            ));
        }
        self.add_version(r, token, value, stages)
    }

    pub fn put_secret_value(
        &self,
        req: PutSecretValueRequest,
    ) -> Result<PutSecretValueResponse, SmError> {
        self.audited("PutSecretValue", &req.secret_id.clone(), || self.put(req))
    }

    fn put(&self, req: PutSecretValueRequest) -> Result<PutSecretValueResponse, SmError> {
        let value = NewValue::of(&req.secret_string, &req.secret_binary)?.ok_or_else(|| {
            SmError::InvalidRequest("You must provide either SecretString or SecretBinary.".into())
        })?;
        let stages = req
            .version_stages
            .clone()
            .unwrap_or_else(|| vec![CURRENT.into()]);
        if stages.is_empty() || stages.len() > versions::MAX_STAGES {
            return Err(SmError::InvalidParameter(
                "1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20".into(),
            ));
        }
        for s in &stages {
            versions::check_stage(s)?;
        }
        let token = token_or_new(&req.client_request_token)?;
        self.modify(&req.secret_id, true, |r| {
            let id = self.put_value(r, &token, &value, &stages)?;
            let v = r.version(&id).map(|v| v.stages.clone()).unwrap_or_default();
            Ok(PutSecretValueResponse {
                arn: r.arn.clone(),
                name: r.name.clone(),
                version_id: id,
                version_stages: v,
            })
        })
    }

    pub fn update_secret(&self, req: UpdateSecretRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("UpdateSecret", &req.secret_id.clone(), || self.update(req))
    }

    fn update(&self, req: UpdateSecretRequest) -> Result<ArnNameVersion, SmError> {
        check_len(
            "description",
            req.description.as_deref().unwrap_or(""),
            0,
            2048,
        )?;
        let value = NewValue::of(&req.secret_string, &req.secret_binary)?;
        let token = token_or_new(&req.client_request_token)?;
        self.modify(&req.secret_id, true, |r| {
            if let Some(d) = &req.description {
                r.description = Some(d.clone());
                r.last_changed_ms = self.now();
            }
            if let Some(k) = &req.kms_key_id {
                r.kms_key_id = Some(k.clone()).filter(|k| !k.is_empty());
                r.last_changed_ms = self.now();
            }
            let version_id = match &value {
                Some(v) => Some(self.put_value(r, &token, v, &[CURRENT.to_string()])?),
                None => None,
            };
            Ok(ArnNameVersion {
                arn: r.arn.clone(),
                name: r.name.clone(),
                version_id,
            })
        })
    }

    pub fn get_secret_value(&self, req: GetSecretValueRequest) -> Result<SecretValue, SmError> {
        self.audited("GetSecretValue", &req.secret_id.clone(), || {
            self.get(
                &req.secret_id,
                req.version_id.as_deref(),
                req.version_stage.as_deref(),
            )
        })
    }

    /// The value of one version of the secret `id` (default AWSCURRENT).
    pub(crate) fn get(
        &self,
        id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretValue, SmError> {
        let r = self.find_live(id)?;
        let v = match version_id {
            Some(vid) => {
                let v = r.version(vid).ok_or_else(|| {
                    SmError::ResourceNotFound(format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {vid}"
                    ))
                })?;
                if stage.is_some_and(|s| !v.stages.iter().any(|x| x == s)) {
                    return Err(SmError::InvalidRequest(
                        "You provided a VersionStage that is not associated to the provided VersionId.".into(),
                    ));
                }
                v
            }
            None => {
                let s = stage.unwrap_or(CURRENT);
                r.staged(s).ok_or_else(|| {
                    SmError::ResourceNotFound(format!(
                        "Secrets Manager can't find the specified secret value for staging label: {s}"
                    ))
                })?
            }
        };
        let plain = seal::open(self.ctx.kms.as_ref(), &r.arn, v)?;
        let out = value_of(&r, v, plain)?;
        self.touch(&r, &v.id)?;
        Ok(out)
    }

    /// Record the day of this access (LastAccessedDate is a date), if it changed.
    fn touch(&self, r: &SecretRecord, version: &str) -> Result<(), SmError> {
        let day = self.now().div_euclid(86_400_000) * 86_400_000;
        let stale = |t: Option<i64>| t != Some(day);
        if !stale(r.last_accessed_ms) && !stale(r.version(version).and_then(|v| v.last_accessed_ms))
        {
            return Ok(());
        }
        let _lock = record::lock(&self.ctx.dir)?;
        if let Some(mut r) = record::read_named(&self.ctx.dir, &r.name)? {
            r.last_accessed_ms = Some(day);
            if let Some(v) = r.version_mut(version) {
                v.last_accessed_ms = Some(day);
            }
            record::write(&self.ctx.dir, &r)?;
        }
        Ok(())
    }

    pub fn batch_get_secret_value(
        &self,
        req: BatchGetSecretValueRequest,
    ) -> Result<BatchGetSecretValueResponse, SmError> {
        self.audited("BatchGetSecretValue", "", || self.batch_get(req))
    }

    fn batch_get(
        &self,
        req: BatchGetSecretValueRequest,
    ) -> Result<BatchGetSecretValueResponse, SmError> {
        let (ids, next_token) = match (&req.secret_id_list, &req.filters) {
            (Some(_), Some(_)) => {
                return Err(SmError::InvalidParameter(
                    "Either 'SecretIdList' or 'Filters' must be provided, but not both.".into(),
                ));
            }
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > 20 {
                    return Err(SmError::InvalidParameter(
                        "1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length between 1 and 20".into(),
                    ));
                }
                (ids.clone(), None)
            }
            (None, Some(f)) => {
                let list = self.list(ListSecretsRequest {
                    filters: Some(f.clone()),
                    max_results: Some(req.max_results.unwrap_or(20).clamp(1, 20)),
                    next_token: req.next_token.clone(),
                    ..Default::default()
                })?;
                (
                    list.secret_list.into_iter().map(|s| s.arn).collect(),
                    list.next_token,
                )
            }
            (None, None) => {
                return Err(SmError::InvalidParameter(
                    "Either 'SecretIdList' or 'Filters' must be provided.".into(),
                ));
            }
        };
        let mut out = BatchGetSecretValueResponse {
            next_token,
            ..Default::default()
        };
        for id in ids {
            match self.get(&id, None, None) {
                Ok(v) => out.secret_values.push(v),
                Err(e) => out.errors.push(ApiError {
                    secret_id: id,
                    error_code: e.code().to_string(),
                    message: e.to_string(),
                }),
            }
        }
        Ok(out)
    }

    pub fn get_random_password(
        &self,
        spec: password::PasswordSpec,
    ) -> Result<RandomPasswordResponse, SmError> {
        self.audited("GetRandomPassword", "", || {
            let p = password::random_password(&spec).map_err(SmError::InvalidParameter)?;
            Ok(RandomPasswordResponse {
                random_password: SecretText(p),
            })
        })
    }
}

/// The response of a version's opened value.
fn value_of(
    r: &SecretRecord,
    v: &record::Version,
    plain: SecretBytes,
) -> Result<SecretValue, SmError> {
    let (secret_string, secret_binary) = if v.binary {
        (None, Some(plain))
    } else {
        let s = std::str::from_utf8(plain.expose()).map_err(|_| {
            SmError::DecryptionFailure(format!("version {} of {} is not UTF-8 text", v.id, r.arn))
        })?;
        (Some(SecretText::new(s)), None)
    };
    Ok(SecretValue {
        arn: r.arn.clone(),
        name: r.name.clone(),
        version_id: v.id.clone(),
        secret_binary,
        secret_string,
        version_stages: v.stages.clone(),
        created_date: secs(v.created_ms),
    })
}

/// Is this message AWS's for a secret scheduled for deletion?
pub fn is_marked_for_deletion(e: &SmError) -> bool {
    matches!(e, SmError::InvalidRequest(m) if m == MARKED_FOR_DELETION)
}
