//! Staging labels as AWS moves them: a label is on at most one version; moving AWSCURRENT
//! puts AWSPREVIOUS on the version that had it; AWSCURRENT can only be moved, never removed;
//! at most 20 labels per version, at most 100 versions (beyond, the oldest versions
//! without a label are dropped, as AWS deprecates them).

use super::error::SmError;
use super::record::SecretRecord;

pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";
pub const PENDING: &str = "AWSPENDING";
/// Versions kept; beyond, unlabelled ones are dropped, oldest first.
pub const MAX_VERSIONS: usize = 100;
/// Labels one version may carry.
pub const MAX_STAGES: usize = 20;

/// Put `stage` on version `to` (which must exist), taking it off any other version; for
/// AWSCURRENT, the version that had it gets AWSPREVIOUS.
pub fn attach(r: &mut SecretRecord, stage: &str, to: &str) -> Result<(), SmError> {
    let from = r.staged(stage).map(|v| v.id.clone());
    if from.as_deref() == Some(to) {
        return Ok(());
    }
    for v in &mut r.versions {
        v.stages.retain(|s| s != stage);
    }
    if stage == CURRENT
        && let Some(old) = from
    {
        for v in &mut r.versions {
            v.stages.retain(|s| s != PREVIOUS);
        }
        if let Some(v) = r.version_mut(&old) {
            v.stages.push(PREVIOUS.into());
        }
    }
    let v = r
        .version_mut(to)
        .ok_or_else(|| SmError::InvalidParameter(format!("Version {to} doesn't exist.")))?;
    if v.stages.len() >= MAX_STAGES {
        return Err(SmError::LimitExceeded(format!(
            "A version can have at most {MAX_STAGES} staging labels."
        )));
    }
    v.stages.push(stage.to_string());
    Ok(())
}

/// UpdateSecretVersionStage's rules: move `stage` to `move_to` and/or remove it from
/// `remove_from`.
pub fn update_stage(
    r: &mut SecretRecord,
    stage: &str,
    remove_from: Option<&str>,
    move_to: Option<&str>,
) -> Result<(), SmError> {
    check_stage(stage)?;
    let holder = r.staged(stage).map(|v| v.id.clone());
    if let Some(from) = remove_from {
        if r.version(from).is_none() {
            return Err(SmError::InvalidParameter(format!(
                "Version {from} doesn't exist."
            )));
        }
        if holder.as_deref() != Some(from) {
            return Err(SmError::InvalidParameter(format!(
                "The staging label {stage} is not attached to version {from}."
            )));
        }
    }
    match move_to {
        Some(to) => {
            if r.version(to).is_none() {
                return Err(SmError::InvalidParameter(format!(
                    "Version {to} doesn't exist."
                )));
            }
            if let Some(h) = &holder
                && h != to
                && remove_from != Some(h.as_str())
            {
                return Err(SmError::InvalidParameter(format!(
                    "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                )));
            }
            attach(r, stage, to)
        }
        None => {
            if stage == CURRENT {
                return Err(SmError::InvalidParameter(
                    "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.".into(),
                ));
            }
            if remove_from.is_none() {
                return Err(SmError::InvalidParameter(
                    "You must specify either MoveToVersionId or RemoveFromVersionId.".into(),
                ));
            }
            for v in &mut r.versions {
                v.stages.retain(|s| s != stage);
            }
            Ok(())
        }
    }
}

/// A staging label's length (1..=256).
pub fn check_stage(stage: &str) -> Result<(), SmError> {
    if stage.is_empty() || stage.len() > 256 {
        return Err(SmError::InvalidParameter(format!(
            "1 validation error detected: Value '{stage}' at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256"
        )));
    }
    Ok(())
}

/// Drop the oldest unlabelled versions beyond [`MAX_VERSIONS`].
pub fn cap(r: &mut SecretRecord) {
    while r.versions.len() > MAX_VERSIONS {
        match r.versions.iter().position(|v| v.stages.is_empty()) {
            Some(i) => {
                r.versions.remove(i);
            }
            None => break,
        }
    }
}
