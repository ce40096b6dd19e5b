//! The kmsfs home directory: where it is, its layout ([`Layout`]: which directory below the
//! root holds what), and the account settings (account id, region) stored in `config.json`.
//! Services keep their own files inside the directories the layout gives them.

use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Current `config.json` format.
pub const CONFIG_FORMAT: u32 = 1;

/// Errors about the home directory itself.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("no kmsfs home at {0}")]
    NotInitialized(PathBuf),
    #[error("a kmsfs home already exists at {0}")]
    AlreadyInitialized(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is damaged: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("{0}")]
    Invalid(String),
}

impl HomeError {
    pub fn io(path: &Path, source: std::io::Error) -> HomeError {
        HomeError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Account-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountConfig {
    pub format: u32,
    /// 12 digits, like an AWS account id.
    pub account_id: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
}

/// Options for `kmsfs init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// Where things are below a home's root. It reads nothing, so it also serves before the
/// home is opened (e.g. to find a volume's directory before its mount daemon opens the KMS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The identities of every account (`iam/`: `lock`, `accounts/<ACCOUNT>/account.json`).
    pub fn iam_dir(&self) -> PathBuf {
        self.root.join("iam")
    }

    /// The account settings, `config.json`.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// The KMS's directory (keystore, aliases, audit trail).
    pub fn kms_dir(&self) -> PathBuf {
        self.root.join("kms")
    }

    /// The KMS's audit trail, `kms/audit.log`.
    pub fn audit_log(&self) -> PathBuf {
        self.kms_dir().join("audit.log")
    }

    /// The endpoint's TLS material (`kmsfs serve --tls`), `kms/tls/`.
    pub fn tls_dir(&self) -> PathBuf {
        self.kms_dir().join("tls")
    }

    /// The local CA's certificate, `kms/tls/ca.pem` (what clients trust).
    pub fn tls_ca_cert(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }

    /// The local CA's private key, `kms/tls/ca.key` (mode 0600).
    pub fn tls_ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca.key")
    }

    /// The endpoint's certificate, signed by the local CA, `kms/tls/server.pem`.
    pub fn tls_server_cert(&self) -> PathBuf {
        self.tls_dir().join("server.pem")
    }

    /// The endpoint's private key, `kms/tls/server.key` (mode 0600).
    pub fn tls_server_key(&self) -> PathBuf {
        self.tls_dir().join("server.key")
    }

    /// The keystores of the regions other than the home's, `kms/regions/` (one directory
    /// per region: its keys and aliases; the home's region keeps `kms/keys/` and
    /// `kms/aliases.kms`).
    pub fn kms_regions_dir(&self) -> PathBuf {
        self.kms_dir().join("regions")
    }

    /// The KMS of the accounts other than the home's own, `kms/accounts/` (the home's
    /// account keeps `kms/keys/`, `kms/regions/` and `kms/audit.log`).
    pub fn kms_accounts_dir(&self) -> PathBuf {
        self.kms_dir().join("accounts")
    }

    /// The KMS of another account, `kms/accounts/<ACCOUNT>/`: one keystore directory per
    /// region (keys, aliases) and the account's own trail. `account` is an account id of
    /// the home (12 digits, checked by the identity registry before it is used here).
    pub fn account_kms_dir(&self, account: &str) -> PathBuf {
        debug_assert!(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
        self.kms_accounts_dir().join(account)
    }

    /// The audit trail of another account, `kms/accounts/<ACCOUNT>/audit.log` (a trail
    /// per account, as CloudTrail keeps).
    pub fn account_audit_log(&self, account: &str) -> PathBuf {
        self.account_kms_dir(account).join("audit.log")
    }

    /// The volume service's directory: one directory per volume.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// A volume's directory (it may not exist). Refuses an id that is not a name (see
    /// [`named`]), before anything is done with the path.
    pub fn volume_dir(&self, volume_id: &str) -> Result<PathBuf, HomeError> {
        Ok(self.volumes_dir().join(named("volume id", volume_id)?))
    }

    /// The log of the daemon that serves a mounted volume.
    pub fn volume_mount_log(&self, volume_id: &str) -> Result<PathBuf, HomeError> {
        Ok(self.volume_dir(volume_id)?.join(MOUNT_LOG))
    }

    /// Secrets Manager's directory of one account in one region (secrets are regional and
    /// belong to an account): `secretsmanager/<account>/<region>/`.
    pub fn secrets_dir(&self, account: &str, region: &str) -> Result<PathBuf, HomeError> {
        Ok(self
            .root
            .join("secretsmanager")
            .join(named("account id", account)?)
            .join(named("region", region)?))
    }

    /// Parameter Store's directory of one account in one region: `ssm/<account>/<region>/`.
    pub fn parameters_dir(&self, account: &str, region: &str) -> Result<PathBuf, HomeError> {
        Ok(self
            .root
            .join("ssm")
            .join(named("account id", account)?)
            .join(named("region", region)?))
    }

    /// The object service's directory: one directory per bucket.
    pub fn buckets_dir(&self) -> PathBuf {
        self.root.join("buckets")
    }

    /// A bucket's directory (it may not exist). Refuses a bucket name that is not a name.
    pub fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, HomeError> {
        Ok(self.buckets_dir().join(named("bucket name", bucket)?))
    }

    /// Where a mounted bucket's directory view keeps files being written until their PUT.
    pub fn bucket_spool(&self, bucket: &str) -> Result<PathBuf, HomeError> {
        Ok(self.bucket_dir(bucket)?.join("spool"))
    }

    /// The log of the daemon that serves a mounted bucket.
    pub fn bucket_mount_log(&self, bucket: &str) -> Result<PathBuf, HomeError> {
        Ok(self.bucket_dir(bucket)?.join(MOUNT_LOG))
    }

    /// The snapshot service's directory (chunk store, records).
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }
}

