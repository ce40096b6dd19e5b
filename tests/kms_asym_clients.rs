//! Asymmetric and HMAC keys (issue 17) through their front ends: the CLI (sign, verify,
//! public key as PEM checked by OpenSSL), and boto3 and the AWS CLI over a real `kmsfs serve`.
//! The kms layer's own tests are in `kms_asym.rs`.

mod common;
use common::cli::{init, run_ok};
use common::serve::*;
use kmsfs::kms::types::b64;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().unwrap()
}

#[test]
fn the_cli_signs_verifies_and_exports_the_public_key() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let k = run_ok(
        &home,
        &[
            "kms",
            "create-key",
            "--key-spec",
            "ECC_NIST_P384",
            "--key-usage",
            "SIGN_VERIFY",
        ],
    );
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let msg = d.path().join("msg");
    std::fs::write(&msg, b"signed on the command line").unwrap();
    let m = format!("fileb://{}", msg.display());
    let sig = run_ok(
        &home,
        &[
            "kms",
            "sign",
            "--key-id",
            &id,
            "--message",
            &m,
            "--signing-algorithm",
            "ECDSA_SHA_384",
        ],
    );
    let sig = sig["Signature"].as_str().unwrap().to_string();
    let v = run_ok(
        &home,
        &[
            "kms",
            "verify",
            "--key-id",
            &id,
            "--message",
            &m,
            "--signing-algorithm",
            "ECDSA_SHA_384",
            "--signature",
            &sig,
        ],
    );
    assert_eq!(v["SignatureValid"], true);
    let pem = d.path().join("pub.pem");
    let p = run_ok(
        &home,
        &[
            "kms",
            "get-public-key",
            "--key-id",
            &id,
            "--pem-file",
            pem.to_str().unwrap(),
        ],
    );
    assert_eq!(p["KeySpec"], "ECC_NIST_P384");
    let sigf = d.path().join("sig");
    std::fs::write(&sigf, b64::decode(&sig).unwrap()).unwrap();
    let o = openssl(&[
        "dgst",
        "-sha384",
        "-verify",
        pem.to_str().unwrap(),
        "-signature",
        sigf.to_str().unwrap(),
        msg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A bad signature: the error's name, exit non-zero.
    let o = common::cli::kmsfs(
        &home,
        &[
            "kms",
            "verify",
            "--key-id",
            &id,
            "--message",
            "other",
            "--signing-algorithm",
            "ECDSA_SHA_384",
            "--signature",
            &sig,
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("KMSInvalidSignatureException"));
    let h = run_ok(
        &home,
        &[
            "kms",
            "create-key",
            "--key-spec",
            "HMAC_384",
            "--key-usage",
            "GENERATE_VERIFY_MAC",
        ],
    );
    let hid = h["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let mac = run_ok(
        &home,
        &[
            "kms",
            "generate-mac",
            "--key-id",
            &hid,
            "--message",
            "hi",
            "--mac-algorithm",
            "HMAC_SHA_384",
        ],
    );
    let mac = mac["Mac"].as_str().unwrap().to_string();
    let v = run_ok(
        &home,
        &[
            "kms",
            "verify-mac",
            "--key-id",
            &hid,
            "--message",
            "hi",
            "--mac-algorithm",
            "HMAC_SHA_384",
            "--mac",
            &mac,
        ],
    );
    assert_eq!(v["MacValid"], true);
    let sym = run_ok(&home, &["kms", "create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let p = run_ok(
        &home,
        &[
            "kms",
            "generate-data-key-pair",
            "--key-id",
            &sym,
            "--key-pair-spec",
            "RSA_2048",
        ],
    );
    assert!(p["PrivateKeyPlaintext"].is_string() && p["PublicKey"].is_string());
    let w = run_ok(
        &home,
        &[
            "kms",
            "generate-data-key-pair-without-plaintext",
            "--key-id",
            &sym,
            "--key-pair-spec",
            "ECC_NIST_P256",
        ],
    );
    assert!(w.get("PrivateKeyPlaintext").is_none());
}

#[test]
fn boto3_asym_tour_and_an_aws_cli_sign() {
    let Some(bin) = python_or_skip("boto3_asym_tour_and_an_aws_cli_sign") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let s = Server::start(&home, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/asym_tour.py");
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .arg(&script)
        .output()
        .unwrap();
    let out = check(&o, "asym_tour.py");
    assert!(out.contains("asym tour: all ok"), "{out}");
    assert!(out.contains("ml-dsa verified by cryptography"), "{out}");
    let aws = |args: &[&str]| aws_json(&bin, &s.endpoint, args);
    let k = aws(&[
        "kms",
        "create-key",
        "--key-spec",
        "RSA_3072",
        "--key-usage",
        "SIGN_VERIFY",
    ]);
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let msg = d.path().join("msg");
    std::fs::write(&msg, b"aws cli").unwrap();
    let m = format!("fileb://{}", msg.display());
    let sig = aws(&[
        "kms",
        "sign",
        "--key-id",
        &id,
        "--message",
        &m,
        "--signing-algorithm",
        "RSASSA_PSS_SHA_256",
    ]);
    let sig = sig["Signature"].as_str().unwrap().to_string();
    let sigf = d.path().join("sig");
    std::fs::write(&sigf, b64::decode(&sig).unwrap()).unwrap();
    let v = aws(&[
        "kms",
        "verify",
        "--key-id",
        &id,
        "--message",
        &m,
        "--signing-algorithm",
        "RSASSA_PSS_SHA_256",
        "--signature",
        &format!("fileb://{}", sigf.display()),
    ]);
    assert_eq!(v["SignatureValid"], true);
    s.stop();
}
