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

/// Re-encrypt stored items from a volume under `FUZZ_KEY` to another key (a snapshot copy
/// under a new key reads them from chunks). The first byte picks the item: 0 a file's stored
/// bytes (fed in pieces of the second byte's size, at least 1), 1 a symlink target, 2 an
/// xattr (name, a zero byte, value), else a name (16 bytes of directory id, the encoding).
pub fn volume_rekey(data: &[u8]) {
    use crate::volume::keys::VolumeKeys;
    use crate::volume::rekey::Rekey;
    let (Some(&kind), rest) = (data.first(), data.get(1..).unwrap_or(&[])) else {
        return;
    };
    let old = VolumeKeys::derive(&SecretKey::from_bytes(FUZZ_KEY));
    let new = VolumeKeys::derive(&SecretKey::from_bytes([0x43; 32]));
    let r = Rekey {
        old: &old,
        new: &new,
    };
    match kind {
        0 => {
            let Some((&piece, bytes)) = rest.split_first() else {
                return;
            };
            let Ok(mut f) = r.file() else { return };
            let mut out = Vec::new();
            for p in bytes.chunks(usize::from(piece.max(1))) {
                if f.push(p, &mut out).is_err() {
                    return;
                }
            }
            if f.finish(&mut out).is_ok() {
                assert_eq!(out.len(), bytes.len(), "re-encryption keeps the length");
            }
        }
        1 => drop(r.symlink(rest)),
        2 => {
            let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            drop(r.xattr(&rest[..cut], rest.get(cut + 1..).unwrap_or(&[])));
        }
        _ => {
            if let (Some(d), Ok(s)) = (
                rest.get(..16),
                std::str::from_utf8(rest.get(16..).unwrap_or(&[])),
            ) {
                let d: [u8; 16] = d.try_into().expect("16 bytes");
                drop(r.name(&d, &[7; 16], s));
            }
        }
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

/// The access key id of the endpoint fuzz target's own signatures (any id verifies under
/// [`SIGV4_SECRET`]).
pub const ENDPOINT_ACCESS_KEY: &str = "AKIAFUZZFUZZFUZZFUZZ";
/// The first byte of an endpoint fuzz input that the target signs itself.
pub const ENDPOINT_SIGN: u8 = b'!';
/// In the body of an input the target signs: replaced by the id of the enabled key, of the
/// disabled key, and by a ciphertext of the enabled key under the context `{"a":"b"}`
/// (before signing, so that the fuzzer reaches the operations that take no alias).
pub const ENDPOINT_PLACEHOLDERS: [&str; 3] = ["@KEY@", "@DISABLED@", "@BLOB@"];
/// Requests answered by one KMS before the target starts over with a new home.
const ENDPOINT_ROUNDS: u32 = 20_000;

/// The endpoint fuzz target's home: a key `alias/fuzz` (enabled) and `alias/fuzz-disabled`.
struct EndpointState {
    endpoint: crate::server::Endpoint,
    /// Deleted (after the endpoint's KMS flushed its trail) when the state is dropped.
    _home: crate::server::EphemeralHome,
    /// What [`ENDPOINT_PLACEHOLDERS`] stand for.
    values: [String; 3],
    rounds: u32,
}

impl EndpointState {
    fn new() -> EndpointState {
        use crate::kms::{Kms, KmsOptions, ManualClock};
        use std::sync::Arc;
        let opts = crate::home::InitOptions {
            account_id: Some("111122223333".into()),
            region: Some("us-east-1".into()),
        };
        let home = crate::server::EphemeralHome::create(&opts).expect("a fuzzing home");
        let clock = ManualClock::new(SIGV4_TIME_SECS as i64 * 1000);
        let kms_opts = KmsOptions {
            clock: Arc::new(clock),
            passphrase: None,
            // Batches of 8192 lines: one fsync per batch, not per request.
            audit_interval: Some(std::time::Duration::from_secs(3600)),
        };
        let kms = Kms::open(home.home(), kms_opts).expect("the fuzzing KMS opens");
        let values = fuzz_keys(&kms);
        let endpoint = crate::server::Endpoint {
            kms,
            home: home.home().clone(),
            credentials: Box::new(FuzzCredentials),
            allow_reset: true,
        };
        EndpointState {
            endpoint,
            _home: home,
            values,
            rounds: 0,
        }
    }

    /// The trail of every request answered must verify (hostile input never breaks it).
    fn check_trail(&self) {
        let kms = &self.endpoint.kms;
        kms.flush_audit().expect("the fuzzing trail is written");
        if let Err(e) = crate::kms::audit::verify(kms.audit_path()) {
            panic!("the audit trail of the fuzzed endpoint does not verify: {e}");
        }
    }

    /// `body` with the placeholders replaced.
    fn substitute(&self, body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        for (p, v) in ENDPOINT_PLACEHOLDERS.iter().zip(&self.values) {
            out = replace_all(&out, p.as_bytes(), v.as_bytes());
        }
        out
    }
}

/// The fuzz home's keys: `alias/fuzz` (enabled) and `alias/fuzz-disabled`, and
/// `alias/fuzz-sign`, `alias/fuzz-mac`, `alias/fuzz-ecdh` (asymmetric and HMAC); the values of
/// [`ENDPOINT_PLACEHOLDERS`].
fn fuzz_keys(kms: &crate::kms::Kms) -> [String; 3] {
    use crate::kms::Caller;
    use crate::kms::types::{AliasRequest, CreateKeyRequest, EncryptRequest, KeyIdRequest};
    let me = Caller::from("arn:aws:iam::111122223333:root");
    let mut ids = Vec::new();
    for alias in ["alias/fuzz", "alias/fuzz-disabled"] {
        let key = kms.create_key(&me, CreateKeyRequest::default());
        let key_id = key.expect("a key").key_metadata.key_id;
        let r = AliasRequest {
            alias_name: alias.to_string(),
            target_key_id: key_id.clone(),
        };
        kms.create_alias(&me, r).expect("an alias");
        ids.push(key_id);
    }
    for (alias, spec, usage) in [
        ("alias/fuzz-sign", "ECC_NIST_P256", "SIGN_VERIFY"),
        ("alias/fuzz-mac", "HMAC_256", "GENERATE_VERIFY_MAC"),
        ("alias/fuzz-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT"),
    ] {
        let r = CreateKeyRequest {
            key_spec: Some(spec.into()),
            key_usage: Some(usage.into()),
            ..Default::default()
        };
        let key_id = kms.create_key(&me, r).expect("a key").key_metadata.key_id;
        let r = AliasRequest {
            alias_name: alias.to_string(),
            target_key_id: key_id,
        };
        kms.create_alias(&me, r).expect("an alias");
    }
    let r = EncryptRequest {
        key_id: ids[0].clone(),
        plaintext: crate::crypto::SecretBytes::from_slice(b"fuzz"),
        encryption_context: Some([("a".to_string(), "b".to_string())].into()),
        ..Default::default()
    };
    let blob = kms.encrypt(&me, r).expect("a ciphertext").ciphertext_blob;
    let r = KeyIdRequest {
        key_id: ids[1].clone(),
        grant_tokens: None,
    };
    kms.disable_key(&me, r).expect("disabled");
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD.encode(blob);
    [ids[0].clone(), ids[1].clone(), blob]
}

/// `data` with every `from` replaced by `to`.
fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Every access key's secret is [`SIGV4_SECRET`]; its principal is the account root.
struct FuzzCredentials;

impl crate::server::Credentials for FuzzCredentials {
    fn secret_for(&self, _: &str) -> Option<(crate::crypto::SecretBytes, String)> {
        let s = crate::crypto::SecretBytes::from_slice(SIGV4_SECRET.as_bytes());
        Some((s, "arn:aws:iam::111122223333:root".into()))
    }
}

/// A request as the HTTP layer hands it to the endpoint, from text: a request line
/// (`METHOD TARGET [VERSION]`), header lines (`Name: value`) up to an empty line, then the
/// body. Lines end in LF or CRLF; bytes that are not UTF-8 are replaced, as the HTTP layer
/// does with header values.
fn wire_request(data: &[u8]) -> crate::server::WireRequest {
    let (head, body) = match data.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => match data.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &[][..]),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    crate::server::WireRequest {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: bytes::Bytes::copy_from_slice(body),
        peer: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        request_id: "00000000-0000-4000-8000-00000000f022".into(),
    }
}

/// Everything from the bytes of a request to the KMS call: the request as text (see
/// `fuzz/README.md`; an input starting with [`ENDPOINT_SIGN`] is signed by the target
/// first, its [`ENDPOINT_PLACEHOLDERS`] replaced, so that mutated bodies get past the
/// signature), then authentication (SigV4 at [`SIGV4_TIME_SECS`], any access key's secret
/// being [`SIGV4_SECRET`]), `X-Amz-Target`, `Content-Type`, the request shape and the
/// operation, against a KMS on a temporary home made once (and again every 20 000
/// requests). Never a panic, never a 5xx, an error body is AWS's JSON shape, and the audit
/// trail still verifies.
pub fn endpoint_request(data: &[u8]) {
    endpoint_answer(data);
}

/// [`endpoint_request`], returning the HTTP status of the answer (for the corpus test: how
/// many seeds reach an operation and succeed).
pub fn endpoint_answer(data: &[u8]) -> u16 {
    thread_local! {
        static STATE: std::cell::RefCell<Option<EndpointState>> = const {
            std::cell::RefCell::new(None)
        };
    }
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(SIGV4_TIME_SECS);
    let (sign, data) = match data.split_first() {
        Some((&ENDPOINT_SIGN, rest)) => (true, rest),
        _ => (false, data),
    };
    let mut req = wire_request(data);
    STATE.with_borrow_mut(|state| {
        let st = state.get_or_insert_with(EndpointState::new);
        if sign {
            req.body = st.substitute(&req.body).into();
            sign_wire_request(&mut req, now);
        }
        let status = match st.endpoint.handle_at(&req, now) {
            Ok(_) => 200,
            Err(e) => {
                assert!(e.http_status() < 500, "a 5xx answer: {e:?}");
                let v: serde_json::Value =
                    serde_json::from_slice(&e.body()).expect("an error body is JSON");
                assert_eq!(v["__type"], e.code());
                e.http_status()
            }
        };
        st.rounds += 1;
        if st.rounds >= ENDPOINT_ROUNDS {
            st.check_trail();
            *state = None;
        }
        status
    })
}

/// Sign `req` (every header it has) as [`ENDPOINT_ACCESS_KEY`] for `kms` in us-east-1.
fn sign_wire_request(req: &mut crate::server::WireRequest, now: std::time::SystemTime) {
    use crate::sigv4::{Request, sign};
    req.headers
        .retain(|(n, _)| n != "authorization" && n != "x-amz-date" && !n.is_empty());
    let signed = Request {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let added = sign(
        &signed,
        "kms",
        "us-east-1",
        ENDPOINT_ACCESS_KEY,
        SIGV4_SECRET,
        now,
    );
    req.headers.extend(added);
}

/// Parse a policy document as a key policy and as an identity policy: a refusal names a
/// problem; a policy that parses is evaluated (twice, the same decision) against a request
/// carrying every kind of condition key, and goes through the lockout check.
pub fn policy_document(data: &[u8]) {
    use crate::policy::{Policy, PolicyKind, Principal, RequestContext, evaluate, lockout_check};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = "arn:aws:kms:us-east-1:111122223333:key/fuzz";
    let who = Principal::role_session("111122223333", "R", "s");
    let ec: std::collections::BTreeMap<String, String> =
        [("Dept".to_string(), "IT".to_string())].into();
    let list = ["alias/a".to_string()];
    let ctx = RequestContext {
        encryption_context: Some(&ec),
        via_service: Some("ec2.us-east-1.amazonaws.com"),
        grant_is_for_aws_resource: Some(true),
        grant_operations: &list,
        key_spec: Some("SYMMETRIC_DEFAULT"),
        request_alias: Some("alias/a"),
        resource_aliases: &list,
        source_ip: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        current_time_ms: Some(1_800_000_000_000),
        resource_tags: Some(&ec),
        ..RequestContext::new(&who, "kms:Decrypt", key)
    };
    let open = Policy::parse(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#,
        PolicyKind::Key,
    )
    .expect("the open policy parses");
    for kind in [PolicyKind::Key, PolicyKind::Identity] {
        match Policy::parse(text, kind) {
            Ok(p) => {
                let (kp, ids) = match kind {
                    PolicyKind::Key => (&p, Vec::new()),
                    PolicyKind::Identity => (&open, vec![&p]),
                };
                let d = evaluate(&ctx, kp, ids.iter().copied(), []);
                assert_eq!(d, evaluate(&ctx, kp, ids.iter().copied(), []));
                let _ = d.denial_message(&ctx);
                let _ = lockout_check(&p, &who, key);
            }
            Err(e) => assert!(!e.message().is_empty(), "a refusal without a reason"),
        }
    }
}

/// Keystore id and key id the import-parameter seeds are sealed for.
pub const FUZZ_IMPORT_IDS: ([u8; 16], [u8; 16]) = ([0x24; 16], [0x25; 16]);

/// Open bytes as a key's import parameters file (then parse its wrapping key) and as an
/// ImportToken, under [`FUZZ_KEY`].
pub fn import_params(data: &[u8]) {
    use crate::kms::import_params as ip;
    let k = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    let (ks, key) = FUZZ_IMPORT_IDS;
    if let Ok(p) = ip::open_params(&k, &ks, &key, data) {
        let _ = crate::crypto::asym::PrivateKey::from_pkcs8(p.wrapping_spec, &p.private.0);
    }
    let _ = ip::open_token(&k, &ks, data);
}

/// Parse a Parameter Store record file and, in each version, an Advanced envelope.
pub fn parameter_record(data: &[u8]) {
    use crate::secrets::params::{record, seal};
    if let Ok(r) = record::decode(data) {
        for v in &r.versions {
            if let record::Stored::Envelope(b) = &v.value {
                let _ = seal::parse_envelope(b);
            }
        }
        let _ = record::encode(&r);
    }
    let _ = seal::parse_envelope(data);
}

/// Parse a Secrets Manager record file; open each version's value under [`FUZZ_KEY`] (the
/// data key of the golden vectors) with the record's ARN; encode it again and decode that:
/// the same record (not always the same bytes: postcard takes overlong varints).
pub fn secret_record(data: &[u8]) {
    use crate::secrets::manager::{record, seal};
    if let Ok(r) = record::decode(data) {
        let k = SecretKey::from_bytes(FUZZ_KEY);
        for v in &r.versions {
            let _ = seal::open_with(&k, &r.arn, v);
        }
        let again = record::encode(&r).expect("a decoded record encodes");
        assert_eq!(
            record::decode(&again).as_ref(),
            Ok(&r),
            "a record re-encodes to another"
        );
    }
}

/// Decode a FUSE-over-io_uring request: the first 288 bytes (zero-padded) are the entry's
/// header buffer, the rest its payload (cut to the `payload_sz` the header names).
pub fn uring_request(data: &[u8]) {
    use crate::volume::uring::abi;
    let mut header = [0u8; abi::HEADER_LEN];
    let n = data.len().min(abi::HEADER_LEN);
    header[..n].copy_from_slice(&data[..n]);
    let payload = &data[n..];
    if let Ok((_, size)) = abi::ent_in_out(&header[abi::ENT_IN_OUT..]) {
        let payload = &payload[..(size as usize).min(payload.len())];
        let _ = abi::decode(
            &header[..abi::OP_IN],
            &header[abi::OP_IN..abi::ENT_IN_OUT],
            payload,
        );
    }
}