/// A mount daemon's log, beside the files of the volume or bucket it serves.
const MOUNT_LOG: &str = "mount.log";

/// `id` (a volume id, a bucket name: `kind`) if it names one entry of a directory: not
/// empty, not `.` or `..`, no `/` or NUL, not hidden. Every path the layout builds from an
/// id goes through here, so an id such as `../../x` is refused before anything is written.
/// (Each service then checks its ids' full syntax.)
fn named<'a>(kind: &str, id: &'a str) -> Result<&'a str, HomeError> {
    if id.is_empty() || id.starts_with('.') || id.contains(['/', '\0']) {
        return Err(HomeError::Invalid(format!("'{id}' is not a {kind}")));
    }
    Ok(id)
}

/// An opened home directory.
#[derive(Debug, Clone)]
pub struct Home {
    layout: Layout,
    config: AccountConfig,
}

impl Home {
    /// The home to use: `explicit` (from `--home`), else `$KMSFS_HOME`, else
    /// `$XDG_DATA_HOME/kmsfs`, else `~/.local/share/kmsfs`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        if let Some(p) = std::env::var_os("KMSFS_HOME").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|p| !p.is_empty()) {
            return PathBuf::from(p).join("kmsfs");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".local/share/kmsfs")
    }

    /// Create a new home at `root`.
    pub fn init(root: &Path, opts: &InitOptions) -> Result<Home, HomeError> {
        let layout = Layout::new(root);
        let cfg_path = layout.config_file();
        if cfg_path.exists() {
            return Err(HomeError::AlreadyInitialized(root.to_path_buf()));
        }
        let account_id = match &opts.account_id {
            Some(a) => a.clone(),
            None => random_account_id()?,
        };
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HomeError::Invalid(format!(
                "account id '{account_id}' must be 12 digits"
            )));
        }
        let region = opts.region.clone().unwrap_or_else(|| "us-east-1".into());
        check_region(&region)?;
        let config = AccountConfig {
            format: CONFIG_FORMAT,
            account_id,
            partition: partition_of(&region).into(),
            region,
        };
        fsutil::create_dir_durable(root, 0o700).map_err(|e| HomeError::io(root, e))?;
        let bytes = serde_json::to_vec_pretty(&config).expect("config serializes");
        fsutil::atomic_write(&cfg_path, &bytes, 0o600).map_err(|e| HomeError::io(&cfg_path, e))?;
        Ok(Home { layout, config })
    }

    /// Open an existing home.
    pub fn open(root: &Path) -> Result<Home, HomeError> {
        let layout = Layout::new(root);
        let cfg_path = layout.config_file();
        let bytes = std::fs::read(&cfg_path).map_err(|e| {
            let missing =
                e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR);
            if missing {
                HomeError::NotInitialized(root.to_path_buf())
            } else {
                HomeError::io(&cfg_path, e)
            }
        })?;
        let corrupt = |why: String| HomeError::Corrupt {
            path: cfg_path.clone(),
            why,
        };
        let config: AccountConfig =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if config.format != CONFIG_FORMAT {
            let f = config.format;
            return Err(corrupt(format!(
                "format {f} is not supported (this kmsfs reads {CONFIG_FORMAT})"
            )));
        }
        Ok(Home { layout, config })
    }

    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// Where things are in this home.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn config(&self) -> &AccountConfig {
        &self.config
    }

    /// The KMS's directory (keystore, aliases, audit trail).
    pub fn kms_dir(&self) -> PathBuf {
        self.layout.kms_dir()
    }

    /// The volume service's directory.
    pub fn volumes_dir(&self) -> PathBuf {
        self.layout.volumes_dir()
    }

    /// The object service's directory.
    pub fn buckets_dir(&self) -> PathBuf {
        self.layout.buckets_dir()
    }

    /// The snapshot service's directory.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.layout.snapshots_dir()
    }
}

