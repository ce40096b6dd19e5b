//! [`encrypt`] and [`decrypt`]: a message from any `Read` to any `Write`, a frame at a time,
//! so memory stays bounded (two frames on encrypt, one on decrypt) whatever the size.
//!
//! Decryption writes a frame's plaintext only after that frame authenticated, and the final
//! frame's only after checking that nothing follows it. A message cut short, altered or
//! reordered therefore fails at the first bad frame, but the frames before it have already
//! been written: a caller that must not leave partial plaintext behind writes to a temporary
//! file and renames it into place only when `decrypt` returns `Ok` (as `kmsfs decrypt-file`
//! does), or buffers the output.

use super::EnvelopeError;
use super::format::{
    self, DEFAULT_FRAME_LEN, FRAME_FINAL, FRAME_REGULAR, Header, MESSAGE_ID_LEN, MessageKeys,
    SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT, read_exact_or, read_full,
};
use super::keyring::Keyring;
use crate::crypto::{SecretBytes, TAG_LEN, fill_random};
use crate::encoding::{self, EncryptionContext};
use std::io::{Read, Write};

/// How to encrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Plaintext bytes per frame ([`format::MIN_FRAME_LEN`]..=[`format::MAX_FRAME_LEN`]).
    pub frame_len: u32,
    /// The plaintext's length, when known: lets a [`super::CachingKeyring`] account the
    /// bytes up front. A longer plaintext is refused ([`EnvelopeError::LengthExceeded`]).
    pub plaintext_len: Option<u64>,
    /// A fixed message id, for reproducible test vectors only. Never set it otherwise: a
    /// repeated id under a cached data key repeats the message key and its nonces.
    #[doc(hidden)]
    pub message_id: Option<[u8; MESSAGE_ID_LEN]>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            frame_len: DEFAULT_FRAME_LEN,
            plaintext_len: None,
            message_id: None,
        }
    }
}

/// What was encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptInfo {
    pub message_id: [u8; MESSAGE_ID_LEN],
    /// The ARNs of the KMS keys (provider infos) that wrapped the data key.
    pub key_arns: Vec<String>,
    pub context: EncryptionContext,
    pub frame_len: u32,
    pub frames: u64,
    pub plaintext_bytes: u64,
    pub message_bytes: u64,
}

/// What a decryption requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecryptOptions {
    /// Pairs the message's encryption context must contain, with these values (it may hold
    /// others too), as the AWS Encryption SDK CLI's `--encryption-context` on decrypt.
    pub required_context: EncryptionContext,
}

/// What was decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptInfo {
    pub message_id: [u8; MESSAGE_ID_LEN],
    /// The ARN of the KMS key that unwrapped the data key.
    pub key_arn: String,
    pub context: EncryptionContext,
    pub frame_len: u32,
    pub frames: u64,
    pub plaintext_bytes: u64,
    pub message_bytes: u64,
}

fn write_all(w: &mut impl Write, b: &[u8]) -> Result<(), EnvelopeError> {
    w.write_all(b).map_err(EnvelopeError::Write)
}

/// Totals of a message's frames, as [`encrypt`] wrote or [`decrypt`] read them.
#[derive(Default)]
struct FrameCount {
    frames: u64,
    plaintext_bytes: u64,
    /// The frames' bytes on the wire (type bytes, length prefixes, ciphertext and tags).
    frame_bytes: u64,
}

/// Encrypt everything `reader` yields under a fresh data key from `keyring`, bound to
/// `context`, writing one message to `writer`.
pub fn encrypt(
    keyring: &dyn Keyring,
    context: &EncryptionContext,
    mut reader: impl Read,
    mut writer: impl Write,
    opts: &EncryptOptions,
) -> Result<EncryptInfo, EnvelopeError> {
    format::check_frame_len(opts.frame_len)?;
    encoding::check(context).map_err(EnvelopeError::InvalidArgument)?;
    let (header, keys) = new_header(keyring, context, opts)?;
    let header_bytes = header.encode();
    write_all(&mut writer, &header_bytes)?;
    let aad = format::frame_aad(&header_bytes);
    let count = seal_frames(&keys, &aad, &mut reader, &mut writer, opts)?;
    writer.flush().map_err(EnvelopeError::Write)?;
    Ok(EncryptInfo {
        message_id: header.message_id,
        key_arns: header
            .edks
            .iter()
            .map(|e| e.provider_info.clone())
            .collect(),
        context: header.context,
        frame_len: opts.frame_len,
        frames: count.frames,
        plaintext_bytes: count.plaintext_bytes,
        message_bytes: header_bytes.len() as u64 + count.frame_bytes,
    })
}

