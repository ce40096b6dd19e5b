//! Replays the checked-in fuzz corpora (`fuzz/corpus/<target>/`) and pseudo-random inputs
//! through the fuzz entry points: none may panic. With `KMSFS_REGEN_CORPUS=1` it first
//! regenerates the seeds (deterministically) from the real encoders: the `seed-*` files are
//! replaced, any other file (a crash kept as a regression input, `crash-*`) is left alone.

mod common;
use common::pattern::xorshift;
use kmsfs::crypto::{AeadKey, SecretKey, hex, sha256};
use kmsfs::fuzzing::{self, FUZZ_KEY};
use kmsfs::kms::audit::{self, AuditEvent, AuditLine, GENESIS, Head};
use kmsfs::kms::{blob, record};
use kmsfs::snapshot::Manifest;
use kmsfs::snapshot::manifest::{CHUNK, Entry, EntryKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "fuzz_corpus/config.rs"]
mod config;
#[path = "fuzz_corpus/endpoint.rs"]
mod endpoint;
#[path = "fuzz_corpus/formats.rs"]
mod formats;
use formats::{envelope_seeds, manifest_seeds, object_seeds};
#[allow(dead_code)]
#[path = "policy_eval/policies.rs"]
mod policies;
#[path = "fuzz_corpus/policy.rs"]
mod policy;
#[path = "fuzz_corpus/rekey.rs"]
mod rekey;
#[path = "fuzz_corpus/uring.rs"]
mod uring;
use config::{aws_config_seeds, seed_file_seeds};

type Target = (&'static str, fn(&[u8]));
const TARGETS: &[Target] = &[
    ("blob", fuzzing::blob),
    ("keystore_record", fuzzing::keystore_record),
    ("parameter_record", fuzzing::parameter_record),
    ("secret_record", fuzzing::secret_record),
    ("audit_trail", fuzzing::audit_trail),
    ("volume_header", fuzzing::volume_header),
    ("volume_name", fuzzing::volume_name),
    ("volume_rekey", fuzzing::volume_rekey),
    ("snapshot_manifest", fuzzing::snapshot_manifest),
    ("object_file", fuzzing::object_file),
    ("envelope_message", fuzzing::envelope_message),
    ("sigv4_header", fuzzing::sigv4_header),
    ("aws_config", fuzzing::aws_config),
    ("seed_file", fuzzing::seed_file),
    ("endpoint_request", fuzzing::endpoint_request),
    ("policy_document", fuzzing::policy_document),
    ("import_params", fuzzing::import_params),
    ("uring_request", fuzzing::uring_request),
];

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

pub(crate) fn damaged(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if !v.is_empty() {
        let mut f = v.to_vec();
        f[v.len() / 2] ^= 0x40;
        out.push(f);
        out.push(v[..v.len() - 1].to_vec());
    }
    let mut e = v.to_vec();
    e.push(0);
    out.push(e);
    out
}

/// A valid record with `versions` materials (for the extra keystore seeds).
fn record_seed(id: u8, versions: u32) -> record::KeyRecord {
    record::KeyRecord {
        key_id: [id; 16],
        created_ms: 1_800_000_000_000,
        description: format!("fuzz seed {id}"),
        state: record::KeyState::Enabled,
        manager: record::KeyManager::Customer,
        deletion_ms: None,
        pending_window_days: None,
        rotation: None,
        materials: (1..=versions)
            .map(|v| record::Material {
                version: v,
                id: [v as u8 ^ id; 32],
                created_ms: 1_800_000_000_000 + i64::from(v),
                origin: record::MaterialOrigin::Created,
                secret: record::KeySecret::Aes256(record::Material32(zeroize::Zeroizing::new(
                    [v as u8 ^ id; 32],
                ))),
            })
            .collect(),
        tags: [("k".to_string(), "v".to_string())].into(),
        policy: "{}".into(),
        spec: None,
        usage: record::KeyUsage::EncryptDecrypt,
        origin: record::Origin::AwsKms,
        multi_region: None,
        imported: None,
    }
}

/// A sealed record with the header naming `id`, whatever `plain` holds (the layout of
/// `record::seal`, which always takes the id from the record).
/// Records of format version 2's kinds: asymmetric, HMAC, imported (pending and with
/// expiry), multi-Region; and one whose material does not match its spec (refused).
fn v2_record_seeds(key: &AeadKey) -> Vec<Vec<u8>> {
    use kmsfs::crypto::asym::KeySpec;
    use record::{Imported, KeySecret, KeyState, KeyUsage, MultiRegion, Origin, SecretVec};
    let secret = |n: usize, b: u8| SecretVec(zeroize::Zeroizing::new(vec![b; n]));
    let mut out = Vec::new();
    let mut rec = record_seed(20, 1);
    rec.spec = Some(KeySpec::EccNistP256);
    rec.usage = KeyUsage::SignVerify;
    rec.materials[0].secret = KeySecret::Private(secret(138, 0x30));
    out.push(rec.clone());
    rec.key_id = [21; 16];
    rec.spec = Some(KeySpec::Hmac256);
    rec.usage = KeyUsage::GenerateVerifyMac;
    rec.materials[0].secret = KeySecret::Hmac(secret(32, 0x48));
    out.push(rec.clone());
    let mut rec = record_seed(22, 1);
    rec.origin = Origin::External;
    rec.imported = Some(Imported {
        valid_to_ms: Some(1_900_000_000_000),
        fingerprint: Some([0x22; 32]),
    });
    out.push(rec.clone());
    rec.key_id = [23; 16];
    rec.materials.clear();
    rec.state = KeyState::PendingImport;
    rec.imported = Some(Imported {
        valid_to_ms: None,
        fingerprint: None,
    });
    out.push(rec);
    let mut rec = record_seed(24, 2);
    rec.state = KeyState::PendingReplicaDeletion;
    rec.multi_region = Some(MultiRegion {
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into(), "ap-south-1".into()],
    });
    rec.usage = KeyUsage::KeyAgreement;
    out.push(rec);
    let mut rec = record_seed(25, 1);
    rec.spec = Some(KeySpec::Hmac512);
    out.push(rec);
    out.iter()
        .enumerate()
        .map(|(i, r)| record::seal(key, r, &[0x40 + i as u8; 12]).unwrap())
        .collect()
}

