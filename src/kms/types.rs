//! Request and response shapes of the KMS operations, field for field as the AWS JSON 1.1
//! protocol names them (PascalCase, blobs as base64, timestamps as epoch seconds). The
//! embedded client passes them in memory; a remote client sends them as JSON.

use super::context::EncryptionContext;
use crate::crypto::SecretBytes;
use serde::{Deserialize, Serialize};

pub use super::types_mrk::*;

/// Base64 (standard alphabet, padded) for blob members.
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn encode(b: &[u8]) -> String {
        STANDARD.encode(b)
    }

    pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(s)
    }

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }

    /// The same for secrets: the decoded bytes go straight into a zeroizing buffer.
    pub mod secret {
        use super::*;
        use crate::crypto::SecretBytes;

        pub fn serialize<S: Serializer>(b: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
            let enc = zeroize::Zeroizing::new(super::encode(b.expose()));
            s.serialize_str(&enc)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
            let s = zeroize::Zeroizing::new(String::deserialize(d)?);
            super::decode(&s)
                .map(SecretBytes::new)
                .map_err(serde::de::Error::custom)
        }
    }

    /// Optional secret.
    pub mod opt_secret {
        use super::*;
        use crate::crypto::SecretBytes;

        pub fn serialize<S: Serializer>(b: &Option<SecretBytes>, s: S) -> Result<S::Ok, S::Error> {
            match b {
                Some(b) => super::secret::serialize(b, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SecretBytes>, D::Error> {
            super::secret::deserialize(d).map(Some)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "TagKey")]
    pub tag_key: String,
    #[serde(rename = "TagValue")]
    pub tag_value: String,
}

/// `KeyMetadata` as DescribeKey and CreateKey return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: f64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: String,
    pub key_state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pending_deletion_window_in_days: Option<u32>,
    pub origin: String,
    pub key_manager: String,
    pub customer_master_key_spec: String,
    pub key_spec: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encryption_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signing_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mac_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_agreement_algorithms: Option<Vec<String>>,
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
    /// Imported material's expiry (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_to: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expiration_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub current_key_material_id: Option<String>,
}

/// A multi-Region key's set, as DescribeKey shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionConfiguration {
    /// `PRIMARY` or `REPLICA`.
    pub multi_region_key_type: String,
    pub primary_key: MultiRegionKey,
    pub replica_keys: Vec<MultiRegionKey>,
}

/// One key of a multi-Region set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionKey {
    pub arn: String,
    pub region: String,
}

macro_rules! shape {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase", default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

macro_rules! out_shape {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

shape!(CreateKeyRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_master_key_spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_region: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bypass_policy_lockout_safety_check: Option<bool>,
});
out_shape!(CreateKeyResponse {
    key_metadata: KeyMetadata
});

shape!(KeyIdRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(DescribeKeyResponse {
    key_metadata: KeyMetadata
});

shape!(ListRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}
out_shape!(ListKeysResponse {
    keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_marker: Option<String>,
    truncated: bool,
});

shape!(AliasRequest {
    alias_name: String,
    target_key_id: String
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub creation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_updated_date: Option<f64>,
}
out_shape!(ListAliasesResponse {
    aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_marker: Option<String>,
    truncated: bool,
});

shape!(EncryptRequest {
    key_id: String,
    #[serde(with = "b64::secret")]
    plaintext: SecretBytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<String>,
});
out_shape!(EncryptResponse {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    key_id: String,
    encryption_algorithm: String,
});

shape!(DecryptRequest {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<String>,
});
out_shape!(DecryptResponse {
    key_id: String,
    #[serde(with = "b64::secret")]
    plaintext: SecretBytes,
    encryption_algorithm: String,
    key_material_id: String,
});

shape!(ReEncryptRequest {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_key_id: Option<String>,
    destination_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_encryption_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_encryption_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(ReEncryptResponse {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: String,
    destination_encryption_algorithm: String,
    source_key_material_id: String,
    destination_key_material_id: String,
});

shape!(GenerateDataKeyRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_of_bytes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
});
out_shape!(GenerateDataKeyResponse {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    #[serde(with = "b64::secret")]
    plaintext: SecretBytes,
    key_id: String,
    key_material_id: String,
});
out_shape!(GenerateDataKeyWithoutPlaintextResponse {
    #[serde(with = "b64")]
    ciphertext_blob: Vec<u8>,
    key_id: String,
    key_material_id: String,
});

shape!(GenerateRandomRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    number_of_bytes: Option<u32>,
});
out_shape!(GenerateRandomResponse {
    #[serde(with = "b64::secret")]
    plaintext: SecretBytes,
});

shape!(ScheduleKeyDeletionRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_window_in_days: Option<u32>,
});
out_shape!(ScheduleKeyDeletionResponse {
    key_id: String,
    deletion_date: f64,
    key_state: String,
    pending_window_in_days: u32,
});
out_shape!(KeyIdResponse { key_id: String });

shape!(EnableKeyRotationRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<u32>,
});
out_shape!(GetKeyRotationStatusResponse {
    key_rotation_enabled: bool,
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_rotation_date: Option<f64>,
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    pub key_id: String,
    pub key_material_id: String,
    pub rotation_date: f64,
    pub rotation_type: String,
    pub key_material_state: String,
}
out_shape!(ListKeyRotationsResponse {
    rotations: Vec<RotationsListEntry>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_marker: Option<String>,
    truncated: bool,
});

shape!(TagResourceRequest { key_id: String, tags: Vec<Tag> });
shape!(UntagResourceRequest { key_id: String, tag_keys: Vec<String> });
out_shape!(ListResourceTagsResponse {
    tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_marker: Option<String>,
    truncated: bool,
});

shape!(UpdateKeyDescriptionRequest {
    key_id: String,
    description: String
});

shape!(GetKeyPolicyRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_name: Option<String>,
});
shape!(PutKeyPolicyRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_name: Option<String>,
    policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bypass_policy_lockout_safety_check: Option<bool>,
});
out_shape!(GetKeyPolicyResponse {
    policy: String,
    policy_name: String
});
out_shape!(ListKeyPoliciesResponse { policy_names: Vec<String>, truncated: bool });

/// `GrantConstraints`: the encryption context a grant's cryptographic operations need
/// (keys matched case-insensitively, values exactly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GrantConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<EncryptionContext>,
}

shape!(CreateGrantRequest {
    key_id: String,
    grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<String>,
    operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<GrantConstraints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_tokens: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
});
out_shape!(CreateGrantResponse {
    grant_token: String,
    grant_id: String
});

shape!(ListGrantsRequest {
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grantee_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
});
shape!(ListRetirableGrantsRequest {
    retiring_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
});

/// One grant as ListGrants and ListRetirableGrants return it (never its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    /// The key's ARN.
    pub key_id: String,
    pub grant_id: String,
    /// The grant's name, `""` when it has none (as AWS lists it).
    pub name: String,
    pub creation_date: f64,
    pub grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retiring_principal: Option<String>,
    /// `arn:<partition>:iam::<account>:root` of the account that created the grant.
    pub issuing_account: String,
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub constraints: Option<GrantConstraints>,
}
out_shape!(ListGrantsResponse {
    grants: Vec<GrantListEntry>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    next_marker: Option<String>,
    truncated: bool,
});

shape!(RetireGrantRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
});
shape!(RevokeGrantRequest {
    key_id: String,
    grant_id: String
});

mod asym;
pub use asym::*;
#[path = "types_import.rs"]
mod import;
pub use import::*;
