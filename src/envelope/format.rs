//! The envelope message format (docs/FORMAT.md section 10), modeled on the AWS Encryption
//! SDK's message format version 2, simplified: a header naming the algorithm suite, a random
//! 32-byte message id, the encryption context (section 2's canonical encoding), the encrypted
//! data keys, the frame length, a key commitment and an authentication tag; then a body of
//! STREAM frames ([`crate::crypto::stream`]).
//!
//! This module only encodes and parses bytes and derives the per-message keys; it never
//! reaches KMS. The parser reads from any [`Read`] a field at a time, checks every length
//! against an explicit limit before allocating, and never panics on any input (it is fuzzed
//! through [`crate::fuzzing::envelope_message`]).

use super::EnvelopeError;
use crate::crypto::{self, AeadKey, SecretKey, TAG_LEN, hkdf_sha256, stream::StreamKey};
use crate::encoding;
use crate::kms::EncryptionContext;
use std::io::Read;

/// Magic bytes at the start of every message.
pub const MAGIC: [u8; 4] = *b"KMSE";
/// The message format version this code writes and reads.
pub const VERSION: u8 = 1;
/// The one algorithm suite: HKDF-SHA-256 key derivation, AES-256-GCM-SIV STREAM frames, key
/// commitment.
pub const SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT: u16 = 0x0001;
/// Message id length.
pub const MESSAGE_ID_LEN: usize = 32;
/// Key commitment length.
pub const COMMITMENT_LEN: usize = 32;
/// Provider id of KMS-wrapped data keys (as in the AWS Encryption SDK).
pub const PROVIDER_AWS_KMS: &str = "aws-kms";

/// Largest encoded encryption context (section 2's encoding) a header may hold.
pub const MAX_CONTEXT_LEN: usize = 65_536;
/// Most encrypted data keys one message may carry.
pub const MAX_EDKS: usize = 16;
/// Longest provider id.
pub const MAX_PROVIDER_ID_LEN: usize = 255;
/// Longest provider info (the key ARN for `aws-kms`).
pub const MAX_PROVIDER_INFO_LEN: usize = 2048;
/// Longest wrapped data key (KMS's ciphertext blob limit).
pub const MAX_EDK_LEN: usize = 6144;
/// Smallest frame length.
pub const MIN_FRAME_LEN: u32 = 16;
/// Largest frame length (a decryptor holds one frame in memory).
pub const MAX_FRAME_LEN: u32 = 16 << 20;
/// Frame length when none is given.
pub const DEFAULT_FRAME_LEN: u32 = 64 << 10;

/// Frame type byte of a regular (not final) frame.
pub(super) const FRAME_REGULAR: u8 = 0x00;
/// Frame type byte of the final frame.
pub(super) const FRAME_FINAL: u8 = 0x01;

/// HKDF info prefixes (followed by the suite id, big-endian).
const INFO_KEY: &[u8] = b"KMSE v1 data key";
const INFO_COMMIT: &[u8] = b"KMSE v1 commitment";
/// Nonce of the header tag: byte 11 is 0xff, which no STREAM frame nonce has (theirs is 0
/// or 1), so the header and frames never share a nonce under the message key.
pub const HEADER_NONCE: [u8; 12] = [0xff; 12];

/// One wrapped copy of the message's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Who can unwrap it: `aws-kms` for KMS.
    pub provider_id: String,
    /// Provider-specific: the ARN of the KMS key that wrapped it.
    pub provider_info: String,
    /// The wrapped key (a KMS ciphertext blob).
    pub ciphertext: Vec<u8>,
}

/// A parsed (or about to be written) message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub suite: u16,
    pub message_id: [u8; MESSAGE_ID_LEN],
    pub context: EncryptionContext,
    pub edks: Vec<EncryptedDataKey>,
    pub frame_len: u32,
    pub commitment: [u8; COMMITMENT_LEN],
    pub tag: [u8; TAG_LEN],
}

fn malformed(why: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed(why.into())
}

/// The per-message keys derived from a data key.
pub(super) struct MessageKeys {
    /// Seals the header tag and every frame.
    pub(super) stream: StreamKey,
    header: AeadKey,
    /// The commitment the header must carry.
    pub(super) commitment: [u8; COMMITMENT_LEN],
}

impl std::fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageKeys(<redacted>)")
    }
}

