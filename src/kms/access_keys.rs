//! Access keys for SigV4 (what `kmsfs serve` authenticates requests with): one sealed file
//! per key in `kms/access-keys/<AccessKeyId>`, mode 0600, replaced atomically. The file
//! holds the key's principal, secret and creation time, sealed with the root key like a key
//! record, its access key id bound into the associated data (a file copied to another id's
//! name does not open). Creating, adding and deleting a key writes an audit line (operations
//! `CreateAccessKey`, `AddAccessKey`, `DeleteAccessKey`); the secret is never in an audit
//! line, an error or `Debug`. [`AccessKeyCache`] keeps opened keys for a server that looks
//! one up on every request, each reused only while its file is unchanged.

use super::caller::Caller;
use super::error::{KmsError, StoreError};
use super::keystore::{Stamp, read_with_stamp};
use super::service::Kms;
use crate::crypto::{self, AeadKey, SecretBytes};
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// File magic: kmsfs credentials.
const MAGIC: [u8; 4] = *b"KMSC";
/// Format version.
const VERSION: u8 = 1;
/// Bytes before the ciphertext: magic, version, 3 zero bytes, nonce.
const HEADER_LEN: usize = 20;
/// Longest access key id (IAM's limit).
const MAX_ID_LEN: usize = 128;
/// Longest secret accepted by `add_access_key`.
const MAX_SECRET_LEN: usize = 256;
/// Most keys an [`AccessKeyCache`] holds; a new one past it empties the cache first.
const MAX_CACHED: usize = 256;
/// A key file changed less than this long (ns) before it was read is not cached. File
/// times can be as coarse as a clock tick: a file replaced within the tick it was written,
/// by one of the same size on a recycled inode, would have an unchanged stamp.
const SETTLE_NS: i64 = 100_000_000;

/// An access key with its secret (which `Debug` shows redacted, as `SecretBytes` does).
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub access_key_id: String,
    /// The IAM principal requests signed with the key act as.
    pub principal: String,
    /// The secret access key (UTF-8).
    pub secret: SecretBytes,
    pub created_ms: i64,
    /// A temporary key's session (`sts assume-role`): its token and when it expires.
    pub session: Option<SessionToken>,
}

/// The session of a temporary access key: requests must carry `token` in a signed
/// `X-Amz-Security-Token` header, and are refused from `expires_ms` on.
#[derive(Clone, Debug)]
pub struct SessionToken {
    pub token: SecretBytes,
    pub expires_ms: i64,
}

impl AccessKey {
    /// The key without its secret.
    pub fn info(&self) -> AccessKeyInfo {
        AccessKeyInfo {
            access_key_id: self.access_key_id.clone(),
            principal: self.principal.clone(),
            created_ms: self.created_ms,
            expires_ms: self.session.as_ref().map(|s| s.expires_ms),
        }
    }
}

/// An access key without its secret, as `list_access_keys` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub principal: String,
    pub created_ms: i64,
    /// When a temporary key expires (`None`: a permanent key).
    pub expires_ms: Option<i64>,
}

/// Access keys opened by [`Kms::access_key_cached`], each with the [`Stamp`] (device, inode,
/// size, mtime, ctime) of the file it was read from: a lookup of an unchanged key is one
/// `stat` instead of reading and unsealing its file. Every write replaces the file (a new
/// ctime) and a delete removes it, so a key changed or deleted by this process or another
/// (`kmsfs credentials delete`) is seen by the next lookup; a file is cached only once its
/// ctime is [`SETTLE_NS`] old, so that its next change cannot have the same ctime. The
/// secrets are zeroized when dropped (replaced, evicted, or with the cache).
#[derive(Default)]
pub struct AccessKeyCache {
    keys: RwLock<HashMap<String, (Stamp, Arc<AccessKey>)>>,
}

impl AccessKeyCache {
    pub fn new() -> AccessKeyCache {
        AccessKeyCache::default()
    }

    fn get(&self, id: &str, stamp: Stamp) -> Option<Arc<AccessKey>> {
        let keys = self.keys.read().expect("access key cache lock");
        keys.get(id)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, k)| k.clone())
    }

    fn put(&self, stamp: Stamp, key: Arc<AccessKey>) {
        let mut keys = self.keys.write().expect("access key cache lock");
        if keys.len() >= MAX_CACHED && !keys.contains_key(&key.access_key_id) {
            keys.clear();
        }
        keys.insert(key.access_key_id.clone(), (stamp, key));
    }

    fn forget(&self, id: &str) {
        self.keys.write().expect("access key cache lock").remove(id);
    }
}

