//! `volume.hdr`: what a volume is (id, size, key) and its wrapped data key.
//!
//! ```text
//! off len  field (little-endian)
//!   0   8  magic "KMSFSVOL"
//!   8   2  format version (1)
//!  10   2  flags (bit 0: encrypted)
//!  12   4  body length n
//!  16  32  volume id, ASCII, NUL-padded ("vol-" + 17 hex digits)
//!  48   8  size in bytes
//!  56   8  creation time, ms since the epoch
//!  64   n  body: postcard(HeaderBody)
//! 64+n 32  seal: HMAC-SHA-256(header-MAC subkey of the DEK, bytes 0..64+n) when encrypted,
//!          SHA-256(bytes 0..64+n) when not
//! ```
//! A flipped byte anywhere is found: in the wrapped key by KMS Decrypt, elsewhere by the seal.

use super::VolumeError;
use crate::crypto::{SecretKey, sha256};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zerocopy::little_endian::{I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

const MAGIC: [u8; 8] = *b"KMSFSVOL";
const VERSION: u16 = 1;
const FIXED_LEN: usize = 64;
const SEAL_LEN: usize = 32;
const FLAG_ENCRYPTED: u16 = 1;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Clone, Copy)]
#[repr(C)]
struct Fixed {
    magic: [u8; 8],
    version: U16,
    flags: U16,
    body_len: U32,
    volume_id: [u8; 32],
    size: U64,
    created_ms: I64,
}

/// The variable part of the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderBody {
    /// ARN of the KMS key that wraps the DEK (None when unencrypted).
    pub kms_key_arn: Option<String>,
    /// The DEK as KMS returned it from GenerateDataKeyWithoutPlaintext.
    pub wrapped_dek: Option<Vec<u8>>,
    /// The encryption context the DEK was wrapped under (`aws:ebs:id` of the volume that
    /// created it; volumes restored from its snapshots share it).
    pub dek_context: BTreeMap<String, String>,
    /// The snapshot this volume was created from, if any.
    pub snapshot_id: Option<String>,
}

/// A decoded volume header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeHeader {
    pub volume_id: String,
    pub size: u64,
    pub created_ms: i64,
    pub encrypted: bool,
    pub body: HeaderBody,
}

impl VolumeHeader {
    /// Serialize and seal. `mac_key` is required for encrypted volumes.
    pub fn encode(&self, mac_key: Option<&SecretKey>) -> Vec<u8> {
        let body = postcard::to_allocvec(&self.body).expect("header body serializes");
        let mut id = [0u8; 32];
        id[..self.volume_id.len().min(32)]
            .copy_from_slice(&self.volume_id.as_bytes()[..self.volume_id.len().min(32)]);
        let fixed = Fixed {
            magic: MAGIC,
            version: U16::new(VERSION),
            flags: U16::new(if self.encrypted { FLAG_ENCRYPTED } else { 0 }),
            body_len: U32::new(body.len() as u32),
            volume_id: id,
            size: U64::new(self.size),
            created_ms: I64::new(self.created_ms),
        };
        let mut out = fixed.as_bytes().to_vec();
        out.extend_from_slice(&body);
        let seal = seal(&out, if self.encrypted { mac_key } else { None });
        out.extend_from_slice(&seal);
        out
    }

    /// Parse without checking the seal (the DEK is needed for that). Never panics.
    pub fn parse_unverified(bytes: &[u8]) -> Result<VolumeHeader, VolumeError> {
        let bad = |why: &str| VolumeError::DamagedHeader(why.to_string());
        let (fixed, rest) = Fixed::read_from_prefix(bytes).map_err(|_| bad("too short"))?;
        if fixed.magic != MAGIC {
            return Err(bad("bad magic (not a kmsfs volume header)"));
        }
        if fixed.version.get() != VERSION {
            return Err(bad(&format!(
                "format version {} is not supported",
                fixed.version.get()
            )));
        }
        if fixed.flags.get() & !FLAG_ENCRYPTED != 0 {
            return Err(bad("unknown flags"));
        }
        let n = fixed.body_len.get() as usize;
        if rest.len() != n + SEAL_LEN {
            return Err(bad("length does not match the body length"));
        }
        let body: HeaderBody = postcard::from_bytes(&rest[..n])
            .map_err(|e| bad(&format!("body does not decode: {e}")))?;
        let end = fixed.volume_id.iter().position(|&b| b == 0).unwrap_or(32);
        let volume_id = std::str::from_utf8(&fixed.volume_id[..end])
            .map_err(|_| bad("volume id is not ASCII"))?
            .to_string();
        let encrypted = fixed.flags.get() & FLAG_ENCRYPTED != 0;
        if encrypted != body.wrapped_dek.is_some() || encrypted != body.kms_key_arn.is_some() {
            return Err(bad("encryption flag and key fields disagree"));
        }
        Ok(VolumeHeader {
            volume_id,
            size: fixed.size.get(),
            created_ms: fixed.created_ms.get(),
            encrypted,
            body,
        })
    }

    /// Check the seal of `bytes` (`mac_key` for encrypted volumes).
    pub fn verify_seal(bytes: &[u8], mac_key: Option<&SecretKey>) -> Result<(), VolumeError> {
        if bytes.len() < FIXED_LEN + SEAL_LEN {
            return Err(VolumeError::DamagedHeader("too short".into()));
        }
        let (data, tag) = bytes.split_at(bytes.len() - SEAL_LEN);
        if !crate::crypto::secret_eq(&seal(data, mac_key), tag) {
            return Err(VolumeError::DamagedHeader(
                "its seal does not match (the header was changed or damaged)".into(),
            ));
        }
        Ok(())
    }
}

fn seal(data: &[u8], mac_key: Option<&SecretKey>) -> [u8; 32] {
    match mac_key {
        Some(k) => {
            let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(k.expose())
                .expect("any key length");
            m.update(data);
            m.finalize().into_bytes().into()
        }
        None => sha256(data),
    }
}
