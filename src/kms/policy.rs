//! Key policy documents: the check every policy passes (size, JSON with a Statement) and the
//! policies a new key gets: the account's default, and the one of an AWS-managed key.

use super::error::KmsError;
use crate::home::AccountConfig;

/// A key policy: 1 to 32 KiB of JSON with a Statement.
pub(crate) fn check_policy(p: &str) -> Result<String, KmsError> {
    if p.is_empty() || p.len() > 32 * 1024 {
        return Err(KmsError::bound(
            format!("<{} characters>", p.len()),
            "policy",
            "Member must have length between 1 and 32768",
        ));
    }
    let v: serde_json::Value = serde_json::from_str(p).map_err(|e| {
        KmsError::MalformedPolicyDocument(format!("the policy is not valid JSON: {e}"))
    })?;
    if !v
        .get("Statement")
        .is_some_and(|s| s.is_array() || s.is_object())
    {
        return Err(KmsError::MalformedPolicyDocument(
            "the policy has no Statement".into(),
        ));
    }
    Ok(p.to_string())
}

/// The default key policy: the account's IAM policies decide.
pub(crate) fn default_policy(a: &AccountConfig) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:{}:iam::{}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#,
        a.partition, a.account_id
    )
}

/// The key policy of the AWS-managed key of `service`.
pub(crate) fn managed_policy(a: &AccountConfig, service: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Id":"auto-{service}-1","Statement":[{{"Sid":"Allow access through {service} for all principals in the account that are authorized to use {service}","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{acct}","kms:ViaService":"{service}.{region}.amazonaws.com"}}}}}},{{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{{"AWS":"arn:{part}:iam::{acct}:root"}},"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}}]}}"#,
        acct = a.account_id,
        region = a.region,
        part = a.partition,
    )
}
