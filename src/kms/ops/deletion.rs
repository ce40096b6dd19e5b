//! Scheduled deletion: ScheduleKeyDeletion and CancelKeyDeletion. (Deleting a key when its
//! waiting period is over is lazy maintenance, in `maintenance.rs`.)

use super::{Result, check_in_range};
use crate::kms::clock::DAY_MS;
use crate::kms::error::KmsError;
use crate::kms::record::KeyState;
use crate::kms::service::Call;
use crate::kms::types::*;
use crate::timefmt::epoch_secs;

/// PendingWindowInDays: 7 to 30, 30 when absent.
fn check_pending_window(days: Option<u32>) -> Result<u32> {
    check_in_range(days.unwrap_or(30), "pendingWindowInDays", 7, 30, " (days)")
}

pub(super) fn schedule_key_deletion(
    c: &Call,
    req: ScheduleKeyDeletionRequest,
) -> Result<ScheduleKeyDeletionResponse> {
    let days = check_pending_window(req.pending_window_in_days)?;
    let deletion = c.clock.now_ms() + days as i64 * DAY_MS;
    let key_id = c.change_customer_key(&req.key_id, "it cannot be deleted", |r| {
        // A multi-Region primary with replicas waits for their deletion first.
        let waits = super::multi_region::waits_for_replicas(c, r);
        r.state = if waits {
            KeyState::PendingReplicaDeletion
        } else {
            KeyState::PendingDeletion
        };
        r.deletion_ms = (!waits).then_some(deletion);
        r.pending_window_days = Some(days);
        Ok((c.arn(&r.key_id), r.state))
    })?;
    let (key_id, state) = key_id;
    Ok(ScheduleKeyDeletionResponse {
        key_id,
        deletion_date: epoch_secs(deletion),
        key_state: state.as_str().into(),
        pending_window_in_days: days,
    })
}

pub(super) fn cancel_key_deletion(c: &Call, req: KeyIdRequest) -> Result<KeyIdResponse> {
    c.change_key(&req.key_id, |r| {
        let key_id = c.arn(&r.key_id);
        if !matches!(
            r.state,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        ) {
            return Err(KmsError::InvalidState(format!(
                "{key_id} is not pending deletion."
            )));
        }
        // AWS leaves a key whose deletion was cancelled Disabled.
        r.state = super::import::state_after_cancel(r);
        r.deletion_ms = None;
        r.pending_window_days = None;
        Ok(KeyIdResponse { key_id })
    })
}
