//! The KMS's rules for an encryption context. The canonical encoding bound as AAD lives in
//! [`crate::encoding`], shared with objects and envelope messages; it is re-exported here as
//! part of what the KMS offers.

use super::KmsError;
pub use crate::encoding::{EncryptionContext, MAX_CONTEXT_BYTES, encode, encode_into};

/// Check the size limit and that no key is empty (a `ValidationException`).
pub fn validate(ec: &EncryptionContext) -> Result<(), KmsError> {
    crate::encoding::check(ec).map_err(KmsError::Validation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit() {
        let big: EncryptionContext = [("k".to_string(), "v".repeat(MAX_CONTEXT_BYTES))].into();
        assert!(matches!(validate(&big), Err(KmsError::Validation(_))));
        assert!(validate(&[("k".to_string(), "v".to_string())].into()).is_ok());
    }
}