impl AccountConfig {
    /// The same account in `region` (its partition follows the region: `cn-*` is
    /// `aws-cn`, `us-gov-*` is `aws-us-gov`).
    pub fn in_region(&self, region: &str) -> Result<AccountConfig, HomeError> {
        check_region(region)?;
        Ok(AccountConfig {
            region: region.to_string(),
            partition: partition_of(region).into(),
            ..self.clone()
        })
    }
}

/// The partition of a region.
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A region name like `us-east-1`: lowercase letters, digits and dashes, at most 32
/// characters (it names a directory of the home).
pub fn check_region(region: &str) -> Result<(), HomeError> {
    if valid_region(region) {
        Ok(())
    } else {
        Err(HomeError::Invalid(format!(
            "region '{region}' is not a region name like us-east-1"
        )))
    }
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && r.contains('-')
}

fn random_account_id() -> Result<String, HomeError> {
    let mut b = [0u8; 8];
    crate::crypto::fill_random(&mut b).map_err(|e| HomeError::Invalid(e.to_string()))?;
    let n = u64::from_le_bytes(b) % 900_000_000_000 + 100_000_000_000;
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_the_directories_of_a_home() {
        let l = Layout::new(Path::new("/h"));
        assert_eq!(l.config_file(), Path::new("/h/config.json"));
        assert_eq!(l.audit_log(), Path::new("/h/kms/audit.log"));
        assert_eq!(
            l.volume_dir("vol-1").unwrap(),
            Path::new("/h/volumes/vol-1")
        );
        assert_eq!(
            l.volume_mount_log("vol-1").unwrap(),
            Path::new("/h/volumes/vol-1/mount.log")
        );
        assert_eq!(
            l.bucket_spool("b").unwrap(),
            Path::new("/h/buckets/b/spool")
        );
        assert_eq!(
            l.bucket_mount_log("b").unwrap(),
            Path::new("/h/buckets/b/mount.log")
        );
        assert_eq!(l.snapshots_dir(), Path::new("/h/snapshots"));
        assert_eq!(l.tls_ca_cert(), Path::new("/h/kms/tls/ca.pem"));
        assert_eq!(l.tls_server_key(), Path::new("/h/kms/tls/server.key"));
        assert_eq!(l.kms_regions_dir(), Path::new("/h/kms/regions"));
        assert_eq!(
            l.account_audit_log("222222222222"),
            Path::new("/h/kms/accounts/222222222222/audit.log")
        );
    }

    /// Every path built from an id stays in its directory: ids that are paths are refused.
    #[test]
    fn layout_refuses_ids_that_are_not_names() {
        let l = Layout::new(Path::new("/h"));
        for bad in ["", ".", "..", "../../x", "a/b", "/etc", ".hidden", "a\0b"] {
            assert!(l.volume_dir(bad).is_err(), "{bad:?}");
            assert!(l.volume_mount_log(bad).is_err(), "{bad:?}");
            assert!(l.bucket_dir(bad).is_err(), "{bad:?}");
            assert!(l.bucket_spool(bad).is_err(), "{bad:?}");
            assert!(l.bucket_mount_log(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_partition_follows_the_region() {
        let d = tempfile::tempdir().unwrap();
        let h = Home::init(d.path(), &InitOptions::default()).unwrap();
        let c = h.config();
        assert_eq!(
            (c.region.as_str(), c.partition.as_str()),
            ("us-east-1", "aws")
        );
        for (r, p) in [
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
        ] {
            let o = c.in_region(r).unwrap();
            assert_eq!((o.region.as_str(), o.partition.as_str()), (r, p));
            assert_eq!(o.account_id, c.account_id);
        }
        for bad in ["", "EU-WEST-1", "euwest1", "../x-1", &"a-".repeat(17)] {
            assert!(c.in_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn init_then_open() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("h");
        assert!(matches!(
            Home::open(&root),
            Err(HomeError::NotInitialized(_))
        ));
        let h = Home::init(&root, &InitOptions::default()).unwrap();
        assert_eq!(h.config().account_id.len(), 12);
        assert_eq!(Home::open(&root).unwrap().config(), h.config());
        assert!(matches!(
            Home::init(&root, &InitOptions::default()),
            Err(HomeError::AlreadyInitialized(_))
        ));
    }

    #[test]
    fn rejects_bad_account_and_region() {
        let d = tempfile::tempdir().unwrap();
        let bad = InitOptions {
            account_id: Some("12".into()),
            region: None,
        };
        assert!(Home::init(d.path(), &bad).is_err());
        let bad = InitOptions {
            account_id: None,
            region: Some("Mars!".into()),
        };
        assert!(Home::init(d.path(), &bad).is_err());
    }
}
