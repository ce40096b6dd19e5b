//! Asymmetric and HMAC keys (issue 17): every key spec created and described; signatures
//! checked by OpenSSL 3 (RSA PSS/PKCS#1, ECDSA, Ed25519); RAW vs DIGEST; OpenSSL-made
//! RSA-OAEP ciphertexts decrypted; ECDH against OpenSSL; HMAC; data key pairs; the errors of
//! a key of the wrong kind. The CLI, boto3 and the AWS CLI: `kms_asym_clients.rs`.

mod common;
use common::kms::*;
use kmsfs::crypto::SecretBytes;
use kmsfs::crypto::asym::{Hash, KeySpec, PublicKey};
use kmsfs::kms::Client;
use kmsfs::kms::types::*;
use std::path::Path;
use std::process::Command;

fn create(e: &Env, spec: &str, usage: Option<&str>) -> Result<KeyMetadata, kmsfs::kms::KmsError> {
    e.c.create_key(CreateKeyRequest {
        key_spec: Some(spec.into()),
        key_usage: usage.map(Into::into),
        ..Default::default()
    })
    .map(|r| r.key_metadata)
}

fn sign(e: &Env, key: &str, alg: &str, mt: &str, msg: &[u8]) -> Vec<u8> {
    e.c.sign(SignRequest {
        key_id: key.into(),
        message: SecretBytes::from_slice(msg),
        message_type: Some(mt.into()),
        signing_algorithm: alg.into(),
        grant_tokens: None,
    })
    .unwrap()
    .signature
}

fn verify(
    e: &Env,
    key: &str,
    alg: &str,
    mt: &str,
    msg: &[u8],
    sig: &[u8],
) -> Result<VerifyResponse, kmsfs::kms::KmsError> {
    e.c.verify(VerifyRequest {
        key_id: key.into(),
        message: SecretBytes::from_slice(msg),
        message_type: Some(mt.into()),
        signature: sig.to_vec(),
        signing_algorithm: alg.into(),
        grant_tokens: None,
    })
}

fn public_pem(e: &Env, key: &str, spec: &str, dir: &Path) -> std::path::PathBuf {
    let r = e.c.get_public_key(e.kid(key)).unwrap();
    let pk = PublicKey::from_spki(KeySpec::parse(spec).unwrap(), &r.public_key).unwrap();
    let p = dir.join(format!("{key}.pem"));
    std::fs::write(&p, pk.to_pem()).unwrap();
    p
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().unwrap()
}

