//! The grant store: the grants of a key, one sealed file per grant in
//! `keys/<key-uuid>.grants/<grant-id>` beside the key's record (docs/FORMAT.md, "Grants"),
//! and the grant tokens that name them.
//!
//! A grant file is written once (atomically, 0600, under the keystore's lock) and never
//! changed: retiring or revoking a grant removes its file, and deleting a key removes its
//! grants first. Every write goes through the audit write-ahead (`audit_ahead.rs`). Each
//! file is sealed with the root key, its key id and grant id bound into the associated data,
//! so a file copied to another name or key does not open. Opened grants are cached per key
//! and file name (the files are immutable); each read lists the directory, so a grant
//! another process retired is gone at the next read.
//!
//! What authorization reads ([`Kms::compiled_grants`]) is cached further: a key's grants
//! converted for the policy engine, kept while the grant folder's stamp (inode, mtime,
//! ctime) is unchanged, so that a request costs one `stat` instead of a listing and a
//! conversion per grant. A grant written or removed here drops the key's entry at once;
//! one written by another process changes the folder's times. File times tick coarsely, so
//! a listing is kept only once the folder's last change is [`SETTLED`] in the past: a later
//! change cannot then leave the same stamp.

use super::audit_ahead::before_effect;
use super::error::{KmsError, StoreError};
use super::service::Kms;
use super::types::GrantConstraints;
use crate::crypto::{self, AeadKey};
use crate::fsutil;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// File magic: kmsfs grant.
const MAGIC: [u8; 4] = *b"KMSG";
/// Format version.
const VERSION: u8 = 1;
/// Bytes before the ciphertext: magic, version, 3 zero bytes, nonce.
const HEADER_LEN: usize = 20;
/// Grant token format version (its first byte).
const TOKEN_VERSION: u8 = 1;
/// Bytes of a decoded grant token: version, key id, grant id, 16 random bytes.
const TOKEN_LEN: usize = 1 + 16 + 32 + 16;

/// One grant, as stored (its key is where it is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grant {
    /// 64 lowercase hex digits.
    pub(crate) grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) created_ms: i64,
    pub(crate) grantee_principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retiring_principal: Option<String>,
    /// `arn:<partition>:iam::<account>:root` of the account that created the grant.
    pub(crate) issuing_account: String,
    /// `GrantOperation` names, each once, in the order given.
    pub(crate) operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) constraints: Option<GrantConstraints>,
}

impl Grant {
    /// The order grants are listed in: creation time, then grant id.
    pub(crate) fn order(&self) -> (i64, &str) {
        (self.created_ms, &self.grant_id)
    }
}

/// What a grant token names: a key and a grant of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GrantToken {
    pub(crate) key_id: [u8; 16],
    pub(crate) grant_id: [u8; 32],
}

impl GrantToken {
    /// A new token for the grant (a fresh one each time: every token of a grant is as good
    /// as any other).
    pub(crate) fn issue(key_id: &[u8; 16], grant_id: &str) -> Result<String, KmsError> {
        let id = crypto::unhex(grant_id)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| KmsError::Internal(format!("grant id '{grant_id}' is not 32 bytes")))?;
        let mut b = Vec::with_capacity(TOKEN_LEN);
        b.push(TOKEN_VERSION);
        b.extend_from_slice(key_id);
        b.extend_from_slice(&id);
        let mut rnd = [0u8; 16];
        crypto::fill_random(&mut rnd)?;
        b.extend_from_slice(&rnd);
        Ok(URL_SAFE_NO_PAD.encode(b))
    }

    /// Read a token; anything this KMS could not have issued is `InvalidGrantTokenException`.
    pub(crate) fn parse(s: &str) -> Result<GrantToken, KmsError> {
        let bad = || KmsError::InvalidGrantToken("The grant token is invalid.".into());
        if s.len() > 8192 {
            return Err(bad());
        }
        let b = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        if b.len() != TOKEN_LEN || b[0] != TOKEN_VERSION {
            return Err(bad());
        }
        Ok(GrantToken {
            key_id: b[1..17].try_into().expect("16 bytes"),
            grant_id: b[17..49].try_into().expect("32 bytes"),
        })
    }

    /// The grant id, as grants are listed.
    pub(crate) fn grant_id_hex(&self) -> String {
        crypto::hex(&self.grant_id)
    }
}

/// Whether `s` is a grant id this KMS makes: 64 lowercase hex digits.
pub(crate) fn is_grant_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new random grant id.
pub(crate) fn new_grant_id() -> Result<String, KmsError> {
    let mut b = [0u8; 32];
    crypto::fill_random(&mut b)?;
    Ok(crypto::hex(&b))
}

