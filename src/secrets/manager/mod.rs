//! Secrets Manager on the KMS: secrets with versions and staging labels, each version's
//! value sealed under a data key from the secret's KMS key (`seal.rs`), stored one record
//! file per secret (`record.rs`), rotated by a local program or by kmsfs itself
//! (`rotation.rs`). [`SecretsManager`] is the API the CLI and the endpoint share; every
//! request writes one service line to the trail (`ctx.audit`), success or failure, never a
//! value. Operation families: `values.rs` (create, read, write), `admin.rs` (describe,
//! list, labels, delete, restore, tags, policies), `rotation.rs`.

pub mod admin;
pub mod error;
mod filters;
pub mod password;
pub mod record;
pub mod rotation;
pub mod schedule;
pub mod seal;
pub mod types;
pub mod values;
pub mod versions;

pub use error::SmError;
pub use types::*;

use super::{Service, ServiceContext};
use error::MARKED_FOR_DELETION;
use record::SecretRecord;

/// Secrets Manager for one account and region, for one caller.
pub struct SecretsManager {
    ctx: ServiceContext,
}

impl SecretsManager {
    pub fn new(ctx: ServiceContext) -> SecretsManager {
        SecretsManager { ctx }
    }

    pub fn context(&self) -> &ServiceContext {
        &self.ctx
    }

    fn now(&self) -> i64 {
        self.ctx.now_ms()
    }

    /// `arn:PART:secretsmanager:REGION:ACCOUNT:secret:`.
    fn arn_prefix(&self) -> String {
        format!(
            "arn:{}:secretsmanager:{}:{}:secret:",
            self.ctx.partition, self.ctx.region, self.ctx.account_id
        )
    }

    /// A new secret's ARN: the name, `-` and 6 random letters and digits.
    fn new_arn(&self, name: &str) -> Result<String, SmError> {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut b = [0u8; 6];
        crate::crypto::fill_random(&mut b).map_err(|e| SmError::Internal(e.to_string()))?;
        let s: String = b
            .iter()
            .map(|x| CHARS[*x as usize % CHARS.len()] as char)
            .collect();
        Ok(format!("{}{name}-{s}", self.arn_prefix()))
    }

    /// Run one request `op` on `resource`, writing its audit line.
    fn audited<T>(
        &self,
        op: &'static str,
        resource: &str,
        f: impl FnOnce() -> Result<T, SmError>,
    ) -> Result<T, SmError> {
        let r = f();
        let resource = (!resource.is_empty()).then(|| self.resource_arn(resource));
        let err = r.as_ref().err().map(|e| (e.code(), e.to_string()));
        self.ctx.audit(Service::SecretsManager, op, resource, err);
        r
    }

    /// The ARN of the secret `id` names, for the audit line (the id itself if none).
    fn resource_arn(&self, id: &str) -> String {
        match self.find_any(id) {
            Ok(Some(r)) => r.arn,
            _ => id.to_string(),
        }
    }

    /// The secret `id` names (its name, full ARN, or ARN without the 6-character suffix);
    /// `None` if there is none or its recovery window has passed.
    fn find_any(&self, id: &str) -> Result<Option<SecretRecord>, SmError> {
        let dir = &self.ctx.dir;
        let r = match id.strip_prefix("arn:") {
            None => record::read_named(dir, id)?,
            Some(_) => {
                let prefix = self.arn_prefix();
                let Some(rest) = id.strip_prefix(prefix.as_str()) else {
                    return Ok(None);
                };
                let full = rest
                    .len()
                    .checked_sub(7)
                    .filter(|&i| rest.as_bytes()[i] == b'-' && rest.is_char_boundary(i))
                    .map(|i| &rest[..i]);
                let exact = match full {
                    Some(name) => record::read_named(dir, name)?.filter(|r| r.arn == id),
                    None => None,
                };
                match exact {
                    Some(r) => Some(r),
                    None => record::read_named(dir, rest)?
                        .filter(|r| r.arn.len() == id.len() + 7 && r.arn.starts_with(id)),
                }
            }
        };
        Ok(r.filter(|r| !self.expired(r)))
    }

    /// The secret `id` names, or ResourceNotFoundException.
    fn find(&self, id: &str) -> Result<SecretRecord, SmError> {
        if id.is_empty() {
            return Err(SmError::InvalidParameter(
                "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
            ));
        }
        self.find_any(id)?.ok_or_else(SmError::not_found)
    }

    /// The live (not deleted) secret `id` names.
    fn find_live(&self, id: &str) -> Result<SecretRecord, SmError> {
        let r = self.find(id)?;
        if r.deleted_ms.is_some() {
            return Err(SmError::InvalidRequest(MARKED_FOR_DELETION.into()));
        }
        Ok(r)
    }

    /// Whether `r`'s recovery window has passed (it is gone).
    fn expired(&self, r: &SecretRecord) -> bool {
        r.purge_ms.is_some_and(|t| t <= self.now())
    }

    /// Read-modify-write the secret `id` under the directory's lock; `live`: refuse a
    /// secret scheduled for deletion.
    fn modify<T>(
        &self,
        id: &str,
        live: bool,
        f: impl FnOnce(&mut SecretRecord) -> Result<T, SmError>,
    ) -> Result<T, SmError> {
        let _lock = record::lock(&self.ctx.dir)?;
        let mut r = if live {
            self.find_live(id)?
        } else {
            self.find(id)?
        };
        let out = f(&mut r)?;
        record::write(&self.ctx.dir, &r)?;
        Ok(out)
    }

    /// Remove the secrets whose recovery window has passed (the caller holds the lock).
    fn purge_expired(&self) -> Result<(), SmError> {
        for r in record::read_all(&self.ctx.dir)? {
            if self.expired(&r) {
                record::remove(&self.ctx.dir, &r.name)?;
            }
        }
        Ok(())
    }

    /// Every live-or-deleted secret not yet purged (purging those that are due).
    fn all(&self) -> Result<Vec<SecretRecord>, SmError> {
        let _lock = record::lock(&self.ctx.dir)?;
        self.purge_expired()?;
        record::read_all(&self.ctx.dir)
    }
}

/// Check a length bound in AWS's validation wording.
fn check_len(member: &str, v: &str, min: usize, max: usize) -> Result<(), SmError> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(SmError::InvalidParameter(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    Ok(())
}
