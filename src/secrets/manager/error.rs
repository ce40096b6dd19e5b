//! Secrets Manager's error enum: one variant per AWS error name (`code()`), messages in
//! AWS's wording. Never a secret value in a message: errors name secrets, versions and keys.

use crate::kms::KmsError;
use std::path::PathBuf;

/// A Secrets Manager request failure, by AWS error name.
#[derive(Debug, thiserror::Error)]
pub enum SmError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    ResourceExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    EncryptionFailure(String),
    #[error("{0}")]
    DecryptionFailure(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PublicPolicy(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("{0}")]
    AccessDenied(String),
    /// A secret's record file is damaged, truncated or was swapped.
    #[error("the secret record {path} is damaged: {why}; it was not used")]
    Damaged { path: PathBuf, why: String },
    #[error("{0}")]
    Internal(String),
}

/// AWS's message for a secret that does not exist.
pub const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";
/// AWS's message for a read or write of a secret scheduled for deletion.
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";

impl SmError {
    /// The AWS error name (`__type` on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            SmError::ResourceNotFound(_) => "ResourceNotFoundException",
            SmError::InvalidParameter(_) => "InvalidParameterException",
            SmError::InvalidRequest(_) => "InvalidRequestException",
            SmError::ResourceExists(_) => "ResourceExistsException",
            SmError::LimitExceeded(_) => "LimitExceededException",
            SmError::EncryptionFailure(_) => "EncryptionFailure",
            SmError::DecryptionFailure(_) => "DecryptionFailure",
            SmError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            SmError::PublicPolicy(_) => "PublicPolicyException",
            SmError::InvalidNextToken(_) => "InvalidNextTokenException",
            SmError::AccessDenied(_) => "AccessDeniedException",
            SmError::Damaged { .. } | SmError::Internal(_) => "InternalServiceError",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            SmError::Damaged { .. } | SmError::Internal(_) => 500,
            _ => 400,
        }
    }

    pub(crate) fn not_found() -> SmError {
        SmError::ResourceNotFound(NOT_FOUND.into())
    }

    pub(crate) fn io(what: &str, e: std::io::Error) -> SmError {
        SmError::Internal(format!("{what}: {e}"))
    }

    /// A KMS failure while sealing a new version (GenerateDataKey), as AWS reports it.
    pub(crate) fn from_kms_write(e: KmsError) -> SmError {
        match e {
            KmsError::AccessDenied(m) => SmError::AccessDenied(m),
            KmsError::Throttling(m) => SmError::Internal(m),
            e => SmError::EncryptionFailure(format!(
                "Access to KMS is not allowed: {} ({})",
                e.message(),
                e.code()
            )),
        }
    }

    /// A KMS failure while opening a version (Decrypt), as AWS reports it.
    pub(crate) fn from_kms_read(e: KmsError) -> SmError {
        match e {
            KmsError::AccessDenied(m) => SmError::AccessDenied(m),
            KmsError::Throttling(m) => SmError::Internal(m),
            e => SmError::DecryptionFailure(format!(
                "Access to KMS is not allowed: {} ({})",
                e.message(),
                e.code()
            )),
        }
    }
}
