//! Failures as the CLI reports them: a [`CliError`] prints as `kmsfs: <what failed>: <why>`,
//! maybe a hint line, and exits with a code from [`exit`]. This is the one place where the
//! errors of every layer below (home, KMS, volume, snapshot, object, envelope, mount, audit)
//! become exit codes and hints ([`Failure`], [`OrFail`]).

use crate::envelope::EnvelopeError;
use crate::home::HomeError;
use crate::kms::audit::AuditError;
use crate::kms::quota::QuotaError;
use crate::kms::{KmsError, StoreError};
use crate::mount::MountError;
use crate::object::ObjectError;
use crate::server::ServerError;
use crate::snapshot::SnapshotError;
use crate::volume::VolumeError;
use std::path::Path;

/// Exit codes (stable; documented in the README).
pub(crate) mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// An unexpected internal failure.
    pub const INTERNAL: i32 = 1;
    /// Bad command line (clap's usage errors also exit 2).
    pub const USAGE: i32 = 2;
    /// The home is missing, not initialized, unreadable or damaged.
    pub const HOME: i32 = 3;
    /// The home is locked by another process (try again).
    pub const LOCKED: i32 = 4;
    /// The KMS refused the request (an AWS error such as NotFoundException).
    pub const REFUSED: i32 = 5;
    /// `audit verify` found a changed, removed or reordered line.
    pub const AUDIT: i32 = 6;
    /// Wrong passphrase or root key.
    pub const ROOT_KEY: i32 = 7;
    /// A volume problem: not found, in use, damaged header.
    pub const VOLUME: i32 = 8;
    /// Mounting or unmounting failed (FUSE unavailable, busy, not a mount point, not a
    /// kmsfs mount).
    pub const MOUNT: i32 = 9;
    /// A snapshot problem: not found, a missing or damaged chunk or manifest.
    pub const SNAPSHOT: i32 = 10;
    /// A bucket or object problem (S3 error names): NoSuchBucket, NoSuchKey, BucketNotEmpty,
    /// BucketAlreadyOwnedByYou, InvalidRange, AccessDenied (wrong SSE-C key), InvalidRequest
    /// (SSE-C key missing or not applicable), a damaged or tampered object. KMS refusals of
    /// an object's key exit with REFUSED (5), bad arguments with USAGE (2).
    pub const OBJECT: i32 = 11;
    /// An envelope message (`decrypt-file`) is malformed, altered, truncated or extended,
    /// or lacks a required encryption context pair. (11 is left for objects.)
    pub const ENVELOPE: i32 = 12;
}

/// Hints more than one failure gives.
const LOCKED_HINT: &str = "wait for the other kmsfs command to finish, then try again";
const CHECK_KEY_HINT: &str = "check the key with `kmsfs kms describe-key --key-id <arn>`";

/// A failure as the CLI reports it.
#[derive(Debug)]
pub(crate) struct CliError {
    what: String,
    why: String,
    hint: Option<String>,
    pub code: i32,
}

impl CliError {
    pub fn new(what: impl Into<String>, why: impl Into<String>, code: i32) -> CliError {
        CliError {
            what: what.into(),
            why: why.into(),
            hint: None,
            code,
        }
    }

    pub fn hint(mut self, h: impl Into<String>) -> CliError {
        self.hint = Some(h.into());
        self
    }

    fn maybe_hint(mut self, h: Option<impl Into<String>>) -> CliError {
        self.hint = h.map(Into::into);
        self
    }

    pub fn usage(what: impl Into<String>, why: impl Into<String>) -> CliError {
        CliError::new(what, why, exit::USAGE)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kmsfs: {}: {}", self.what, self.why)?;
        if let Some(h) = &self.hint {
            write!(f, "\nkmsfs: hint: {h}")?;
        }
        Ok(())
    }
}

/// `<noun> <verb> failed` for a subcommand, its verb named as on the command line
/// (`PutEncryption` is `put-encryption`).
pub(crate) fn failed(noun: &str, cmd: &impl std::fmt::Debug) -> String {
    let mut verb = String::new();
    for (i, c) in variant_name(cmd).chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            verb.push('-');
        }
        verb.push(c.to_ascii_lowercase());
    }
    format!("{noun} {verb} failed")
}

