//! Imported key material through its front ends: the recipe a user follows from the AWS docs
//! with the real `openssl` (RSAES-OAEP and RSA_AES_KEY_WRAP) through the CLI, OpenSSL-made
//! HMAC and private-key material, boto3 and the remote client over a real `kmsfs serve`.

mod common;
use common::cli::{fails, init, kmsfs, run_ok, s};
use common::kms::{Env, env};
use common::mount::tool_or_skip;
use common::serve::{Server, aws_tool, check, python_or_skip};
use kmsfs::crypto::asym::{HmacKey, KeySpec, MacAlgorithm, PrivateKey};
use kmsfs::crypto::import_wrap::{self, WrappingAlgorithm};
use kmsfs::crypto::{SecretBytes, hex};
use kmsfs::kms::Client;
use kmsfs::kms::types::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
#[path = "kms_import/helpers.rs"]
mod helpers;
use helpers::*;

/// `kmsfs kms get-parameters-for-import` writing PublicKey and ImportToken to `dir`.
fn cli_params(home: &Path, key: &str, alg: &str, dir: &Path) -> Value {
    run_ok(
        home,
        &[
            "kms",
            "get-parameters-for-import",
            "--key-id",
            key,
            "--wrapping-algorithm",
            alg,
            "--wrapping-key-spec",
            "RSA_2048",
            "--public-key-file",
            s(&dir.join("WrappingPublicKey.der")),
            "--import-token-file",
            s(&dir.join("ImportToken.bin")),
        ],
    )
}

/// Wrap `material` (a file in `dir`) as the AWS docs say, with openssl.
fn openssl_wrap(dir: &Path, material: &str, alg: &str) {
    let path = |n: &str| s(&dir.join(n)).to_string();
    let pubkey = path("WrappingPublicKey.der");
    let oaep = |input: &str, out: &str| {
        openssl(&[
            "pkeyutl",
            "-encrypt",
            "-in",
            input,
            "-out",
            out,
            "-inkey",
            &pubkey,
            "-keyform",
            "DER",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ])
    };
    if alg == "RSAES_OAEP_SHA_256" {
        oaep(&path(material), &path("EncryptedKeyMaterial.bin"));
        return;
    }
    // RSA_AES_KEY_WRAP_SHA_256: an AES key, OAEP-wrapped, then the material under AES-KWP.
    openssl(&["rand", "-out", &path("aes-key.bin"), "32"]);
    let aes_hex = hex(&std::fs::read(dir.join("aes-key.bin")).unwrap());
    openssl(&[
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        &aes_hex,
        "-iv",
        "A65959A6",
        "-in",
        &path(material),
        "-out",
        &path("material-wrapped.bin"),
    ]);
    oaep(&path("aes-key.bin"), &path("aes-key-wrapped.bin"));
    let mut all = std::fs::read(dir.join("aes-key-wrapped.bin")).unwrap();
    all.extend(std::fs::read(dir.join("material-wrapped.bin")).unwrap());
    std::fs::write(dir.join("EncryptedKeyMaterial.bin"), all).unwrap();
}

fn cli_import(home: &Path, key: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let wrapped = format!("fileb://{}", s(&dir.join("EncryptedKeyMaterial.bin")));
    let token = format!("fileb://{}", s(&dir.join("ImportToken.bin")));
    let mut args = vec![
        "kms",
        "import-key-material",
        "--key-id",
        key,
        "--encrypted-key-material",
        &wrapped,
        "--import-token",
        &token,
    ];
    args.extend_from_slice(extra);
    kmsfs(home, &args)
}

fn cli_encrypt(home: &Path, key: &str) -> String {
    let r = run_ok(
        home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            key,
            "--plaintext",
            "hello byok",
        ],
    );
    r["CiphertextBlob"].as_str().unwrap().to_string()
}

fn cli_decrypt(home: &Path, blob: &str) -> Vec<u8> {
    b64(&run_ok(home, &["kms", "decrypt", "--ciphertext-blob", blob])["Plaintext"])
}

