//! `/aws/reference/secretsmanager/<secret-id>`: Parameter Store reading a Secrets Manager
//! secret, as AWS lets GetParameter(s) do. The two services stand side by side and never
//! import each other; this file, above both, is the one place that joins them:
//! [`ManagerReference`] answers Parameter Store's [`SecretReference`] with Secrets
//! Manager's GetSecretValue, for the same caller (Secrets Manager's own audit line and KMS
//! calls included), and maps its errors to Parameter Store's.

use super::manager::{GetSecretValueRequest, SecretsManager, SmError};
use super::params::{ParamError, ParamValue, ReferencedSecret, SecretReference};
use super::{Service, ServiceContext};
use base64::Engine;

/// Secrets Manager as Parameter Store's source of referenced secrets.
pub struct ManagerReference {
    sm: SecretsManager,
}

impl ManagerReference {
    /// For the caller of `ctx` (Parameter Store's context): a Secrets Manager context of the
    /// same caller, account and region, whose KMS calls are Secrets Manager's.
    pub fn new(ctx: ServiceContext) -> ManagerReference {
        ManagerReference {
            sm: SecretsManager::new(ctx),
        }
    }

    /// Secrets Manager's context beside Parameter Store's `ctx` (same caller, KMS, trail):
    /// its own directory, its KMS client acting as `secretsmanager.amazonaws.com`.
    pub fn beside(
        home: &crate::home::Home,
        ctx: &ServiceContext,
    ) -> Result<ManagerReference, crate::home::HomeError> {
        let sm = ServiceContext::embedded(
            home,
            ctx.trail.clone(),
            ctx.caller.clone(),
            Service::SecretsManager,
        )?;
        Ok(ManagerReference::new(sm))
    }
}

impl SecretReference for ManagerReference {
    fn get_secret_for_ssm(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        with_decryption: bool,
    ) -> Result<ReferencedSecret, ParamError> {
        if !with_decryption {
            return Err(ParamError::Validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.".into(),
            ));
        }
        let v = self
            .sm
            .get_secret_value(GetSecretValueRequest {
                secret_id: id.to_string(),
                version_id: version.map(str::to_string),
                version_stage: label.map(str::to_string),
            })
            .map_err(param_error)?;
        let value = match (&v.secret_string, &v.secret_binary) {
            (Some(s), _) => ParamValue::new(s.expose()),
            (None, Some(b)) => {
                ParamValue::new(base64::engine::general_purpose::STANDARD.encode(b.expose()))
            }
            (None, None) => ParamValue::new(""),
        };
        Ok(ReferencedSecret {
            name: v.name.clone(),
            arn: v.arn.clone(),
            value,
            version_id: v.version_id.clone(),
            stages: v.version_stages.clone(),
            created_ms: (v.created_date * 1000.0) as i64,
        })
    }
}

/// Secrets Manager's error as GetParameter reports it (a missing secret is a missing
/// parameter; KMS refusals stay refusals).
fn param_error(e: SmError) -> ParamError {
    match e {
        SmError::ResourceNotFound(m) => ParamError::NotFound(m),
        SmError::AccessDenied(m) => ParamError::AccessDenied(m),
        SmError::DecryptionFailure(m) => ParamError::InvalidKeyId(m),
        SmError::InvalidParameter(m) | SmError::InvalidRequest(m) => ParamError::Validation(m),
        other => ParamError::Internal(other.to_string()),
    }
}
