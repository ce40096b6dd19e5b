//! Secrets Manager over the wire (AWS JSON 1.1, `X-Amz-Target: secretsmanager.<Op>`): the
//! request shape parsed, the service called as the request's caller, its errors mapped to
//! AWS's names and HTTP codes (the one place they are).

use super::dispatch::{ServiceRequest, parse, respond};
use super::error::WireError;
use crate::secrets::manager::{SecretsManager, SmError, password::PasswordSpec};
use crate::secrets::{Service, ServiceContext};

impl From<SmError> for WireError {
    fn from(e: SmError) -> WireError {
        WireError::Service {
            code: e.code(),
            status: e.http_status(),
            message: e.to_string(),
        }
    }
}

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "CreateSecret",
    "GetSecretValue",
    "BatchGetSecretValue",
    "PutSecretValue",
    "UpdateSecret",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "UpdateSecretVersionStage",
    "DeleteSecret",
    "RestoreSecret",
    "TagResource",
    "UntagResource",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "GetRandomPassword",
    "RotateSecret",
    "CancelRotateSecret",
];

/// Answer one request to Secrets Manager.
pub(crate) fn call(req: ServiceRequest) -> Result<Vec<u8>, WireError> {
    if !OPERATIONS.contains(&req.operation) {
        return Err(WireError::UnknownOperation(format!(
            "secretsmanager.{}",
            req.operation
        )));
    }
    let ctx = ServiceContext::embedded(req.home, req.kms, req.caller, Service::SecretsManager)
        .map_err(|e| WireError::Internal(e.to_string()))?;
    let sm = SecretsManager::new(ctx);
    let b = req.body;
    Ok(match req.operation {
        "CreateSecret" => respond(sm.create_secret(parse(b)?)?)?,
        "GetSecretValue" => respond(sm.get_secret_value(parse(b)?)?)?,
        "BatchGetSecretValue" => respond(sm.batch_get_secret_value(parse(b)?)?)?,
        "PutSecretValue" => respond(sm.put_secret_value(parse(b)?)?)?,
        "UpdateSecret" => respond(sm.update_secret(parse(b)?)?)?,
        "DescribeSecret" => respond(sm.describe_secret(parse(b)?)?)?,
        "ListSecrets" => respond(sm.list_secrets(parse(b)?)?)?,
        "ListSecretVersionIds" => respond(sm.list_secret_version_ids(parse(b)?)?)?,
        "UpdateSecretVersionStage" => respond(sm.update_secret_version_stage(parse(b)?)?)?,
        "DeleteSecret" => respond(sm.delete_secret(parse(b)?)?)?,
        "RestoreSecret" => respond(sm.restore_secret(parse(b)?)?)?,
        "TagResource" => respond(sm.tag_resource(parse(b)?)?)?,
        "UntagResource" => respond(sm.untag_resource(parse(b)?)?)?,
        "PutResourcePolicy" => respond(sm.put_resource_policy(parse(b)?)?)?,
        "GetResourcePolicy" => respond(sm.get_resource_policy(parse(b)?)?)?,
        "DeleteResourcePolicy" => respond(sm.delete_resource_policy(parse(b)?)?)?,
        "ValidateResourcePolicy" => respond(sm.validate_resource_policy(parse(b)?)?)?,
        "GetRandomPassword" => respond(sm.get_random_password(parse::<PasswordSpec>(b)?)?)?,
        "RotateSecret" => respond(sm.rotate_secret(parse(b)?)?)?,
        _ => respond(sm.cancel_rotate_secret(parse(b)?)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_aws_shapes() {
        let e = WireError::from(SmError::ResourceNotFound("x".into()));
        assert_eq!(
            (e.code(), e.http_status()),
            ("ResourceNotFoundException", 400)
        );
        let e = WireError::from(SmError::Internal("x".into()));
        assert_eq!((e.code(), e.http_status()), ("InternalServiceError", 500));
        let e = WireError::from(SmError::DecryptionFailure("x".into()));
        assert_eq!(e.code(), "DecryptionFailure");
    }
}
