//! The keystore on disk: the root key (a random 0600 file, or derived from a passphrase by
//! Argon2id), one sealed record per key in `keys/<uuid>.key`, and the sealed alias table.
//!
//! Readers take no lock: every file is replaced atomically, and a cached record is reused
//! only while the file's identity (inode, size, mtime, ctime) is unchanged, so a change made
//! by another process is seen on the next access. Writers hold `kms/lock`.

use super::error::StoreError;
use super::record::{self, KeyRecord};
use crate::crypto::{self, AeadKey, PassphraseParams, SecretBytes, SecretKey};
use crate::fsutil::{self, FileLock};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

const KEYSTORE_FORMAT: u32 = 1;
const CHECK_AAD: &[u8] = b"kmsfs keystore check v1";
const ALIAS_MAGIC: [u8; 4] = *b"KMSA";
const ALIAS_VERSION: u8 = 1;

/// How the root key is kept.
pub enum RootKeySource {
    /// 32 random bytes in `kms/root.key`, mode 0600.
    RandomFile,
    /// Derived from a passphrase with Argon2id; nothing secret is written.
    Passphrase(SecretBytes),
}

#[derive(Serialize, Deserialize)]
struct KeystoreMeta {
    format: u32,
    /// Random id of this keystore (hex), bound into the alias table.
    id: String,
    /// "file" or "passphrase".
    root: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<PassphraseParams>,
    /// hex(nonce ‖ AES-256-GCM-SIV(root, nonce, CHECK_AAD ‖ id, "")) to recognise the right root key.
    check: String,
}

/// One alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AliasEntry {
    /// Target key id (UUID string).
    pub(super) target: String,
    pub(super) created_ms: i64,
    pub(super) updated_ms: i64,
}

/// A key loaded from disk, with its materials expanded into ciphers.
pub(super) struct LoadedKey {
    pub(super) record: KeyRecord,
    /// `ciphers[v - 1]` is the cipher of material version `v`.
    pub(super) ciphers: Vec<AeadKey>,
    /// `material_ids[v - 1]` is the hex `KeyMaterialId` of version `v`.
    pub(super) material_ids: Vec<String>,
    /// `asym[v - 1]`: the parsed private or HMAC key of version `v` (asymmetric and HMAC
    /// keys; parsed once per load, `None` for a version that does not parse).
    pub(super) asym: Vec<Option<AsymKey>>,
    /// The key ARN, filled in by the KMS on first use.
    pub(super) arn: std::sync::OnceLock<String>,
    stamp: Stamp,
}

/// A file's identity: a cached copy of its contents is reused while this is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    pub(super) fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        }
    }

    /// The file's ctime, in nanoseconds since the epoch.
    pub(super) fn ctime_ns(&self) -> i64 {
        self.ctime_ns
    }
}

type AliasTable = BTreeMap<String, AliasEntry>;

/// The keystore of one home.
pub(super) struct Keystore {
    dir: PathBuf,
    keys_dir: PathBuf,
    id: Vec<u8>,
    root: Arc<AeadKey>,
    /// A region's keystore creates its directories at its first write.
    lazy_dirs: bool,
    cache: RwLock<HashMap<[u8; 16], Arc<LoadedKey>>>,
    aliases: RwLock<Option<(Stamp, Arc<AliasTable>)>>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn meta_path(dir: &Path) -> PathBuf {
    dir.join("keystore.json")
}

fn root_path(dir: &Path) -> PathBuf {
    dir.join("root.key")
}

impl Keystore {
    /// Whether a keystore exists in `dir`.
    pub(super) fn exists(dir: &Path) -> bool {
        meta_path(dir).exists()
    }

    /// Whether the keystore in `dir` needs a passphrase.
    pub(super) fn needs_passphrase(dir: &Path) -> Result<bool, StoreError> {
        Ok(read_meta(dir)?.root == "passphrase")
    }

