//! `KeyMetadata` (what CreateKey, DescribeKey and ReplicateKey return) from a key record:
//! the key's spec, usage and algorithms, its origin and import state, its multi-Region set.

use super::record::{KeyManager, KeyRecord, KeyState, KeyUsage, Origin};
use super::service::Call;
use super::types::{KeyMetadata, MultiRegionConfiguration, MultiRegionKey};
use crate::crypto;
use crate::timefmt::epoch_secs;

/// The algorithm lists DescribeKey shows for a key of this spec and usage (each `None` when
/// AWS omits the member).
struct Algorithms {
    encryption: Option<Vec<String>>,
    signing: Option<Vec<String>>,
    mac: Option<Vec<String>>,
    key_agreement: Option<Vec<String>>,
}

fn names<T: std::fmt::Display>(list: &[T]) -> Option<Vec<String>> {
    Some(list.iter().map(ToString::to_string).collect())
}

fn algorithms(r: &KeyRecord) -> Algorithms {
    let mut a = Algorithms {
        encryption: None,
        signing: None,
        mac: None,
        key_agreement: None,
    };
    let Some(spec) = r.spec else {
        a.encryption = Some(vec!["SYMMETRIC_DEFAULT".into()]);
        return a;
    };
    match r.usage {
        KeyUsage::EncryptDecrypt => a.encryption = names(spec.encryption_algorithms()),
        KeyUsage::SignVerify => a.signing = names(spec.signing_algorithms()),
        KeyUsage::GenerateVerifyMac => {
            a.mac = names(&spec.mac_algorithm().into_iter().collect::<Vec<_>>())
        }
        KeyUsage::KeyAgreement => a.key_agreement = names(spec.key_agreement_algorithms()),
    }
    a
}

impl Call<'_> {
    /// The `KeyMetadata` of `r` as this KMS (account and Region) shows it.
    pub(super) fn metadata(&self, r: &KeyRecord) -> KeyMetadata {
        self.metadata_in(&self.account.region, r)
    }

    /// The `KeyMetadata` of `r` as the KMS of this account in `region` shows it (a replica
    /// that ReplicateKey made there).
    pub(super) fn metadata_in(&self, region: &str, r: &KeyRecord) -> KeyMetadata {
        let alg = algorithms(r);
        let imported = r.imported.as_ref();
        KeyMetadata {
            aws_account_id: self.account.account_id.clone(),
            key_id: self.key_id_string(&r.key_id),
            arn: self.arn_in(region, &r.key_id),
            creation_date: epoch_secs(r.created_ms),
            enabled: r.state == KeyState::Enabled,
            description: r.description.clone(),
            key_usage: r.usage.as_str().into(),
            key_state: r.state.as_str().into(),
            deletion_date: r.deletion_ms.map(epoch_secs),
            pending_deletion_window_in_days: r.pending_window_days,
            origin: r.origin.as_str().into(),
            key_manager: match r.manager {
                KeyManager::Customer => "CUSTOMER",
                KeyManager::Aws => "AWS",
            }
            .into(),
            customer_master_key_spec: r.spec_name().into(),
            key_spec: r.spec_name().into(),
            encryption_algorithms: alg.encryption,
            signing_algorithms: alg.signing,
            mac_algorithms: alg.mac,
            key_agreement_algorithms: alg.key_agreement,
            multi_region: r.multi_region.is_some(),
            multi_region_configuration: r.multi_region.as_ref().map(|m| {
                let key = |g: &str| MultiRegionKey {
                    arn: self.arn_in(g, &r.key_id),
                    region: g.to_string(),
                };
                MultiRegionConfiguration {
                    multi_region_key_type: if m.primary_region == region {
                        "PRIMARY"
                    } else {
                        "REPLICA"
                    }
                    .into(),
                    primary_key: key(&m.primary_region),
                    replica_keys: m.replica_regions.iter().map(|g| key(g)).collect(),
                }
            }),
            valid_to: imported.and_then(|i| i.valid_to_ms).map(epoch_secs),
            expiration_model: (r.origin == Origin::External).then(|| {
                match imported.and_then(|i| i.valid_to_ms) {
                    Some(_) => "KEY_MATERIAL_EXPIRES",
                    None => "KEY_MATERIAL_DOES_NOT_EXPIRE",
                }
                .into()
            }),
            current_key_material_id: match (r.spec, r.materials.last()) {
                (None, Some(m)) => Some(crypto::hex(&m.id)),
                _ => None,
            },
        }
    }
}
