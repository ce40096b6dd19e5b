//! Golden vectors for the volume formats (`tests/vectors/volume.json`): HKDF subkeys, an
//! encrypted name, a file's encrypted blocks (full unit, stolen tail, short tail), a sealed
//! volume header; and bad inputs that must be refused. Regenerate (only when the format
//! changes on purpose) with `KMSFS_REGEN_VECTORS=1 cargo test --test volume_vectors`.

mod common;
use common::pattern::pattern as plaintext;
use common::vectors::{self, backing_name, bytes, encrypted_file};
use kmsfs::crypto::{SecretKey, hex, sha256};
use kmsfs::volume::content::tweak;
use kmsfs::volume::header::{HeaderBody, VolumeHeader};
use kmsfs::volume::keys::VolumeKeys;
use kmsfs::volume::names;
use serde_json::{Value, json};
use std::ffi::OsStr;

const DEK: [u8; 32] = [0x11; 32];
const DIRID: [u8; 16] = [0x22; 16];
const FILE_ID: [u8; 16] = [0x33; 16];

fn compute() -> Value {
    let dek = SecretKey::from_bytes(DEK);
    let keys = VolumeKeys::derive(&dek);
    let name = backing_name(&keys, &DIRID, "hello.txt");
    let long = names::encrypt(&keys.names, &DIRID, OsStr::new(&"L".repeat(200)));
    let (long_backing, long_full) = match long {
        names::Stored::Long { backing, full } => (backing.into_string().unwrap(), full),
        names::Stored::Direct(_) => unreachable!(),
    };
    // A backing file of 8192 + 27 bytes of plaintext: two full units and one with a stolen
    // tail: units of 4096, 4096, then 27 bytes, built through the real code.
    let backing = encrypted_file(&keys, &FILE_ID, &plaintext(8192 + 27));
    // A file whose last unit is 5 bytes (the short keystream).
    let backing2 = encrypted_file(&keys, &FILE_ID, &plaintext(4096 + 5));
    let h = VolumeHeader {
        volume_id: "vol-0123456789abcdef0".into(),
        size: 1 << 30,
        created_ms: 1_800_000_000_000,
        encrypted: true,
        body: HeaderBody {
            kms_key_arn: Some(
                "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"
                    .into(),
            ),
            wrapped_dek: Some(vec![0xAB; 88]),
            dek_context: [(
                "aws:ebs:id".to_string(),
                "vol-0123456789abcdef0".to_string(),
            )]
            .into(),
            snapshot_id: None,
        },
    };
    let header = h.encode(Some(&VolumeKeys::header_mac(&dek)));
    json!({
        "dek": hex(&DEK),
        "dirid": hex(&DIRID),
        "file_id": hex(&FILE_ID),
        "subkeys": {
            "header_mac": hex(VolumeKeys::header_mac(&dek).expose()),
        },
        "name": {"plaintext": "hello.txt", "backing": name},
        "long_name": {"plaintext": "L".repeat(200), "backing": long_backing, "sidecar": long_full},
        "tweak_of_block_2": format!("{:032x}", tweak(&FILE_ID, 2)),
        "file": {
            "plaintext": "bytes i % 251 for i in 0..8219",
            "backing_len": backing.len(),
            "header": hex(&backing[..32]),
            "block0_first32": hex(&backing[32..64]),
            "block2_tail27": hex(&backing[32 + 8192..]),
            "sha256": hex(&sha256(&backing)),
        },
        "short_tail_file": {
            "plaintext": "bytes i % 251 for i in 0..4101",
            "tail5": hex(&backing2[32 + 4096..]),
            "sha256": hex(&sha256(&backing2)),
        },
        "volume_header": hex(&header),
    })
}

#[test]
fn volume_vectors() {
    vectors::check("volume", "the volume formats", compute());
}

#[test]
fn volume_vectors_decode_and_bad_inputs_are_refused() {
    let v = vectors::load("volume");
    let dek = SecretKey::from_slice(&bytes(&v["dek"])).unwrap();
    let keys = VolumeKeys::derive(&dek);
    let dirid: [u8; 16] = bytes(&v["dirid"]).try_into().unwrap();
    let name = v["name"]["backing"].as_str().unwrap();
    assert_eq!(
        names::decrypt(&keys.names, &dirid, name).unwrap(),
        "hello.txt"
    );
    // The same name under another directory id, or with a flipped character, is refused.
    assert!(names::decrypt(&keys.names, &[0x23; 16], name).is_none());
    let mut bad = name.to_string().into_bytes();
    bad[3] = if bad[3] == b'A' { b'B' } else { b'A' };
    assert!(names::decrypt(&keys.names, &dirid, std::str::from_utf8(&bad).unwrap()).is_none());
    assert_eq!(
        names::decrypt(
            &keys.names,
            &dirid,
            v["long_name"]["sidecar"].as_str().unwrap()
        )
        .unwrap(),
        OsStr::new(&"L".repeat(200))
    );
    // The header parses, verifies, and every flipped byte is refused.
    let hb = bytes(&v["volume_header"]);
    let mac = VolumeKeys::header_mac(&dek);
    let h = VolumeHeader::parse_unverified(&hb).unwrap();
    assert_eq!(
        (h.volume_id.as_str(), h.size, h.encrypted),
        ("vol-0123456789abcdef0", 1 << 30, true)
    );
    VolumeHeader::verify_seal(&hb, Some(&mac)).unwrap();
    for i in 0..hb.len() {
        let mut b = hb.clone();
        b[i] ^= 0x01;
        let ok = VolumeHeader::parse_unverified(&b).is_ok()
            && VolumeHeader::verify_seal(&b, Some(&mac)).is_ok();
        assert!(!ok, "header with byte {i} flipped was accepted");
    }
    assert!(
        VolumeHeader::verify_seal(&hb, Some(&SecretKey::from_bytes([0x12; 32]))).is_err(),
        "another DEK"
    );
    for n in 0..hb.len() {
        let ok = VolumeHeader::parse_unverified(&hb[..n]).is_ok()
            && VolumeHeader::verify_seal(&hb[..n], Some(&mac)).is_ok();
        assert!(!ok, "header truncated to {n} accepted");
    }
}