#[test]
fn every_spec_is_created_and_described() {
    let e = env();
    let cases = [
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("RSA_3072", "SIGN_VERIFY"),
        ("RSA_4096", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ECC_NIST_P521", "SIGN_VERIFY"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY"),
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
        ("ML_DSA_44", "SIGN_VERIFY"),
        ("ML_DSA_65", "SIGN_VERIFY"),
        ("ML_DSA_87", "SIGN_VERIFY"),
        ("HMAC_224", "GENERATE_VERIFY_MAC"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("HMAC_384", "GENERATE_VERIFY_MAC"),
        ("HMAC_512", "GENERATE_VERIFY_MAC"),
    ];
    for (spec, usage) in cases {
        let m = create(&e, spec, Some(usage)).unwrap();
        let d = e.describe(&m.key_id).unwrap();
        assert_eq!((d.key_spec.as_str(), d.key_usage.as_str()), (spec, usage));
        assert_eq!(d.customer_master_key_spec, spec);
        let has = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
        match usage {
            "SIGN_VERIFY" => assert!(has(&d.signing_algorithms), "{spec}"),
            "ENCRYPT_DECRYPT" => assert!(has(&d.encryption_algorithms), "{spec}"),
            "KEY_AGREEMENT" => assert!(has(&d.key_agreement_algorithms), "{spec}"),
            _ => assert!(has(&d.mac_algorithms), "{spec}"),
        }
    }
    // The legacy member works too.
    let m =
        e.c.create_key(CreateKeyRequest {
            customer_master_key_spec: Some("ECC_NIST_P256".into()),
            key_usage: Some("SIGN_VERIFY".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.key_metadata.key_spec, "ECC_NIST_P256");
    // Usages a spec cannot have; KeyUsage defaults to ENCRYPT_DECRYPT.
    for (spec, usage) in [
        ("ECC_NIST_P256", Some("ENCRYPT_DECRYPT")),
        ("ECC_SECG_P256K1", Some("KEY_AGREEMENT")),
        ("HMAC_256", Some("SIGN_VERIFY")),
        ("HMAC_256", None),
        ("ML_DSA_44", None),
        ("RSA_2048", Some("KEY_AGREEMENT")),
        ("SYMMETRIC_DEFAULT", Some("SIGN_VERIFY")),
    ] {
        assert_eq!(
            code(create(&e, spec, usage)),
            "ValidationException",
            "{spec}"
        );
    }
    assert_eq!(
        create(&e, "RSA_2048", None).unwrap().key_usage,
        "ENCRYPT_DECRYPT"
    );
    assert_eq!(
        code(create(&e, "RSA_1024", Some("SIGN_VERIFY"))),
        "ValidationException"
    );
    for spec in ["SM2", "ML_KEM_768"] {
        let r = create(&e, spec, Some("SIGN_VERIFY"));
        assert_eq!(code(r), "UnsupportedOperationException", "{spec}");
    }
}

#[test]
fn every_signature_verifies_with_openssl() {
    let e = env();
    let dir = e.dir.path();
    let msg = dir.join("msg");
    std::fs::write(&msg, b"a message signed by kmsfs").unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "RSA_2048",
            &[
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
            ],
        ),
        ("ECC_NIST_P256", &["ECDSA_SHA_256"]),
        ("ECC_NIST_P384", &["ECDSA_SHA_384"]),
        ("ECC_NIST_P521", &["ECDSA_SHA_512"]),
        ("ECC_SECG_P256K1", &["ECDSA_SHA_256"]),
        ("ECC_NIST_EDWARDS25519", &["ED25519_SHA_512"]),
    ];
    for (spec, algs) in cases {
        let key = create(&e, spec, Some("SIGN_VERIFY")).unwrap().key_id;
        let pem = public_pem(&e, &key, spec, dir);
        for alg in *algs {
            let sig = sign(&e, &key, alg, "RAW", &std::fs::read(&msg).unwrap());
            let sigf = dir.join("sig");
            std::fs::write(&sigf, &sig).unwrap();
            let (p, s, m) = (
                pem.to_str().unwrap(),
                sigf.to_str().unwrap(),
                msg.to_str().unwrap(),
            );
            let o = if alg.starts_with("ED25519") {
                openssl(&[
                    "pkeyutl", "-verify", "-pubin", "-inkey", p, "-rawin", "-in", m, "-sigfile", s,
                ])
            } else {
                let md = format!("-sha{}", &alg[alg.len() - 3..]);
                let mut a = vec!["dgst", md.as_str(), "-verify", p, "-signature", s];
                if alg.contains("PSS") {
                    a.extend([
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:-1",
                    ]);
                }
                a.push(m);
                openssl(&a)
            };
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success() && out.contains("Verif"),
                "{spec} {alg}: {out} {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                verify(&e, &key, alg, "RAW", b"a message signed by kmsfs", &sig)
                    .unwrap()
                    .signature_valid
            );
        }
    }
    // ED25519_PH_SHA_512 and ML-DSA: OpenSSL 3.0 has neither (ML-DSA is checked by Python
    // `cryptography` in boto3_asym_tour; Ed25519ph by nothing here but kmsfs itself).
    println!(
        "SKIPPED openssl interop for ED25519_PH_SHA_512 (OpenSSL 3.0 and cryptography lack Ed25519ph)"
    );
    let ed = create(&e, "ECC_NIST_EDWARDS25519", Some("SIGN_VERIFY"))
        .unwrap()
        .key_id;
    let d = Hash::Sha512.digest(b"m");
    let sig = sign(&e, &ed, "ED25519_PH_SHA_512", "DIGEST", &d);
    assert!(verify(&e, &ed, "ED25519_PH_SHA_512", "DIGEST", &d, &sig).is_ok());
    for spec in ["ML_DSA_44", "ML_DSA_87"] {
        let k = create(&e, spec, Some("SIGN_VERIFY")).unwrap().key_id;
        let sig = sign(&e, &k, "ML_DSA_SHAKE_256", "RAW", b"pq");
        assert!(verify(&e, &k, "ML_DSA_SHAKE_256", "RAW", b"pq", &sig).is_ok());
        let r = verify(&e, &k, "ML_DSA_SHAKE_256", "RAW", b"pQ", &sig);
        assert_eq!(code(r), "KMSInvalidSignatureException");
    }
}

