//! The keystore against the trail: every key of every region of a home has the line of the
//! request that created it (`CreateKey`, by a user or by the KMS for an AWS-managed key, or
//! `SeedKey`), written ahead of the key (`Pending`) or after it (`Success`). Part of `kmsfs
//! audit verify`; needs no root key (key ids are file names).

use super::audit::AuditLine;
use crate::home::{AccountConfig, Home};
use std::collections::HashSet;
use std::io;
use std::path::Path;

/// Operations whose line creates the key it names.
const CREATING: &[&str] = &["CreateKey", super::seed_apply::SEED_KEY_OPERATION];
/// The operation whose line creates the key it names as its destination (a multi-Region
/// replica).
const REPLICATING: &str = "ReplicateKey";

/// ARNs of the keys of `home` (every region) that no creating line names, sorted.
pub fn keys_without_line(home: &Home, lines: &[AuditLine]) -> io::Result<Vec<String>> {
    let created: HashSet<&str> = lines
        .iter()
        .filter(|l| CREATING.contains(&l.operation.as_str()) && l.outcome != "Failure")
        .filter_map(|l| l.key_arn.as_deref())
        .chain(
            lines
                .iter()
                .filter(|l| l.operation == REPLICATING && l.outcome != "Failure")
                .filter_map(|l| l.destination_key_arn.as_deref()),
        )
        .collect();
    let mut missing = Vec::new();
    let mut check = |account: &AccountConfig, keys_dir: &Path| -> io::Result<()> {
        for id in key_ids(keys_dir)? {
            let arn = format!(
                "arn:{}:kms:{}:{}:key/{id}",
                account.partition, account.region, account.account_id
            );
            if !created.contains(arn.as_str()) {
                missing.push(arn);
            }
        }
        Ok(())
    };
    check(home.config(), &home.kms_dir().join("keys"))?;
    let regions = home.layout().kms_regions_dir();
    for region in dir_names(&regions)? {
        // A directory that is not a region name is not the KMS's.
        if let Ok(account) = home.config().in_region(&region) {
            check(&account, &regions.join(&region).join("keys"))?;
        }
    }
    missing.sort();
    Ok(missing)
}

/// The key ids (of the files `<uuid>.key`) in `dir`, as ARNs show them (`mrk-…` for a
/// multi-Region key); none if it does not exist.
fn key_ids(dir: &Path) -> io::Result<Vec<String>> {
    Ok(dir_names(dir)?
        .into_iter()
        .filter_map(|n| n.strip_suffix(".key").map(str::to_string))
        .filter_map(|s| match uuid::Uuid::parse_str(&s) {
            Ok(u) if u.hyphenated().to_string() == s => Some(super::key_id::format(u.as_bytes())),
            _ => None,
        })
        .collect())
}

fn dir_names(dir: &Path) -> io::Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    };
    let mut out = Vec::new();
    for ent in rd {
        out.push(ent?.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}