/// The name of an enum variant (`DescribeKey` for `DescribeKey(KeyIdArg { .. })`).
pub(crate) fn variant_name(v: &impl std::fmt::Debug) -> String {
    let dbg = format!("{v:?}");
    dbg.split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// An error of a lower layer, as the CLI reports the failure of `what`.
pub(crate) trait Failure {
    fn failure(self, what: &str) -> CliError;
}

/// Report a lower layer's error as the failure of `what`: `svc.describe(id).or_fail(what)?`.
pub(crate) trait OrFail<T> {
    fn or_fail(self, what: &str) -> Result<T, CliError>;
}

impl<T, E: Failure> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, CliError> {
        self.map_err(|e| e.failure(what))
    }
}

/// An error already reported as the CLI reports it.
impl Failure for CliError {
    fn failure(self, _what: &str) -> CliError {
        self
    }
}

impl Failure for HomeError {
    fn failure(self, what: &str) -> CliError {
        match self {
            HomeError::NotInitialized(p) => CliError::new(
                what,
                format!("no kmsfs home at {}", p.display()),
                exit::HOME,
            )
            .hint(format!(
                "run `kmsfs --home {} init` first, or point --home/KMSFS_HOME at an existing home",
                p.display()
            )),
            HomeError::AlreadyInitialized(p) => CliError::new(
                what,
                format!("a kmsfs home already exists at {}", p.display()),
                exit::HOME,
            )
            .hint("use it as it is, or choose another --home"),
            HomeError::Invalid(m) => CliError::usage(what, m),
            e => CliError::new(what, e.to_string(), exit::HOME),
        }
    }
}

impl Failure for StoreError {
    fn failure(self, what: &str) -> CliError {
        let code = match self {
            StoreError::Locked { .. } => exit::LOCKED,
            StoreError::WrongRootKey(_) => exit::ROOT_KEY,
            StoreError::NoRootKey(_) | StoreError::Damaged { .. } | StoreError::Io { .. } => {
                exit::HOME
            }
            StoreError::Crypto(_) => exit::INTERNAL,
        };
        let h = match self {
            StoreError::Locked { .. } => Some(LOCKED_HINT),
            StoreError::NoRootKey(_) => Some("create a home with `kmsfs init`"),
            _ => None,
        };
        CliError::new(what, self.to_string(), code).maybe_hint(h)
    }
}

impl Failure for KmsError {
    fn failure(self, what: &str) -> CliError {
        kms_failure(what, self, |e| e.to_string())
    }
}

/// A KMS error; a refusal is worded `why(e)` (a layer above may name the key's use).
fn kms_failure(what: &str, e: KmsError, why: impl FnOnce(KmsError) -> String) -> CliError {
    match e {
        KmsError::Store(s) => s.failure(what),
        KmsError::Internal(m) => {
            CliError::new(what, format!("KMSInternalException: {m}"), exit::INTERNAL)
        }
        e => {
            let h = match &e {
                KmsError::Disabled(_) => {
                    Some("enable the key with `kmsfs kms enable-key --key-id <id>`")
                }
                KmsError::InvalidState(m) if m.contains("pending deletion") => Some(
                    "cancel the deletion with `kmsfs kms cancel-key-deletion --key-id <id>`, then enable the key",
                ),
                KmsError::InvalidState(m) if m.contains("pending import") => Some(
                    "import its key material: `kmsfs kms get-parameters-for-import`, then `kmsfs kms import-key-material`",
                ),
                KmsError::ExpiredImportToken(_) | KmsError::InvalidImportToken(_) => Some(
                    "get a new public key and token with `kmsfs kms get-parameters-for-import`, wrap the material under that key, and import with that token",
                ),
                KmsError::NotFound(_) => Some(
                    "list keys with `kmsfs kms list-keys` and aliases with `kmsfs kms list-aliases`",
                ),
                KmsError::Throttling(_) => Some(
                    "a KMS request quota is on (`kmsfs config kms-quota show`): slow down and retry, or raise it with `kmsfs config kms-quota FAMILY=N`",
                ),
                _ => None,
            };
            CliError::new(what, why(e), exit::REFUSED).maybe_hint(h)
        }
    }
}

