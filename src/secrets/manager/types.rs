//! Request and response shapes of Secrets Manager, field for field as AWS's JSON 1.1
//! protocol names them (PascalCase, `SecretBinary` as base64, timestamps as epoch seconds).
//! The server parses requests from JSON; the CLI builds them; both print the responses.

use crate::crypto::SecretBytes;
use crate::kms::types::b64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A secret string: zeroized on drop, redacted in `Debug`.
#[derive(Clone, Default, PartialEq)]
pub struct SecretText(pub zeroize::Zeroizing<String>);

impl Serialize for SecretText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SecretText, D::Error> {
        Ok(SecretText(zeroize::Zeroizing::new(String::deserialize(d)?)))
    }
}

impl SecretText {
    pub fn new(s: impl Into<String>) -> SecretText {
        SecretText(zeroize::Zeroizing::new(s.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A ListSecrets / BatchGetSecretValue filter.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Filter {
    pub key: String,
    pub values: Vec<String>,
}

/// `RotationRules`, as AWS shapes it.
pub use super::schedule::RotationRules;

macro_rules! req {
    ($name:ident { $($(#[$m:meta])* $f:ident : $t:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(rename_all = "PascalCase", default)]
        pub struct $name { $($(#[$m])* pub $f: $t,)* }
    };
}

macro_rules! resp {
    ($name:ident { $($(#[$m:meta])* $f:ident : $t:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Default, Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name { $($(#[$m])* #[serde(skip_serializing_if = "is_empty")] pub $f: $t,)* }
    };
}

/// `skip_serializing_if` for responses: absent members are not sent.
fn is_empty<T: Skip>(v: &T) -> bool {
    v.skip()
}

trait Skip {
    fn skip(&self) -> bool;
}
impl<T> Skip for Option<T> {
    fn skip(&self) -> bool {
        self.is_none()
    }
}
impl Skip for String {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}
impl<T> Skip for Vec<T> {
    fn skip(&self) -> bool {
        false
    }
}

req!(CreateSecretRequest {
    name: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    #[serde(with = "b64::opt_secret")]
    secret_binary: Option<SecretBytes>,
    secret_string: Option<SecretText>,
    tags: Option<Vec<Tag>>,
    add_replica_regions: Option<Vec<serde_json::Value>>,
    force_overwrite_replica_secret: Option<bool>,
});

resp!(ArnNameVersion {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: Option<String>,
});

req!(SecretIdRequest { secret_id: String });

req!(GetSecretValueRequest {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
});

/// GetSecretValueResponse, and an entry of BatchGetSecretValue's `SecretValues`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretValue {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    pub version_id: String,
    #[serde(with = "b64::opt_secret", skip_serializing_if = "Option::is_none")]
    pub secret_binary: Option<SecretBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_string: Option<SecretText>,
    pub version_stages: Vec<String>,
    pub created_date: f64,
}

req!(BatchGetSecretValueRequest {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<Filter>>,
    max_results: Option<i64>,
    next_token: Option<String>,
});

/// One secret BatchGetSecretValue could not read.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiError {
    pub secret_id: String,
    pub error_code: String,
    pub message: String,
}

resp!(BatchGetSecretValueResponse {
    secret_values: Vec<SecretValue>,
    next_token: Option<String>,
    errors: Vec<ApiError>,
});

req!(PutSecretValueRequest {
    secret_id: String,
    client_request_token: Option<String>,
    #[serde(with = "b64::opt_secret")]
    secret_binary: Option<SecretBytes>,
    secret_string: Option<SecretText>,
    version_stages: Option<Vec<String>>,
    rotation_token: Option<String>,
});

resp!(PutSecretValueResponse {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<String>,
});

req!(UpdateSecretRequest {
    secret_id: String,
    client_request_token: Option<String>,
    description: Option<String>,
    kms_key_id: Option<String>,
    #[serde(with = "b64::opt_secret")]
    secret_binary: Option<SecretBytes>,
    secret_string: Option<SecretText>,
});

resp!(DescribeSecretResponse {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    description: Option<String>,
    kms_key_id: Option<String>,
    rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<RotationRules>,
    last_rotated_date: Option<f64>,
    last_changed_date: Option<f64>,
    last_accessed_date: Option<f64>,
    deleted_date: Option<f64>,
    next_rotation_date: Option<f64>,
    tags: Option<Vec<Tag>>,
    version_ids_to_stages: Option<BTreeMap<String, Vec<String>>>,
    /// ListSecrets names the same map `SecretVersionsToStages`.
    secret_versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    created_date: Option<f64>,
    primary_region: Option<String>,
});

req!(ListSecretsRequest {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<Filter>>,
    sort_order: Option<String>,
    sort_by: Option<String>,
});

resp!(ListSecretsResponse {
    secret_list: Vec<DescribeSecretResponse>,
    next_token: Option<String>,
});

req!(ListSecretVersionIdsRequest {
    secret_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
});

resp!(VersionEntry {
    version_id: String,
    version_stages: Option<Vec<String>>,
    last_accessed_date: Option<f64>,
    created_date: Option<f64>,
    kms_key_ids: Option<Vec<String>>,
});

resp!(ListSecretVersionIdsResponse {
    versions: Vec<VersionEntry>,
    next_token: Option<String>,
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
});

req!(UpdateSecretVersionStageRequest {
    secret_id: String,
    version_stage: String,
    remove_from_version_id: Option<String>,
    move_to_version_id: Option<String>,
});

req!(DeleteSecretRequest {
    secret_id: String,
    recovery_window_in_days: Option<i64>,
    force_delete_without_recovery: Option<bool>,
});

resp!(DeleteSecretResponse {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    deletion_date: Option<f64>,
});

req!(TagResourceRequest {
    secret_id: String,
    tags: Vec<Tag>,
});

req!(UntagResourceRequest {
    secret_id: String,
    tag_keys: Vec<String>,
});

req!(PutResourcePolicyRequest {
    secret_id: String,
    resource_policy: String,
    block_public_policy: Option<bool>,
});

resp!(ResourcePolicyResponse {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    resource_policy: Option<String>,
});

req!(ValidateResourcePolicyRequest {
    secret_id: Option<String>,
    resource_policy: String,
});

/// One finding of ValidateResourcePolicy.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationError {
    pub check_name: String,
    pub error_message: String,
}

resp!(ValidateResourcePolicyResponse {
    policy_validation_passed: Option<bool>,
    validation_errors: Vec<ValidationError>,
});

/// GetRandomPasswordResponse.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RandomPasswordResponse {
    pub random_password: SecretText,
}

req!(RotateSecretRequest {
    secret_id: String,
    client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<RotationRules>,
    rotate_immediately: Option<bool>,
});

/// What `run-due-rotations` did for one secret.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DueRotation {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `run-due-rotations`' report.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DueRotationsResponse {
    pub rotated: Vec<DueRotation>,
}

/// Epoch seconds (AWS's JSON timestamps) of Unix milliseconds.
pub fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}