impl std::fmt::Debug for AccessKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.keys.read().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("AccessKeyCache").field("keys", &n).finish()
    }
}

/// The wall clock in nanoseconds since the epoch (the clock file times are on).
fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The sealed plaintext, as written.
#[derive(Serialize)]
struct SealedOut<'a> {
    principal: &'a str,
    secret: &'a str,
    created_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_ms: Option<i64>,
}

/// The sealed plaintext, as read.
#[derive(Deserialize)]
struct SealedIn {
    principal: String,
    secret: String,
    created_ms: i64,
    #[serde(default)]
    session_token: Option<String>,
    #[serde(default)]
    expires_ms: Option<i64>,
}

/// Whether `id` may name an access key: 1 to 128 of `A-Z a-z 0-9 _` (IAM's `[\w]+`; its
/// minimum of 16 does not apply, test suites use `testing`).
pub(crate) fn valid_access_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn validate(id: &str, secret: &str, principal: &str) -> Result<(), KmsError> {
    if !valid_access_key_id(id) {
        return Err(KmsError::Validation(format!(
            "access key id '{}' must be 1 to {MAX_ID_LEN} letters, digits or '_'",
            id.chars().take(MAX_ID_LEN + 1).collect::<String>()
        )));
    }
    if secret.is_empty()
        || secret.len() > MAX_SECRET_LEN
        || !secret.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(KmsError::Validation(format!(
            "the secret access key must be 1 to {MAX_SECRET_LEN} printable ASCII characters without spaces"
        )));
    }
    if !principal.starts_with("arn:") || principal.chars().any(char::is_control) {
        return Err(KmsError::Validation(format!(
            "principal '{principal}' is not an ARN (e.g. arn:aws:iam::111122223333:root)"
        )));
    }
    Ok(())
}

/// Associated data of the file of `id`: its header, the keystore id, the access key id.
fn aad(header: &[u8], keystore_id: &[u8], id: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(keystore_id);
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// Seal `key` under `root` with `nonce` (the bytes of its file).
fn seal(
    root: &AeadKey,
    keystore_id: &[u8],
    key: &AccessKey,
    nonce: &[u8; 12],
) -> Result<Vec<u8>, crypto::CryptoError> {
    let secret = std::str::from_utf8(key.secret.expose())
        .map_err(|_| crypto::CryptoError::Length("the secret is not UTF-8"))?;
    let token = match &key.session {
        Some(s) => Some(
            std::str::from_utf8(s.token.expose())
                .map_err(|_| crypto::CryptoError::Length("the session token is not UTF-8"))?,
        ),
        None => None,
    };
    let plain = SecretBytes::new(
        serde_json::to_vec(&SealedOut {
            principal: &key.principal,
            secret,
            created_ms: key.created_ms,
            session_token: token,
            expires_ms: key.session.as_ref().map(|s| s.expires_ms),
        })
        .expect("an access key serializes"),
    );
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(nonce);
    let aad = aad(&out, keystore_id, &key.access_key_id);
    root.seal_into(nonce, &aad, plain.expose(), &mut out)?;
    Ok(out)
}

/// Open the file bytes of access key `id`; the error says why (never with the secret).
fn open(root: &AeadKey, keystore_id: &[u8], id: &str, bytes: &[u8]) -> Result<AccessKey, String> {
    if bytes.len() < HEADER_LEN + crypto::TAG_LEN || bytes[..4] != MAGIC {
        return Err("not a kmsfs access key file".into());
    }
    if bytes[4] != VERSION || bytes[5..8] != [0, 0, 0] {
        return Err("unsupported access key file version".into());
    }
    let nonce: [u8; 12] = bytes[8..HEADER_LEN].try_into().expect("12 bytes");
    let plain = root
        .open(
            &nonce,
            &aad(&bytes[..HEADER_LEN], keystore_id, id),
            &bytes[HEADER_LEN..],
        )
        .map_err(|_| {
            "authentication failed (edited, damaged, renamed, or from another keystore)".to_string()
        })?;
    let s: SealedIn = serde_json::from_slice(plain.expose()).map_err(|e| {
        format!(
            "the sealed contents are not an access key ({})",
            e.classify_name()
        )
    })?;
    Ok(AccessKey {
        access_key_id: id.to_string(),
        principal: s.principal,
        secret: SecretBytes::new(s.secret.into_bytes()),
        created_ms: s.created_ms,
        session: match (s.session_token, s.expires_ms) {
            (Some(t), Some(expires_ms)) => Some(SessionToken {
                token: SecretBytes::new(t.into_bytes()),
                expires_ms,
            }),
            (None, None) => None,
            _ => return Err("a session key without its token or expiry".into()),
        },
    })
}

/// serde_json's error kinds, without the message (which could quote the secret).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "bad JSON",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// A new AWS-style access key id: `prefix` (`AKIA` permanent, `ASIA` temporary) and 16
/// characters of base32 (`A-Z 2-7`).
fn new_access_key_id(prefix: &str) -> Result<String, KmsError> {
    const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut b = [0u8; 10];
    crypto::fill_random(&mut b)?;
    let bits = b.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x));
    let tail: String = (0..16)
        .rev()
        .map(|i| B32[((bits >> (5 * i)) & 31) as usize] as char)
        .collect();
    Ok(format!("{prefix}{tail}"))
}

