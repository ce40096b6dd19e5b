//! The server's errors. [`ServerError`]: why the server could not start or stopped (the
//! CLI maps it to an exit code). [`WireError`]: why one request failed; this is the one
//! place where KMS errors, signature errors and bad request bodies become AWS error shapes
//! (`{"__type": CODE, "message": MSG}`) and HTTP status codes.

use crate::home::HomeError;
use crate::kms::KmsError;
use crate::sigv4::AuthError;
use std::net::SocketAddr;

/// Why `kmsfs serve` could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A bad option (`--listen`, `--credentials`).
    #[error("{0}")]
    Usage(String),
    /// A non-loopback address without TLS (and without `--insecure-http`).
    #[error(
        "{0} is not a loopback address: plain HTTP would carry requests and keys in the clear; add --tls to serve HTTPS, or --insecure-http to serve plain HTTP anyway"
    )]
    NotLoopback(SocketAddr),
    /// The TLS material could not be made or read.
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server's runtime failed: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("{0}")]
    Home(#[from] HomeError),
    #[error("{0}")]
    Kms(#[from] KmsError),
}

/// Largest request body read (1 MiB; a KMS request is at most a few KiB); a larger one is
/// refused with [`WireError::TooLarge`].
pub const MAX_BODY: u64 = 1 << 20;

/// Why one request failed, as the wire tells it.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The body is not the operation's JSON shape (syntax, types, base64).
    #[error("{0}")]
    Serialization(String),
    #[error("operation {0} is not supported")]
    UnknownOperation(String),
    #[error("the request body ({0} bytes) is over the limit of {limit} bytes", limit = MAX_BODY)]
    TooLarge(u64),
    /// The body did not arrive in time (the connection is closed).
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    #[error("the content type '{0}' is not JSON; send application/x-amz-json-1.1")]
    UnsupportedMediaType(String),
    /// The credential scope names no valid region.
    #[error(
        "the request was signed for the region '{0}', which is not a region name like us-east-1"
    )]
    BadRegion(String),
    #[error("{0}")]
    Internal(String),
    /// An error of a service built on the KMS (Secrets Manager, Parameter Store), mapped to
    /// AWS's name and HTTP status by that service's wire module (`secretsmanager.rs`,
    /// `ssm.rs`), its one edge.
    #[error("{message}")]
    Service {
        code: &'static str,
        status: u16,
        message: String,
    },
}

impl From<serde_json::Error> for WireError {
    fn from(e: serde_json::Error) -> WireError {
        WireError::Serialization(e.to_string())
    }
}

impl WireError {
    /// The AWS error code (`__type`).
    pub fn code(&self) -> &'static str {
        match self {
            WireError::Kms(e) => e.code(),
            WireError::Auth(e) => e.code(),
            WireError::Serialization(_) => "SerializationException",
            WireError::UnknownOperation(_) => "UnknownOperationException",
            WireError::TooLarge(_) => "RequestEntityTooLargeException",
            WireError::RequestTimeout(_) => "RequestTimeoutException",
            WireError::UnsupportedMediaType(_) => "UnsupportedMediaTypeException",
            WireError::BadRegion(_) => "UnrecognizedClientException",
            WireError::Internal(_) => "InternalFailure",
            WireError::Service { code, .. } => code,
        }
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            WireError::Kms(e) => e.http_status(),
            WireError::Auth(e) => e.http_status(),
            WireError::TooLarge(_) => 413,
            WireError::RequestTimeout(_) => 408,
            WireError::UnsupportedMediaType(_) => 415,
            WireError::Internal(_) => 500,
            WireError::Service { status, .. } => *status,
            _ => 400,
        }
    }

    /// The message (no code prefix).
    pub fn message(&self) -> String {
        match self {
            WireError::Kms(e) => e.message(),
            WireError::Auth(e) => e.message(),
            e => e.to_string(),
        }
    }

    /// The JSON body: `{"__type": CODE, "message": MSG}`.
    pub fn body(&self) -> Vec<u8> {
        let v = serde_json::json!({ "__type": self.code(), "message": self.message() });
        serde_json::to_vec(&v).expect("a JSON object serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_codes() {
        let e = WireError::from(KmsError::NotFound("Key 'k' does not exist".into()));
        assert_eq!((e.code(), e.http_status()), ("NotFoundException", 400));
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["__type"], "NotFoundException");
        assert_eq!(v["message"], "Key 'k' does not exist");
        let e = WireError::from(KmsError::Internal("x".into()));
        assert_eq!((e.code(), e.http_status()), ("KMSInternalException", 500));
        let e = WireError::from(serde_json::from_str::<u32>("x").unwrap_err());
        assert_eq!((e.code(), e.http_status()), ("SerializationException", 400));
        let e = WireError::UnknownOperation("TrentService.Nope".into());
        assert_eq!(
            (e.code(), e.http_status()),
            ("UnknownOperationException", 400)
        );
        assert_eq!(WireError::TooLarge(2 << 20).http_status(), 413);
        let e = WireError::Auth(AuthError::InvalidSignature);
        assert_eq!(
            (e.code(), e.http_status()),
            ("InvalidSignatureException", 400)
        );
    }
}
