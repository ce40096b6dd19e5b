//! A volume's KMS grant, as EBS keeps one: when an encrypted volume is made (created,
//! restored from a snapshot, or re-encrypted from one), the volume service creates a grant
//! on the volume's KMS key for its own service principal (`ebs.amazonaws.com`, grantee and
//! retiring principal), allowing Decrypt only under the encryption context the volume's data
//! key is wrapped under; it Decrypts the data key at mount with the grant's token, and
//! retires the grant when the volume is deleted.
//!
//! The grant is kept in `grant.json` beside the volume's header (written atomically, 0600,
//! before the header; docs/FORMAT.md "Volume grant"). A volume without one (made before
//! volumes had grants) gets its grant at its next mount. The grant's `Name` is the volume
//! id, so creating it again (a retry, two mounts at once) returns the same grant.

use super::VolumeError;
use super::service::EBS_PRINCIPAL;
use crate::fsutil;
use crate::kms::types::{
    CreateGrantRequest, GrantConstraints, RetireGrantRequest, RevokeGrantRequest,
};
use crate::kms::{Client, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file in a volume's directory that holds its grant.
const GRANT_FILE: &str = "grant.json";

/// What the volume service's grant allows: the Decrypt of the data key at mount (and when a
/// snapshot of the volume is restored or copied under a new key).
pub const GRANT_OPERATIONS: &[&str] = &["Decrypt"];

/// A volume's grant on its KMS key (`grant.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeGrant {
    /// The ARN of the key the grant is on.
    pub key_arn: String,
    pub grant_id: String,
    /// The token CreateGrant returned (passed with the volume's Decrypt requests).
    pub grant_token: String,
}

fn grant_file(dir: &Path) -> PathBuf {
    dir.join(GRANT_FILE)
}

/// The grant of the volume in `dir`, if it has one.
pub(crate) fn read(dir: &Path) -> Result<Option<VolumeGrant>, VolumeError> {
    let p = grant_file(dir);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| VolumeError::Invalid(format!("{}: not a volume grant: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VolumeError::io(&p, e)),
    }
}

/// Keep `g` as the grant of the volume in `dir` (atomically, 0600).
pub(crate) fn write(dir: &Path, g: &VolumeGrant) -> Result<(), VolumeError> {
    let p = grant_file(dir);
    let b = serde_json::to_vec_pretty(g).expect("a grant serializes");
    fsutil::atomic_write(&p, &b, 0o600).map_err(|e| VolumeError::io(&p, e))
}

/// Create (or find again, by its name) the grant of volume `volume` on `key_arn` for the
/// volume service, constrained to `ctx` (the context its data key is wrapped under).
pub(crate) fn create(
    kms: &dyn Client,
    volume: &str,
    key_arn: &str,
    ctx: &BTreeMap<String, String>,
) -> Result<VolumeGrant, VolumeError> {
    let r = kms
        .create_grant(CreateGrantRequest {
            key_id: key_arn.to_string(),
            grantee_principal: EBS_PRINCIPAL.to_string(),
            retiring_principal: Some(EBS_PRINCIPAL.to_string()),
            operations: GRANT_OPERATIONS.iter().map(|o| o.to_string()).collect(),
            constraints: Some(GrantConstraints {
                encryption_context_subset: Some(ctx.clone()),
                encryption_context_equals: None,
            }),
            grant_tokens: None,
            name: Some(volume.to_string()),
        })
        .map_err(|e| VolumeError::KeyUnusable {
            volume: volume.to_string(),
            key: key_arn.to_string(),
            source: e,
        })?;
    Ok(VolumeGrant {
        key_arn: key_arn.to_string(),
        grant_id: r.grant_id,
        grant_token: r.grant_token,
    })
}

/// Retire the grant `g` of volume `volume` as its retiring principal. A grant or key that
/// is gone (revoked by hand, the key deleted) or a key pending deletion is no error. Acting
/// through an endpoint as a principal that may not retire it, the grant is revoked instead.
pub(crate) fn retire(kms: &dyn Client, volume: &str, g: &VolumeGrant) -> Result<(), VolumeError> {
    let r = kms.retire_grant(RetireGrantRequest {
        key_id: Some(g.key_arn.clone()),
        grant_id: Some(g.grant_id.clone()),
        grant_token: None,
    });
    let r = match r {
        Err(KmsError::AccessDenied(_)) => kms.revoke_grant(RevokeGrantRequest {
            key_id: g.key_arn.clone(),
            grant_id: g.grant_id.clone(),
        }),
        r => r,
    };
    match r {
        Ok(()) | Err(KmsError::NotFound(_) | KmsError::InvalidState(_)) => Ok(()),
        Err(e) => Err(VolumeError::KeyUnusable {
            volume: volume.to_string(),
            key: g.key_arn.clone(),
            source: e,
        }),
    }
}

/// Forget the grant of the volume in `dir` (once it is retired).
pub(crate) fn remove(dir: &Path) -> Result<(), VolumeError> {
    let p = grant_file(dir);
    match fsutil::durable_remove(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(VolumeError::io(&p, e)),
    }
}