    /// Create a new keystore in `dir`.
    pub(super) fn create(dir: &Path, source: RootKeySource) -> Result<Keystore, StoreError> {
        fsutil::create_dir_durable(dir, 0o700).map_err(|e| StoreError::io(dir, e))?;
        let keys_dir = dir.join("keys");
        fsutil::create_dir_durable(&keys_dir, 0o700).map_err(|e| StoreError::io(&keys_dir, e))?;
        if Keystore::exists(dir) {
            return Err(StoreError::Damaged {
                path: meta_path(dir),
                why: "a keystore already exists here".into(),
            });
        }
        let mut id = vec![0u8; 16];
        crypto::fill_random(&mut id)?;
        let (root, kind, kdf) = match source {
            RootKeySource::RandomFile => {
                let k = SecretKey::random()?;
                let p = root_path(dir);
                fsutil::atomic_write(&p, k.expose(), 0o600).map_err(|e| StoreError::io(&p, e))?;
                (k, "file", None)
            }
            RootKeySource::Passphrase(pw) => {
                let params = PassphraseParams::generate()?;
                let k = crypto::derive_from_passphrase(pw.expose(), &params)?;
                (k, "passphrase", Some(params))
            }
        };
        let root = AeadKey::new(&root);
        let nonce = crypto::random_nonce()?;
        let mut check = nonce.to_vec();
        check.extend(root.seal(&nonce, &check_aad(&id), b"")?);
        let meta = KeystoreMeta {
            format: KEYSTORE_FORMAT,
            id: crypto::hex(&id),
            root: kind.into(),
            kdf,
            check: crypto::hex(&check),
        };
        let mp = meta_path(dir);
        let bytes = serde_json::to_vec_pretty(&meta).expect("meta serializes");
        fsutil::atomic_write(&mp, &bytes, 0o600).map_err(|e| StoreError::io(&mp, e))?;
        Ok(Keystore::assemble(dir, id, root))
    }

