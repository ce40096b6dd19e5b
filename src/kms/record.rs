//! A KMS key as stored: the `KeyRecord` (metadata plus every backing key-material version),
//! serialized with postcard and sealed under the keystore's root key with AES-256-GCM-SIV.
//!
//! ```text
//! off len  field
//!   0   4  magic "KMSK"
//!   4   1  format version (2; version 1, symmetric keys only, is still read)
//!   5   3  reserved, zero
//!   8  16  key id (UUID bytes)   -- also the file name, and bound as AAD
//!  24  12  nonce
//!  36   n  ciphertext of postcard(KeyRecord)
//! 36+n 16  tag
//! ```
//! AAD = bytes 0..36. Opening checks that the header's key id is the one asked for and
//! that the decrypted record names the same id, so a record copied over another key's file
//! is refused.

use crate::crypto::asym::KeySpec;
use crate::crypto::{AeadKey, CryptoError, NONCE_LEN, SecretBytes, TAG_LEN};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

pub const MAGIC: [u8; 4] = *b"KMSK";
pub const VERSION: u8 = 2;
/// The first format: symmetric keys only, no key spec, usage, origin or region fields.
pub const VERSION_1: u8 = 1;
pub const HEADER_LEN: usize = 36;

/// Key states kmsfs uses (a subset of AWS's `KeyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// An EXTERNAL key without key material (never imported, deleted, or expired).
    PendingImport,
    /// A multi-Region primary waiting for its replicas to be deleted.
    PendingReplicaDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }
}

/// What a key is for (AWS `KeyUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyUsage {
    EncryptDecrypt,
    SignVerify,
    GenerateVerifyMac,
    KeyAgreement,
}

impl KeyUsage {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsage::EncryptDecrypt => "ENCRYPT_DECRYPT",
            KeyUsage::SignVerify => "SIGN_VERIFY",
            KeyUsage::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            KeyUsage::KeyAgreement => "KEY_AGREEMENT",
        }
    }

    pub fn parse(s: &str) -> Option<KeyUsage> {
        [
            KeyUsage::EncryptDecrypt,
            KeyUsage::SignVerify,
            KeyUsage::GenerateVerifyMac,
            KeyUsage::KeyAgreement,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

/// Where the key material came from (AWS `Origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// Made by the KMS (`AWS_KMS`).
    AwsKms,
    /// Imported by the customer (`EXTERNAL`).
    External,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::AwsKms => "AWS_KMS",
            Origin::External => "EXTERNAL",
        }
    }
}

/// A multi-Region key's place in its set: the primary's Region and every replica's.
/// The primary's record and each replica's record (in its own Region's keystore) carry the
/// same set; the key id is the same in every Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiRegion {
    pub primary_region: String,
    pub replica_regions: Vec<String>,
}

/// The import state of an EXTERNAL key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// `ValidTo` of the imported material (`None`: KEY_MATERIAL_DOES_NOT_EXPIRE).
    pub valid_to_ms: Option<i64>,
    /// SHA-256 of the first material imported: only the same material may be imported
    /// again (after DeleteImportedKeyMaterial or expiry). `None` before the first import.
    pub fingerprint: Option<[u8; 32]>,
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

/// Variable-length key material (a PKCS#8 private key, HMAC material); zeroized on drop,
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVec(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretVec({} bytes, <redacted>)", self.0.len())
    }
}

impl Serialize for SecretVec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0[..])
    }
}

impl<'de> Deserialize<'de> for SecretVec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SecretVec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("key material bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SecretVec, E> {
                Ok(SecretVec(Zeroizing::new(v.to_vec())))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// The secret of one material version, by key kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum KeySecret {
    /// A symmetric (SYMMETRIC_DEFAULT) key: 32 bytes for AES-256-GCM-SIV.
    Aes256(Material32),
    /// An asymmetric key pair: the private key as PKCS#8 DER (the public key derives from it).
    Private(SecretVec),
    /// HMAC key material.
    Hmac(SecretVec),
}

impl KeySecret {
    /// The symmetric material, if this is a symmetric key's.
    pub fn aes(&self) -> Option<&Material32> {
        match self {
            KeySecret::Aes256(m) => Some(m),
            _ => None,
        }
    }

