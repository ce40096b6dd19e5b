//! Entry points for the fuzz targets in `fuzz/` (and for the test that replays their
//! checked-in corpora). Each takes arbitrary bytes and must never panic.

use crate::crypto::{AeadKey, SecretKey};
use crate::kms::{audit, blob, record};

/// Fixed key the fuzzers authenticate against (so that well-formed seeds reach the AEAD).
pub const FUZZ_KEY: [u8; 32] = [0x42; 32];

/// Parse a KMS ciphertext blob and try to open it.
pub fn blob(data: &[u8]) {
    if let Ok(b) = blob::Blob::parse(data) {
        let k = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
        let _ = b.open(&k, &Default::default());
    }
}

/// Parse and open a sealed keystore record.
pub fn keystore_record(data: &[u8]) {
    let k = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    if let Ok(id) = record::parse_header(data) {
        let _ = record::open(&k, data, &id);
    }
}

/// Verify an audit trail (the first 8 bytes, if any, pick the head's seq).
pub fn audit_trail(data: &[u8]) {
    let head = data.get(..8).map(|b| audit::Head {
        seq: u64::from_le_bytes(b.try_into().expect("8 bytes")) % 64,
        hash: String::new(),
    });
    let _ = audit::verify_bytes(data.get(8..).unwrap_or(&[]), head);
}

/// Parse a volume header and check its seal under a fixed key.
pub fn volume_header(data: &[u8]) {
    use crate::volume::header::VolumeHeader;
    if VolumeHeader::parse_unverified(data).is_ok() {
        let _ = VolumeHeader::verify_seal(data, Some(&SecretKey::from_bytes(FUZZ_KEY)));
        let _ = VolumeHeader::verify_seal(data, None);
    }
}

/// Decode an on-disk file name (the first 16 bytes pick the directory id).
pub fn volume_name(data: &[u8]) {
    let k = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    let dirid: [u8; 16] = match data.get(..16) {
        Some(d) => d.try_into().expect("16 bytes"),
        None => return,
    };
    if let Ok(s) = std::str::from_utf8(&data[16..]) {
        let _ = crate::volume::names::decrypt(&k, &dirid, s);
    }
}

/// Decode a snapshot manifest; one that decodes must encode to bytes that decode to it again.
pub fn snapshot_manifest(data: &[u8]) {
    use crate::snapshot::Manifest;
    if let Ok(m) = Manifest::decode(data) {
        let again = Manifest::decode(&m.encode()).expect("a decoded manifest re-encodes validly");
        assert_eq!(again, m, "the manifest changed through encode and decode");
    }
}

/// Parse an object file, then open it with `FUZZ_KEY` as its data key (and, for SSE-C, as
/// the caller's key); a header that parses must parse the same after re-encoding.
pub fn object_file(data: &[u8]) {
    use crate::object::format::{self, HEADER_TAG_LEN, Header};
    if let Ok((h, len)) = Header::parse(data) {
        let mut again = h.encode_untagged();
        again.extend_from_slice(&data[len - HEADER_TAG_LEN..len]);
        let (h2, _) = Header::parse(&again).expect("a parsed header re-encodes validly");
        assert_eq!(h2, h, "the header changed through encode and parse");
        let k = SecretKey::from_bytes(FUZZ_KEY);
        let _ = format::open_object(data, &k);
        let _ = format::open_sse_c_object(data, &k, "aws");
    }
}

/// The keyring of the envelope fuzz target: every wrapped key unwraps to [`FUZZ_KEY`].
pub struct FuzzKeyring;

impl crate::envelope::Keyring for FuzzKeyring {
    fn id(&self) -> String {
        "fuzz".into()
    }

    fn encryption_materials(
        &self,
        _: &crate::kms::EncryptionContext,
        _: Option<u64>,
    ) -> Result<crate::envelope::EncryptionMaterials, crate::envelope::EnvelopeError> {
        Ok(crate::envelope::EncryptionMaterials {
            data_key: SecretKey::from_bytes(FUZZ_KEY),
            edks: vec![crate::envelope::EncryptedDataKey {
                provider_id: "aws-kms".into(),
                provider_info: "arn:aws:kms:us-east-1:111122223333:key/fuzz".into(),
                ciphertext: vec![0xab; 88],
            }],
        })
    }