impl Failure for crate::secrets::params::ParamError {
    fn failure(self, what: &str) -> CliError {
        use crate::secrets::params::ParamError as E;
        let code = match self {
            E::Damaged(_) => exit::HOME,
            E::Internal(_) => exit::INTERNAL,
            E::Validation(_) | E::InvalidFilterKey(_) | E::InvalidFilterOption(_) => exit::USAGE,
            E::InvalidFilterValue(_) | E::InvalidNextToken(_) => exit::USAGE,
            _ => exit::REFUSED,
        };
        let hint = match self {
            E::NotFound(_) => Some("list the parameters with `kmsfs ssm describe-parameters`"),
            E::AlreadyExists(_) => Some("add --overwrite to make a new version"),
            E::AccessDenied(_) | E::InvalidKeyId(_) => Some(CHECK_KEY_HINT),
            E::TooManyUpdates(_) => Some(LOCKED_HINT),
            _ => None,
        };
        CliError::new(what, self.to_string(), code).maybe_hint(hint)
    }
}

impl Failure for crate::iam::IamError {
    fn failure(self, what: &str) -> CliError {
        use crate::iam::IamError as E;
        let code = match &self {
            E::Validation(_) | E::MalformedPolicyDocument(_) => exit::USAGE,
            E::Io { .. } | E::Damaged { .. } => exit::HOME,
            E::Locked(_) => {
                return CliError::new(what, self.to_string(), exit::LOCKED).hint(LOCKED_HINT);
            }
            E::Keys(_) => exit::INTERNAL,
            _ => exit::REFUSED,
        };
        let hint = match &self {
            E::NoSuchEntity(_) => Some(
                "list them with `kmsfs iam list-users`, `kmsfs iam list-roles` or `kmsfs account list`",
            ),
            E::DeleteConflict(_) => Some(
                "delete its access keys (`kmsfs iam delete-access-key`) and inline policies (`kmsfs iam delete-user-policy`/`delete-role-policy`) first",
            ),
            _ => None,
        };
        CliError::new(what, format!("{}: {self}", self.code()), code).maybe_hint(hint)
    }
}

impl Failure for QuotaError {
    fn failure(self, what: &str) -> CliError {
        match self {
            QuotaError::UnknownFamily(_) | QuotaError::BadSetting(_) => {
                CliError::usage(what, self.to_string())
                    .hint("e.g. `kmsfs config kms-quota aws` or `kmsfs config kms-quota symmetric=20 DescribeKey=0`")
            }
            QuotaError::Damaged(..) => CliError::new(what, self.to_string(), exit::HOME)
                .hint("rewrite it with `kmsfs config kms-quota off`, then set the quota again"),
            QuotaError::Io { .. } => {
                CliError::new(what, self.to_string(), exit::HOME)
            }
        }
    }
}

impl Failure for VolumeError {
    fn failure(self, what: &str) -> CliError {
        let (code, h) = match self {
            VolumeError::Kms(k) => return k.failure(what),
            VolumeError::KeyUnusable { .. } => (exit::REFUSED, Some(CHECK_KEY_HINT)),
            VolumeError::EncryptionRequired => (
                exit::USAGE,
                Some("drop --unencrypted, or run `kmsfs config encryption-by-default disable`"),
            ),
            VolumeError::Invalid(_) | VolumeError::BadId(_) => (exit::USAGE, None),
            VolumeError::NotFound(_) => {
                (exit::VOLUME, Some("list volumes with `kmsfs volume list`"))
            }
            VolumeError::InUse(_) => (
                exit::VOLUME,
                Some("unmount it first with `kmsfs umount <dir>`"),
            ),
            _ => (exit::VOLUME, None),
        };
        CliError::new(what, self.to_string(), code).maybe_hint(h)
    }
}

const SHARE_HINT: &str = "its owner shares it with `kmsfs snapshot modify-attribute SNAP --attribute createVolumePermission --operation-type add --user-ids ACCOUNT`";

