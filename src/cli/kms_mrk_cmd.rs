//! `kmsfs kms replicate-key | update-primary-region`: the multi-Region verbs, flags and
//! output as `aws kms` has them. (`create-key --multi-region` is in `kms_cmd.rs`; the
//! Region a command acts in is the global `--region`.)

use super::args;
use super::error::CliError;
use super::session::Session;
use crate::kms::Client;
use crate::kms::types::*;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum MultiRegionCommand {
    /// Replicate a multi-Region primary key to another Region of the home (same key id and
    /// key material; its own policy, description, tags, aliases and state).
    ReplicateKey {
        /// The primary key: key id or key ARN.
        #[arg(long)]
        key_id: String,
        /// The Region of the new replica, e.g. eu-west-1.
        #[arg(long)]
        replica_region: String,
        /// The replica's key policy (JSON, or file://policy.json; default: the default policy).
        #[arg(long)]
        policy: Option<String>,
        /// Skip the check that the policy leaves the caller able to change it.
        #[arg(long)]
        bypass_policy_lockout_safety_check: bool,
        #[arg(long)]
        description: Option<String>,
        /// TagKey=k,TagValue=v ... or a JSON list.
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
    },
    /// Make the replica in another Region the primary of a multi-Region key (run in the
    /// current primary's Region).
    UpdatePrimaryRegion {
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        primary_region: String,
    },
}

/// Run a multi-Region verb with `c` (the session's Region).
pub(super) fn run(s: &Session, c: &dyn Client, cmd: &MultiRegionCommand) -> Result<(), CliError> {
    match cmd {
        MultiRegionCommand::ReplicateKey {
            key_id,
            replica_region,
            policy,
            bypass_policy_lockout_safety_check: bypass,
            description,
            tags,
        } => {
            let req = ReplicateKeyRequest {
                key_id: key_id.clone(),
                replica_region: replica_region.clone(),
                policy: policy
                    .as_deref()
                    .map(super::kms_cmd::policy_text)
                    .transpose()?,
                bypass_policy_lockout_safety_check: bypass.then_some(true),
                description: description.clone(),
                tags: if tags.is_empty() {
                    None
                } else {
                    Some(args::tags(tags)?)
                },
            };
            s.reply(c.replicate_key(req))
        }
        MultiRegionCommand::UpdatePrimaryRegion {
            key_id,
            primary_region,
        } => s.done(c.update_primary_region(UpdatePrimaryRegionRequest {
            key_id: key_id.clone(),
            primary_region: primary_region.clone(),
        })),
    }
}
