//! The access keys the endpoint accepts: an access key id gives its secret (to verify the
//! signature) and its principal (who the request acts as).
//!
//! TEMPORARY: [`StaticCredentials`] holds the `--credentials ID:SECRET` pairs of the command
//! line in memory. Engineer S's access-key store (`Kms::access_key`) replaces it: an
//! `impl Credentials for KmsAccessKeys` calling `kms.access_key(id)` is the one change.

use crate::crypto::SecretBytes;
use std::collections::HashMap;

/// Where the endpoint finds access keys.
pub trait Credentials: Send + Sync {
    /// The secret and principal of `access_key_id`, if it is known.
    fn secret_for(&self, access_key_id: &str) -> Option<(SecretBytes, String)>;
}

/// Access keys given on the command line, each acting as `principal`.
pub struct StaticCredentials(HashMap<String, (SecretBytes, String)>);

impl StaticCredentials {
    pub fn new(keys: &[(String, String)], principal: &str) -> StaticCredentials {
        let map = keys
            .iter()
            .map(|(id, secret)| {
                let s = SecretBytes::from_slice(secret.as_bytes());
                (id.clone(), (s, principal.to_string()))
            })
            .collect();
        StaticCredentials(map)
    }
}

impl Credentials for StaticCredentials {
    fn secret_for(&self, access_key_id: &str) -> Option<(SecretBytes, String)> {
        self.0.get(access_key_id).cloned()
    }
}