impl Failure for SnapshotError {
    fn failure(self, what: &str) -> CliError {
        let (code, h) = match self {
            SnapshotError::Volume(v) => return v.failure(what),
            SnapshotError::Kms(k) => return k.failure(what),
            SnapshotError::KeyUnusable { .. } => (exit::REFUSED, Some(CHECK_KEY_HINT)),
            SnapshotError::BadId(_)
            | SnapshotError::Invalid(_)
            | SnapshotError::MustStayEncrypted(_) => (exit::USAGE, None),
            SnapshotError::NotFound(_) => (
                exit::SNAPSHOT,
                Some("list snapshots with `kmsfs snapshot list`"),
            ),
            SnapshotError::InvalidParameter(_) => (exit::USAGE, None),
            SnapshotError::NotShared { .. } => (exit::REFUSED, Some(SHARE_HINT)),
            SnapshotError::NotOwner { .. } => (
                exit::REFUSED,
                Some("only the snapshot's owner account changes or reads who may use it"),
            ),
            SnapshotError::AwsManagedKey { .. } => (
                exit::REFUSED,
                Some(
                    "copy it under a customer managed key (`kmsfs snapshot copy SNAP --kms-key-id KEY`) and share the copy",
                ),
            ),
            SnapshotError::EncryptedPublic(_) => (
                exit::REFUSED,
                Some("share it with accounts instead: `--user-ids ACCOUNT ...`"),
            ),
            _ => (exit::SNAPSHOT, None),
        };
        CliError::new(what, self.to_string(), code).maybe_hint(h)
    }
}

/// `snapshot verify` found missing or damaged chunks.
pub(crate) fn damaged_snapshots(what: &str, problems: &[String]) -> CliError {
    CliError::new(what, problems.join("; "), exit::SNAPSHOT)
        .hint("restore what you need from an intact snapshot; a damaged one cannot be repaired")
}

impl Failure for ObjectError {
    fn failure(self, what: &str) -> CliError {
        let e = match self {
            ObjectError::Kms {
                what: w,
                key,
                source,
            } => {
                return kms_failure(what, source, |source| {
                    ObjectError::Kms {
                        what: w,
                        key,
                        source,
                    }
                    .to_string()
                });
            }
            e => e,
        };
        let (code, h) = match &e {
            ObjectError::InvalidArgument(_)
            | ObjectError::InvalidBucketName(_)
            | ObjectError::KeyTooLong(_) => (exit::USAGE, None),
            ObjectError::MetadataTooLarge(_) => (
                exit::USAGE,
                Some("keep the metadata keys and values under 2 KB in all".into()),
            ),
            ObjectError::Locked(_) => (exit::LOCKED, Some(LOCKED_HINT.to_string())),
            ObjectError::NoSuchBucket(_) => (
                exit::OBJECT,
                Some("list buckets with `kmsfs bucket list`".into()),
            ),
            ObjectError::NoSuchKey { bucket, .. } => (
                exit::OBJECT,
                Some(format!("list objects with `kmsfs object list {bucket}`")),
            ),
            ObjectError::Mounted(_) => (
                exit::OBJECT,
                Some("unmount it first with `kmsfs umount <dir>`".into()),
            ),
            ObjectError::InvalidRequest(_) => (
                exit::OBJECT,
                Some(
                    "SSE-C objects need the key they were stored with: --sse-c-key fileb://KEY"
                        .into(),
                ),
            ),
            _ => (exit::OBJECT, None),
        };
        CliError::new(what, e.to_string(), code).maybe_hint(h)
    }
}

impl Failure for EnvelopeError {
    fn failure(self, what: &str) -> CliError {
        match self {
            EnvelopeError::Kms(k) => k.failure(what),
            EnvelopeError::InvalidArgument(m) => CliError::usage(what, m),
            EnvelopeError::Crypto(c) => CliError::new(what, c.to_string(), exit::INTERNAL),
            EnvelopeError::ContextMismatch(_) => {
                CliError::new(what, self.to_string(), exit::ENVELOPE)
                    .hint("check the pairs given with --encryption-context")
            }
            e => CliError::new(what, e.to_string(), exit::ENVELOPE),
        }
    }
}

