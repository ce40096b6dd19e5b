//! The KMS layer's error enum. Each variant is one AWS KMS error name; `code()` gives the
//! wire name and `http_status()` the status an AWS endpoint answers with. Messages name keys
//! and limits, never plaintext or key material.

use std::path::PathBuf;

/// Failures of the keystore on disk (mapped to `KMSInternalException` on the wire).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the home is locked by another kmsfs process ({path}); waited {waited_ms} ms")]
    Locked { path: PathBuf, waited_ms: u128 },
    #[error("{path} is damaged or was swapped: {why}; it was not used")]
    Damaged { path: PathBuf, why: String },
    #[error("the keystore at {0} has no root key (run `kmsfs init`)")]
    NoRootKey(PathBuf),
    #[error("the root key does not open this keystore ({0})")]
    WrongRootKey(String),
    #[error("{0}")]
    Crypto(#[from] crate::crypto::CryptoError),
}

impl StoreError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A KMS request failure, by AWS error name.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("NotFoundException: {0}")]
    NotFound(String),
    #[error("DisabledException: {0}")]
    Disabled(String),
    #[error("KMSInvalidStateException: {0}")]
    InvalidState(String),
    #[error("InvalidCiphertextException: {0}")]
    InvalidCiphertext(String),
    #[error("IncorrectKeyException: {0}")]
    IncorrectKey(String),
    #[error("ValidationException: {0}")]
    Validation(String),
    #[error("AlreadyExistsException: {0}")]
    AlreadyExists(String),
    #[error("InvalidAliasNameException: {0}")]
    InvalidAliasName(String),
    #[error("LimitExceededException: {0}")]
    LimitExceeded(String),
    #[error("UnsupportedOperationException: {0}")]
    UnsupportedOperation(String),
    #[error("TagException: {0}")]
    Tag(String),
    #[error("InvalidMarkerException: {0}")]
    InvalidMarker(String),
    #[error("InvalidArnException: {0}")]
    InvalidArn(String),
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    #[error("InvalidKeyUsageException: {0}")]
    InvalidKeyUsage(String),
    #[error("InvalidGrantTokenException: {0}")]
    InvalidGrantToken(String),
    #[error("InvalidGrantIdException: {0}")]
    InvalidGrantId(String),
    #[error("ThrottlingException: {0}")]
    Throttling(String),
    #[error("SerializationException: {0}")]
    Serialization(String),
    #[error("MalformedPolicyDocumentException: {0}")]
    MalformedPolicyDocument(String),
    #[error("KMSInvalidSignatureException: {0}")]
    InvalidSignature(String),
    #[error("KMSInvalidMacException: {0}")]
    InvalidMac(String),
    #[error("IncorrectKeyMaterialException: {0}")]
    IncorrectKeyMaterial(String),
    #[error("InvalidImportTokenException: {0}")]
    InvalidImportToken(String),
    #[error("ExpiredImportTokenException: {0}")]
    ExpiredImportToken(String),
    #[error("KMSInternalException: {0}")]
    Store(#[from] StoreError),
    #[error("KMSInternalException: {0}")]
    Internal(String),
}