#[test]
fn raw_and_digest_are_never_confused() {
    let e = env();
    let key = create(&e, "ECC_NIST_P256", Some("SIGN_VERIFY"))
        .unwrap()
        .key_id;
    let msg = b"the message";
    let hash = Hash::Sha256.digest(msg);
    let sig = sign(&e, &key, "ECDSA_SHA_256", "DIGEST", &hash);
    // A DIGEST-signed hash verifies as RAW of the message...
    assert!(
        verify(&e, &key, "ECDSA_SHA_256", "RAW", msg, &sig)
            .unwrap()
            .signature_valid
    );
    // ...and never as RAW of the hash (that would hash it twice).
    let r = verify(&e, &key, "ECDSA_SHA_256", "RAW", &hash, &sig);
    assert_eq!(code(r), "KMSInvalidSignatureException");
    // A DIGEST of the wrong length; a bad algorithm for the key; an unknown one.
    let r = e.c.sign(SignRequest {
        key_id: key.clone(),
        message: SecretBytes::from_slice(&hash[..31]),
        message_type: Some("DIGEST".into()),
        signing_algorithm: "ECDSA_SHA_256".into(),
        grant_tokens: None,
    });
    let err = r.unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    assert!(
        err.message()
            .contains("Digest is invalid length for algorithm ECDSA_SHA_256.")
    );
    let r = verify(&e, &key, "ECDSA_SHA_384", "RAW", msg, &sig);
    assert_eq!(code(r), "InvalidKeyUsageException");
    let r = verify(&e, &key, "ECDSA_SHA_999", "RAW", msg, &sig);
    assert_eq!(code(r), "ValidationException");
    // RAW messages up to 4096 bytes.
    let big = vec![7u8; 4096];
    let sig = sign(&e, &key, "ECDSA_SHA_256", "RAW", &big);
    assert!(verify(&e, &key, "ECDSA_SHA_256", "RAW", &big, &sig).is_ok());
    let r = verify(&e, &key, "ECDSA_SHA_256", "RAW", &vec![7u8; 4097], &sig);
    assert_eq!(code(r), "ValidationException");
}

