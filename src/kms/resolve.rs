//! Key resolution: which account's KMS serves a request ([`Kms::serving`]: the key's
//! account when an operation AWS allows across accounts names the key by ARN, else the
//! caller's), and a request's KeyId (key id, key ARN, alias name or alias ARN) to a live
//! key, with AWS's validation and error names. An alias of an AWS-managed key that does not
//! exist yet creates the key ([`super::maintenance`]).

use super::caller::Caller;
use super::error::KmsError;
use super::keystore::LoadedKey;
use super::service::{Call, Kms, MANAGED_SERVICES};
use super::types::*;
use std::sync::Arc;

/// The operations AWS lets a principal of another account call on a key (the key named
/// by its ARN; the key policy decides whether it is allowed). Every other operation acts
/// in the caller's account only.
pub(crate) const CROSS_ACCOUNT_OPERATIONS: &[&str] = &[
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "ListGrants",
    "ReEncrypt",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// A request that may name a key by ARN: the KeyId that picks the account serving it
/// (`None`: the caller's account serves it).
pub(crate) trait NamesKey {
    fn named_key(&self) -> Option<&str> {
        None
    }
}

macro_rules! names_key {
    ($($t:ty => $f:ident),* $(,)?) => {
        $(impl NamesKey for $t {
            fn named_key(&self) -> Option<&str> {
                Some(&self.$f)
            }
        })*
    };
}
names_key!(
    KeyIdRequest => key_id,
    EncryptRequest => key_id,
    GenerateDataKeyRequest => key_id,
    ScheduleKeyDeletionRequest => key_id,
    EnableKeyRotationRequest => key_id,
    TagResourceRequest => key_id,
    UntagResourceRequest => key_id,
    UpdateKeyDescriptionRequest => key_id,
    GetKeyPolicyRequest => key_id,
    PutKeyPolicyRequest => key_id,
    CreateGrantRequest => key_id,
    ListGrantsRequest => key_id,
    RevokeGrantRequest => key_id,
    SignRequest => key_id,
    VerifyRequest => key_id,
    GenerateMacRequest => key_id,
    VerifyMacRequest => key_id,
    DeriveSharedSecretRequest => key_id,
    GenerateDataKeyPairRequest => key_id,
);
impl NamesKey for () {}
impl NamesKey for CreateKeyRequest {}
impl NamesKey for AliasRequest {}
impl NamesKey for GenerateRandomRequest {}
impl NamesKey for ListRetirableGrantsRequest {}
impl NamesKey for RetireGrantRequest {
    fn named_key(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}
impl NamesKey for ListRequest {
    fn named_key(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}
impl NamesKey for DecryptRequest {
    fn named_key(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}
impl NamesKey for ReEncryptRequest {
    /// The source key when named by ARN, else the destination key.
    fn named_key(&self) -> Option<&str> {
        let source = self
            .source_key_id
            .as_deref()
            .filter(|k| k.starts_with("arn:"));
        source.or(Some(&self.destination_key_id))
    }
}

/// The account of a principal ARN (`arn:PARTITION:iam::ACCOUNT:...` or
/// `arn:PARTITION:sts::ACCOUNT:...`); `None` for a service principal.
pub(crate) fn principal_account(principal: &str) -> Option<&str> {
    let mut it = principal.splitn(6, ':');
    match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (Some("arn"), Some(_), Some("iam" | "sts"), Some(""), Some(a)) if !a.is_empty() => Some(a),
        _ => None,
    }
}

/// The account of a KMS key or alias ARN (`arn:PARTITION:kms:REGION:ACCOUNT:...`); `None`
/// for a key id or alias name.
pub(crate) fn key_arn_account(key_id: &str) -> Option<&str> {
    let mut it = key_id.splitn(6, ':');
    match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (Some("arn"), Some(_), Some("kms"), Some(_), Some(a)) if !a.is_empty() => Some(a),
        _ => None,
    }
}

/// The KMS that serves a request: this one, or another account's.
pub(super) enum Serving<'a> {
    This(&'a Kms),
    Other(Arc<Kms>),
}

impl std::ops::Deref for Serving<'_> {
    type Target = Kms;

    fn deref(&self) -> &Kms {
        match self {
            Serving::This(k) => k,
            Serving::Other(k) => k,
        }
    }
}

/// What a KeyId names.
enum KeyRef {
    Id([u8; 16]),
    Alias(String),
}

/// The id of a key from its string as the keystore keeps it (an alias target: the UUID
/// form) or as AWS shows it (`key_id.rs`).
pub(super) fn parse_uuid(s: &str) -> Result<[u8; 16], KmsError> {
    super::key_id::parse_stored(s).ok_or_else(|| KmsError::NotFound(format!("Invalid keyId '{s}'")))
}

/// The service and key description of an `alias/aws/<service>` the KMS manages.
fn managed_service(alias: &str) -> Option<(&'static str, &'static str)> {
    let svc = alias.strip_prefix("alias/aws/")?;
    MANAGED_SERVICES.iter().find(|(s, _)| *s == svc).copied()
}

impl Kms {
    /// Which KMS (of this region) serves `operation` for `caller`: the account of the key
    /// `req` names by ARN if AWS allows the operation across accounts, else the caller's
    /// account; an account the home does not hold (or a service principal) leaves the
    /// request here.
    pub(super) fn serving(
        &self,
        caller: &Caller,
        operation: &str,
        req: &impl NamesKey,
    ) -> Result<Serving<'_>, KmsError> {
        let by_key = req
            .named_key()
            .filter(|_| CROSS_ACCOUNT_OPERATIONS.contains(&operation))
            .and_then(key_arn_account);
        let by_caller = principal_account(caller.principal());
        for account in [by_key, by_caller].into_iter().flatten() {
            if account == self.account.account_id {
                return Ok(Serving::This(self));
            }
            let region = &self.account.region;
            if let Some(k) = self.in_account(account, region)? {
                return Ok(Serving::Other(k));
            }
        }
        Ok(Serving::This(self))
    }

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
        match super::key_id::parse(id) {
            Some(id) => Ok(KeyRef::Id(id)),
            // A UUID spelling of a multi-Region key's id names no key, as in AWS.
            None if uuid::Uuid::try_parse(id).is_ok() => Err(KmsError::NotFound(format!(
                "Key 'arn:{}:kms:{}:{}:key/{id}' does not exist",
                self.account.partition, self.account.region, self.account.account_id
            ))),
            None => Err(invalid()),
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
    /// Resolve a KeyId as [`Kms::resolve`] does, note the key in the trail, and check the
    /// caller's permission for the operation on it (`authorize.rs`).
    pub(super) fn resolve_noted(
        &self,
        key_id: &str,
        allow_alias: bool,
    ) -> Result<Arc<LoadedKey>, KmsError> {
        let k = self.resolve(key_id, allow_alias)?;
        self.note_key(self.key_arn(&k).to_string());
        self.authorize_operation(&k, Some(key_id))?;
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