#[test]
fn the_aws_docs_openssl_recipe_through_the_cli() {
    if !tool_or_skip("the_aws_docs_openssl_recipe_through_the_cli", "openssl") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let home = init(&d.path().join("a"));
    let work = d.path();
    let made = run_ok(&home, &["kms", "create-key", "--origin", "EXTERNAL"]);
    let key = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(made["KeyMetadata"]["KeyState"], "PendingImport");
    let p = cli_params(&home, &key, "RSAES_OAEP_SHA_256", work);
    assert_eq!(
        b64(&p["PublicKey"]),
        std::fs::read(work.join("WrappingPublicKey.der")).unwrap()
    );
    assert_eq!(
        b64(&p["ImportToken"]),
        std::fs::read(work.join("ImportToken.bin")).unwrap()
    );
    openssl(&["rand", "-out", s(&work.join("material.bin")), "32"]);
    openssl_wrap(work, "material.bin", "RSAES_OAEP_SHA_256");
    let out = cli_import(
        &home,
        &key,
        work,
        &["--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE"],
    );
    let r = common::cli::ok(&out);
    assert!(r["KeyMaterialId"].as_str().unwrap().len() == 64, "{r}");
    let blob = cli_encrypt(&home, &key);
    assert_eq!(cli_decrypt(&home, &blob), b"hello byok");

    // A second home with the same key id and the same material decrypts it: that is BYOK.
    let material = std::fs::read(work.join("material.bin")).unwrap();
    let home_b = init(&d.path().join("b"));
    let seed = work.join("seed.toml");
    std::fs::write(
        &seed,
        format!(
            "[[keys]]\nkey_id = \"{key}\"\nkey_material = [\"{}\"]\n",
            hex(&material)
        ),
    )
    .unwrap();
    run_ok(&home_b, &["kms", "seed", s(&seed)]);
    assert_eq!(cli_decrypt(&home_b, &blob), b"hello byok");

    // Other material is refused; deleted, the key is pending import; the same comes back.
    openssl(&["rand", "-out", s(&work.join("other.bin")), "32"]);
    cli_params(&home, &key, "RSA_AES_KEY_WRAP_SHA_256", work);
    openssl_wrap(work, "other.bin", "RSA_AES_KEY_WRAP_SHA_256");
    fails(
        &cli_import(&home, &key, work, &[]),
        5,
        "IncorrectKeyMaterialException",
    );
    run_ok(
        &home,
        &["kms", "delete-imported-key-material", "--key-id", &key],
    );
    let o = kmsfs(
        &home,
        &["kms", "encrypt", "--key-id", &key, "--plaintext", "x"],
    );
    let err = fails(&o, 5, "is pending import.");
    assert!(err.contains("import-key-material"), "{err}");
    openssl_wrap(work, "material.bin", "RSA_AES_KEY_WRAP_SHA_256");
    let valid_to = "2099-01-01T00:00:00Z";
    let o = cli_import(
        &home,
        &key,
        work,
        &[
            "--expiration-model",
            "KEY_MATERIAL_EXPIRES",
            "--valid-to",
            valid_to,
        ],
    );
    fails(&o, 5, "365 days");
    common::cli::ok(&cli_import(&home, &key, work, &[]));
    assert_eq!(cli_decrypt(&home, &blob), b"hello byok");
}