impl MessageKeys {
    /// `key = HKDF(data key, salt = message id, info = "KMSE v1 data key" ‖ suite)`,
    /// `commitment = HKDF(data key, salt = message id, info = "KMSE v1 commitment" ‖ suite)`.
    pub(super) fn derive(
        data_key: &SecretKey,
        message_id: &[u8; MESSAGE_ID_LEN],
        suite: u16,
    ) -> Self {
        let info = |p: &[u8]| [p, &suite.to_be_bytes()].concat();
        let key = hkdf_sha256(data_key.expose(), message_id, &info(INFO_KEY));
        let commit = hkdf_sha256(data_key.expose(), message_id, &info(INFO_COMMIT));
        MessageKeys {
            stream: StreamKey::new(&key),
            header: AeadKey::new(&key),
            // The commitment is public (it is stored in the header); it reveals nothing of the
            // key, as HKDF outputs under different infos are independent.
            commitment: *commit.expose(),
        }
    }

    /// The header tag over `body` (every header byte before the tag).
    pub(super) fn header_tag(&self, body: &[u8]) -> Result<[u8; TAG_LEN], EnvelopeError> {
        let sealed = self.header.seal(&HEADER_NONCE, body, &[])?;
        sealed
            .try_into()
            .map_err(|_| malformed("internal: header tag length"))
    }

    /// Check the header tag over `body`.
    pub(super) fn verify_header(
        &self,
        body: &[u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), EnvelopeError> {
        self.header
            .open(&HEADER_NONCE, body, tag)
            .map(|_| ())
            .map_err(|_| EnvelopeError::HeaderAuthentication)
    }

    /// Whether `commitment` is this data key's (constant time).
    pub(super) fn commits_to(&self, commitment: &[u8; COMMITMENT_LEN]) -> bool {
        crypto::secret_eq(&self.commitment, commitment)
    }
}

/// Check a frame length against the limits.
pub(super) fn check_frame_len(n: u32) -> Result<(), EnvelopeError> {
    if (MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&n) {
        Ok(())
    } else {
        Err(EnvelopeError::InvalidArgument(format!(
            "the frame length {n} is outside {MIN_FRAME_LEN}..={MAX_FRAME_LEN} bytes"
        )))
    }
}

fn put_str16(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

impl Header {
    /// Check what the encoder would otherwise write unparseably: limits and counts.
    pub(super) fn validate(&self) -> Result<(), EnvelopeError> {
        if self.suite != SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT {
            return Err(malformed(format!(
                "unknown algorithm suite 0x{:04x}",
                self.suite
            )));
        }
        check_frame_len(self.frame_len).map_err(|e| malformed(e.to_string()))?;
        if self.edks.is_empty() || self.edks.len() > MAX_EDKS {
            return Err(malformed(format!(
                "{} encrypted data keys (1..={MAX_EDKS} allowed)",
                self.edks.len()
            )));
        }
        for (i, e) in self.edks.iter().enumerate() {
            if e.provider_id.is_empty()
                || e.provider_id.len() > MAX_PROVIDER_ID_LEN
                || e.provider_info.len() > MAX_PROVIDER_INFO_LEN
                || e.ciphertext.is_empty()
                || e.ciphertext.len() > MAX_EDK_LEN
            {
                return Err(malformed(format!(
                    "encrypted data key {i} has a field out of bounds"
                )));
            }
        }
        encoding::check(&self.context).map_err(malformed)?;
        if encoding::encode(&self.context).len() > MAX_CONTEXT_LEN {
            return Err(malformed(format!(
                "the encryption context encodes to more than {MAX_CONTEXT_LEN} bytes"
            )));
        }
        Ok(())
    }

    /// Every header byte before the tag (what the tag authenticates).
    pub(super) fn encode_body(&self) -> Vec<u8> {
        let ctx = encoding::encode(&self.context);
        let mut out = Vec::with_capacity(128 + ctx.len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.suite.to_be_bytes());
        out.extend_from_slice(&self.message_id);
        out.extend_from_slice(&(ctx.len() as u32).to_be_bytes());
        out.extend_from_slice(&ctx);
        out.extend_from_slice(&(self.edks.len() as u16).to_be_bytes());
        for e in &self.edks {
            put_str16(&mut out, e.provider_id.as_bytes());
            put_str16(&mut out, e.provider_info.as_bytes());
            put_str16(&mut out, &e.ciphertext);
        }
        out.extend_from_slice(&self.frame_len.to_be_bytes());
        out.extend_from_slice(&self.commitment);
        out
    }

    /// The whole header: body ‖ tag.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = self.encode_body();
        b.extend_from_slice(&self.tag);
        b
    }

    /// Parse a header from the start of `bytes`; returns it and the bytes it took.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize), EnvelopeError> {
        let mut r = bytes;
        let (h, raw) = Header::read_from(&mut r)?;
        Ok((h, raw.len()))
    }

