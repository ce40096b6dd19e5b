//! Request quotas, as AWS KMS applies them per account and region: a token bucket per
//! operation family (the shared symmetric cryptographic operations, GenerateDataKeyPair,
//! and each management operation on its own), refilled at the family's rate in requests
//! per second and holding at most one second's worth (at least one request). A request
//! finding its bucket empty fails with `ThrottlingException` and AWS's message.
//!
//! Off by default. The setting ([`QuotaSettings`]) lives in `kms/quota.json` (docs/FORMAT.md
//! "KMS request quotas"), written atomically by `kmsfs config kms-quota` and read once when
//! the KMS opens: with no file the KMS holds no [`Quota`] and a request costs nothing (no
//! file access, no lock). With one, the buckets live in a small state file per account and
//! region shared by every process of the home under an exclusive `flock` (`quota/state.rs`),
//! so the quota holds across CLI processes, mount daemons and `kmsfs serve` as AWS's does
//! per account.

mod state;

use super::error::KmsError;
use crate::crypto::asym::{Family, KeySpec};
use crate::fsutil;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// AWS's message for a throttled request (KMS developer guide, `throttling.md`).
pub const THROTTLED_MESSAGE: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// The family of the shared symmetric cryptographic operations.
pub const SYMMETRIC: &str = "symmetric";
/// The family of GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
pub const DATA_KEY_PAIR: &str = "GenerateDataKeyPair";
/// The shared family of cryptographic operations with RSA keys (Sign, Verify, Encrypt,
/// Decrypt, ReEncrypt).
pub const RSA: &str = "rsa";
/// The shared family of cryptographic operations with elliptic-curve keys (Sign, Verify,
/// DeriveSharedSecret; Ed25519 included).
pub const ECC: &str = "ecc";
/// Operations whose family is their key's ([`key_family`]), taken once the key is known.
const BY_KEY: &str = "by key";
const BY_KEY_OPS: &[&str] = &["Sign", "Verify", "DeriveSharedSecret"];

/// The operations that share the symmetric cryptographic quota (AWS's request-quota table:
/// "Cryptographic operations (symmetric) request rate").
const SYMMETRIC_OPS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "ReEncrypt",
    "VerifyMac",
];

/// Every family with its AWS default in requests per second (`None`: the symmetric
/// family, whose figure depends on the region, [`symmetric_default`]). Management
/// operations are each a family of their own, named as the operation.
pub const FAMILIES: &[(&str, Option<f64>)] = &[
    (SYMMETRIC, None),
    (DATA_KEY_PAIR, Some(1.0)),
    (RSA, Some(500.0)),
    (ECC, Some(300.0)),
    ("CancelKeyDeletion", Some(5.0)),
    ("CreateAlias", Some(5.0)),
    ("CreateGrant", Some(50.0)),
    ("CreateKey", Some(5.0)),
    ("DeleteAlias", Some(15.0)),
    ("DescribeKey", Some(2000.0)),
    ("DisableKey", Some(5.0)),
    ("DisableKeyRotation", Some(5.0)),
    ("EnableKey", Some(5.0)),
    ("EnableKeyRotation", Some(15.0)),
    ("GetKeyPolicy", Some(1000.0)),
    ("GetKeyRotationStatus", Some(1000.0)),
    ("GetPublicKey", Some(2000.0)),
    ("ListAliases", Some(500.0)),
    ("ListGrants", Some(100.0)),
    ("ListKeyPolicies", Some(100.0)),
    ("ListKeyRotations", Some(100.0)),
    ("ListKeys", Some(500.0)),
    ("ListResourceTags", Some(2000.0)),
    ("ListRetirableGrants", Some(100.0)),
    ("PutKeyPolicy", Some(15.0)),
    ("RetireGrant", Some(30.0)),
    ("RevokeGrant", Some(30.0)),
    ("RotateKeyOnDemand", Some(5.0)),
    ("ScheduleKeyDeletion", Some(15.0)),
    ("TagResource", Some(10.0)),
    ("UntagResource", Some(5.0)),
    ("UpdateAlias", Some(5.0)),
    ("UpdateKeyDescription", Some(5.0)),
];

