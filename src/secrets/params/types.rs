//! Parameter Store's request and response shapes, as AWS's JSON names them (botocore's
//! `ssm` service model): the CLI prints them, the endpoint parses and answers them.
//! Timestamps are epoch seconds (floats); values are [`ParamValue`]s (redacted in `Debug`).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A parameter's value (or its ciphertext, base64): zeroized on drop, never in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ParamValue(Zeroizing<String>);

impl Serialize for ParamValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ParamValue::new)
    }
}

impl ParamValue {
    pub fn new(s: impl Into<String>) -> ParamValue {
        ParamValue(Zeroizing::new(s.into()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParamValue(<redacted>)")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutParameterRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub value: ParamValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterResponse {
    pub version: u64,
    pub tier: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParameterRequest {
    pub name: String,
    pub with_decryption: Option<bool>,
}

/// One parameter as GetParameter(s) and GetParametersByPath return it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub name: String,
    pub r#type: String,
    pub value: ParamValue,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_result: Option<String>,
    pub last_modified_date: f64,
    #[serde(rename = "ARN")]
    pub arn: String,
    pub data_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterResponse {
    pub parameter: Parameter,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParametersRequest {
    pub names: Vec<String>,
    pub with_decryption: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersResponse {
    pub parameters: Vec<Parameter>,
    pub invalid_parameters: Vec<String>,
}

/// A filter of GetParametersByPath and DescribeParameters (`ParameterStringFilter`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ParameterStringFilter {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParametersByPathRequest {
    pub path: String,
    pub recursive: Option<bool>,
    pub parameter_filters: Option<Vec<ParameterStringFilter>>,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathResponse {
    pub parameters: Vec<Parameter>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParameterHistoryRequest {
    pub name: String,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

/// A policy of a parameter as AWS shows it (`ParameterInlinePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInlinePolicy {
    pub policy_text: String,
    pub policy_type: String,
    pub policy_status: String,
}

/// One version of a parameter (`ParameterHistory`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterHistory {
    pub name: String,
    pub r#type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_id: Option<String>,
    pub last_modified_date: f64,
    pub last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    pub value: ParamValue,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed_pattern: Option<String>,
    pub version: u64,
    pub labels: Vec<String>,
    pub tier: String,
    pub policies: Vec<ParameterInlinePolicy>,
    pub data_type: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryResponse {
    pub parameters: Vec<ParameterHistory>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LabelParameterVersionRequest {
    pub name: String,
    pub parameter_version: Option<u64>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelParameterVersionResponse {
    pub invalid_labels: Vec<String>,
    pub parameter_version: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnlabelParameterVersionResponse {
    pub removed_labels: Vec<String>,
    pub invalid_labels: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NameRequest {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteParametersRequest {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersResponse {
    pub deleted_parameters: Vec<String>,
    pub invalid_parameters: Vec<String>,
}

/// DescribeParameters' older filter (`ParametersFilter`: Name, Type, KeyId).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ParametersFilter {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeParametersRequest {
    pub filters: Option<Vec<ParametersFilter>>,
    pub parameter_filters: Option<Vec<ParameterStringFilter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub shared: Option<bool>,
}

/// A parameter without its value (`ParameterMetadata`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterMetadata {
    pub name: String,
    #[serde(rename = "ARN")]
    pub arn: String,
    pub r#type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_id: Option<String>,
    pub last_modified_date: f64,
    pub last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed_pattern: Option<String>,
    pub version: u64,
    pub tier: String,
    pub policies: Vec<ParameterInlinePolicy>,
    pub data_type: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersResponse {
    pub parameters: Vec<ParameterMetadata>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AddTagsToResourceRequest {
    pub resource_type: String,
    pub resource_id: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RemoveTagsFromResourceRequest {
    pub resource_type: String,
    pub resource_id: String,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagsForResourceRequest {
    pub resource_type: String,
    pub resource_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceResponse {
    pub tag_list: Vec<Tag>,
}

/// An operation's empty answer (`{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Empty {}
