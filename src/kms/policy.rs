//! Key policy documents: the check every policy passes (size, JSON with a Statement) and the
//! policies a new key gets: the account's default, and the one of an AWS-managed key. The
//! grammar and the evaluation are the `policy` layer's.

use super::error::KmsError;
use crate::home::AccountConfig;
use crate::policy::{Policy, PolicyKind};
use std::sync::Arc;

/// A key policy: 1 to 32 KiB, valid by the grammar of `policy::Policy` (AWS's
/// `MalformedPolicyDocumentException` names what is wrong).
pub(crate) fn check_policy(p: &str) -> Result<String, KmsError> {
    if p.is_empty() || p.len() > 32 * 1024 {
        return Err(KmsError::bound(
            format!("<{} characters>", p.len()),
            "policy",
            "Member must have length between 1 and 32768",
        ));
    }
    compile(p)?;
    Ok(p.to_string())
}

/// A key policy compiled for evaluation (what the KMS caches per key).
pub(crate) fn compile(p: &str) -> Result<Arc<Policy>, KmsError> {
    Policy::parse(p, PolicyKind::Key)
        .map(Arc::new)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.message().to_string()))
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
    // EBS is used through EC2's endpoint (`kms:ViaService` = `ec2.REGION.amazonaws.com`).
    let via = if service == "ebs" { "ec2" } else { service };
    format!(
        r#"{{"Version":"2012-10-17","Id":"auto-{service}-1","Statement":[{{"Sid":"Allow access through {service} for all principals in the account that are authorized to use {service}","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{acct}","kms:ViaService":"{via}.{region}.amazonaws.com"}}}}}},{{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{{"AWS":"arn:{part}:iam::{acct}:root"}},"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}}]}}"#,
        acct = a.account_id,
        region = a.region,
        part = a.partition,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Decision, Principal, RequestContext, evaluate};

    fn account() -> AccountConfig {
        AccountConfig {
            format: 1,
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn the_policies_a_key_gets_compile_and_mean_what_aws_means() {
        let key = "arn:aws:kms:us-east-1:111122223333:key/k";
        let def = compile(&default_policy(&account())).unwrap();
        let root = Principal::root("111122223333");
        let ctx = RequestContext::new(&root, "kms:Decrypt", key);
        assert!(evaluate(&ctx, &def, [], []).is_allowed());
        let alice = Principal::user("111122223333", "alice");
        let ctx = RequestContext::new(&alice, "kms:Decrypt", key);
        assert!(!evaluate(&ctx, &def, [], []).is_allowed());
        let managed = compile(&managed_policy(&account(), "ebs")).unwrap();
        let mut ctx = RequestContext::new(&alice, "kms:Decrypt", key);
        assert!(!evaluate(&ctx, &managed, [], []).is_allowed());
        ctx.via_service = Some("ebs.us-east-1.amazonaws.com");
        assert!(!evaluate(&ctx, &managed, [], []).is_allowed());
        ctx.via_service = Some("ec2.us-east-1.amazonaws.com");
        assert!(matches!(
            evaluate(&ctx, &managed, [], []),
            Decision::Allow(_)
        ));
        assert!(check_policy(r#"{"Statement":[{"Effect":"Permit"}]}"#).is_err());
    }
}