#[test]
fn hmac_and_private_key_material_from_openssl() {
    if !tool_or_skip("hmac_and_private_key_material_from_openssl", "openssl") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let work = d.path();
    // HMAC: imported material MACs as `openssl mac` does.
    let material = [0x5au8; 48];
    let key = HmacKey::from_material(KeySpec::Hmac256, &material).unwrap();
    std::fs::write(work.join("msg"), b"imported hmac").unwrap();
    let o = Command::new("openssl")
        .args(["mac", "-digest", "SHA256", "-macopt"])
        .arg(format!("hexkey:{}", hex(&material)))
        .args(["-in", s(&work.join("msg")), "HMAC"])
        .output()
        .unwrap();
    let want = String::from_utf8(o.stdout)
        .unwrap()
        .trim()
        .to_ascii_lowercase();
    let got = key.mac(MacAlgorithm::HmacSha256, b"imported hmac").unwrap();
    assert_eq!(hex(&got), want);
    // RSA and ECC: openssl's PKCS#8 DER, wrapped with RSA_AES_KEY_WRAP, unwrapped as made.
    let wrapping = PrivateKey::generate(KeySpec::Rsa3072).unwrap();
    for (spec, alg) in [
        (
            KeySpec::Rsa2048,
            vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
        (
            KeySpec::EccNistP256,
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
    ] {
        let pem = work.join("k.pem");
        let der = work.join("k.der");
        let mut args = vec!["genpkey"];
        args.extend(alg);
        args.extend(["-out", s(&pem)]);
        openssl(&args);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            s(&pem),
            "-outform",
            "DER",
            "-out",
            s(&der),
        ]);
        let pkcs8 = std::fs::read(&der).unwrap();
        let w = import_wrap::wrap(
            &wrapping.public_key(),
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &pkcs8,
        )
        .unwrap();
        let back =
            import_wrap::unwrap(&wrapping, WrappingAlgorithm::RsaAesKeyWrapSha256, &w).unwrap();
        let k = PrivateKey::from_pkcs8(spec, back.expose()).unwrap();
        openssl(&[
            "pkey",
            "-in",
            s(&pem),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            s(&der),
        ]);
        assert_eq!(k.public_key().spki(), std::fs::read(&der).unwrap());
    }
}

// ----- boto3 over a real endpoint ------------------------------------------------------------

#[test]
fn boto3_imports_over_the_endpoint() {
    let Some(bin) = python_or_skip("boto3_imports_over_the_endpoint") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let s = Server::start(&home, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/boto3_import.py");
    let o = aws_tool(&bin, "python3", &s.endpoint)
        .arg(script)
        .output()
        .unwrap();
    let out = check(&o, "boto3_import.py");
    assert!(out.contains("boto3 import: all ok"), "{out}");
    s.stop();
    run_ok(&home, &["audit", "verify"]);
}

#[test]
fn the_remote_client_imports_over_the_endpoint() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let s = Server::start(&home, &[]);
    let c = common::serve::remote(&s.endpoint);
    let key = c
        .create_key(CreateKeyRequest {
            origin: Some("EXTERNAL".into()),
            ..Default::default()
        })
        .unwrap()
        .key_metadata
        .key_id;
    let p = c
        .get_parameters_for_import(GetParametersForImportRequest {
            key_id: key.clone(),
            wrapping_algorithm: "RSA_AES_KEY_WRAP_SHA_1".into(),
            wrapping_key_spec: "RSA_2048".into(),
        })
        .unwrap();
    let w = wrap(&p, "RSA_AES_KEY_WRAP_SHA_1", &[0x77; 32]);
    let mut r = import_req(&key, &p.import_token, w);
    r.import_token[25] ^= 1;
    let err = c.import_key_material(r.clone()).unwrap_err();
    assert_eq!(err.code(), "InvalidImportTokenException", "{err}");
    r.import_token[25] ^= 1;
    c.import_key_material(r).unwrap();
    let blob = c
        .encrypt(EncryptRequest {
            key_id: key.clone(),
            plaintext: SecretBytes::from_slice(b"remote"),
            ..Default::default()
        })
        .unwrap()
        .ciphertext_blob;
    let del = c.delete_imported_key_material(DeleteImportedKeyMaterialRequest {
        key_id: key,
        key_material_id: None,
    });
    assert!(del.unwrap().key_material_id.is_some());
    let err = c
        .decrypt(DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.message().ends_with("is pending import."), "{err}");
    s.stop();
}

// ----- golden vectors of the sealed parameters and the token -----------------------------

