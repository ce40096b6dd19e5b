//! The access keys the endpoint accepts: an access key id gives its secret (to verify the
//! signature) and its principal (who the request acts as). They live in the KMS's
//! access-key store (`kmsfs credentials`, `kmsfs iam create-access-key`, `kmsfs sts
//! assume-role`), sealed under the root key; `--credentials ID:SECRET` on `kmsfs serve`
//! registers a pair there before serving. A temporary key (`ASIA...`) also needs its
//! session token in a signed `X-Amz-Security-Token` header ([`check_session`]).

use crate::crypto::SecretBytes;
use crate::kms::{AccessKey, AccessKeyCache, Kms, KmsError};
use crate::sigv4::AuthError;
use std::sync::Arc;

/// Where the endpoint finds access keys.
pub trait Credentials: Send + Sync {
    /// The secret and principal of `access_key_id`, if it is known.
    fn secret_for(&self, access_key_id: &str) -> Option<(SecretBytes, String)>;

    /// The whole key of `access_key_id` (with its session, if temporary), if it is known.
    fn key_for(&self, access_key_id: &str) -> Option<Arc<AccessKey>> {
        let (secret, principal) = self.secret_for(access_key_id)?;
        Some(Arc::new(AccessKey {
            access_key_id: access_key_id.to_string(),
            principal,
            secret,
            created_ms: 0,
            session: None,
        }))
    }

    /// The time sessions expire against (ms since the epoch): the KMS's clock.
    fn now_ms(&self) -> i64 {
        crate::timefmt::now_ms()
    }
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
        let k = self.key_for(access_key_id)?;
        Some((k.secret.clone(), k.principal.clone()))
    }

    fn key_for(&self, access_key_id: &str) -> Option<Arc<AccessKey>> {
        match self.kms.access_key_cached(&self.cache, access_key_id) {
            Ok(k) => k,
            Err(e) => {
                // A damaged key file: the request is refused as an unknown key; the
                // operator sees why on the server's stderr.
                eprintln!("kmsfs serve: access key {access_key_id}: {e}");
                None
            }
        }
    }

    fn now_ms(&self) -> i64 {
        self.kms.now_ms()
    }
}

/// Check the session of a request signed with `key` (after its signature verified), as
/// AWS does: a temporary key needs its token in `X-Amz-Security-Token` (`token`), among
/// the signed headers (`signed`), before it expires (`ExpiredTokenException`); a missing
/// or wrong token is `UnrecognizedClientException`. A token sent with a permanent key is
/// ignored (AWS refuses it; test suites written for moto and LocalStack set
/// `AWS_SESSION_TOKEN=testing` beside `testing` keys, and keep working).
pub fn check_session(
    key: &AccessKey,
    token: Option<&str>,
    signed: &[&str],
    now_ms: i64,
) -> Result<(), AuthError> {
    let signed_token = signed.contains(&"x-amz-security-token");
    match (&key.session, token) {
        (None, _) => Ok(()),
        (Some(s), Some(t)) if signed_token && ct_eq(s.token.expose(), t.as_bytes()) => {
            if now_ms >= s.expires_ms {
                Err(AuthError::ExpiredToken)
            } else {
                Ok(())
            }
        }
        _ => Err(AuthError::UnrecognizedClient),
    }
}

/// Constant-time equality of two byte strings (their lengths are not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::SessionToken;

    fn key(session: Option<(&str, i64)>) -> AccessKey {
        AccessKey {
            access_key_id: "ASIAX".into(),
            principal: "arn:aws:sts::111122223333:assumed-role/R/s".into(),
            secret: SecretBytes::from_slice(b"s"),
            created_ms: 0,
            session: session.map(|(t, e)| SessionToken {
                token: SecretBytes::from_slice(t.as_bytes()),
                expires_ms: e,
            }),
        }
    }

    #[test]
    fn sessions_need_their_signed_token_before_expiry() {
        let signed = ["host", "x-amz-date", "x-amz-security-token"];
        let k = key(Some(("tok", 1000)));
        assert_eq!(check_session(&k, Some("tok"), &signed, 999), Ok(()));
        assert_eq!(
            check_session(&k, Some("tok"), &signed, 1000),
            Err(AuthError::ExpiredToken)
        );
        let refused = Err(AuthError::UnrecognizedClient);
        assert_eq!(check_session(&k, None, &signed, 0), refused);
        assert_eq!(check_session(&k, Some("tox"), &signed, 0), refused);
        assert_eq!(check_session(&k, Some("tok"), &signed[..2], 0), refused);
        let permanent = key(None);
        assert_eq!(check_session(&permanent, None, &signed[..2], 0), Ok(()));
        assert_eq!(check_session(&permanent, Some("tok"), &signed, 0), Ok(()));
    }
}