impl Failure for MountError {
    fn failure(self, what: &str) -> CliError {
        let (code, h) = match self {
            MountError::Volume(v) => return v.failure(what),
            MountError::Home(h) => return h.failure(what),
            MountError::NotEmpty(_) => (
                exit::MOUNT,
                Some(
                    "mount on an empty directory, or pass --nonempty to hide its files while mounted",
                ),
            ),
            MountError::DaemonExited { log, code } => {
                // The daemon logged `kmsfs: <what>: <why>` (it is this command, run in the
                // foreground): report its first line's why, and exit as it did.
                let why = log
                    .strip_prefix(&format!("kmsfs: {what}: "))
                    .unwrap_or(&log);
                let why = why.lines().next().unwrap_or("the mount daemon exited");
                return CliError::new(what, why, code.unwrap_or(exit::MOUNT));
            }
            MountError::NoFuse => (
                exit::MOUNT,
                Some("load the fuse module (modprobe fuse) or run where /dev/fuse exists"),
            ),
            MountError::Unmount(_) => (
                exit::MOUNT,
                Some("close files and leave the directory, then try again"),
            ),
            MountError::NotKmsfs { .. } => (
                exit::MOUNT,
                Some(
                    "`kmsfs umount` unmounts only the volumes and buckets kmsfs mounted; use umount(8) for other mounts",
                ),
            ),
            MountError::Transport(_) => (
                exit::MOUNT,
                Some("mount with --fuse-transport auto (or dev) to serve over /dev/fuse"),
            ),
            MountError::Internal(_) => (exit::INTERNAL, None),
            MountError::View(_) => (exit::OBJECT, None),
            _ => (exit::MOUNT, None),
        };
        CliError::new(what, self.to_string(), code).maybe_hint(h)
    }
}

impl Failure for ServerError {
    fn failure(self, what: &str) -> CliError {
        match self {
            ServerError::Home(h) => h.failure(what),
            ServerError::Kms(k) => k.failure(what),
            ServerError::Usage(m) => CliError::usage(what, m),
            e @ ServerError::NotLoopback(_) => CliError::usage(what, e.to_string())
                .hint("listen on 127.0.0.1 (the default), or add --tls"),
            e @ ServerError::Listen { .. } => CliError::usage(what, e.to_string())
                .hint("choose another --listen address; port 0 picks a free one"),
            e @ (ServerError::Runtime(_) | ServerError::Tls(_)) => {
                CliError::new(what, e.to_string(), exit::INTERNAL)
            }
        }
    }
}

impl Failure for AuditError {
    fn failure(self, what: &str) -> CliError {
        CliError::new(what, self.to_string(), exit::AUDIT)
    }
}

/// `audit verify` found the trail at `path` changed.
pub(crate) fn audit_tampered(what: &str, path: &Path, e: AuditError) -> CliError {
    CliError::new(what, format!("{}: {e}", path.display()), exit::AUDIT).hint(
        "the trail was edited, truncated or reordered after it was written; keep a copy for investigation",
    )
}

impl Failure for crate::secrets::manager::SmError {
    fn failure(self, what: &str) -> CliError {
        use crate::secrets::manager::SmError as E;
        let code = match &self {
            E::Damaged { .. } => exit::HOME,
            E::Internal(_) => exit::INTERNAL,
            _ => exit::REFUSED,
        };
        let why = match &self {
            E::Damaged { .. } | E::Internal(_) => self.to_string(),
            e => format!("{}: {e}", e.code()),
        };
        let e = CliError::new(what, why, code);
        match self {
            E::Damaged { .. } => e.hint(
                "restore the secret's record file from a backup, or delete it to forget the secret",
            ),
            E::ResourceNotFound(_) => {
                e.hint("list the secrets with `kmsfs secretsmanager list-secrets`")
            }
            _ => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_names_the_verb_as_typed() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum C {
            List,
            PutEncryption { bucket: String },
            DescribeKey(u8),
        }
        assert_eq!(failed("bucket", &C::List), "bucket list failed");
        let put = C::PutEncryption { bucket: "b".into() };
        assert_eq!(failed("bucket", &put), "bucket put-encryption failed");
        assert_eq!(variant_name(&C::DescribeKey(1)), "DescribeKey");
    }
}