    fn decryption_materials(
        &self,
        _: &[crate::envelope::EncryptedDataKey],
        _: &crate::kms::EncryptionContext,
    ) -> Result<crate::envelope::DecryptionMaterials, crate::envelope::EnvelopeError> {
        Ok(crate::envelope::DecryptionMaterials {
            data_key: SecretKey::from_bytes(FUZZ_KEY),
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/fuzz".into(),
        })
    }
}

/// Parse an envelope message's header (one that parses must encode to the bytes it was
/// parsed from), then decrypt the whole message under [`FUZZ_KEY`]: never a panic, and on
/// success the plaintext's length is what the frames say.
pub fn envelope_message(data: &[u8]) {
    use crate::envelope::{self, Header};
    if let Ok((h, n)) = Header::parse(data) {
        assert_eq!(
            h.encode(),
            data[..n],
            "a parsed header re-encodes differently"
        );
    }
    let mut out = Vec::new();
    if let Ok(info) = envelope::decrypt(&FuzzKeyring, data, &mut out, &Default::default()) {
        assert_eq!(info.plaintext_bytes, out.len() as u64);
        assert_eq!(info.message_bytes, data.len() as u64);
    }
}

/// The time of the request the SigV4 fuzz target verifies (2015-08-30T12:36:00Z).
pub const SIGV4_TIME_SECS: u64 = 1_440_938_160;
/// The secret of every access key, for the SigV4 fuzz target.
pub const SIGV4_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The body of the request the SigV4 fuzz target verifies.
pub const SIGV4_BODY: &[u8] = b"{\"KeyId\":\"alias/fuzz\"}";

/// The headers of the request the SigV4 fuzz target verifies, but its `Authorization`.
pub fn sigv4_headers() -> Vec<(String, String)> {
    [
        ("host", "127.0.0.1:5125"),
        ("x-amz-date", "20150830T123600Z"),
        ("x-amz-target", "TrentService.DescribeKey"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect()
}

/// Parse an `Authorization` header (one that parses must parse the same after being
/// written out again), then verify a fixed `kms` request carrying it, every access key's
/// secret being [`SIGV4_SECRET`].
pub fn sigv4_header(data: &[u8]) {
    use crate::sigv4::{self, Request};
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = sigv4::parse_authorization(value) {
        let again = a.to_header();
        assert_eq!(
            sigv4::parse_authorization(&again).as_ref(),
            Ok(&a),
            "a parsed Authorization header parses differently once written out"
        );
    }
    let mut headers = sigv4_headers();
    headers.push(("authorization".into(), value.into()));
    let req = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: SIGV4_BODY,
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(SIGV4_TIME_SECS);
    let _ = sigv4::verify(&req, "kms", now, |_| {
        Some(crate::crypto::SecretBytes::from_slice(
            SIGV4_SECRET.as_bytes(),
        ))
    });
}

/// Parse an AWS config or credentials file (`~/.aws/config`): a parse that succeeds must
/// give the same sections when the file is read again.
pub fn aws_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let a = crate::awsconfig::parse(&text, "fuzz");
    let b = crate::awsconfig::parse(&text, "fuzz");
    assert_eq!(a.is_ok(), b.is_ok());
    if let (Ok(a), Ok(b)) = (a, b) {
        assert_eq!(a, b);
    }
}

/// Parse and validate a seed file (TOML): a file that parses has unique key ids, and a
/// refusal names the file.
pub fn seed_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::kms::Seed::parse(text, "fuzz.toml") {
        Ok(s) => assert!(s.len() <= text.len(), "more keys than bytes"),
        Err(e) => assert!(
            e.message().starts_with("seed file fuzz.toml"),
            "a refusal that does not name the file: {e}"
        ),
    }
}
