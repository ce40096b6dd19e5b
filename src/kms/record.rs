//! A KMS key as stored: the `KeyRecord` (metadata plus every backing key-material version),
//! serialized with postcard and sealed under the keystore's root key with AES-256-GCM-SIV.
//!
//! ```text
//! off len  field
//!   0   4  magic "KMSK"
//!   4   1  format version (1)
//!   5   3  reserved, zero
//!   8  16  key id (UUID bytes)   -- also the file name, and bound as AAD
//!  24  12  nonce
//!  36   n  ciphertext of postcard(KeyRecord)
//! 36+n 16  tag
//! ```
//! AAD = bytes 0..36. Opening checks that the header's key id is the one asked for and
//! that the decrypted record names the same id, so a record copied over another key's file
//! is refused.

use crate::crypto::{AeadKey, CryptoError, NONCE_LEN, SecretBytes, TAG_LEN};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

pub const MAGIC: [u8; 4] = *b"KMSK";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 36;

/// Key states kmsfs uses (a subset of AWS's `KeyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Who manages the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    /// An AWS-managed key for a service (`alias/aws/<service>`).
    Aws,
}

/// How a material version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaterialOrigin {
    Created,
    AutomaticRotation,
    OnDemandRotation,
}

/// 32 bytes of key material; zeroized on drop, never printed.
#[derive(Clone)]
pub struct Material32(pub Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Material32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material32(<redacted>)")
    }
}

impl Serialize for Material32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0[..])
    }
}

impl<'de> Deserialize<'de> for Material32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Material32;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("32 bytes of key material")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Material32, E> {
                let a: [u8; 32] = v
                    .try_into()
                    .map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(Material32(Zeroizing::new(a)))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// One backing key-material version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Material {
    /// 1 for the original material, then 2, 3, ... for each rotation.
    pub version: u32,
    /// Public identifier (`KeyMaterialId`), 32 random bytes shown as hex.
    pub id: [u8; 32],
    pub created_ms: i64,
    pub origin: MaterialOrigin,
    pub secret: Material32,
}

/// Automatic rotation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRotation {
    pub period_days: u32,
    pub next_ms: i64,
}

/// Everything the KMS knows about one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: [u8; 16],
    pub created_ms: i64,
    pub description: String,
    pub state: KeyState,
    pub manager: KeyManager,
    pub deletion_ms: Option<i64>,
    pub pending_window_days: Option<u32>,
    pub rotation: Option<AutoRotation>,
    pub materials: Vec<Material>,
    pub tags: BTreeMap<String, String>,
    pub policy: String,
}

impl KeyRecord {
    /// The newest material (used for new encryptions).
    pub fn current(&self) -> &Material {
        self.materials
            .last()
            .expect("a key record always has material")
    }

    pub fn material(&self, version: u32) -> Option<&Material> {
        self.materials.iter().find(|m| m.version == version)
    }

    /// Number of on-demand rotations so far.
    pub fn on_demand_rotations(&self) -> usize {
        self.materials
            .iter()
            .filter(|m| m.origin == MaterialOrigin::OnDemandRotation)
            .count()
    }
}

/// Why a sealed record could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {0} bytes, too short")]
    TooShort(usize),
    #[error("bad magic (not a kmsfs key record)")]
    BadMagic,
    #[error("record format version {0} is not supported")]
    BadVersion(u8),
    #[error("reserved header bytes are not zero")]
    BadReserved,
    #[error("record belongs to key {found}, not {expected}")]
    WrongKey { expected: String, found: String },
    #[error("authentication failed (edited, damaged, or sealed under another root key)")]
    Authentication,
    #[error("record contents do not decode: {0}")]
    Decode(String),
    #[error("record is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Seal `rec` under `root` with an explicit nonce.
pub fn seal(
    root: &AeadKey,
    rec: &KeyRecord,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let plain = SecretBytes::new(
        postcard::to_allocvec(rec).map_err(|_| CryptoError::Length("record does not serialize"))?,
    );
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&rec.key_id);
    out.extend_from_slice(nonce);
    let header: [u8; HEADER_LEN] = out[..].try_into().expect("36 bytes");
    root.seal_into(nonce, &header, plain.expose(), &mut out)?;
    Ok(out)
}

/// Parse the header only: the key id a sealed record claims. Never panics.
pub fn parse_header(bytes: &[u8]) -> Result<[u8; 16], RecordError> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(RecordError::TooShort(bytes.len()));
    }
    if bytes[0..4] != MAGIC {
        return Err(RecordError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(RecordError::BadVersion(bytes[4]));
    }
    if bytes[5..8] != [0, 0, 0] {
        return Err(RecordError::BadReserved);
    }
    Ok(bytes[8..24].try_into().expect("16 bytes"))
}

/// Open a sealed record that must belong to `expected`.
pub fn open(root: &AeadKey, bytes: &[u8], expected: &[u8; 16]) -> Result<KeyRecord, RecordError> {
    let id = parse_header(bytes)?;
    if &id != expected {
        return Err(RecordError::WrongKey {
            expected: uuid::Uuid::from_bytes(*expected).to_string(),
            found: uuid::Uuid::from_bytes(id).to_string(),
        });
    }
    let nonce: [u8; NONCE_LEN] = bytes[24..36].try_into().expect("12 bytes");
    let plain = root
        .open(&nonce, &bytes[..HEADER_LEN], &bytes[HEADER_LEN..])
        .map_err(|_| RecordError::Authentication)?;
    let rec: KeyRecord =
        postcard::from_bytes(plain.expose()).map_err(|e| RecordError::Decode(e.to_string()))?;
    if &rec.key_id != expected {
        return Err(RecordError::Inconsistent("sealed record names another key"));
    }
    if rec.materials.is_empty() {
        return Err(RecordError::Inconsistent("no key material"));
    }
    if rec
        .materials
        .iter()
        .enumerate()
        .any(|(i, m)| m.version != i as u32 + 1)
    {
        return Err(RecordError::Inconsistent(
            "material versions are not 1, 2, 3, ...",
        ));
    }
    Ok(rec)
}