/// The largest rate that can be set (requests per second).
const MAX_RATE: f64 = 1e9;

/// AWS's default shared symmetric quota of `region`: 50,000 in us-east-1, us-west-2 and
/// eu-west-1; 10,000 in us-east-2, ap-southeast-1, ap-southeast-2, ap-northeast-1,
/// eu-central-1 and eu-west-2; 5,500 elsewhere.
pub fn symmetric_default(region: &str) -> f64 {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => 50_000.0,
        "us-east-2" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" | "eu-central-1"
        | "eu-west-2" => 10_000.0,
        _ => 5_500.0,
    }
}

/// The family the operation `op` counts against.
pub fn family_of(op: &'static str) -> &'static str {
    if SYMMETRIC_OPS.contains(&op) {
        SYMMETRIC
    } else if op.starts_with(DATA_KEY_PAIR) {
        DATA_KEY_PAIR
    } else if BY_KEY_OPS.contains(&op) {
        BY_KEY
    } else {
        op
    }
}

/// The family of the cryptographic operations with a key of `spec` beyond the symmetric
/// ones: RSA or ECC (ML-DSA and HMAC keys: none; GenerateMac/VerifyMac are symmetric).
pub fn key_family(spec: KeySpec) -> Option<&'static str> {
    match spec.family() {
        Family::Rsa => Some(RSA),
        Family::Ecc | Family::Ed25519 => Some(ECC),
        Family::MlDsa | Family::Hmac => None,
    }
}

/// The family named `name` as the command line gives it (case-insensitive): its canonical
/// name.
fn family_named(name: &str) -> Option<&'static str> {
    FAMILIES
        .iter()
        .map(|(f, _)| *f)
        .find(|f| f.eq_ignore_ascii_case(name))
}

/// Why a quota setting was refused or could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("'{0}' is not a quota family (families: {families})", families = family_list())]
    UnknownFamily(String),
    #[error("'{0}': expected FAMILY=N, N requests per second (0 = unlimited)")]
    BadSetting(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is damaged: {1}")]
    Damaged(PathBuf, String),
}

fn family_list() -> String {
    FAMILIES
        .iter()
        .map(|(f, _)| *f)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the figures not set one by one come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    /// Unlimited.
    None,
    /// AWS's default figures.
    Aws,
}

/// The quota setting of a home (`kms/quota.json`): a base, and rates set one by one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuotaSettings {
    pub format: u32,
    pub base: Base,
    /// Family → requests per second; 0 is unlimited.
    pub rates: BTreeMap<String, f64>,
}