impl KmsError {
    /// The AWS error name (`__type` on the wire).
    pub fn code(&self) -> &'static str {
        use KmsError::*;
        match self {
            NotFound(_) => "NotFoundException",
            Disabled(_) => "DisabledException",
            InvalidState(_) => "KMSInvalidStateException",
            InvalidCiphertext(_) => "InvalidCiphertextException",
            IncorrectKey(_) => "IncorrectKeyException",
            Validation(_) => "ValidationException",
            AlreadyExists(_) => "AlreadyExistsException",
            InvalidAliasName(_) => "InvalidAliasNameException",
            LimitExceeded(_) => "LimitExceededException",
            UnsupportedOperation(_) => "UnsupportedOperationException",
            Tag(_) => "TagException",
            InvalidMarker(_) => "InvalidMarkerException",
            InvalidArn(_) => "InvalidArnException",
            AccessDenied(_) => "AccessDeniedException",
            InvalidKeyUsage(_) => "InvalidKeyUsageException",
            InvalidGrantToken(_) => "InvalidGrantTokenException",
            InvalidGrantId(_) => "InvalidGrantIdException",
            Throttling(_) => "ThrottlingException",
            Serialization(_) => "SerializationException",
            MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            InvalidSignature(_) => "KMSInvalidSignatureException",
            InvalidMac(_) => "KMSInvalidMacException",
            IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            InvalidImportToken(_) => "InvalidImportTokenException",
            ExpiredImportToken(_) => "ExpiredImportTokenException",
            Store(_) | Internal(_) => "KMSInternalException",
        }
    }

    /// The error an endpoint answered with `code` (`__type`, with or without a
    /// `namespace#` prefix) and `message`: the inverse of [`KmsError::code`]. An unknown
    /// code (an authentication failure, a protocol error) is `Internal`, the code kept in
    /// the message.
    pub fn from_code(code: &str, message: impl Into<String>) -> KmsError {
        use KmsError::*;
        let code = code_tail(code.rsplit_once('#').map_or(code, |(_, c)| c));
        let m = message.into();
        match code {
            "NotFoundException" => NotFound(m),
            "DisabledException" => Disabled(m),
            "KMSInvalidStateException" => InvalidState(m),
            "InvalidCiphertextException" => InvalidCiphertext(m),
            "IncorrectKeyException" => IncorrectKey(m),
            "ValidationException" => Validation(m),
            "AlreadyExistsException" => AlreadyExists(m),
            "InvalidAliasNameException" => InvalidAliasName(m),
            "LimitExceededException" => LimitExceeded(m),
            "UnsupportedOperationException" => UnsupportedOperation(m),
            "TagException" => Tag(m),
            "InvalidMarkerException" => InvalidMarker(m),
            "InvalidArnException" => InvalidArn(m),
            "AccessDeniedException" => AccessDenied(m),
            "InvalidKeyUsageException" => InvalidKeyUsage(m),
            "InvalidGrantTokenException" => InvalidGrantToken(m),
            "InvalidGrantIdException" => InvalidGrantId(m),
            "ThrottlingException" => Throttling(m),
            "SerializationException" => Serialization(m),
            "MalformedPolicyDocumentException" => MalformedPolicyDocument(m),
            "KMSInvalidSignatureException" => InvalidSignature(m),
            "KMSInvalidMacException" => InvalidMac(m),
            "IncorrectKeyMaterialException" => IncorrectKeyMaterial(m),
            "InvalidImportTokenException" => InvalidImportToken(m),
            "ExpiredImportTokenException" => ExpiredImportToken(m),
            "KMSInternalException" => Internal(m),
            other => Internal(format!("{other}: {m}")),
        }
    }

    /// The message without the code prefix.
    pub fn message(&self) -> String {
        let s = self.to_string();
        match s.split_once(": ") {
            Some((_, m)) => m.to_string(),
            None => s,
        }
    }

    /// HTTP status an AWS endpoint uses for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            KmsError::Store(_) | KmsError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// A `ValidationException` in AWS's wording for a numeric bound.
    pub fn bound(value: impl std::fmt::Display, member: &str, constraint: &str) -> KmsError {
        KmsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}

/// `code` without a `:`-suffix some endpoints add (`Code:http://...`).
fn code_tail(code: &str) -> &str {
    code.split_once(':').map_or(code, |(c, _)| c)
}

impl From<crate::crypto::CryptoError> for KmsError {
    fn from(e: crate::crypto::CryptoError) -> KmsError {
        KmsError::Store(StoreError::Crypto(e))
    }
}

/// The asymmetric layer's errors as AWS names them (the one place they are mapped).
impl From<crate::crypto::asym::AsymError> for KmsError {
    fn from(e: crate::crypto::asym::AsymError) -> KmsError {
        use crate::crypto::asym::AsymError as A;
        let m = e.to_string();
        match e {
            A::WrongAlgorithm { .. } | A::WrongOperation { .. } => KmsError::InvalidKeyUsage(m),
            A::WrongMessageType { .. }
            | A::DigestLength(_)
            | A::PlaintextTooLarge { .. }
            | A::InvalidKey { .. }
            | A::MacKeyLength { .. } => KmsError::Validation(m),
            A::InvalidSignature => KmsError::InvalidSignature(String::new()),
            A::InvalidMac => KmsError::InvalidMac(String::new()),
            A::Decrypt => KmsError::InvalidCiphertext(String::new()),
            A::Unsupported(_) => KmsError::UnsupportedOperation(m),
            A::Library(_) => KmsError::Internal(m),
        }
    }
}
