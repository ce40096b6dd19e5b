//! An embedded KMS in a fresh home, with a manual clock, and shorthands for the requests
//! the tests make most.

use kmsfs::home::{Home, InitOptions};
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded, Kms, KmsOptions, ManualClock, RootKeySource};
use std::sync::Arc;

pub const ACCOUNT: &str = "111122223333";
pub const PRINCIPAL: &str = "arn:aws:iam::111122223333:user/tester";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub home: Home,
    pub clock: ManualClock,
    pub kms: Arc<Kms>,
    pub c: Embedded,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::init(
        &dir.path().join("home"),
        &InitOptions {
            account_id: Some(ACCOUNT.into()),
            region: Some("us-east-1".into()),
        },
    )
    .unwrap();
    Kms::create(&home, RootKeySource::RandomFile).unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    let kms = open(&home, &clock);
    let c = Embedded::new(kms.clone(), PRINCIPAL);
    Env {
        dir,
        home,
        clock,
        kms,
        c,
    }
}

pub fn open(home: &Home, clock: &ManualClock) -> Arc<Kms> {
    Kms::open(
        home,
        KmsOptions {
            clock: Arc::new(clock.clone()),
            passphrase: None,
            audit_interval: None,
        },
    )
    .unwrap()
}

/// An encryption context of `pairs`.
pub fn ctx(pairs: &[(&str, &str)]) -> kmsfs::kms::EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An encryption context of `pairs`, as a request's optional field.
pub fn ec(pairs: &[(&str, &str)]) -> Option<kmsfs::kms::EncryptionContext> {
    Some(ctx(pairs))
}

/// A list request for the things of `key`.
pub fn of_key(key: &str) -> ListRequest {
    ListRequest {
        key_id: Some(key.into()),
        ..Default::default()
    }
}

/// A request for an AES-256 data key under `key`.
pub fn aes_256(key: &str) -> GenerateDataKeyRequest {
    GenerateDataKeyRequest {
        key_id: key.into(),
        key_spec: Some("AES_256".into()),
        ..Default::default()
    }
}

/// An alias request: `name` for `target`.
pub fn alias(name: &str, target: &str) -> AliasRequest {
    AliasRequest {
        alias_name: name.into(),
        target_key_id: target.into(),
    }
}

/// A tag: `k` = `v`.
pub fn tag(k: &str, v: &str) -> Tag {
    Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    }
}

impl Env {
    pub fn create_key(&self) -> String {
        self.c
            .create_key(CreateKeyRequest {
                description: Some("test key".into()),
                ..Default::default()
            })
            .unwrap()
            .key_metadata
            .key_id
    }

    /// `N` new keys.
    pub fn keys<const N: usize>(&self) -> [String; N] {
        std::array::from_fn(|_| self.create_key())
    }

    pub fn encrypt(
        &self,
        key: &str,
        pt: &[u8],
        ctx: Option<kmsfs::kms::EncryptionContext>,
    ) -> Vec<u8> {
        self.c
            .encrypt(EncryptRequest {
                key_id: key.into(),
                plaintext: kmsfs::crypto::SecretBytes::from_slice(pt),
                encryption_context: ctx,
                ..Default::default()
            })
            .unwrap()
            .ciphertext_blob
    }

    pub fn decrypt(
        &self,
        blob: &[u8],
        ctx: Option<kmsfs::kms::EncryptionContext>,
    ) -> Result<Vec<u8>, kmsfs::kms::KmsError> {
        self.c
            .decrypt(DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                encryption_context: ctx,
                ..Default::default()
            })
            .map(|r| r.plaintext.expose().to_vec())
    }

    pub fn describe(&self, key: &str) -> Result<KeyMetadata, kmsfs::kms::KmsError> {
        self.c.describe_key(self.kid(key)).map(|r| r.key_metadata)
    }

    /// Create the alias `name` for `target`.
    pub fn create_alias(&self, name: &str, target: &str) -> Result<(), kmsfs::kms::KmsError> {
        self.c.create_alias(alias(name, target))
    }

    /// Schedule the deletion of `key` after `days` (AWS's default of 30 for `None`).
    pub fn schedule_deletion(
        &self,
        key: &str,
        days: Option<u32>,
    ) -> Result<ScheduleKeyDeletionResponse, kmsfs::kms::KmsError> {
        self.c.schedule_key_deletion(ScheduleKeyDeletionRequest {
            key_id: key.into(),
            pending_window_in_days: days,
        })
    }

    /// The first page of `key`'s rotations.
    pub fn rotations(&self, key: &str) -> Vec<RotationsListEntry> {
        self.c.list_key_rotations(of_key(key)).unwrap().rotations
    }

    /// Tag `key` with `(key, value)` pairs.
    pub fn tag(&self, key: &str, tags: &[(&str, &str)]) -> Result<(), kmsfs::kms::KmsError> {
        self.c.tag_resource(TagResourceRequest {
            key_id: key.into(),
            tags: tags.iter().map(|(k, v)| tag(k, v)).collect(),
        })
    }

    /// The first page of `key`'s tags.
    pub fn tags(&self, key: &str) -> Vec<Tag> {
        self.c.list_resource_tags(of_key(key)).unwrap().tags
    }

    pub fn kid(&self, key: &str) -> KeyIdRequest {
        KeyIdRequest {
            key_id: key.into(),
            grant_tokens: None,
        }
    }

    pub fn audit_lines(&self) -> Vec<kmsfs::kms::audit::AuditLine> {
        self.kms.flush_audit().unwrap();
        kmsfs::kms::audit::read_lines(self.kms.audit_path()).unwrap()
    }
}

/// The AWS error name of a result.
pub fn code<T: std::fmt::Debug>(r: Result<T, kmsfs::kms::KmsError>) -> &'static str {
    r.expect_err("expected an error").code()
}