/// The opened grants of one key, by grant id.
type KeyGrants = HashMap<String, Arc<Grant>>;

/// How long after the last change of a grant folder its listing may be kept (longer than
/// the tick of file times on any file system a home lives on).
pub(super) const SETTLED: Duration = Duration::from_secs(2);

/// What identifies the state of a key's grant folder: a grant added or removed changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FolderStamp {
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FolderStamp {
    fn of(m: &std::fs::Metadata) -> FolderStamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FolderStamp {
            ino: m.ino(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether the folder last changed [`SETTLED`] ago or more.
    fn settled(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        now - self.mtime_ns.max(self.ctime_ns) >= SETTLED.as_nanos() as i128
    }
}

/// A key's grants as the policy engine sees them (creation order), and the stamp of the
/// folder they were listed under.
struct Compiled {
    stamp: FolderStamp,
    grants: Arc<[crate::policy::Grant]>,
}

/// The grants opened so far, per key and grant id; and the compiled grants per key.
#[derive(Default)]
pub(super) struct GrantCache {
    keys: RwLock<HashMap<[u8; 16], KeyGrants>>,
    compiled: RwLock<HashMap<[u8; 16], Compiled>>,
}

impl GrantCache {
    /// Forget the compiled grants of key `id` (a grant of it was written or removed).
    fn invalidate(&self, id: &[u8; 16]) {
        self.compiled.write().expect("grant cache lock").remove(id);
    }
}

/// A stored grant as the policy engine sees it.
pub(super) fn engine_grant(g: &Grant) -> crate::policy::Grant {
    use crate::policy::{GrantConstraints as Constraints, GrantOperation};
    let ops: Vec<GrantOperation> = g
        .operations
        .iter()
        .filter_map(|o| GrantOperation::parse(o))
        .collect();
    let constraints = g.constraints.as_ref().map(|c| Constraints {
        encryption_context_equals: c.encryption_context_equals.clone(),
        encryption_context_subset: c.encryption_context_subset.clone(),
    });
    let mut out = crate::policy::Grant::new(&g.grantee_principal, &ops, constraints);
    out.retiring = g.retiring_principal.clone();
    out
}

impl std::fmt::Debug for GrantCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.keys.read().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("GrantCache").field("keys", &n).finish()
    }
}

/// Associated data of a grant file: its header, the keystore id, the key id, the grant id.
fn aad(header: &[u8], keystore_id: &[u8], key_id: &[u8; 16], grant_id: &str) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(keystore_id);
    aad.extend_from_slice(key_id);
    aad.extend_from_slice(grant_id.as_bytes());
    aad
}

/// The bytes of the file of `g`.
fn seal(root: &AeadKey, ks_id: &[u8], key_id: &[u8; 16], g: &Grant) -> Result<Vec<u8>, KmsError> {
    let nonce = crypto::random_nonce()?;
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&nonce);
    let plain = serde_json::to_vec(g).expect("a grant serializes");
    let aad = aad(&out, ks_id, key_id, &g.grant_id);
    root.seal_into(&nonce, &aad, &plain, &mut out)?;
    Ok(out)
}

/// Open the file `path` of grant `grant_id` of key `key_id`.
fn open(
    root: &AeadKey,
    ks_id: &[u8],
    key_id: &[u8; 16],
    grant_id: &str,
    path: &Path,
) -> Result<Grant, StoreError> {
    let damaged = |why: &str| StoreError::Damaged {
        path: path.to_path_buf(),
        why: why.into(),
    };
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    if bytes.len() < HEADER_LEN + crypto::TAG_LEN || bytes[0..4] != MAGIC {
        return Err(damaged("not a grant"));
    }
    if bytes[4] != VERSION || bytes[5..8] != [0, 0, 0] {
        return Err(damaged("unsupported grant format version"));
    }
    let nonce: [u8; 12] = bytes[8..20].try_into().expect("12 bytes");
    let aad = aad(&bytes[..HEADER_LEN], ks_id, key_id, grant_id);
    let plain = root.open(&nonce, &aad, &bytes[HEADER_LEN..]).map_err(|_| {
        damaged("authentication failed (edited, renamed, damaged or from another keystore)")
    })?;
    let g: Grant = serde_json::from_slice(plain.expose()).map_err(|e| damaged(&e.to_string()))?;
    if g.grant_id != grant_id {
        return Err(damaged("the grant id does not match the file name"));
    }
    Ok(g)
}

