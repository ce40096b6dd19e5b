//! Parameter Store's error enum: one variant per AWS error name (`code()`), messages worded
//! as AWS words them. Values never appear in them.

use crate::kms::KmsError;

/// A Parameter Store request failure, by AWS error name.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("ParameterNotFound: {0}")]
    NotFound(String),
    #[error("ParameterAlreadyExists: {0}")]
    AlreadyExists(String),
    #[error("ParameterVersionNotFound: {0}")]
    VersionNotFound(String),
    #[error("ParameterMaxVersionLimitExceeded: {0}")]
    MaxVersionLimitExceeded(String),
    #[error("ParameterVersionLabelLimitExceeded: {0}")]
    LabelLimitExceeded(String),
    #[error("ParameterPatternMismatchException: {0}")]
    PatternMismatch(String),
    #[error("InvalidAllowedPatternException: {0}")]
    InvalidAllowedPattern(String),
    #[error("HierarchyLevelLimitExceededException: {0}")]
    HierarchyLevelLimitExceeded(String),
    #[error("UnsupportedParameterType: {0}")]
    UnsupportedParameterType(String),
    #[error("InvalidKeyId: {0}")]
    InvalidKeyId(String),
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    #[error("InvalidPolicyTypeException: {0}")]
    InvalidPolicyType(String),
    #[error("InvalidPolicyAttributeException: {0}")]
    InvalidPolicyAttribute(String),
    #[error("IncompatiblePolicyException: {0}")]
    IncompatiblePolicy(String),
    #[error("PoliciesLimitExceededException: {0}")]
    PoliciesLimitExceeded(String),
    #[error("InvalidFilterKey: {0}")]
    InvalidFilterKey(String),
    #[error("InvalidFilterOption: {0}")]
    InvalidFilterOption(String),
    #[error("InvalidFilterValue: {0}")]
    InvalidFilterValue(String),
    #[error("InvalidNextToken: {0}")]
    InvalidNextToken(String),
    #[error("InvalidResourceType: {0}")]
    InvalidResourceType(String),
    #[error("InvalidResourceId: {0}")]
    InvalidResourceId(String),
    #[error("TooManyTagsError: {0}")]
    TooManyTags(String),
    #[error("TooManyUpdates: {0}")]
    TooManyUpdates(String),
    #[error("ValidationException: {0}")]
    Validation(String),
    /// A record file that does not parse, or a stored value that does not decrypt under
    /// its parameter's ARN and version (moved, swapped or altered).
    #[error("InternalServerError: {0}")]
    Damaged(String),
    #[error("InternalServerError: {0}")]
    Internal(String),
}

impl ParamError {
    /// AWS's error name.
    pub fn code(&self) -> &'static str {
        use ParamError::*;
        match self {
            NotFound(_) => "ParameterNotFound",
            AlreadyExists(_) => "ParameterAlreadyExists",
            VersionNotFound(_) => "ParameterVersionNotFound",
            MaxVersionLimitExceeded(_) => "ParameterMaxVersionLimitExceeded",
            LabelLimitExceeded(_) => "ParameterVersionLabelLimitExceeded",
            PatternMismatch(_) => "ParameterPatternMismatchException",
            InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
            UnsupportedParameterType(_) => "UnsupportedParameterType",
            InvalidKeyId(_) => "InvalidKeyId",
            AccessDenied(_) => "AccessDeniedException",
            InvalidPolicyType(_) => "InvalidPolicyTypeException",
            InvalidPolicyAttribute(_) => "InvalidPolicyAttributeException",
            IncompatiblePolicy(_) => "IncompatiblePolicyException",
            PoliciesLimitExceeded(_) => "PoliciesLimitExceededException",
            InvalidFilterKey(_) => "InvalidFilterKey",
            InvalidFilterOption(_) => "InvalidFilterOption",
            InvalidFilterValue(_) => "InvalidFilterValue",
            InvalidNextToken(_) => "InvalidNextToken",
            InvalidResourceType(_) => "InvalidResourceType",
            InvalidResourceId(_) => "InvalidResourceId",
            TooManyTags(_) => "TooManyTagsError",
            TooManyUpdates(_) => "TooManyUpdates",
            Validation(_) => "ValidationException",
            Damaged(_) | Internal(_) => "InternalServerError",
        }
    }

    /// The message without the name.
    pub fn message(&self) -> String {
        let s = self.to_string();
        match s.split_once(": ") {
            Some((_, m)) => m.to_string(),
            None => s,
        }
    }

    /// The HTTP status AWS answers with (500 for internal errors, 400 otherwise).
    pub fn http_status(&self) -> u16 {
        match self {
            ParamError::Damaged(_) | ParamError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// A KMS failure of the parameter's key, as Parameter Store reports it: refused ->
    /// AccessDeniedException; a key missing, disabled or pending deletion -> InvalidKeyId;
    /// a stored ciphertext the KMS rejects -> a damaged record.
    pub fn from_kms(e: KmsError, key: &str) -> ParamError {
        let code = e.code();
        let why = e.to_string();
        let why = why.split_once(": ").map_or(why.as_str(), |(_, m)| m);
        match e {
            KmsError::AccessDenied(_) => ParamError::AccessDenied(format!(
                "User is not authorized to use the KMS key {key}: {why} \
                 (Service: AWSKMS; Error Code: {code})"
            )),
            KmsError::NotFound(_)
            | KmsError::Disabled(_)
            | KmsError::InvalidState(_)
            | KmsError::InvalidArn(_)
            | KmsError::InvalidKeyUsage(_)
            | KmsError::IncorrectKey(_) => ParamError::InvalidKeyId(format!(
                "{key}: {why} (Service: AWSKMS; Error Code: {code})"
            )),
            KmsError::InvalidCiphertext(_) => ParamError::Damaged(format!(
                "the stored ciphertext does not decrypt under this parameter's ARN: {why}"
            )),
            KmsError::Throttling(_) => ParamError::TooManyUpdates(why.to_string()),
            _ => ParamError::Internal(format!("KMS {code}: {why}")),
        }
    }

    pub(crate) fn io(what: &str, e: std::io::Error) -> ParamError {
        ParamError::Internal(format!("{what}: {e}"))
    }
}