fn seal_record_raw(key: &AeadKey, id: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let nonce = [14u8; 12];
    let mut out = record::MAGIC.to_vec();
    out.push(record::VERSION);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(id);
    out.extend_from_slice(&nonce);
    let header = out.clone();
    key.seal_into(&nonce, &header, plain, &mut out).unwrap();
    out
}

fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let key = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    // Blobs.
    let mut blobs = Vec::new();
    for (i, n) in [0usize, 1, 32, 4096].iter().enumerate() {
        let ec: kmsfs::kms::EncryptionContext = Default::default();
        let b = blob::seal(
            &key,
            &[i as u8; 16],
            1 + i as u32,
            &[7; 12],
            &ec,
            &vec![0x5a; *n],
        )
        .unwrap();
        blobs.extend(damaged(&b));
        blobs.push(b);
    }
    // One of each header error, on the 1-byte blob.
    for (off, byte) in [
        (0, b'X'), // bad magic
        (4, 9),    // bad version
        (5, 2),    // bad algorithm
        (6, 1),    // reserved not zero
        (27, 0),   // key-material version 0 (it was 2, big-endian)
    ] {
        let mut bad = blobs[7].clone();
        bad[off] = byte;
        blobs.push(bad);
    }
    // Keystore records.
    let mut recs = Vec::new();
    for versions in [1u32, 3] {
        let rec = record::KeyRecord {
            key_id: [versions as u8; 16],
            created_ms: 1_800_000_000_000,
            description: "fuzz seed".into(),
            state: record::KeyState::Enabled,
            manager: record::KeyManager::Customer,
            deletion_ms: None,
            pending_window_days: None,
            rotation: Some(record::AutoRotation {
                period_days: 365,
                next_ms: 1_900_000_000_000,
            }),
            materials: (1..=versions)
                .map(|v| record::Material {
                    version: v,
                    id: [v as u8; 32],
                    created_ms: 1_800_000_000_000,
                    origin: record::MaterialOrigin::Created,
                    secret: record::KeySecret::Aes256(record::Material32(zeroize::Zeroizing::new(
                        [v as u8; 32],
                    ))),
                })
                .collect(),
            tags: [("team".to_string(), "storage".to_string())].into(),
            policy: "{}".into(),
            spec: None,
            usage: record::KeyUsage::EncryptDecrypt,
            origin: record::Origin::AwsKms,
            multi_region: None,
            imported: None,
        };
        let s = record::seal(&key, &rec, &[9; 12]).unwrap();
        recs.extend(damaged(&s));
        recs.push(s);
    }
    // Every other enum variant and option, so the decoder sees them all.
    let mut rec = record_seed(4, 2);
    rec.state = record::KeyState::PendingDeletion;
    rec.manager = record::KeyManager::Aws;
    rec.deletion_ms = Some(1_800_600_000_000);
    rec.pending_window_days = Some(7);
    rec.rotation = None;
    rec.materials[1].origin = record::MaterialOrigin::OnDemandRotation;
    rec.tags.clear();
    rec.description = String::new();
    let s = record::seal(&key, &rec, &[10; 12]).unwrap();
    // One of each header error.
    for (off, byte) in [(0, b'X'), (4, 3), (5, 1)] {
        let mut bad = s.clone();
        bad[off] = byte;
        recs.push(bad);
    }
    recs.push(s);
    let mut rec = record_seed(5, 3);
    rec.state = record::KeyState::Disabled;
    rec.materials[1].origin = record::MaterialOrigin::AutomaticRotation;
    rec.tags.insert("owner".into(), "ops".into());
    rec.policy = r#"{"Version":"2012-10-17","Statement":[]}"#.into();
    recs.push(record::seal(&key, &rec, &[11; 12]).unwrap());
    recs.extend(v2_record_seeds(&key));
    // Authentic but refused after decryption: no material, versions 1, 3, a record naming
    // another key, and plaintext that is not a postcard KeyRecord.
    let mut rec = record_seed(6, 1);
    rec.materials.clear();
    recs.push(record::seal(&key, &rec, &[12; 12]).unwrap());
    let mut rec = record_seed(7, 2);
    rec.materials[1].version = 3;
    recs.push(record::seal(&key, &rec, &[13; 12]).unwrap());
    let rec = record_seed(8, 1);
    recs.push(seal_record_raw(
        &key,
        &[0x88; 16],
        &postcard::to_allocvec(&rec).unwrap(),
    ));
    recs.push(seal_record_raw(&key, &[9; 16], b"not postcard"));
    // Audit trails: 8-byte head seq prefix, then chained lines.
    let mut trails = Vec::new();
    let mut body = Vec::new();
    let mut prev = GENESIS.to_string();
    for seq in 1..=4u64 {
        let e = AuditEvent {
            time_ms: 1_800_000_000_000 + seq as i64,
            request_id: format!("00000000-0000-4000-8000-00000000000{seq}"),
            principal: Arc::from("arn:aws:iam::111122223333:root"),
            on_behalf_of: None,
            operation: "Decrypt",
            event_source: None,
            resource_arn: None,
            aws_region: None,
            source_ip_address: None,
            user_agent: None,
            key_arn: Some(
                "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"
                    .into(),
            ),
            destination_key_arn: None,
            encryption_context: Some([("k".to_string(), "v".to_string())].into()),
            destination_encryption_context: None,
            error: (seq == 3).then(|| ("InvalidCiphertextException", "wrong context".to_string())),
        };
        let line = serde_json::to_vec(&AuditLine::from_event(&e, seq, &prev)).unwrap();
        prev = hex(&sha256(&line));
        body.extend_from_slice(&line);
        body.push(b'\n');
        let mut t = (seq).to_le_bytes().to_vec();
        t.extend_from_slice(&body);
        trails.push(t);
    }
    let full = trails.last().unwrap().clone();
    trails.extend(damaged(&full));
    let lines: Vec<&[u8]> = body.split_inclusive(|&b| b == b'\n').collect();
    let trail = |head: u64, ls: &[&[u8]]| {
        let mut t = head.to_le_bytes().to_vec();
        ls.iter().for_each(|l| t.extend_from_slice(l));
        t
    };
    trails.push(trail(0, &lines)); // head seq 0: no hash to check
    trails.push(trail(9, &lines)); // head beyond the end: lines cut
    trails.push(trail(4, &[lines[0], lines[2], lines[1], lines[3]])); // reordered
    trails.push(trail(3, &[lines[0], lines[1], lines[3]])); // one removed
    trails.push(trail(3, &lines[1..])); // the first removed
    trails.push(trail(4, &[lines[0], b"{}\n", lines[2], lines[3]])); // not an audit line
    trails.push(trail(2, &[lines[0], b"\xff\xfe\n"])); // not UTF-8
    trails.push(trail(2, &[lines[0], lines[1], &lines[2][..40]])); // torn tail
    trails.push(3u64.to_le_bytes()[..5].to_vec()); // no complete head prefix
    trails.push(0u64.to_le_bytes().to_vec()); // an empty trail
    // A ReEncrypt line: the optional destination fields too.
    let e = AuditEvent {
        time_ms: 1_800_000_000_000,
        request_id: "00000000-0000-4000-8000-000000000009".into(),
        principal: Arc::from("arn:aws:iam::111122223333:user/alice"),
        on_behalf_of: None,
        operation: "ReEncrypt",
        event_source: None,
        resource_arn: None,
        aws_region: None,
        source_ip_address: None,
        user_agent: None,
        key_arn: Some("arn:aws:kms:us-east-1:111122223333:key/a".into()),
        destination_key_arn: Some("arn:aws:kms:us-east-1:111122223333:key/b".into()),
        encryption_context: Some([("a".to_string(), "1".to_string())].into()),
        destination_encryption_context: Some([("b".to_string(), "2".to_string())].into()),
        error: None,
    };
    for (head, prev) in [(0u64, GENESIS), (1, &"f".repeat(64))] {
        // Verifies (head seq 0); then a first line that does not start the chain.
        let mut t = head.to_le_bytes().to_vec();
        serde_json::to_writer(&mut t, &AuditLine::from_event(&e, 1, prev)).unwrap();
        t.push(b'\n');
        trails.push(t);
    }
    // Volume headers.
    let mut headers = Vec::new();
    for encrypted in [false, true] {
        let h = kmsfs::volume::header::VolumeHeader {
            volume_id: "vol-0123456789abcdef0".into(),
            size: 1 << 30,
            created_ms: 1_800_000_000_000,
            encrypted,
            body: kmsfs::volume::header::HeaderBody {
                kms_key_arn: encrypted
                    .then(|| "arn:aws:kms:us-east-1:111122223333:key/x".to_string()),
                wrapped_dek: encrypted.then(|| vec![0xab; 88]),
                dek_context: [(
                    "aws:ebs:id".to_string(),
                    "vol-0123456789abcdef0".to_string(),
                )]
                .into(),
                snapshot_id: None,
            },
        };
        let b = h.encode(Some(&SecretKey::from_bytes(FUZZ_KEY)));
        headers.extend(damaged(&b));
        headers.push(b);
    }
    // Names: 16-byte directory id, then the encoded name.
    let mut names = Vec::new();
    for n in ["hello.txt", "a", &"L".repeat(180)] {
        let d = [0x22u8; 16];
        let enc = match kmsfs::volume::names::encrypt(&key, &d, std::ffi::OsStr::new(n)) {
            kmsfs::volume::names::Stored::Direct(s) => s.into_string().unwrap(),
            kmsfs::volume::names::Stored::Long { full, .. } => full,
        };
        let mut v = d.to_vec();
        v.extend_from_slice(enc.as_bytes());
        names.extend(damaged(&v));
        names.push(v);
    }
    // Snapshot manifests: valid ones, damaged copies, and one of each error decode reports.
    let mut manifests = Vec::new();
    let valid = manifest_seeds();
    for m in &valid {
        let b = m.encode();
        manifests.extend(damaged(&b));
        manifests.push(b);
    }
    let small = valid[0].encode();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = small.clone();
        f(&mut b);
        b
    };
    manifests.push(with(&|b| b[0] = b'X')); // bad magic
    manifests.push(with(&|b| b[8] = 2)); // version 2
    manifests.push(small[..9].to_vec()); // shorter than the header
    let changed = |f: &dyn Fn(&mut Manifest)| {
        let mut m = valid[2].clone();
        f(&mut m);
        m.encode()
    };
    manifests.push(changed(&|m| m.entries.swap(1, 2))); // a child before its directory
    manifests.push(changed(&|m| m.entries[3].size -= 1)); // one chunk too many
    manifests.push(changed(&|m| m.encrypted = true)); // encrypted without a key
    manifests.push(changed(&|m| {
        m.entries.remove(0); // no root first
    }));
    manifests.push(changed(&|m| m.entries.clear())); // no root at all
    manifests.push(changed(&|m| m.entries[1].path = b"../d".to_vec())); // bad path
    manifests.push(changed(&|m| {
        let d = m.entries[1].clone();
        m.entries.push(d); // a directory twice
    }));
    manifests.push(changed(&|m| m.entries[4].chunks = vec![[7; 32]])); // a link with chunks
    vec![
        ("blob", blobs),
        ("keystore_record", recs),
        ("audit_trail", trails),
        ("volume_header", headers),
        ("volume_name", names),
        ("volume_rekey", rekey::seeds()),
        ("snapshot_manifest", manifests),
        ("object_file", object_seeds()),
        ("envelope_message", envelope_seeds()),
        ("sigv4_header", sigv4_seeds()),
        ("aws_config", aws_config_seeds()),
        ("seed_file", seed_file_seeds()),
        ("endpoint_request", endpoint::seeds()),
        ("policy_document", policy::policy_seeds()),
        ("import_params", import_seeds()),
        ("parameter_record", parameter_seeds()),
        ("secret_record", secret_seeds()),
        ("uring_request", uring::seeds()),
    ]
}

