//! Key resolution: a request's KeyId (key id, key ARN, alias name or alias ARN) to a live
//! key, with AWS's validation and error names. An alias of an AWS-managed key that does not
//! exist yet creates the key ([`super::maintenance`]).

use super::error::KmsError;
use super::keystore::LoadedKey;
use super::service::{Call, Kms, MANAGED_SERVICES};
use std::sync::Arc;

/// What a KeyId names.
enum KeyRef {
    Id([u8; 16]),
    Alias(String),
}

/// The id of a key from its UUID string.
pub(super) fn parse_uuid(s: &str) -> Result<[u8; 16], KmsError> {
    uuid::Uuid::try_parse(s)
        .map(|u| *u.as_bytes())
        .map_err(|_| KmsError::NotFound(format!("Invalid keyId '{s}'")))
}

/// The service and key description of an `alias/aws/<service>` the KMS manages.
fn managed_service(alias: &str) -> Option<(&'static str, &'static str)> {
    let svc = alias.strip_prefix("alias/aws/")?;
    MANAGED_SERVICES.iter().find(|(s, _)| *s == svc).copied()
}

impl Kms {
    fn parse_key_ref(&self, s: &str, allow_alias: bool) -> Result<KeyRef, KmsError> {
        if s.is_empty() {
            return Err(KmsError::bound("null", "keyId", "Member must not be null"));
        }
        if s.len() > 2048 {
            return Err(KmsError::bound(
                s.len(),
                "keyId",
                "Member must have length less than or equal to 2048",
            ));
        }
        let invalid = || KmsError::NotFound(format!("Invalid keyId '{s}'"));
        let resource = if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" {
                return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
            }
            if parts[0] != self.account.partition
                || parts[2] != self.account.region
                || parts[3] != self.account.account_id
            {
                return Err(KmsError::NotFound(format!("Key '{s}' does not exist")));
            }
            parts[4]
        } else {
            s
        };
        if resource.starts_with("alias/") {
            if !allow_alias {
                return Err(invalid());
            }
            return Ok(KeyRef::Alias(resource.to_string()));
        }
        let id = resource.strip_prefix("key/").unwrap_or(resource);
        if s.starts_with("arn:") && !resource.starts_with("key/") {
            return Err(KmsError::InvalidArn(format!("Invalid arn {s}")));
        }
        match uuid::Uuid::try_parse(id) {
            Ok(u) if u.hyphenated().to_string() == id.to_ascii_lowercase() => {
                Ok(KeyRef::Id(*u.as_bytes()))
            }
            _ => Err(invalid()),
        }
    }

    /// Resolve a KeyId (id, ARN, and with `allow_alias` also alias name or ARN) to a live key.
    pub(super) fn resolve(&self, s: &str, allow_alias: bool) -> Result<Arc<LoadedKey>, KmsError> {
        let id = match self.parse_key_ref(s, allow_alias)? {
            KeyRef::Id(id) => id,
            KeyRef::Alias(name) => {
                let table = self.ks.aliases()?;
                match table.get(&name) {
                    Some(e) => parse_uuid(&e.target)?,
                    None => match managed_service(&name) {
                        Some((svc, desc)) => return self.managed_key(svc, desc),
                        None => {
                            return Err(KmsError::NotFound(format!(
                                "Alias {} is not found.",
                                self.alias_arn(&name)
                            )));
                        }
                    },
                }
            }
        };
        self.get_live(&id)?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", self.arn(&id))))
    }

    /// The key `id` after lazy maintenance, or `None` if it does not (or no longer) exist.
    pub(super) fn get_live(&self, id: &[u8; 16]) -> Result<Option<Arc<LoadedKey>>, KmsError> {
        match self.ks.get(id)? {
            Some(k) => self.maintain(k),
            None => Ok(None),
        }
    }
}

impl Call<'_> {
    /// Resolve a KeyId as [`Kms::resolve`] does and note the key in the trail.
    pub(super) fn resolve_noted(
        &self,
        key_id: &str,
        allow_alias: bool,
    ) -> Result<Arc<LoadedKey>, KmsError> {
        let k = self.resolve(key_id, allow_alias)?;
        self.note_key(self.key_arn(&k).to_string());
        Ok(k)
    }

    /// Resolve the KeyId of a cryptographic operation (aliases allowed), note it in the
    /// trail, and check that the key is enabled.
    pub(super) fn resolve_usable(&self, key_id: &str) -> Result<Arc<LoadedKey>, KmsError> {
        let k = self.resolve_noted(key_id, true)?;
        self.require_usable(&k)?;
        Ok(k)
    }

    /// Resolve a management KeyId (key id or key ARN only) and note it in the trail.
    pub(super) fn resolve_mgmt(&self, key_id: &str) -> Result<[u8; 16], KmsError> {
        Ok(self.resolve_noted(key_id, false)?.record.key_id)
    }
}
