//! Key policies: GetKeyPolicy, ListKeyPolicies. (The documents themselves, and their check,
//! are in `kms::policy`.)

use super::Result;
use crate::kms::error::KmsError;
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