    /// Read a header from `r`, a field at a time; returns it and its raw bytes (body ‖ tag).
    /// Never reads past the header's last byte.
    pub(super) fn read_from(r: &mut impl Read) -> Result<(Header, Vec<u8>), EnvelopeError> {
        let mut rd = FieldReader { r, raw: Vec::new() };
        let magic = rd.take(4, "magic")?;
        if magic != MAGIC {
            return Err(malformed("no KMSE magic (not an envelope message)"));
        }
        let version = rd.u8("version")?;
        if version != VERSION {
            return Err(malformed(format!("unknown version {version}")));
        }
        let suite = rd.u16("algorithm suite")?;
        if suite != SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT {
            return Err(malformed(format!("unknown algorithm suite 0x{suite:04x}")));
        }
        let message_id: [u8; MESSAGE_ID_LEN] = rd.array("message id")?;
        let ctx_len = rd.u32("encryption context length")? as usize;
        if ctx_len > MAX_CONTEXT_LEN {
            return Err(malformed(format!(
                "the encryption context is {ctx_len} bytes; the limit is {MAX_CONTEXT_LEN}"
            )));
        }
        let ctx_bytes = rd.take(ctx_len, "encryption context")?;
        let context = decode_context(&ctx_bytes)?;
        let n = rd.u16("encrypted data key count")? as usize;
        if n == 0 || n > MAX_EDKS {
            return Err(malformed(format!(
                "{n} encrypted data keys (1..={MAX_EDKS} allowed)"
            )));
        }
        let mut edks = Vec::with_capacity(n);
        for i in 0..n {
            let provider_id = rd.str16(i, "provider id", 1, MAX_PROVIDER_ID_LEN)?;
            let provider_info = rd.str16(i, "provider info", 0, MAX_PROVIDER_INFO_LEN)?;
            let ciphertext = rd.bytes16(i, "ciphertext", 1, MAX_EDK_LEN)?;
            edks.push(EncryptedDataKey {
                provider_id,
                provider_info,
                ciphertext,
            });
        }
        let frame_len = rd.u32("frame length")?;
        check_frame_len(frame_len).map_err(|e| malformed(e.to_string()))?;
        let commitment: [u8; COMMITMENT_LEN] = rd.array("key commitment")?;
        let tag: [u8; TAG_LEN] = rd.array("header tag")?;
        let h = Header {
            suite,
            message_id,
            context,
            edks,
            frame_len,
            commitment,
            tag,
        };
        Ok((h, rd.raw))
    }
}

/// Decode section 2's context encoding, requiring the canonical form (keys sorted and
/// unique, exactly the bytes `context::encode` would write) and KMS's limits.
fn decode_context(b: &[u8]) -> Result<EncryptionContext, EnvelopeError> {
    let bad = |why: &str| malformed(format!("bad encryption context: {why}"));
    let mut r = b;
    let mut take = |n: usize| -> Result<&[u8], EnvelopeError> {
        if r.len() < n {
            return Err(bad("it ends early"));
        }
        let (a, rest) = r.split_at(n);
        r = rest;
        Ok(a)
    };
    let u32_of = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
    let count = u32_of(take(4)?);
    let mut ec = EncryptionContext::new();
    for _ in 0..count {
        let kl = u32_of(take(4)?);
        let k = std::str::from_utf8(take(kl)?).map_err(|_| bad("a key is not UTF-8"))?;
        let vl = u32_of(take(4)?);
        let v = std::str::from_utf8(take(vl)?).map_err(|_| bad("a value is not UTF-8"))?;
        ec.insert(k.to_string(), v.to_string());
    }
    if !r.is_empty() {
        return Err(bad("bytes after the last pair"));
    }
    if encoding::encode(&ec) != b {
        return Err(bad("pairs not sorted, or a key repeated"));
    }
    encoding::check(&ec).map_err(|e| bad(&e))?;
    Ok(ec)
}