/// A new 40-character secret (30 random bytes in base64, as AWS's look).
fn new_secret() -> Result<SecretBytes, KmsError> {
    use base64::Engine;
    let raw = crypto::random_secret(30)?;
    let s = base64::engine::general_purpose::STANDARD.encode(raw.expose());
    Ok(SecretBytes::new(s.into_bytes()))
}

impl Kms {
    fn access_key_path(&self, id: &str) -> PathBuf {
        self.ks.access_keys_dir().join(id)
    }

    /// The audit name of access key `id` (in the line's `keyArn` field).
    fn access_key_arn(&self, id: &str) -> String {
        let a = &self.account;
        format!("arn:{}:iam::{}:access-key/{id}", a.partition, a.account_id)
    }

    /// Read access key `id` from its file, with the file's stamp; `None` if it has none.
    fn read_access_key(&self, id: &str) -> Result<Option<(AccessKey, Stamp)>, KmsError> {
        let path = self.access_key_path(id);
        let (bytes, stamp) = match read_with_stamp(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, e).into()),
        };
        let key = open(self.ks.root(), self.ks.id(), id, &bytes)
            .map_err(|why| StoreError::Damaged { path, why })?;
        Ok(Some((key, stamp)))
    }

    /// Write `key` under the lock, refusing an id that exists; one audit line as `operation`.
    fn store_access_key(&self, operation: &'static str, key: &AccessKey) -> Result<(), KmsError> {
        let caller = Caller::new(self.os_principal());
        self.run(&caller, operation, |call| {
            if valid_access_key_id(&key.access_key_id) {
                call.note_key(self.access_key_arn(&key.access_key_id));
            }
            validate(
                &key.access_key_id,
                std::str::from_utf8(key.secret.expose()).unwrap_or(""),
                &key.principal,
            )?;
            let _g = self.ks.lock()?;
            let path = self.access_key_path(&key.access_key_id);
            if path.exists() {
                return Err(KmsError::AlreadyExists(format!(
                    "Access key '{}' already exists",
                    key.access_key_id
                )));
            }
            let dir = self.ks.access_keys_dir();
            fsutil::create_dir_durable(&dir, 0o700).map_err(|e| StoreError::io(&dir, e))?;
            let sealed = seal(self.ks.root(), self.ks.id(), key, &crypto::random_nonce()?)?;
            self.ks.write_file(&path, &sealed)
        })
    }

    /// Register the access key `access_key_id` with `secret`, acting as `principal` (e.g.
    /// `arn:aws:iam::ACCOUNT:root`). `AlreadyExistsException` if the id is taken.
    pub fn add_access_key(
        &self,
        access_key_id: &str,
        secret: &str,
        principal: &str,
    ) -> Result<(), KmsError> {
        let key = AccessKey {
            access_key_id: access_key_id.to_string(),
            principal: principal.to_string(),
            secret: SecretBytes::from_slice(secret.as_bytes()),
            created_ms: self.now_ms(),
            session: None,
        };
        self.store_access_key("AddAccessKey", &key)
    }

    /// Create an access key for `principal`: its new id (`AKIA...`) and secret.
    pub fn create_access_key(&self, principal: &str) -> Result<(String, SecretBytes), KmsError> {
        let key = AccessKey {
            access_key_id: new_access_key_id("AKIA")?,
            principal: principal.to_string(),
            secret: new_secret()?,
            created_ms: self.now_ms(),
            session: None,
        };
        self.store_access_key("CreateAccessKey", &key)?;
        Ok((key.access_key_id, key.secret))
    }

    /// Create a temporary access key (`ASIA...`) for `principal` (an assumed role's
    /// session) with a session token, expiring `duration_s` seconds from now (on the KMS's
    /// clock). Expired temporary keys are deleted first (each with its audit line).
    pub fn create_session_key(
        &self,
        principal: &str,
        duration_s: u32,
    ) -> Result<AccessKey, KmsError> {
        let now = self.now_ms();
        for k in self.list_access_keys()? {
            if k.expires_ms.is_some_and(|e| e <= now) {
                match self.delete_access_key(&k.access_key_id) {
                    Ok(()) | Err(KmsError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        use base64::Engine;
        let raw = crypto::random_secret(96)?;
        let token = base64::engine::general_purpose::STANDARD.encode(raw.expose());
        let key = AccessKey {
            access_key_id: new_access_key_id("ASIA")?,
            principal: principal.to_string(),
            secret: new_secret()?,
            created_ms: now,
            session: Some(SessionToken {
                token: SecretBytes::new(token.into_bytes()),
                expires_ms: now + i64::from(duration_s) * 1000,
            }),
        };
        self.store_access_key("CreateSessionKey", &key)?;
        Ok(key)
    }

    /// The ids of the access keys that act as `principal`.
    pub fn access_keys_of(&self, principal: &str) -> Result<Vec<AccessKeyInfo>, KmsError> {
        let mut keys = self.list_access_keys()?;
        keys.retain(|k| k.principal == principal);
        Ok(keys)
    }

    /// The access key `access_key_id` with its secret; `None` if there is none (or the id
    /// cannot name one). A damaged or swapped file is an error naming the file.
    pub fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, KmsError> {
        if !valid_access_key_id(access_key_id) {
            return Ok(None);
        }
        Ok(self.read_access_key(access_key_id)?.map(|(k, _)| k))
    }

    /// [`Kms::access_key`] through `cache`: the cached key while its file is unchanged
    /// (one `stat`), else the file read and unsealed again.
    pub fn access_key_cached(
        &self,
        cache: &AccessKeyCache,
        access_key_id: &str,
    ) -> Result<Option<Arc<AccessKey>>, KmsError> {
        if !valid_access_key_id(access_key_id) {
            return Ok(None);
        }
        let path = self.access_key_path(access_key_id);
        match std::fs::metadata(&path) {
            Ok(m) => {
                if let Some(k) = cache.get(access_key_id, Stamp::of(&m)) {
                    return Ok(Some(k));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                cache.forget(access_key_id);
                return Ok(None);
            }
            Err(e) => return Err(StoreError::io(&path, e).into()),
        }
        let read_at = now_ns();
        match self.read_access_key(access_key_id) {
            Ok(Some((key, stamp))) => {
                let key = Arc::new(key);
                if stamp.ctime_ns() <= read_at - SETTLE_NS {
                    cache.put(stamp, key.clone());
                } else {
                    cache.forget(access_key_id);
                }
                Ok(Some(key))
            }
            r => {
                cache.forget(access_key_id);
                r.map(|_| None)
            }
        }
    }

    /// Every access key, by id, without secrets.
    pub fn list_access_keys(&self) -> Result<Vec<AccessKeyInfo>, KmsError> {
        let dir = self.ks.access_keys_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&dir, e).into()),
        };
        let mut ids = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| StoreError::io(&dir, e))?;
            if let Some(name) = ent.file_name().to_str().filter(|n| valid_access_key_id(n)) {
                ids.push(name.to_string());
            }
        }
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if let Some((k, _)) = self.read_access_key(&id)? {
                out.push(k.info());
            }
        }
        Ok(out)
    }

    /// Delete access key `access_key_id`; `NotFoundException` if there is none.
    pub fn delete_access_key(&self, access_key_id: &str) -> Result<(), KmsError> {
        let caller = Caller::new(self.os_principal());
        self.run(&caller, "DeleteAccessKey", |call| {
            let missing =
                || KmsError::NotFound(format!("Access key '{access_key_id}' does not exist"));
            if !valid_access_key_id(access_key_id) {
                return Err(missing());
            }
            call.note_key(self.access_key_arn(access_key_id));
            let _g = self.ks.lock()?;
            let path = self.access_key_path(access_key_id);
            match self.ks.remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
                Err(e) => Err(StoreError::io(&path, e).into()),
            }
        })
    }
}

impl crate::iam::KeyOwners for Kms {
    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<String>, crate::iam::IamError> {
        let keys = Kms::access_keys_of(self, principal_arn)
            .map_err(|e| crate::iam::IamError::Keys(e.to_string()))?;
        Ok(keys.into_iter().map(|k| k.access_key_id).collect())
    }
}
