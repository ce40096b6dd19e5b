// Shared by the KMS integration tests (included as `mod common_kms` with #[path]).
#![allow(dead_code)]

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

pub fn ec(pairs: &[(&str, &str)]) -> Option<kmsfs::kms::EncryptionContext> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
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
        self.c
            .describe_key(KeyIdRequest {
                key_id: key.into(),
                grant_tokens: None,
            })
            .map(|r| r.key_metadata)
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