    /// Open the keystore in `dir`; `passphrase` is needed when it was created with one.
    pub(super) fn open(
        dir: &Path,
        passphrase: Option<&SecretBytes>,
    ) -> Result<Keystore, StoreError> {
        let meta = read_meta(dir)?;
        let mp = meta_path(dir);
        let damaged = |why: &str| StoreError::Damaged {
            path: mp.clone(),
            why: why.into(),
        };
        if meta.format != KEYSTORE_FORMAT {
            return Err(damaged("unsupported keystore format"));
        }
        let id = crypto::unhex(&meta.id).ok_or_else(|| damaged("bad id"))?;
        let root = match meta.root.as_str() {
            "file" => {
                let p = root_path(dir);
                let m = std::fs::metadata(&p).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => StoreError::NoRootKey(p.clone()),
                    _ => StoreError::io(&p, e),
                })?;
                if m.permissions().mode() & 0o077 != 0 {
                    return Err(StoreError::Damaged {
                        path: p,
                        why: format!(
                            "the root key file is readable by others (mode {:o}); run chmod 600 on it",
                            m.permissions().mode() & 0o777
                        ),
                    });
                }
                let bytes = SecretBytes::new(std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?);
                SecretKey::from_slice(bytes.expose()).ok_or_else(|| StoreError::Damaged {
                    path: p.clone(),
                    why: format!("the root key must be 32 bytes, found {}", bytes.len()),
                })?
            }
            "passphrase" => {
                let params = meta
                    .kdf
                    .as_ref()
                    .ok_or_else(|| damaged("missing KDF parameters"))?;
                let pw = passphrase.ok_or_else(|| {
                    StoreError::WrongRootKey(
                        "this keystore is protected by a passphrase; set KMSFS_PASSPHRASE or use --passphrase-file".into(),
                    )
                })?;
                crypto::derive_from_passphrase(pw.expose(), params)?
            }
            _ => return Err(damaged("unknown root key kind")),
        };
        let root = AeadKey::new(&root);
        let check = crypto::unhex(&meta.check).ok_or_else(|| damaged("bad check value"))?;
        if check.len() < 12 {
            return Err(damaged("bad check value"));
        }
        let nonce: [u8; 12] = check[..12].try_into().expect("12 bytes");
        if root.open(&nonce, &check_aad(&id), &check[12..]).is_err() {
            return Err(StoreError::WrongRootKey(match meta.root.as_str() {
                "passphrase" => "wrong passphrase".into(),
                _ => format!(
                    "{} does not belong to this keystore",
                    root_path(dir).display()
                ),
            }));
        }
        Ok(Keystore::assemble(dir, id, root))
    }

    fn assemble(dir: &Path, id: Vec<u8>, root: AeadKey) -> Keystore {
        Keystore::with_root(dir, id, Arc::new(root), false)
    }

    fn with_root(dir: &Path, id: Vec<u8>, root: Arc<AeadKey>, lazy_dirs: bool) -> Keystore {
        Keystore {
            dir: dir.to_path_buf(),
            keys_dir: dir.join("keys"),
            id,
            root,
            lazy_dirs,
            cache: RwLock::new(HashMap::new()),
            aliases: RwLock::new(None),
        }
    }

    /// The keystore of another region in `dir` (`kms/regions/<region>/`): the same root key,
    /// its own keys, aliases and lock. Its alias table is bound to `region` as well as to
    /// this keystore's id. Nothing is created before its first write.
    pub(super) fn for_region(&self, dir: &Path, region: &str) -> Keystore {
        let mut id = self.id.clone();
        id.extend_from_slice(b"/region/");
        id.extend_from_slice(region.as_bytes());
        Keystore::with_root(dir, id, self.root.clone(), true)
    }

    /// Take the keystore's write lock (waits up to `KMSFS_LOCK_TIMEOUT_MS`).
    pub(super) fn lock(&self) -> Result<FileLock, StoreError> {
        if self.lazy_dirs && !self.keys_dir.is_dir() {
            let regions = fsutil::parent_dir(&self.dir);
            for d in [&regions, &self.dir, &self.keys_dir] {
                fsutil::create_dir_durable(d, 0o700).map_err(|e| StoreError::io(d, e))?;
            }
        }
        let p = self.dir.join("lock");
        let timeout = fsutil::lock_timeout();
        FileLock::acquire(&p, timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                StoreError::Locked {
                    path: p.clone(),
                    waited_ms: timeout.as_millis(),
                }
            } else {
                StoreError::io(&p, e)
            }
        })
    }

    /// The folder of the access keys (`access_keys.rs`), one sealed file per key.
    pub(super) fn access_keys_dir(&self) -> PathBuf {
        self.dir.join("access-keys")
    }

    /// The root key, for what else the keystore seals (access keys).
    pub(super) fn root(&self) -> &AeadKey {
        &self.root
    }

    /// The keystore's random id, bound into what it seals.
    pub(super) fn id(&self) -> &[u8] {
        &self.id
    }

    pub(super) fn record_path(&self, id: &[u8; 16]) -> PathBuf {
        self.keys_dir
            .join(format!("{}.key", uuid::Uuid::from_bytes(*id)))
    }

    /// The key `id` as currently on disk (cached while unchanged), or `None` if absent.
    pub(super) fn get(&self, id: &[u8; 16]) -> Result<Option<Arc<LoadedKey>>, StoreError> {
        let path = self.record_path(id);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.write().expect("cache lock").remove(id);
                return Ok(None);
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let stamp = Stamp::of(&meta);
        if let Some(k) = self.cache.read().expect("cache lock").get(id)
            && k.stamp == stamp
        {
            return Ok(Some(k.clone()));
        }
        self.load_uncached(id)
    }

    /// Read `id` from disk, bypassing the cache (writers call this under the lock).
    pub(super) fn load_uncached(
        &self,
        id: &[u8; 16],
    ) -> Result<Option<Arc<LoadedKey>>, StoreError> {
        let path = self.record_path(id);
        let (bytes, stamp) = match read_with_stamp(&path) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.cache.write().expect("cache lock").remove(id);
                return Ok(None);
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let rec = record::open(&self.root, &bytes, id).map_err(|e| StoreError::Damaged {
            path: path.clone(),
            why: e.to_string(),
        })?;
        let loaded = Arc::new(LoadedKey::new(rec, stamp));
        self.cache
            .write()
            .expect("cache lock")
            .insert(*id, loaded.clone());
        Ok(Some(loaded))
    }

    /// Seal and write `rec` atomically. The caller holds the lock.
    pub(super) fn put(&self, rec: KeyRecord) -> Result<Arc<LoadedKey>, StoreError> {
        let path = self.record_path(&rec.key_id);
        let nonce = crypto::random_nonce()?;
        let sealed = record::seal(&self.root, &rec, &nonce)?;
        fsutil::atomic_write(&path, &sealed, 0o600).map_err(|e| StoreError::io(&path, e))?;
        let meta = std::fs::metadata(&path).map_err(|e| StoreError::io(&path, e))?;
        let id = rec.key_id;
        let loaded = Arc::new(LoadedKey::new(rec, Stamp::of(&meta)));
        self.cache
            .write()
            .expect("cache lock")
            .insert(id, loaded.clone());
        Ok(loaded)
    }

    /// Delete the record of `id`. The caller holds the lock.
    pub(super) fn remove(&self, id: &[u8; 16]) -> Result<(), StoreError> {
        let path = self.record_path(id);
        match fsutil::durable_remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&path, e)),
        }
        self.cache.write().expect("cache lock").remove(id);
        Ok(())
    }

    /// Ids of every key on disk, sorted.
    pub(super) fn list_ids(&self) -> Result<Vec<[u8; 16]>, StoreError> {
        let rd = match std::fs::read_dir(&self.keys_dir) {
            Ok(rd) => rd,
            Err(e) if self.lazy_dirs && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(StoreError::io(&self.keys_dir, e)),
        };
        let mut ids = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| StoreError::io(&self.keys_dir, e))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".key") else {
                continue;
            };
            if let Ok(u) = uuid::Uuid::parse_str(stem)
                && u.hyphenated().to_string() == stem
            {
                ids.push(*u.as_bytes());
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn alias_path(&self) -> PathBuf {
        self.dir.join("aliases.kms")
    }

    fn alias_aad(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend_from_slice(&self.id);
        aad
    }

    /// The alias table as on disk (cached while unchanged).
    pub(super) fn aliases(&self) -> Result<Arc<AliasTable>, StoreError> {
        let path = self.alias_path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let stamp = Stamp::of(&meta);
        if let Some((s, t)) = self.aliases.read().expect("alias lock").as_ref()
            && *s == stamp
        {
            return Ok(t.clone());
        }
        let (bytes, stamp) = match read_with_stamp(&path) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let damaged = |why: &str| StoreError::Damaged {
            path: path.clone(),
            why: why.into(),
        };
        if bytes.len() < 20 + crypto::TAG_LEN || bytes[0..4] != ALIAS_MAGIC {
            return Err(damaged("not an alias table"));
        }
        if bytes[4] != ALIAS_VERSION || bytes[5..8] != [0, 0, 0] {
            return Err(damaged("unsupported alias table version"));
        }
        let nonce: [u8; 12] = bytes[8..20].try_into().expect("12 bytes");
        let plain = self
            .root
            .open(&nonce, &self.alias_aad(&bytes[..20]), &bytes[20..])
            .map_err(|_| {
                damaged("authentication failed (edited, damaged or from another keystore)")
            })?;
        let table: AliasTable =
            serde_json::from_slice(plain.expose()).map_err(|e| damaged(&e.to_string()))?;
        let table = Arc::new(table);
        *self.aliases.write().expect("alias lock") = Some((stamp, table.clone()));
        Ok(table)
    }

    /// Replace the alias table. The caller holds the lock.
    pub(super) fn put_aliases(&self, table: AliasTable) -> Result<(), StoreError> {
        let path = self.alias_path();
        let nonce = crypto::random_nonce()?;
        let mut out = ALIAS_MAGIC.to_vec();
        out.push(ALIAS_VERSION);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&nonce);
        let aad = self.alias_aad(&out);
        let plain = serde_json::to_vec(&table).expect("aliases serialize");
        self.root.seal_into(&nonce, &aad, &plain, &mut out)?;
        fsutil::atomic_write(&path, &out, 0o600).map_err(|e| StoreError::io(&path, e))?;
        let meta = std::fs::metadata(&path).map_err(|e| StoreError::io(&path, e))?;
        *self.aliases.write().expect("alias lock") = Some((Stamp::of(&meta), Arc::new(table)));
        Ok(())
    }
}