impl Kms {
    /// The folder of the grants of key `id`: `keys/<uuid>.grants`, beside its record.
    fn grants_dir(&self, id: &[u8; 16]) -> PathBuf {
        self.ks.record_path(id).with_extension("grants")
    }

    /// The grant ids of key `id` on disk (file names only; nothing is opened).
    fn grant_ids(&self, id: &[u8; 16]) -> Result<Vec<String>, KmsError> {
        let dir = self.grants_dir(id);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&dir, e).into()),
        };
        let mut ids = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| StoreError::io(&dir, e))?;
            if let Some(name) = ent.file_name().to_str()
                && is_grant_id(name)
            {
                ids.push(name.to_string());
            }
        }
        Ok(ids)
    }

    /// How many grants key `id` has.
    pub(super) fn grant_count(&self, id: &[u8; 16]) -> Result<usize, KmsError> {
        Ok(self.grant_ids(id)?.len())
    }

    /// Every grant of key `id`, in creation order. Grants are opened once and cached; the
    /// directory is listed every time.
    pub(crate) fn grants_of(&self, id: &[u8; 16]) -> Result<Vec<Arc<Grant>>, KmsError> {
        let names = self.grant_ids(id)?;
        let cached: KeyGrants = {
            let keys = self.grant_cache.keys.read().expect("grant cache lock");
            keys.get(id).cloned().unwrap_or_default()
        };
        let dir = self.grants_dir(id);
        let mut out = Vec::with_capacity(names.len());
        let mut fresh = HashMap::with_capacity(names.len());
        for name in names {
            let g = match cached.get(&name) {
                Some(g) => g.clone(),
                None => match open(self.ks.root(), self.ks.id(), id, &name, &dir.join(&name)) {
                    Ok(g) => Arc::new(g),
                    // Retired by another process since the directory was listed.
                    Err(StoreError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            fresh.insert(name, g.clone());
            out.push(g);
        }
        let mut keys = self.grant_cache.keys.write().expect("grant cache lock");
        if fresh.is_empty() {
            keys.remove(id);
        } else {
            keys.insert(*id, fresh);
        }
        drop(keys);
        out.sort_by(|a, b| a.order().cmp(&b.order()));
        Ok(out)
    }

    /// The grants of key `id` compiled for the policy engine, in creation order: cached
    /// while the grant folder is unchanged (see the module's documentation).
    pub(super) fn compiled_grants(
        &self,
        id: &[u8; 16],
    ) -> Result<Arc<[crate::policy::Grant]>, KmsError> {
        let dir = self.grants_dir(id);
        let stamp = match std::fs::metadata(&dir) {
            Ok(m) => FolderStamp::of(&m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.grant_cache.invalidate(id);
                return Ok(Arc::new([]));
            }
            Err(e) => return Err(StoreError::io(&dir, e).into()),
        };
        let cache = &self.grant_cache.compiled;
        if let Some(c) = cache.read().expect("grant cache lock").get(id)
            && c.stamp == stamp
        {
            return Ok(c.grants.clone());
        }
        let grants: Arc<[_]> = self
            .grants_of(id)?
            .iter()
            .map(|g| engine_grant(g))
            .collect();
        // Listed after the stamp was taken: a change in between shows at the next stamp.
        if stamp.settled() {
            let c = Compiled {
                stamp,
                grants: grants.clone(),
            };
            cache.write().expect("grant cache lock").insert(*id, c);
        }
        Ok(grants)
    }

    /// Store a new grant of key `id`. The caller holds the keystore's lock.
    pub(super) fn put_grant(&self, id: &[u8; 16], g: &Grant) -> Result<(), KmsError> {
        self.grant_cache.invalidate(id);
        let dir = self.grants_dir(id);
        if !dir.is_dir() {
            before_effect()?;
            fsutil::create_dir_durable(&dir, 0o700).map_err(|e| StoreError::io(&dir, e))?;
        }
        let bytes = seal(self.ks.root(), self.ks.id(), id, g)?;
        self.ks.write_file(&dir.join(&g.grant_id), &bytes)
    }

    /// Remove grant `grant_id` of key `id`; whether it was there. The caller holds the lock.
    pub(super) fn remove_grant(&self, id: &[u8; 16], grant_id: &str) -> Result<bool, KmsError> {
        self.grant_cache.invalidate(id);
        let path = self.grants_dir(id).join(grant_id);
        if !path.exists() {
            return Ok(false);
        }
        match self.ks.remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(&path, e).into()),
        }
    }

    /// Remove every grant of key `id` and their folder (before the key itself is deleted,
    /// so that no grant outlives its key). The caller holds the lock.
    pub(super) fn remove_grants(&self, id: &[u8; 16]) -> Result<(), KmsError> {
        let dir = self.grants_dir(id);
        if !dir.exists() {
            return Ok(());
        }
        for g in self.grant_ids(id)? {
            self.remove_grant(id, &g)?;
        }
        before_effect()?;
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&dir, e).into()),
        }
        let parent = fsutil::parent_dir(&dir);
        fsutil::fsync_dir(&parent).map_err(|e| StoreError::io(&parent, e))?;
        self.grant_cache
            .keys
            .write()
            .expect("grant cache lock")
            .remove(id);
        self.grant_cache.invalidate(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compiled grants of a key are kept while its grant folder is unchanged, and
    /// dropped when a grant is written here or by another process (another KMS instance
    /// on the same home) or retired.
    #[test]
    fn compiled_grants_are_cached_until_the_folder_changes() {
        use crate::home::{Home, InitOptions};
        use crate::kms::types::{CreateGrantRequest, CreateKeyRequest, RevokeGrantRequest};
        use crate::kms::{Caller, KmsOptions, ManualClock, RootKeySource};
        let d = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            account_id: Some("111122223333".into()),
            region: Some("us-east-1".into()),
        };
        let home = Home::init(&d.path().join("home"), &opts).unwrap();
        Kms::create(&home, RootKeySource::RandomFile).unwrap();
        let open = || {
            let clock = Arc::new(ManualClock::new(1_800_000_000_000));
            let opts = KmsOptions {
                clock,
                passphrase: None,
                audit_interval: None,
            };
            Kms::open(&home, opts).unwrap()
        };
        let (a, b) = (open(), open());
        let me = Caller::from("arn:aws:iam::111122223333:user/tester");
        let key = a.create_key(&me, CreateKeyRequest::default()).unwrap();
        let key_id = key.key_metadata.key_id;
        let id = *uuid::Uuid::parse_str(&key_id).unwrap().as_bytes();
        let grant = |kms: &Kms, who: &str| {
            let req = CreateGrantRequest {
                key_id: key_id.clone(),
                grantee_principal: format!("arn:aws:iam::111122223333:user/{who}"),
                operations: vec!["Decrypt".into()],
                ..Default::default()
            };
            kms.create_grant(&me, req).unwrap().grant_id
        };
        assert!(a.compiled_grants(&id).unwrap().is_empty());
        let g1 = grant(&a, "g1");
        grant(&a, "g2");
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        let first = a.compiled_grants(&id).unwrap();
        assert_eq!(first.len(), 2);
        assert!(first.iter().any(|g| g.grantee.ends_with("/g1")));
        let again = a.compiled_grants(&id).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "compiled once, then cached");
        grant(&b, "g3");
        assert_eq!(
            a.compiled_grants(&id).unwrap().len(),
            3,
            "another process's"
        );
        let revoke = RevokeGrantRequest {
            key_id: key_id.clone(),
            grant_id: g1,
        };
        a.revoke_grant(&me, revoke).unwrap();
        let now = a.compiled_grants(&id).unwrap();
        assert_eq!(now.len(), 2);
        assert!(now.iter().all(|g| !g.grantee.ends_with("/g1")));
    }

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let key = [7u8; 16];
        let gid = crypto::hex(&[9u8; 32]);
        let a = GrantToken::issue(&key, &gid).unwrap();
        let b = GrantToken::issue(&key, &gid).unwrap();
        assert_ne!(a, b, "a fresh token each time");
        for t in [&a, &b] {
            let p = GrantToken::parse(t).unwrap();
            assert_eq!((p.key_id, p.grant_id_hex()), (key, gid.clone()));
        }
        let mut wrong_version = URL_SAFE_NO_PAD.decode(&a).unwrap();
        wrong_version[0] = 2;
        for bad in [
            "not-a-token".to_string(),
            "x".repeat(9000),
            a[..a.len() - 2].to_string(),
            format!("{a}AA"),
            URL_SAFE_NO_PAD.encode(wrong_version),
            String::new(),
        ] {
            assert!(
                matches!(GrantToken::parse(&bad), Err(KmsError::InvalidGrantToken(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn grant_ids_are_64_lowercase_hex_digits() {
        let id = new_grant_id().unwrap();
        assert!(is_grant_id(&id));
        assert!(!is_grant_id(&id.to_uppercase()));
        assert!(!is_grant_id(&id[1..]));
        assert!(!is_grant_id("g".repeat(64).as_str()));
    }
}
