//! Replays the checked-in fuzz corpora (`fuzz/corpus/<target>/`) and pseudo-random inputs
//! through the fuzz entry points: none may panic. With `KMSFS_REGEN_CORPUS=1` it first
//! regenerates the seeds (deterministically) from the real encoders.

use kmsfs::crypto::{AeadKey, SecretKey, hex, sha256};
use kmsfs::fuzzing::{self, FUZZ_KEY};
use kmsfs::kms::audit::{AuditEvent, AuditLine, GENESIS};
use kmsfs::kms::{blob, record};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Target = (&'static str, fn(&[u8]));
const TARGETS: &[Target] = &[
    ("blob", fuzzing::blob),
    ("keystore_record", fuzzing::keystore_record),
    ("audit_trail", fuzzing::audit_trail),
    ("volume_header", fuzzing::volume_header),
    ("volume_name", fuzzing::volume_name),
];

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn damaged(v: &[u8]) -> Vec<Vec<u8>> {
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
    let mut bad = blobs[0].clone();
    bad[4] = 9;
    blobs.push(bad);
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
                    secret: record::Material32(zeroize::Zeroizing::new([v as u8; 32])),
                })
                .collect(),
            tags: [("team".to_string(), "storage".to_string())].into(),
            policy: "{}".into(),
        };
        let s = record::seal(&key, &rec, &[9; 12]).unwrap();
        recs.extend(damaged(&s));
        recs.push(s);
    }
    // Audit trails: 8-byte head seq prefix, then chained lines.
    let mut trails = Vec::new();
    let mut body = Vec::new();
    let mut prev = GENESIS.to_string();
    for seq in 1..=4u64 {
        let e = AuditEvent {
            time_ms: 1_800_000_000_000 + seq as i64,
            request_id: format!("00000000-0000-4000-8000-00000000000{seq}"),
            principal: Arc::from("arn:aws:iam::111122223333:root"),
            operation: "Decrypt",
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
    vec![
        ("blob", blobs),
        ("keystore_record", recs),
        ("audit_trail", trails),
        ("volume_header", headers),
        ("volume_name", names),
    ]
}

#[test]
fn corpora_replay_without_panics() {
    if std::env::var("KMSFS_REGEN_CORPUS").is_ok() {
        for (target, list) in seeds() {
            let dir = corpus(target);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for s in list {
                std::fs::write(dir.join(format!("seed-{}", &hex(&sha256(&s))[..16])), s).unwrap();
            }
        }
    }
    for (target, f) in TARGETS {
        let dir = corpus(target);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            f(&std::fs::read(e.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n >= 4, "{target}: only {n} seeds");
    }
}

#[test]
fn random_inputs_never_panic() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
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
    }
}