impl LoadedKey {
    fn new(record: KeyRecord, stamp: Stamp) -> LoadedKey {
        let ciphers = record
            .materials
            .iter()
            .filter_map(|m| m.secret.aes())
            .map(|m| AeadKey::new(&SecretKey::from_bytes(*m.0)))
            .collect();
        let material_ids = record
            .materials
            .iter()
            .map(|m| crypto::hex(&m.id))
            .collect();
        let asym = record
            .materials
            .iter()
            .map(|m| AsymKey::parse(record.spec, &m.secret))
            .collect();
        LoadedKey {
            record,
            ciphers,
            material_ids,
            asym,
            arn: std::sync::OnceLock::new(),
            stamp,
        }
    }

    /// The cipher of material `version`, if the key has it.
    pub(super) fn cipher(&self, version: u32) -> Option<&AeadKey> {
        self.ciphers.get((version as usize).checked_sub(1)?)
    }
}

/// The parsed key of one material version of an asymmetric or HMAC key.
pub(super) enum AsymKey {
    Private(crate::crypto::asym::PrivateKey),
    Hmac(Box<crate::crypto::asym::HmacKey>),
}

impl AsymKey {
    fn parse(spec: Option<crate::crypto::asym::KeySpec>, s: &record::KeySecret) -> Option<AsymKey> {
        use crate::crypto::asym::{HmacKey, PrivateKey};
        match (spec?, s) {
            (spec, record::KeySecret::Private(der)) => PrivateKey::from_pkcs8(spec, &der.0)
                .ok()
                .map(AsymKey::Private),
            (spec, record::KeySecret::Hmac(m)) => HmacKey::from_material(spec, &m.0)
                .ok()
                .map(|h| AsymKey::Hmac(Box::new(h))),
            _ => None,
        }
    }
}

fn check_aad(id: &[u8]) -> Vec<u8> {
    let mut aad = CHECK_AAD.to_vec();
    aad.extend_from_slice(id);
    aad
}

fn read_meta(dir: &Path) -> Result<KeystoreMeta, StoreError> {
    let mp = meta_path(dir);
    let bytes = std::fs::read(&mp).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::NoRootKey(dir.to_path_buf()),
        _ => StoreError::io(&mp, e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged {
        path: mp,
        why: e.to_string(),
    })
}

/// A file's bytes and the stamp of the file they were read from.
pub(super) fn read_with_stamp(path: &Path) -> std::io::Result<(Vec<u8>, Stamp)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let stamp = Stamp::of(&f.metadata()?);
    let mut buf = Vec::with_capacity(stamp.size as usize);
    f.read_to_end(&mut buf)?;
    Ok((buf, stamp))
}
