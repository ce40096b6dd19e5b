//! Key policies: GetKeyPolicy, ListKeyPolicies, PutKeyPolicy (with AWS's lockout safety
//! check). (The documents themselves, and their check, are in `kms::policy`.)

use super::Result;
use crate::kms::error::KmsError;
use crate::kms::policy::check_policy;
use crate::kms::service::Call;
use crate::kms::types::*;

pub(super) fn get_key_policy(c: &Call, req: GetKeyPolicyRequest) -> Result<GetKeyPolicyResponse> {
    let k = c.resolve_noted(&req.key_id, false)?;
    let name = req.policy_name.clone().unwrap_or_else(|| "default".into());
    if name != "default" {
        return Err(KmsError::NotFound("No such policy exists".into()));
    }
    Ok(GetKeyPolicyResponse {
        policy: k.record.policy.clone(),
        policy_name: name,
    })
}

pub(super) fn list_key_policies(c: &Call, req: KeyIdRequest) -> Result<ListKeyPoliciesResponse> {
    c.resolve_noted(&req.key_id, false)?;
    Ok(ListKeyPoliciesResponse {
        policy_names: vec!["default".into()],
        truncated: false,
    })
}

/// PutKeyPolicy: a valid policy (32 KiB at most) that, unless the request bypasses the
/// lockout safety check, still lets the caller change the policy later.
pub(super) fn put_key_policy(c: &Call, req: PutKeyPolicyRequest) -> Result<()> {
    if req.policy_name.as_deref().is_some_and(|n| n != "default") {
        return Err(KmsError::NotFound("No such policy exists".into()));
    }
    let policy = check_policy(&req.policy)?;
    let bypass = req.bypass_policy_lockout_safety_check;
    c.change_customer_key(&req.key_id, "its key policy cannot be changed", |r| {
        c.check_lockout(&policy, &c.arn(&r.key_id), bypass)?;
        r.policy = policy.clone();
        Ok(())
    })
}