/// Parameter records: the golden vectors' good and bad files.
fn parameter_seeds() -> Vec<Vec<u8>> {
    let v = common::vectors::load("ssm");
    let mut out = Vec::new();
    for kind in ["good", "bad"] {
        for g in v[kind].as_array().unwrap() {
            out.push(common::vectors::bytes(&g["file"]));
        }
    }
    out
}

/// Secret records: the golden vectors' good and bad files (their versions sealed under
/// `FUZZ_KEY`, so the fuzzer reaches the AEAD).
fn secret_seeds() -> Vec<Vec<u8>> {
    let v = common::vectors::load("secretsmanager");
    let mut out = Vec::new();
    for kind in ["good", "bad"] {
        for g in v[kind].as_array().unwrap() {
            out.push(common::vectors::bytes(&g["file"]));
        }
    }
    out
}

/// Import parameters files and ImportTokens sealed under `FUZZ_KEY` (the wrapping key of
/// the golden vectors, so the seeds stay the same), and damaged copies.
fn import_seeds() -> Vec<Vec<u8>> {
    use kmsfs::crypto::asym::KeySpec;
    use kmsfs::crypto::import_wrap::WrappingAlgorithm;
    use kmsfs::kms::import_params::{self as ip, ImportParams, ImportToken};
    let key = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    let (ks, id) = fuzzing::FUZZ_IMPORT_IDS;
    let v = common::vectors::load("import");
    let pkcs8 = common::vectors::bytes(&v["inputs"]["wrapping_pkcs8"]);
    let mut out = Vec::new();
    for (i, alg) in ["RSAES_OAEP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]
        .iter()
        .enumerate()
    {
        let algorithm = WrappingAlgorithm::parse(alg).unwrap();
        let p = ImportParams {
            params_id: [i as u8; 16],
            expires_ms: 1_800_000_000_000,
            algorithm,
            wrapping_spec: KeySpec::Rsa2048,
            private: record::SecretVec(zeroize::Zeroizing::new(pkcs8.clone())),
        };
        out.push(ip::seal_params(&key, &ks, &id, &p, &[i as u8; 12]).unwrap());
        let t = ImportToken {
            key_id: id,
            params_id: p.params_id,
            expires_ms: p.expires_ms,
            algorithm,
            wrapping_spec: KeySpec::Rsa2048,
            public_key_sha256: sha256(&pkcs8),
        };
        out.push(ip::seal_token(&key, &ks, &t, &[i as u8; 12]).unwrap());
    }
    let damaged_copies: Vec<Vec<u8>> = out.iter().flat_map(|s| damaged(s)).collect();
    out.extend(damaged_copies);
    out
}

/// The `Authorization` header of the fuzz target's request, signed by `akid`.
fn sigv4_signed(akid: &str) -> String {
    use kmsfs::server::sigv4::{Request, sign};
    let headers = fuzzing::sigv4_headers();
    let req = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: fuzzing::SIGV4_BODY,
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(fuzzing::SIGV4_TIME_SECS);
    let out = sign(&req, "kms", "us-east-1", akid, fuzzing::SIGV4_SECRET, now);
    out.into_iter()
        .find(|(n, _)| n == "authorization")
        .unwrap()
        .1
}

/// Authorization headers: valid ones (verifying under the fuzz target's secret), damaged
/// copies, and one of each parse or scope refusal.
fn sigv4_seeds() -> Vec<Vec<u8>> {
    let good = sigv4_signed("AKIDEXAMPLE");
    let mut out: Vec<String> = vec![
        good.clone(),
        sigv4_signed("testing"),
        good.replace(", ", ","),
    ];
    for (from, to) in [
        ("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "),
        (", Signature=", ", Signature=0, Signature="),
        (", Signature=", ", Other=1, Signature="),
        ("/20150830/", "/20150831/"),
        ("/kms/", "/s3/"),
        ("host;", "x-amz-target;host;"),
        ("host;", ""),
        ("aws4_request", "aws4_request/"),
        ("AKIDEXAMPLE", "AKID/EXAMPLE"),
    ] {
        out.push(good.replace(from, to));
    }
    out.push(good.to_uppercase());
    let mut seeds: Vec<Vec<u8>> = out.into_iter().map(String::into_bytes).collect();
    seeds.extend(damaged(good.as_bytes()));
    seeds
}

#[test]
fn corpora_replay_without_panics() {
    if std::env::var("KMSFS_REGEN_CORPUS").is_ok() {
        for (target, list) in seeds() {
            let dir = corpus(target);
            std::fs::create_dir_all(&dir).unwrap();
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("seed-")
                {
                    std::fs::remove_file(p).unwrap();
                }
            }
            for s in list {
                std::fs::write(dir.join(format!("seed-{}", &hex(&sha256(&s))[..16])), s).unwrap();
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut seen = Vec::new();
    for d in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dir = d.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (_, f) = TARGETS
            .iter()
            .find(|(t, _)| *t == name)
            .unwrap_or_else(|| panic!("{}: no fuzz target of that name", dir.display()));
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            f(&std::fs::read(e.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n >= 4, "{}: only {n} inputs", dir.display());
        seen.push(name);
    }
    for (target, _) in TARGETS {
        assert!(
            seen.iter().any(|s| s == target),
            "fuzz/corpus/{target}/ is missing"
        );
    }
}

/// The checked-in seeds still get past the AEAD and the parsers (so a changed format or
/// `FUZZ_KEY` cannot leave the fuzzers stuck at the first check without notice).
#[test]
fn corpora_reach_the_decoders() {
    let key = AeadKey::new(&SecretKey::from_bytes(FUZZ_KEY));
    let files = |t: &str| {
        std::fs::read_dir(corpus(t))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect::<Vec<_>>()
    };
    let blobs = files("blob");
    let opened = blobs
        .iter()
        .filter_map(|b| blob::Blob::parse(b).ok())
        .filter(|b| b.open(&key, &Default::default()).is_ok())
        .count();
    assert!(opened >= 4, "only {opened} blob seeds open under FUZZ_KEY");
    let recs = files("keystore_record");
    let opened = recs
        .iter()
        .filter(|r| record::parse_header(r).is_ok_and(|id| record::open(&key, r, &id).is_ok()))
        .count();
    assert!(
        opened >= 4,
        "only {opened} keystore seeds open under FUZZ_KEY"
    );
    let (ks, id) = fuzzing::FUZZ_IMPORT_IDS;
    let imports = files("import_params");
    use kmsfs::kms::import_params as ip;
    let params = imports
        .iter()
        .filter(|b| ip::open_params(&key, &ks, &id, b).is_ok());
    let tokens = imports
        .iter()
        .filter(|b| ip::open_token(&key, &ks, b).is_ok());
    assert!(
        params.count() >= 2 && tokens.count() >= 2,
        "import seeds do not open"
    );
    let trails = files("audit_trail");
    let chained = trails
        .iter()
        .filter(|t| t.len() > 8 && t[..8] == [0; 8])
        .filter(|t| {
            audit::verify_bytes(
                &t[8..],
                Some(Head {
                    seq: 0,
                    hash: String::new(),
                }),
            )
            .is_ok_and(|r| r.lines > 0)
        })
        .count();
    assert!(chained >= 2, "only {chained} audit seeds verify");
    let decoded = files("snapshot_manifest")
        .iter()
        .filter(|m| Manifest::decode(m).is_ok())
        .count();
    assert!(decoded >= 4, "only {decoded} snapshot seeds decode");
    let fk = SecretKey::from_bytes(FUZZ_KEY);
    let opened = files("object_file")
        .iter()
        .filter(|o| {
            kmsfs::object::format::open_object(o, &fk).is_ok()
                || kmsfs::object::format::open_sse_c_object(o, &fk, "aws").is_ok()
        })
        .count();
    assert!(
        opened >= 5,
        "only {opened} object seeds open under FUZZ_KEY"
    );
    let opened = files("envelope_message")
        .iter()
        .filter(|m| {
            kmsfs::envelope::decrypt(
                &fuzzing::FuzzKeyring,
                &m[..],
                std::io::sink(),
                &Default::default(),
            )
            .is_ok()
        })
        .count();
    assert!(opened >= 4, "only {opened} envelope seeds decrypt");
    let parsed = files("seed_file")
        .iter()
        .filter(|f| kmsfs::kms::Seed::parse(&String::from_utf8_lossy(f), "t").is_ok())
        .count();
    assert!(parsed >= 3, "only {parsed} seed file seeds parse");
    policy::seeds_parse(&files("policy_document"));
    let ops = kmsfs::server::OPERATIONS.len();
    let answered = files("endpoint_request")
        .iter()
        .filter(|r| fuzzing::endpoint_answer(r) == 200)
        .count();
    assert!(
        answered >= ops,
        "only {answered} endpoint seeds succeed (of {ops} operations, each sent twice)"
    );
}

#[test]
fn random_inputs_never_panic() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x = xorshift(x);
        x
    };
    let seeds = seeds();
    for (target, f) in TARGETS {
        let base = &seeds.iter().find(|(t, _)| t == target).unwrap().1;
        for i in 0..3000 {
            // Mutate a seed: flip, cut, or splice random bytes.
            let mut v = base[i % base.len()].clone();
            match next() % 3 {
                0 if !v.is_empty() => {
                    let p = next() as usize % v.len();
                    v[p] = next() as u8;
                }
                1 => v.truncate(next() as usize % (v.len() + 1)),
                _ => v.extend((0..next() % 64).map(|_| next() as u8)),
            }
            f(&v);
        }
        // Fresh bytes: wholly random, and random after a seed's first 8..=64 bytes (so
        // that some get past the magic and version checks).
        for i in 0..3000 {
            let len = next() as usize % 600;
            let mut v: Vec<u8> = if i % 2 == 0 {
                Vec::new()
            } else {
                let s = &base[i % base.len()];
                s[..s.len().min(8 + next() as usize % 57)].to_vec()
            };
            v.extend((0..len).map(|_| next() as u8));
            f(&v);
        }
    }
}

/// The SigV4 seeds that should verify still do (so the fuzzer reaches the HMAC).
#[test]
fn sigv4_seeds_reach_the_signature_check() {
    let verified = std::fs::read_dir(corpus("sigv4_header"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .filter(|h| {
            let mut headers = fuzzing::sigv4_headers();
            headers.push(("authorization".into(), String::from_utf8_lossy(h).into()));
            let req = kmsfs::server::sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: fuzzing::SIGV4_BODY,
            };
            let now =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(fuzzing::SIGV4_TIME_SECS);
            let secret = |_: &str| {
                Some(kmsfs::crypto::SecretBytes::from_slice(
                    fuzzing::SIGV4_SECRET.as_bytes(),
                ))
            };
            kmsfs::server::sigv4::verify(&req, "kms", now, secret).is_ok()
        })
        .count();
    assert!(verified >= 3, "only {verified} SigV4 seeds verify");
}