    /// The bytes (for comparing imported material), whatever the kind.
    pub fn bytes(&self) -> &[u8] {
        match self {
            KeySecret::Aes256(m) => &m.0[..],
            KeySecret::Private(v) | KeySecret::Hmac(v) => &v.0[..],
        }
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
    pub secret: KeySecret,
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
    /// `None`: SYMMETRIC_DEFAULT; otherwise an asymmetric or HMAC spec.
    pub spec: Option<KeySpec>,
    pub usage: KeyUsage,
    pub origin: Origin,
    pub multi_region: Option<MultiRegion>,
    /// Set for EXTERNAL keys.
    pub imported: Option<Imported>,
}

impl KeyRecord {
    /// The newest material (used for new encryptions). Every key has one except an EXTERNAL
    /// key in PendingImport: callers check the key state first.
    pub fn current(&self) -> &Material {
        self.materials
            .last()
            .expect("a usable key record has material")
    }

    /// The key spec's AWS name.
    pub fn spec_name(&self) -> &'static str {
        self.spec.map_or("SYMMETRIC_DEFAULT", KeySpec::name)
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
    if bytes[4] != VERSION && bytes[4] != VERSION_1 {
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
    let decode = |e: postcard::Error| RecordError::Decode(e.to_string());
    let rec: KeyRecord = match bytes[4] {
        VERSION_1 => postcard::from_bytes::<v1::KeyRecord>(plain.expose())
            .map_err(decode)?
            .into(),
        _ => postcard::from_bytes(plain.expose()).map_err(decode)?,
    };
    check(&rec, expected)?;
    Ok(rec)
}

/// The invariants of a decoded record.
fn check(rec: &KeyRecord, expected: &[u8; 16]) -> Result<(), RecordError> {
    if &rec.key_id != expected {
        return Err(RecordError::Inconsistent("sealed record names another key"));
    }
    let external = rec.origin == Origin::External;
    if rec.materials.is_empty() && !external {
        return Err(RecordError::Inconsistent("no key material"));
    }
    if external != rec.imported.is_some() {
        return Err(RecordError::Inconsistent(
            "import state does not match the origin",
        ));
    }
    let kind_ok = |m: &Material| match (&m.secret, rec.spec) {
        (KeySecret::Aes256(_), None) => true,
        (KeySecret::Hmac(_), Some(s)) => s.mac_algorithm().is_some(),
        (KeySecret::Private(_), Some(s)) => s.mac_algorithm().is_none(),
        _ => false,
    };
    if !rec.materials.iter().all(kind_ok) {
        return Err(RecordError::Inconsistent(
            "key material does not match the key spec",
        ));
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
    Ok(())
}

/// Format version 1 (symmetric keys only), read and converted; never written.
mod v1 {
    use super::{AutoRotation, KeyManager, KeyState, Material32, MaterialOrigin};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    pub(super) struct Material {
        version: u32,
        id: [u8; 32],
        created_ms: i64,
        origin: MaterialOrigin,
        secret: Material32,
    }

    #[derive(Deserialize)]
    pub(super) struct KeyRecord {
        key_id: [u8; 16],
        created_ms: i64,
        description: String,
        state: KeyState,
        manager: KeyManager,
        deletion_ms: Option<i64>,
        pending_window_days: Option<u32>,
        rotation: Option<AutoRotation>,
        materials: Vec<Material>,
        tags: BTreeMap<String, String>,
        policy: String,
    }

    impl From<KeyRecord> for super::KeyRecord {
        fn from(r: KeyRecord) -> super::KeyRecord {
            let materials = r.materials.into_iter().map(|m| super::Material {
                version: m.version,
                id: m.id,
                created_ms: m.created_ms,
                origin: m.origin,
                secret: super::KeySecret::Aes256(m.secret),
            });
            super::KeyRecord {
                key_id: r.key_id,
                created_ms: r.created_ms,
                description: r.description,
                state: r.state,
                manager: r.manager,
                deletion_ms: r.deletion_ms,
                pending_window_days: r.pending_window_days,
                rotation: r.rotation,
                materials: materials.collect(),
                tags: r.tags,
                policy: r.policy,
                spec: None,
                usage: super::KeyUsage::EncryptDecrypt,
                origin: super::Origin::AwsKms,
                multi_region: None,
                imported: None,
            }
        }
    }
}