/// The header of a new message, with its tag, and the message's keys: a fresh data key
/// from `keyring` (dropped once the keys are derived) and a random message id.
fn new_header(
    keyring: &dyn Keyring,
    context: &EncryptionContext,
    opts: &EncryptOptions,
) -> Result<(Header, MessageKeys), EnvelopeError> {
    let materials = keyring.encryption_materials(context, opts.plaintext_len)?;
    let message_id = match opts.message_id {
        Some(id) => id,
        None => {
            let mut id = [0u8; MESSAGE_ID_LEN];
            fill_random(&mut id)?;
            id
        }
    };
    let suite = SUITE_HKDF_SHA256_AES256_GCM_SIV_STREAM_COMMIT;
    let keys = MessageKeys::derive(&materials.data_key, &message_id, suite);
    let mut header = Header {
        suite,
        message_id,
        context: context.clone(),
        edks: materials.edks.clone(),
        frame_len: opts.frame_len,
        commitment: keys.commitment,
        tag: [0; TAG_LEN],
    };
    header
        .validate()
        .map_err(|e| EnvelopeError::InvalidArgument(e.to_string()))?;
    drop(materials);
    let body = header.encode_body();
    header.tag = keys.header_tag(&body)?;
    Ok((header, keys))
}

/// Add `n` plaintext bytes to `total`, refusing more than the `declared` length.
fn count_plaintext(total: &mut u64, n: usize, declared: Option<u64>) -> Result<(), EnvelopeError> {
    *total += n as u64;
    match declared {
        Some(d) if *total > d => Err(EnvelopeError::LengthExceeded { declared: d }),
        _ => Ok(()),
    }
}

/// Seal what `reader` yields into frames of `opts.frame_len` bytes, written to `writer`.
/// A full frame is the final one only if nothing follows it: this reads one frame ahead.
fn seal_frames(
    keys: &MessageKeys,
    aad: &[u8],
    reader: &mut impl Read,
    writer: &mut impl Write,
    opts: &EncryptOptions,
) -> Result<FrameCount, EnvelopeError> {
    let flen = opts.frame_len as usize;
    let mut cur = SecretBytes::zeroed(flen);
    let mut next = SecretBytes::zeroed(flen);
    let mut out = Vec::with_capacity(flen + TAG_LEN + 5);
    let mut count = FrameCount::default();
    let mut cur_n = read_full(reader, cur.expose_mut())?;
    count_plaintext(&mut count.plaintext_bytes, cur_n, opts.plaintext_len)?;
    loop {
        let next_n = if cur_n == flen {
            let n = read_full(reader, next.expose_mut())?;
            count_plaintext(&mut count.plaintext_bytes, n, opts.plaintext_len)?;
            n
        } else {
            0
        };
        let last = next_n == 0;
        start_frame(&mut out, last, cur_n);
        let plain = &cur.expose()[..cur_n];
        keys.stream
            .seal_segment(count.frames, last, aad, plain, &mut out)?;
        write_all(writer, &out)?;
        count.frame_bytes += out.len() as u64;
        count.frames += 1;
        if last {
            return Ok(count);
        }
        std::mem::swap(&mut cur, &mut next);
        cur_n = next_n;
    }
}

/// Start a frame in `out`: its type byte and, for the final frame, its content length.
fn start_frame(out: &mut Vec<u8>, last: bool, content_len: usize) {
    out.clear();
    if last {
        out.push(FRAME_FINAL);
        out.extend_from_slice(&(content_len as u32).to_be_bytes());
    } else {
        out.push(FRAME_REGULAR);
    }
}