/// The format written in `quota.json`.
const FORMAT: u32 = 1;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> QuotaError + '_ {
    move |source| QuotaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl QuotaSettings {
    /// No quota: every family unlimited.
    pub fn unlimited() -> QuotaSettings {
        QuotaSettings {
            format: FORMAT,
            base: Base::None,
            rates: BTreeMap::new(),
        }
    }

    /// The setting file of the KMS directory `kms_dir`.
    pub fn path(kms_dir: &Path) -> PathBuf {
        kms_dir.join("quota.json")
    }

    /// The setting of `kms_dir`, `None` when quotas are off (no file).
    pub fn load(kms_dir: &Path) -> Result<Option<QuotaSettings>, QuotaError> {
        let path = Self::path(kms_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let s: QuotaSettings = serde_json::from_slice(&bytes)
            .map_err(|e| QuotaError::Damaged(path.clone(), e.to_string()))?;
        if s.format != FORMAT {
            let why = format!("format {} (this kmsfs reads {FORMAT})", s.format);
            return Err(QuotaError::Damaged(path, why));
        }
        for (f, r) in &s.rates {
            if family_named(f) != Some(f.as_str()) || !valid_rate(*r) {
                return Err(QuotaError::Damaged(path, format!("bad rate {f}={r}")));
            }
        }
        Ok(Some(s))
    }

    /// Write the setting (atomically, mode 0600). Processes that have the KMS open keep
    /// the setting they read.
    pub fn save(&self, kms_dir: &Path) -> Result<(), QuotaError> {
        let path = Self::path(kms_dir);
        let mut bytes = serde_json::to_vec_pretty(self).expect("settings serialize");
        bytes.push(b'\n');
        fsutil::atomic_write(&path, &bytes, 0o600).map_err(io_err(&path))
    }

    /// Turn quotas off: remove the setting and the shared bucket state.
    pub fn turn_off(kms_dir: &Path) -> Result<(), QuotaError> {
        let path = Self::path(kms_dir);
        match fsutil::durable_remove(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        let dir = state::dir(kms_dir);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// Apply one command-line word: `aws` (AWS's figures, every rate set before dropped)
    /// or `FAMILY=N` (N requests per second, decimals allowed; 0 = unlimited).
    pub fn apply(&mut self, word: &str) -> Result<(), QuotaError> {
        if word.eq_ignore_ascii_case("aws") {
            self.base = Base::Aws;
            self.rates.clear();
            return Ok(());
        }
        let (name, n) = word
            .split_once('=')
            .ok_or_else(|| QuotaError::BadSetting(word.into()))?;
        let family = family_named(name.trim())
            .ok_or_else(|| QuotaError::UnknownFamily(name.trim().into()))?;
        let rate: f64 = n
            .trim()
            .parse()
            .ok()
            .filter(|r| valid_rate(*r))
            .ok_or_else(|| QuotaError::BadSetting(word.into()))?;
        self.rates.insert(family.to_string(), rate);
        Ok(())
    }

    /// The rate of `family` in `region`, `None` when unlimited.
    pub fn rate(&self, family: &str, region: &str) -> Option<f64> {
        let r = match (self.rates.get(family), self.base) {
            (Some(r), _) => *r,
            (None, Base::None) => return None,
            (None, Base::Aws) => match FAMILIES.iter().find(|(f, _)| *f == family)? {
                (_, Some(r)) => *r,
                (_, None) => symmetric_default(region),
            },
        };
        (r > 0.0).then_some(r)
    }

    /// Every family with its rate in `region` (`None`: unlimited), for display.
    pub fn table(&self, region: &str) -> Vec<(&'static str, Option<f64>)> {
        FAMILIES
            .iter()
            .map(|(f, _)| (*f, self.rate(f, region)))
            .collect()
    }
}

fn valid_rate(r: f64) -> bool {
    r.is_finite() && (0.0..=MAX_RATE).contains(&r)
}

/// The quota of one account and region of an open KMS: the setting, and the shared
/// buckets.
#[derive(Debug)]
pub(super) struct Quota {
    settings: QuotaSettings,
    region: String,
    state: state::SharedBuckets,
}

impl Quota {
    /// The quota of the KMS in `kms_dir` for `account_id` in `region`; `None` when quotas
    /// are off.
    pub(super) fn open(
        kms_dir: &Path,
        account_id: &str,
        region: &str,
    ) -> Result<Option<Quota>, KmsError> {
        let settings = QuotaSettings::load(kms_dir)
            .map_err(|e| KmsError::Internal(format!("request quota: {e}")))?;
        Ok(settings.map(|settings| Quota {
            settings,
            region: region.to_string(),
            state: state::SharedBuckets::new(kms_dir, account_id, region),
        }))
    }

    /// The same setting for another account or region.
    pub(super) fn sibling(&self, kms_dir: &Path, account_id: &str, region: &str) -> Quota {
        Quota {
            settings: self.settings.clone(),
            region: region.to_string(),
            state: state::SharedBuckets::new(kms_dir, account_id, region),
        }
    }

    /// Take a token for the operation `op`, or refuse it with `ThrottlingException` (an
    /// operation whose family is its key's takes it later: [`Quota::admit_family`]).
    pub(super) fn admit(&self, op: &'static str) -> Result<(), KmsError> {
        match family_of(op) {
            BY_KEY => Ok(()),
            family => self.admit_family(family),
        }
    }

    /// Take a token of `family`, or refuse with `ThrottlingException`.
    pub(super) fn admit_family(&self, family: &'static str) -> Result<(), KmsError> {
        let Some(rate) = self.settings.rate(family, &self.region) else {
            return Ok(());
        };
        match self.state.take(family, rate) {
            Ok(true) => Ok(()),
            Ok(false) => Err(KmsError::Throttling(THROTTLED_MESSAGE.into())),
            Err(e) => Err(KmsError::Internal(format!("request quota: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_of_operations() {
        assert_eq!(family_of("Decrypt"), SYMMETRIC);
        assert_eq!(family_of("GenerateRandom"), SYMMETRIC);
        assert_eq!(family_of("GenerateDataKeyWithoutPlaintext"), SYMMETRIC);
        assert_eq!(
            family_of("GenerateDataKeyPairWithoutPlaintext"),
            DATA_KEY_PAIR
        );
        assert_eq!(family_of("DescribeKey"), "DescribeKey");
    }

    #[test]
    fn settings_apply_and_rate() {
        let mut s = QuotaSettings::unlimited();
        assert_eq!(s.rate(SYMMETRIC, "us-east-1"), None);
        s.apply("aws").unwrap();
        assert_eq!(s.rate(SYMMETRIC, "us-east-1"), Some(50_000.0));
        assert_eq!(s.rate(SYMMETRIC, "eu-west-2"), Some(10_000.0));
        assert_eq!(s.rate(SYMMETRIC, "sa-east-1"), Some(5_500.0));
        assert_eq!(s.rate("DescribeKey", "us-east-1"), Some(2000.0));
        assert_eq!(s.rate("SeedKey", "us-east-1"), None);
        s.apply("SYMMETRIC=20").unwrap();
        s.apply("describekey=0").unwrap();
        assert_eq!(s.rate(SYMMETRIC, "us-east-1"), Some(20.0));
        assert_eq!(s.rate("DescribeKey", "us-east-1"), None);
        s.apply("CreateKey=0.25").unwrap();
        assert_eq!(s.rate("CreateKey", "x"), Some(0.25));
        assert!(matches!(
            s.apply("Nope=3"),
            Err(QuotaError::UnknownFamily(_))
        ));
        for bad in ["symmetric", "symmetric=-1", "symmetric=x", "symmetric=inf"] {
            assert!(
                matches!(s.apply(bad), Err(QuotaError::BadSetting(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn settings_round_trip_and_turn_off() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(QuotaSettings::load(d.path()).unwrap(), None);
        let mut s = QuotaSettings::unlimited();
        s.apply("symmetric=20").unwrap();
        s.save(d.path()).unwrap();
        assert_eq!(QuotaSettings::load(d.path()).unwrap(), Some(s));
        QuotaSettings::turn_off(d.path()).unwrap();
        assert_eq!(QuotaSettings::load(d.path()).unwrap(), None);
        std::fs::write(QuotaSettings::path(d.path()), b"{").unwrap();
        assert!(matches!(
            QuotaSettings::load(d.path()),
            Err(QuotaError::Damaged(..))
        ));
    }

    #[test]
    fn a_quota_throttles_its_family_only() {
        let d = tempfile::tempdir().unwrap();
        let mut s = QuotaSettings::unlimited();
        s.apply("symmetric=3").unwrap();
        s.save(d.path()).unwrap();
        let q = Quota::open(d.path(), "111122223333", "us-east-1")
            .unwrap()
            .unwrap();
        for _ in 0..3 {
            q.admit("Encrypt").unwrap();
        }
        let e = q.admit("Decrypt").unwrap_err();
        assert_eq!(e.code(), "ThrottlingException");
        assert!(e.to_string().contains(THROTTLED_MESSAGE));
        q.admit("DescribeKey").unwrap();
        // Another region has buckets of its own.
        let other = q.sibling(d.path(), "111122223333", "eu-west-1");
        other.admit("Encrypt").unwrap();
    }
}
