//! The access keys the endpoint accepts: an access key id gives its secret (to verify the
//! signature) and its principal (who the request acts as). They live in the KMS's
//! access-key store (`kmsfs credentials`), sealed under the root key; `--credentials
//! ID:SECRET` on `kmsfs serve` registers a pair there before serving.

use crate::crypto::SecretBytes;
use crate::kms::{AccessKeyCache, Kms, KmsError};
use std::sync::Arc;

/// Where the endpoint finds access keys.
pub trait Credentials: Send + Sync {
    /// The secret and principal of `access_key_id`, if it is known.
    fn secret_for(&self, access_key_id: &str) -> Option<(SecretBytes, String)>;
}

/// The KMS's access-key store, looked up on every request: its file's `stat`, the key
/// unsealed again only when the file changed (so a key deleted with `kmsfs credentials
/// delete` stops working at once).
pub struct KmsAccessKeys {
    kms: Arc<Kms>,
    cache: AccessKeyCache,
}

impl KmsAccessKeys {
    pub fn new(kms: Arc<Kms>) -> KmsAccessKeys {
        KmsAccessKeys {
            kms,
            cache: AccessKeyCache::new(),
        }
    }
}

impl Credentials for KmsAccessKeys {
    fn secret_for(&self, access_key_id: &str) -> Option<(SecretBytes, String)> {
        match self.kms.access_key_cached(&self.cache, access_key_id) {
            Ok(Some(k)) => Some((k.secret.clone(), k.principal.clone())),
            Ok(None) => None,
            Err(e) => {
                // A damaged key file: the request is refused as an unknown key; the
                // operator sees why on the server's stderr.
                eprintln!("kmsfs serve: access key {access_key_id}: {e}");
                None
            }
        }
    }
}

/// Register each `(id, secret)` pair as an access key of `principal`, unless the store
/// already holds that id (a persistent home served again with the same `--credentials`).
pub fn register(kms: &Kms, keys: &[(String, String)], principal: &str) -> Result<(), KmsError> {
    for (id, secret) in keys {
        if kms.access_key(id)?.is_none() {
            kms.add_access_key(id, secret, principal)?;
        }
    }
    Ok(())
}