/// Check that `have` holds every pair of `want`.
fn check_context(have: &EncryptionContext, want: &EncryptionContext) -> Result<(), EnvelopeError> {
    for (k, v) in want {
        match have.get(k) {
            None => {
                return Err(EnvelopeError::ContextMismatch(format!(
                    "has no key {k:?} (required {k}={v})"
                )));
            }
            Some(h) if h != v => {
                return Err(EnvelopeError::ContextMismatch(format!(
                    "has {k}={h}, not the required {k}={v}"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Decrypt one message from `reader`, writing its plaintext to `writer` a frame at a time
/// (each frame only once authenticated; see the module documentation about partial output).
pub fn decrypt(
    keyring: &dyn Keyring,
    mut reader: impl Read,
    mut writer: impl Write,
    opts: &DecryptOptions,
) -> Result<DecryptInfo, EnvelopeError> {
    let (header, raw) = Header::read_from(&mut reader)?;
    check_context(&header.context, &opts.required_context)?;
    let materials = keyring.decryption_materials(&header.edks, &header.context)?;
    let keys = MessageKeys::derive(&materials.data_key, &header.message_id, header.suite);
    if !keys.commits_to(&header.commitment) {
        return Err(EnvelopeError::Commitment);
    }
    keys.verify_header(&raw[..raw.len() - TAG_LEN], &header.tag)?;
    let aad = format::frame_aad(&raw);
    let count = open_frames(&keys, &aad, header.frame_len, &mut reader, &mut writer)?;
    writer.flush().map_err(EnvelopeError::Write)?;
    Ok(DecryptInfo {
        message_id: header.message_id,
        key_arn: materials.key_arn.clone(),
        context: header.context,
        frame_len: header.frame_len,
        frames: count.frames,
        plaintext_bytes: count.plaintext_bytes,
        message_bytes: raw.len() as u64 + count.frame_bytes,
    })
}

/// Read, authenticate and write the frames of a message, up to its final frame, and check
/// that nothing follows it.
fn open_frames(
    keys: &MessageKeys,
    aad: &[u8],
    frame_len: u32,
    reader: &mut impl Read,
    writer: &mut impl Write,
) -> Result<FrameCount, EnvelopeError> {
    let flen = frame_len as usize;
    let mut buf = vec![0u8; flen + TAG_LEN];
    let mut count = FrameCount::default();
    loop {
        let index = count.frames;
        let (last, content_len, prefix) = read_frame_prefix(reader, index, flen)?;
        let sealed = &mut buf[..content_len + TAG_LEN];
        read_exact_or(reader, sealed, || EnvelopeError::Truncated {
            frames: index,
        })?;
        let plain = keys
            .stream
            .open_segment(index, last, aad, sealed)
            .map_err(|_| EnvelopeError::FrameAuthentication { index })?;
        count.frame_bytes += (prefix + content_len + TAG_LEN) as u64;
        count.frames += 1;
        if last {
            let mut extra = [0u8; 1];
            if read_full(reader, &mut extra)? != 0 {
                return Err(EnvelopeError::TrailingBytes);
            }
        }
        write_all(writer, plain.expose())?;
        count.plaintext_bytes += content_len as u64;
        if last {
            return Ok(count);
        }
    }
}

/// Read frame `index`'s type byte and, for the final frame, its content length. Returns
/// whether it is the final frame, its content length and the length of what was read.
fn read_frame_prefix(
    reader: &mut impl Read,
    index: u64,
    flen: usize,
) -> Result<(bool, usize, usize), EnvelopeError> {
    let truncated = || EnvelopeError::Truncated { frames: index };
    let mut kind = [0u8; 1];
    if read_full(reader, &mut kind)? == 0 {
        return Err(truncated());
    }
    match kind[0] {
        FRAME_REGULAR => return Ok((false, flen, 1)),
        FRAME_FINAL => {}
        other => {
            return Err(EnvelopeError::Malformed(format!(
                "frame {index} has type 0x{other:02x} (0x00 regular, 0x01 final)"
            )));
        }
    }
    let mut l = [0u8; 4];
    read_exact_or(reader, &mut l, truncated)?;
    let n = u32::from_be_bytes(l) as usize;
    if n > flen {
        return Err(EnvelopeError::Malformed(format!(
            "the final frame holds {n} bytes, more than the frame length {flen}"
        )));
    }
    if n == 0 && index > 0 {
        return Err(EnvelopeError::Malformed(
            "an empty final frame after other frames (not canonical)".into(),
        ));
    }
    Ok((true, n, 5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::envelope::format::EncryptedDataKey;
    use crate::envelope::keyring::{DecryptionMaterials, EncryptionMaterials};

    struct Fixed;
    impl Keyring for Fixed {
        fn id(&self) -> String {
            "fixed".into()
        }
        fn encryption_materials(
            &self,
            _: &EncryptionContext,
            _: Option<u64>,
        ) -> Result<EncryptionMaterials, EnvelopeError> {
            Ok(EncryptionMaterials {
                data_key: SecretKey::from_bytes([1; 32]),
                edks: vec![EncryptedDataKey {
                    provider_id: "fixed".into(),
                    provider_info: "k".into(),
                    ciphertext: vec![0],
                }],
            })
        }
        fn decryption_materials(
            &self,
            _: &[EncryptedDataKey],
            _: &EncryptionContext,
        ) -> Result<DecryptionMaterials, EnvelopeError> {
            Ok(DecryptionMaterials {
                data_key: SecretKey::from_bytes([1; 32]),
                key_arn: "k".into(),
            })
        }
    }

    fn seal(pt: &[u8], flen: u32) -> Vec<u8> {
        let mut m = Vec::new();
        let opts = EncryptOptions {
            frame_len: flen,
            ..Default::default()
        };
        encrypt(&Fixed, &Default::default(), pt, &mut m, &opts).unwrap();
        m
    }

    #[test]
    fn envelope_round_trip_sizes() {
        for n in [0usize, 1, 15, 16, 17, 48, 100] {
            let pt: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let m = seal(&pt, 16);
            let mut out = Vec::new();
            let info = decrypt(&Fixed, &m[..], &mut out, &Default::default()).unwrap();
            assert_eq!(out, pt);
            assert_eq!(
                info.frames,
                crate::crypto::stream::segment_count(n as u64, 16)
            );
            assert_eq!(info.message_bytes, m.len() as u64);
        }
    }

    #[test]
    fn envelope_truncation_and_extension_fail() {
        let m = seal(&[7; 40], 16);
        for cut in 0..m.len() {
            let mut out = Vec::new();
            assert!(decrypt(&Fixed, &m[..cut], &mut out, &Default::default()).is_err());
            assert!(out.len() <= 32);
        }
        let mut ext = m.clone();
        ext.push(0);
        let mut out = Vec::new();
        assert!(matches!(
            decrypt(&Fixed, &ext[..], &mut out, &Default::default()),
            Err(EnvelopeError::TrailingBytes)
        ));
        assert_eq!(out.len(), 32, "the final frame is held back");
    }
}