#[test]
fn rsa_oaep_interoperates_with_openssl() {
    let e = env();
    let dir = e.dir.path();
    let key = create(&e, "RSA_2048", Some("ENCRYPT_DECRYPT"))
        .unwrap()
        .key_id;
    let pem = public_pem(&e, &key, "RSA_2048", dir);
    let pt = dir.join("pt");
    let ct = dir.join("ct");
    std::fs::write(&pt, b"made by openssl").unwrap();
    let o = openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        pem.to_str().unwrap(),
        "-in",
        pt.to_str().unwrap(),
        "-out",
        ct.to_str().unwrap(),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dec = |blob: Vec<u8>, alg: &str, key: Option<&str>| {
        e.c.decrypt(DecryptRequest {
            ciphertext_blob: blob,
            key_id: key.map(Into::into),
            encryption_algorithm: Some(alg.into()),
            ..Default::default()
        })
    };
    let blob = std::fs::read(&ct).unwrap();
    let r = dec(blob.clone(), "RSAES_OAEP_SHA_256", Some(&key)).unwrap();
    assert_eq!(r.plaintext.expose(), b"made by openssl");
    assert_eq!(r.encryption_algorithm, "RSAES_OAEP_SHA_256");
    // The wrong hash, no KeyId: refused.
    assert_eq!(
        code(dec(blob.clone(), "RSAES_OAEP_SHA_1", Some(&key))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(dec(blob, "RSAES_OAEP_SHA_256", None)),
        "ValidationException"
    );
    // kmsfs encrypts; size limits as AWS words them.
    let enc = |n: usize, alg: &str| {
        e.c.encrypt(EncryptRequest {
            key_id: key.clone(),
            plaintext: SecretBytes::new(vec![1; n]),
            encryption_algorithm: Some(alg.into()),
            ..Default::default()
        })
    };
    let c = enc(214, "RSAES_OAEP_SHA_1").unwrap();
    assert_eq!(c.ciphertext_blob.len(), 256);
    let back = dec(c.ciphertext_blob, "RSAES_OAEP_SHA_1", Some(&key)).unwrap();
    assert_eq!(back.plaintext.expose(), &[1u8; 214][..]);
    let err = enc(191, "RSAES_OAEP_SHA_256").unwrap_err();
    assert!(err.message().contains("Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."), "{err}");
    assert_eq!(
        code(enc(10, "SYMMETRIC_DEFAULT")),
        "InvalidKeyUsageException"
    );
    // ReEncrypt from the RSA key to a symmetric key and back.
    let sym = e.create_key();
    let c = enc(20, "RSAES_OAEP_SHA_256").unwrap().ciphertext_blob;
    let r =
        e.c.re_encrypt(ReEncryptRequest {
            ciphertext_blob: c,
            source_key_id: Some(key.clone()),
            source_encryption_algorithm: Some("RSAES_OAEP_SHA_256".into()),
            destination_key_id: sym,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.source_encryption_algorithm, "RSAES_OAEP_SHA_256");
    assert_eq!(e.decrypt(&r.ciphertext_blob, None).unwrap(), vec![1u8; 20]);
}

#[test]
fn ecdh_agrees_with_openssl() {
    let e = env();
    let dir = e.dir.path();
    let key = create(&e, "ECC_NIST_P256", Some("KEY_AGREEMENT"))
        .unwrap()
        .key_id;
    let kms_pub = public_pem(&e, &key, "ECC_NIST_P256", dir);
    let peer = dir.join("peer.pem");
    let peer_der = dir.join("peer.der");
    let secret = dir.join("secret");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    assert!(
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &s(&peer)
        ])
        .status
        .success()
    );
    assert!(
        openssl(&[
            "pkey",
            "-in",
            &s(&peer),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &s(&peer_der)
        ])
        .status
        .success()
    );
    let o = openssl(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        &s(&peer),
        "-peerkey",
        &s(&kms_pub),
        "-out",
        &s(&secret),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r =
        e.c.derive_shared_secret(DeriveSharedSecretRequest {
            key_id: key.clone(),
            key_agreement_algorithm: "ECDH".into(),
            public_key: std::fs::read(&peer_der).unwrap(),
            grant_tokens: None,
        })
        .unwrap();
    assert_eq!(
        r.shared_secret.expose(),
        &std::fs::read(&secret).unwrap()[..]
    );
    assert_eq!(r.key_origin, "AWS_KMS");
}

#[test]
fn hmac_generate_and_verify() {
    let e = env();
    for (spec, alg, len) in [
        ("HMAC_224", "HMAC_SHA_224", 28),
        ("HMAC_512", "HMAC_SHA_512", 64),
    ] {
        let key = create(&e, spec, Some("GENERATE_VERIFY_MAC"))
            .unwrap()
            .key_id;
        let g = |alg: &str| {
            e.c.generate_mac(GenerateMacRequest {
                message: SecretBytes::from_slice(b"data"),
                key_id: key.clone(),
                mac_algorithm: alg.into(),
                grant_tokens: None,
            })
        };
        let mac = g(alg).unwrap().mac;
        assert_eq!(mac.len(), len);
        assert_eq!(g(alg).unwrap().mac, mac, "deterministic");
        let v = |mac: Vec<u8>| {
            e.c.verify_mac(VerifyMacRequest {
                message: SecretBytes::from_slice(b"data"),
                key_id: key.clone(),
                mac_algorithm: alg.into(),
                mac,
                grant_tokens: None,
            })
        };
        assert!(v(mac.clone()).unwrap().mac_valid);
        let mut bad = mac.clone();
        bad[0] ^= 1;
        assert_eq!(code(v(bad)), "KMSInvalidMacException");
        assert_eq!(code(g("HMAC_SHA_256")), "InvalidKeyUsageException");
    }
}

#[test]
fn data_key_pairs_decrypt_back_and_match() {
    let e = env();
    let sym = e.create_key();
    for spec in [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
    ] {
        let r =
            e.c.generate_data_key_pair(GenerateDataKeyPairRequest {
                encryption_context: ec(&[("purpose", "pair")]),
                key_id: sym.clone(),
                key_pair_spec: spec.into(),
                grant_tokens: None,
            })
            .unwrap();
        assert_eq!(r.key_pair_spec, spec);
        let back = e
            .decrypt(&r.private_key_ciphertext_blob, ec(&[("purpose", "pair")]))
            .unwrap();
        assert_eq!(back, r.private_key_plaintext.expose());
        let k = kmsfs::crypto::asym::PrivateKey::from_pkcs8(KeySpec::parse(spec).unwrap(), &back)
            .unwrap();
        assert_eq!(k.public_key().spki(), &r.public_key[..]);
        assert!(
            e.decrypt(&r.private_key_ciphertext_blob, None).is_err(),
            "context bound"
        );
    }
    let req = |spec: &str, key: &str| GenerateDataKeyPairRequest {
        key_id: key.into(),
        key_pair_spec: spec.into(),
        ..Default::default()
    };
    let w =
        e.c.generate_data_key_pair_without_plaintext(req("ECC_NIST_P384", &sym))
            .unwrap();
    assert!(!w.private_key_ciphertext_blob.is_empty());
    assert_eq!(
        code(e.c.generate_data_key_pair(req("ED25519", &sym))),
        "ValidationException"
    );
    let rsa = create(&e, "RSA_2048", Some("ENCRYPT_DECRYPT"))
        .unwrap()
        .key_id;
    assert_eq!(
        code(e.c.generate_data_key_pair(req("RSA_2048", &rsa))),
        "InvalidKeyUsageException"
    );
}

#[test]
fn keys_of_the_wrong_kind_are_refused_as_aws_does() {
    let e = env();
    let sym = e.create_key();
    let signer = create(&e, "ECC_NIST_P256", Some("SIGN_VERIFY")).unwrap();
    let hmac = create(&e, "HMAC_256", Some("GENERATE_VERIFY_MAC"))
        .unwrap()
        .key_id;
    let rsa = create(&e, "RSA_2048", Some("ENCRYPT_DECRYPT"))
        .unwrap()
        .key_id;
    let enc = e.c.encrypt(EncryptRequest {
        key_id: signer.key_id.clone(),
        plaintext: SecretBytes::from_slice(b"x"),
        ..Default::default()
    });
    let err = enc.unwrap_err();
    assert_eq!(err.code(), "InvalidKeyUsageException");
    assert_eq!(
        err.message(),
        format!(
            "{} key usage is SIGN_VERIFY which is not valid for Encrypt.",
            signer.arn
        )
    );
    assert_eq!(
        code(e.c.generate_data_key(aes_256(&rsa))),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(e.c.generate_data_key(aes_256(&hmac))),
        "InvalidKeyUsageException"
    );
    let s = |k: &str| {
        e.c.sign(SignRequest {
            key_id: k.into(),
            message: SecretBytes::from_slice(b"m"),
            signing_algorithm: "ECDSA_SHA_256".into(),
            ..Default::default()
        })
    };
    assert_eq!(code(s(&sym)), "InvalidKeyUsageException");
    assert_eq!(code(s(&rsa)), "InvalidKeyUsageException");
    let mac = e.c.generate_mac(GenerateMacRequest {
        message: SecretBytes::from_slice(b"m"),
        key_id: sym.clone(),
        mac_algorithm: "HMAC_SHA_256".into(),
        grant_tokens: None,
    });
    assert_eq!(code(mac), "InvalidKeyUsageException");
    assert_eq!(
        code(e.c.get_public_key(e.kid(&sym))),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(e.c.get_public_key(e.kid(&hmac))),
        "UnsupportedOperationException"
    );
    // Rotation: symmetric keys only.
    for k in [&signer.key_id, &hmac, &rsa] {
        let r = e.c.enable_key_rotation(EnableKeyRotationRequest {
            key_id: k.clone(),
            rotation_period_in_days: None,
        });
        assert_eq!(code(r), "UnsupportedOperationException");
        assert_eq!(
            code(e.c.rotate_key_on_demand(e.kid(k))),
            "UnsupportedOperationException"
        );
    }
    // Grants: only the operations of the key's kind.
    let grant = |k: &str, op: &str| {
        e.c.create_grant(CreateGrantRequest {
            key_id: k.into(),
            grantee_principal: "arn:aws:iam::111122223333:user/bob".into(),
            operations: vec![op.into()],
            ..Default::default()
        })
    };
    assert_eq!(code(grant(&sym, "Sign")), "ValidationException");
    assert_eq!(
        code(grant(&signer.key_id, "Encrypt")),
        "ValidationException"
    );
    assert!(grant(&signer.key_id, "Sign").is_ok());
    assert!(grant(&hmac, "GenerateMac").is_ok());
    // A disabled signing key cannot sign.
    e.c.disable_key(e.kid(&signer.key_id)).unwrap();
    assert_eq!(code(s(&signer.key_id)), "DisabledException");
}
