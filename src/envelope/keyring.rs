//! Where a message's data key comes from. [`Keyring`] is the AWS Encryption SDK's keyring and
//! crypto materials manager in one small trait: give a fresh data key (with its wrapped
//! copies) for a context, or unwrap one of a message's wrapped copies. [`KmsKeyring`] does it
//! with GenerateDataKey and Decrypt through a [`Client`]; tests and vectors implement the
//! trait with a fixed key, and [`super::CachingKeyring`] wraps any keyring with a cache.

use super::EnvelopeError;
use super::format::{EncryptedDataKey, PROVIDER_AWS_KMS};
use crate::crypto::SecretKey;
use crate::kms::types::{DecryptRequest, GenerateDataKeyRequest};
use crate::kms::{Client, EncryptionContext, KmsError};
use std::sync::Arc;

/// A data key for a new message and its wrapped copies. The key is zeroized on drop.
#[derive(Clone)]
pub struct EncryptionMaterials {
    pub data_key: SecretKey,
    /// One or more wrapped copies, written into the header.
    pub edks: Vec<EncryptedDataKey>,
}

/// The unwrapped data key of a message, and the key (ARN) that unwrapped it.
#[derive(Clone)]
pub struct DecryptionMaterials {
    pub data_key: SecretKey,
    pub key_arn: String,
}

impl std::fmt::Debug for EncryptionMaterials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionMaterials")
            .field("data_key", &self.data_key)
            .field("edks", &self.edks.len())
            .finish()
    }
}

impl std::fmt::Debug for DecryptionMaterials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionMaterials")
            .field("data_key", &self.data_key)
            .field("key_arn", &self.key_arn)
            .finish()
    }
}

/// A source of data keys.
pub trait Keyring: Send + Sync {
    /// Which keys this keyring uses (part of the data key cache's keys, so two keyrings
    /// sharing a cache never share entries).
    fn id(&self) -> String;

    /// A fresh data key for a message under `context`. `plaintext_len` is the message's
    /// length when known (a cache accounts bytes with it).
    fn encryption_materials(
        &self,
        context: &EncryptionContext,
        plaintext_len: Option<u64>,
    ) -> Result<EncryptionMaterials, EnvelopeError>;

    /// Unwrap one of `edks` (a message's wrapped copies) under its `context`.
    fn decryption_materials(
        &self,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DecryptionMaterials, EnvelopeError>;
}

/// A shared keyring is a keyring.
impl<K: Keyring + ?Sized> Keyring for Arc<K> {
    fn id(&self) -> String {
        (**self).id()
    }
    fn encryption_materials(
        &self,
        ctx: &EncryptionContext,
        len: Option<u64>,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        (**self).encryption_materials(ctx, len)
    }
    fn decryption_materials(
        &self,
        edks: &[EncryptedDataKey],
        ctx: &EncryptionContext,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        (**self).decryption_materials(edks, ctx)
    }
}

/// Data keys from KMS: GenerateDataKey (AES_256) under one key to encrypt; Decrypt of the
/// `aws-kms` wrapped keys to decrypt, each tried in order.
///
/// Decrypt names the key it expects (`KeyId`): the keyring's key if it was given one (so a
/// message under any other key fails with IncorrectKeyException), else the ARN the wrapped
/// key records (discovery).
#[derive(Clone)]
pub struct KmsKeyring {
    client: Arc<dyn Client>,
    key_id: Option<String>,
}

impl std::fmt::Debug for KmsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyring")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl KmsKeyring {
    /// Encrypt under `key_id` (key id, ARN, alias name or alias ARN); decrypt only messages
    /// whose data key that key wrapped.
    pub fn new(client: Arc<dyn Client>, key_id: impl Into<String>) -> KmsKeyring {
        KmsKeyring {
            client,
            key_id: Some(key_id.into()),
        }
    }

    /// Decrypt only, under whichever KMS key each message names (the caller needs
    /// kms:Decrypt on it). Encrypting with it is an error.
    pub fn discovery(client: Arc<dyn Client>) -> KmsKeyring {
        KmsKeyring {
            client,
            key_id: None,
        }
    }
}

impl Keyring for KmsKeyring {
    fn id(&self) -> String {
        format!("aws-kms:{}", self.key_id.as_deref().unwrap_or("*"))
    }

    fn encryption_materials(
        &self,
        context: &EncryptionContext,
        _plaintext_len: Option<u64>,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        let key_id = self.key_id.clone().ok_or_else(|| {
            EnvelopeError::InvalidArgument(
                "a discovery keyring (no key id) cannot encrypt; name a KMS key".into(),
            )
        })?;
        let r = self.client.generate_data_key(GenerateDataKeyRequest {
            key_id,
            encryption_context: Some(context.clone()),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        })?;
        let data_key = SecretKey::from_slice(r.plaintext.expose()).ok_or_else(|| {
            KmsError::Internal("GenerateDataKey returned a key that is not 32 bytes".into())
        })?;
        Ok(EncryptionMaterials {
            data_key,
            edks: vec![EncryptedDataKey {
                provider_id: PROVIDER_AWS_KMS.into(),
                provider_info: r.key_id,
                ciphertext: r.ciphertext_blob,
            }],
        })
    }

    fn decryption_materials(
        &self,
        edks: &[EncryptedDataKey],
        context: &EncryptionContext,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        let mut last: Option<KmsError> = None;
        for e in edks.iter().filter(|e| e.provider_id == PROVIDER_AWS_KMS) {
            let key_id = self
                .key_id
                .clone()
                .unwrap_or_else(|| e.provider_info.clone());
            match self.client.decrypt(DecryptRequest {
                ciphertext_blob: e.ciphertext.clone(),
                encryption_context: Some(context.clone()),
                key_id: Some(key_id),
                ..Default::default()
            }) {
                Ok(r) => {
                    let data_key =
                        SecretKey::from_slice(r.plaintext.expose()).ok_or_else(|| {
                            EnvelopeError::Malformed(
                                "the wrapped data key does not unwrap to 32 bytes".into(),
                            )
                        })?;
                    return Ok(DecryptionMaterials {
                        data_key,
                        key_arn: r.key_id,
                    });
                }
                Err(err) => last = Some(err),
            }
        }
        match last {
            Some(e) => Err(EnvelopeError::Kms(e)),
            None => Err(EnvelopeError::NoUsableDataKey(format!(
                "none of its {} wrapped keys is from provider {PROVIDER_AWS_KMS}",
                edks.len()
            ))),
        }
    }
}