/// An EXTERNAL key of `spec`/`usage` holding `material` (imported with RSA_AES_KEY_WRAP).
fn imported(e: &Env, spec: &str, usage: &str, material: &[u8]) -> String {
    let key =
        e.c.create_key(CreateKeyRequest {
            origin: Some("EXTERNAL".into()),
            key_spec: Some(spec.into()),
            key_usage: Some(usage.into()),
            ..Default::default()
        })
        .unwrap()
        .key_metadata
        .key_id;
    let alg = "RSA_AES_KEY_WRAP_SHA_256";
    let p = params(e, &key, alg);
    e.c.import_key_material(import_req(&key, &p.import_token, wrap(&p, alg, material)))
        .unwrap();
    key
}

#[test]
fn imported_material_works_through_the_kms_as_openssl_made_it() {
    if !tool_or_skip(
        "imported_material_works_through_the_kms_as_openssl_made_it",
        "openssl",
    ) {
        return;
    }
    let e = env();
    let d = tempfile::tempdir().unwrap();
    let work = d.path();
    let msg = work.join("msg");
    std::fs::write(&msg, b"made by openssl, used by the kms").unwrap();
    // HMAC: GenerateMac with imported material is `openssl mac`'s value; VerifyMac takes it.
    let material = [0x3cu8; 40];
    let key = imported(&e, "HMAC_256", "GENERATE_VERIFY_MAC", &material);
    let o = Command::new("openssl")
        .args(["mac", "-digest", "SHA256", "-macopt"])
        .arg(format!("hexkey:{}", hex(&material)))
        .args(["-in", s(&msg), "HMAC"])
        .output()
        .unwrap();
    let want = String::from_utf8(o.stdout)
        .unwrap()
        .trim()
        .to_ascii_lowercase();
    let message = SecretBytes::from_slice(&std::fs::read(&msg).unwrap());
    let mac =
        e.c.generate_mac(GenerateMacRequest {
            message: message.clone(),
            key_id: key.clone(),
            mac_algorithm: "HMAC_SHA_256".into(),
            grant_tokens: None,
        })
        .unwrap()
        .mac;
    assert_eq!(hex(&mac), want);
    // ECDSA P-256: OpenSSL's key imported; OpenSSL's signature verifies in the KMS, and
    // the KMS's signature verifies in OpenSSL.
    let pem = work.join("k.pem");
    let der = work.join("k.der");
    let args = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    openssl(&[&["genpkey"][..], &args, &["-out", s(&pem)]].concat());
    let to_der = ["-outform", "DER", "-out", s(&der)];
    openssl(
        &[
            &["pkcs8", "-topk8", "-nocrypt", "-in", s(&pem)][..],
            &to_der,
        ]
        .concat(),
    );
    let key = imported(
        &e,
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        &std::fs::read(&der).unwrap(),
    );
    let sig = work.join("sig");
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        s(&pem),
        "-out",
        s(&sig),
        s(&msg),
    ]);
    let verify = |signature: Vec<u8>| {
        e.c.verify(VerifyRequest {
            key_id: key.clone(),
            message: message.clone(),
            message_type: None,
            signature,
            signing_algorithm: "ECDSA_SHA_256".into(),
            grant_tokens: None,
        })
    };
    assert!(
        verify(std::fs::read(&sig).unwrap())
            .unwrap()
            .signature_valid
    );
    let mut bad = std::fs::read(&sig).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(code(verify(bad)).0, "KMSInvalidSignatureException");
    let ours =
        e.c.sign(SignRequest {
            key_id: key.clone(),
            message: message.clone(),
            message_type: None,
            grant_tokens: None,
            signing_algorithm: "ECDSA_SHA_256".into(),
        })
        .unwrap()
        .signature;
    std::fs::write(&sig, ours).unwrap();
    let pubf = work.join("pub.pem");
    openssl(&["pkey", "-in", s(&pem), "-pubout", "-out", s(&pubf)]);
    let o = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            s(&pubf),
            "-signature",
            s(&sig),
            s(&msg),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