/// Reads header fields, keeping every byte read (the tag's AAD and the header hash).
struct FieldReader<'a, R: Read> {
    r: &'a mut R,
    raw: Vec<u8>,
}

impl<R: Read> FieldReader<'_, R> {
    fn take(&mut self, n: usize, what: &str) -> Result<Vec<u8>, EnvelopeError> {
        let start = self.raw.len();
        // `n` is bounded by the caller's limit check, so this allocation is too.
        self.raw.resize(start + n, 0);
        read_exact_or(self.r, &mut self.raw[start..], || {
            malformed(format!("the header ends inside the {what}"))
        })?;
        Ok(self.raw[start..].to_vec())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], EnvelopeError> {
        let v = self.take(N, what)?;
        v.try_into()
            .map_err(|_| malformed(format!("internal: {what} length")))
    }

    fn u8(&mut self, what: &str) -> Result<u8, EnvelopeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, EnvelopeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, EnvelopeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn bytes16(
        &mut self,
        i: usize,
        what: &str,
        min: usize,
        max: usize,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let name = format!("encrypted data key {i}'s {what}");
        let n = self.u16(&name)? as usize;
        if n < min || n > max {
            return Err(malformed(format!(
                "{name} is {n} bytes ({min}..={max} allowed)"
            )));
        }
        self.take(n, &name)
    }

    fn str16(
        &mut self,
        i: usize,
        what: &str,
        min: usize,
        max: usize,
    ) -> Result<String, EnvelopeError> {
        let b = self.bytes16(i, what, min, max)?;
        String::from_utf8(b)
            .map_err(|_| malformed(format!("encrypted data key {i}'s {what} is not UTF-8")))
    }
}

/// Fill `buf` from `r`; a clean or partial end of input is `eof()`, other errors are I/O.
pub(super) fn read_exact_or(
    r: &mut impl Read,
    buf: &mut [u8],
    eof: impl FnOnce() -> EnvelopeError,
) -> Result<(), EnvelopeError> {
    let n = read_full(r, buf)?;
    if n < buf.len() { Err(eof()) } else { Ok(()) }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    crate::fsutil::read_full(r, buf).map_err(EnvelopeError::Read)
}

/// The AAD of every frame: SHA-256 of the whole header (body ‖ tag), binding each frame to
/// its message.
pub(super) fn frame_aad(header_bytes: &[u8]) -> [u8; 32] {
    crypto::sha256(header_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            suite: SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT,
            message_id: [7; 32],
            context: [("a".to_string(), "b".to_string())].into(),
            edks: vec![EncryptedDataKey {
                provider_id: PROVIDER_AWS_KMS.into(),
                provider_info: "arn:k".into(),
                ciphertext: vec![1, 2, 3],
            }],
            frame_len: 4096,
            commitment: [9; 32],
            tag: [5; 16],
        }
    }

    #[test]
    fn envelope_header_round_trip_and_every_cut_fails() {
        let h = header();
        h.validate().unwrap();
        let b = h.encode();
        let (p, n) = Header::parse(&b).unwrap();
        assert_eq!((p, n), (h, b.len()));
        for cut in 0..b.len() {
            assert!(Header::parse(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn envelope_context_must_be_canonical() {
        // Two pairs in the wrong order.
        let mut b = Vec::new();
        b.extend_from_slice(&2u32.to_be_bytes());
        for (k, v) in [("z", "1"), ("a", "2")] {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(k.as_bytes());
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(v.as_bytes());
        }
        assert!(decode_context(&b).is_err());
        // A huge count with no pairs fails without allocating.
        assert!(decode_context(&u32::MAX.to_be_bytes()).is_err());
    }

    #[test]
    fn envelope_keys_commit() {
        let k = MessageKeys::derive(&SecretKey::from_bytes([1; 32]), &[2; 32], 1);
        let k2 = MessageKeys::derive(&SecretKey::from_bytes([3; 32]), &[2; 32], 1);
        assert!(k.commits_to(&k.commitment.clone()));
        assert!(!k2.commits_to(&k.commitment));
        let tag = k.header_tag(b"body").unwrap();
        k.verify_header(b"body", &tag).unwrap();
        assert!(k.verify_header(b"bodY", &tag).is_err());
        assert!(k2.verify_header(b"body", &tag).is_err());
    }
}
