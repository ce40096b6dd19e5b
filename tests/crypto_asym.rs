//! The asymmetric and HMAC crypto layer (`kmsfs::crypto::asym`): round trips for every key
//! spec and algorithm, AWS's RAW / DIGEST semantics, refusals, interop with the `openssl`
//! CLI both ways, Project Wycheproof vectors, and a sign/verify throughput print.

mod common;

use std::path::Path;
use std::process::Command;

use kmsfs::crypto::asym::{
    AsymError, EncryptionAlgorithm, HmacKey, KeySpec, MacAlgorithm, MessageType, PrivateKey,
    PublicKey, SigningAlgorithm,
};

const MSG: &[u8] = b"kmsfs asymmetric test message";

fn pair_specs() -> impl Iterator<Item = KeySpec> {
    KeySpec::ALL
        .iter()
        .copied()
        .filter(|s| s.mac_algorithm().is_none())
}

fn tamper(sig: &[u8]) -> Vec<u8> {
    let mut t = sig.to_vec();
    let i = t.len() / 2;
    t[i] ^= 0x01;
    t
}

/// One spec: PKCS#8 round trip, every algorithm RAW (and DIGEST where AWS takes it),
/// tampered signatures refused.
fn round_trip(spec: KeySpec) {
    let key = PrivateKey::generate(spec).unwrap();
    let again = PrivateKey::from_pkcs8(spec, key.pkcs8().expose()).unwrap();
    assert_eq!(key.public_key(), again.public_key(), "{spec}");
    let public = PublicKey::from_spki(spec, key.public_key().spki()).unwrap();
    assert!(!format!("{key:?}").contains(&kmsfs::crypto::hex(&key.pkcs8().expose()[..8])));
    for &alg in spec.signing_algorithms() {
        if alg.accepts(MessageType::Raw) {
            let sig = again.sign(alg, MessageType::Raw, MSG).unwrap();
            public.verify(alg, MessageType::Raw, MSG, &sig).unwrap();
            let bad = public.verify(alg, MessageType::Raw, MSG, &tamper(&sig));
            assert_eq!(bad, Err(AsymError::InvalidSignature), "{spec} {alg}");
            let other = public.verify(alg, MessageType::Raw, b"another message", &sig);
            assert_eq!(other, Err(AsymError::InvalidSignature), "{spec} {alg}");
        }
        if alg.accepts(MessageType::Digest) {
            let d = alg.hash().unwrap().digest(MSG);
            let sig = key.sign(alg, MessageType::Digest, &d).unwrap();
            key.verify(alg, MessageType::Digest, &d, &sig).unwrap();
            if alg.accepts(MessageType::Raw) {
                public.verify(alg, MessageType::Raw, MSG, &sig).unwrap();
            }
            let bad = key.verify(alg, MessageType::Digest, &d, &tamper(&sig));
            assert_eq!(bad, Err(AsymError::InvalidSignature), "{spec} {alg}");
        }
    }
}

#[test]
fn every_spec_signs_and_verifies_and_round_trips_pkcs8() {
    for spec in pair_specs() {
        round_trip(spec);
    }
}

#[test]
fn digest_verifies_as_raw_of_the_message_never_as_raw_of_the_hash() {
    let cases = [
        (KeySpec::EccNistP256, SigningAlgorithm::EcdsaSha256),
        (KeySpec::EccSecgP256k1, SigningAlgorithm::EcdsaSha256),
        (KeySpec::EccNistP384, SigningAlgorithm::EcdsaSha384),
        (KeySpec::EccNistP521, SigningAlgorithm::EcdsaSha512),
        (KeySpec::Rsa2048, SigningAlgorithm::RsassaPssSha256),
        (KeySpec::Rsa2048, SigningAlgorithm::RsassaPkcs1V15Sha384),
    ];
    for (spec, alg) in cases {
        let key = PrivateKey::generate(spec).unwrap();
        let hash = alg.hash().unwrap().digest(MSG);
        let sig = key.sign(alg, MessageType::Digest, &hash).unwrap();
        key.verify(alg, MessageType::Raw, MSG, &sig).unwrap();
        // The peers' bug: hashing the digest again. That must not verify.
        let twice = key.verify(alg, MessageType::Raw, &hash, &sig);
        assert_eq!(twice, Err(AsymError::InvalidSignature), "{spec} {alg}");
        // And RAW of the hash is a different signature from DIGEST of the hash.
        let raw_of_hash = key.sign(alg, MessageType::Raw, &hash).unwrap();
        let as_digest = key.verify(alg, MessageType::Digest, &hash, &raw_of_hash);
        assert_eq!(as_digest, Err(AsymError::InvalidSignature), "{spec} {alg}");
    }
}

#[test]
fn wrong_digest_length_algorithm_and_message_type_are_refused() {
    let p256 = PrivateKey::generate(KeySpec::EccNistP256).unwrap();
    let e = p256
        .sign(SigningAlgorithm::EcdsaSha256, MessageType::Digest, &[0; 48])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Digest is invalid length for algorithm ECDSA_SHA_256."
    );
    let e = p256
        .sign(SigningAlgorithm::EcdsaSha384, MessageType::Raw, MSG)
        .unwrap_err();
    assert!(matches!(e, AsymError::WrongAlgorithm { .. }), "{e}");
    let rsa = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
    for len in [0, 31, 33, 64] {
        let e = rsa.sign(
            SigningAlgorithm::RsassaPssSha256,
            MessageType::Digest,
            &vec![1; len],
        );
        assert_eq!(
            e,
            Err(AsymError::DigestLength(SigningAlgorithm::RsassaPssSha256))
        );
    }
    let ed = PrivateKey::generate(KeySpec::EccNistEdwards25519).unwrap();
    let e = ed.sign(
        SigningAlgorithm::Ed25519Sha512,
        MessageType::Digest,
        &[0; 64],
    );
    assert!(
        matches!(e, Err(AsymError::WrongMessageType { .. })),
        "{e:?}"
    );
    let e = ed.sign(SigningAlgorithm::Ed25519PhSha512, MessageType::Raw, MSG);
    assert!(
        matches!(e, Err(AsymError::WrongMessageType { .. })),
        "{e:?}"
    );
    let e = ed.sign(
        SigningAlgorithm::Ed25519PhSha512,
        MessageType::Digest,
        &[0; 32],
    );
    assert_eq!(
        e,
        Err(AsymError::DigestLength(SigningAlgorithm::Ed25519PhSha512))
    );
    let ml = PrivateKey::generate(KeySpec::MlDsa44).unwrap();
    let e = ml.sign(
        SigningAlgorithm::MlDsaShake256,
        MessageType::Digest,
        &[0; 64],
    );
    assert!(
        matches!(e, Err(AsymError::WrongMessageType { .. })),
        "{e:?}"
    );
    // A key of one spec is not accepted as another.
    let e = PrivateKey::from_pkcs8(KeySpec::Rsa3072, rsa.pkcs8().expose()).unwrap_err();
    assert!(matches!(e, AsymError::InvalidKey { .. }), "{e}");
    let e = PrivateKey::from_pkcs8(KeySpec::EccNistP384, p256.pkcs8().expose()).unwrap_err();
    assert!(matches!(e, AsymError::InvalidKey { .. }), "{e}");
    assert!(
        p256.decrypt(EncryptionAlgorithm::RsaesOaepSha256, &[0; 256])
            .is_err()
    );
}

#[test]
fn rsa_oaep_round_trips_at_aws_size_limits() {
    let limits = [
        (KeySpec::Rsa2048, 214, 190),
        (KeySpec::Rsa3072, 342, 318),
        (KeySpec::Rsa4096, 470, 446),
    ];
    for (spec, sha1, sha256) in limits {
        let key = PrivateKey::generate(spec).unwrap();
        let public = key.public_key();
        for (alg, max) in [
            (EncryptionAlgorithm::RsaesOaepSha1, sha1),
            (EncryptionAlgorithm::RsaesOaepSha256, sha256),
        ] {
            assert_eq!(alg.max_plaintext(spec), Some(max));
            let pt = vec![0x5a; max];
            let ct = public.encrypt(alg, &pt).unwrap();
            assert_eq!(key.decrypt(alg, &ct).unwrap().expose(), &pt[..]);
            assert_eq!(key.decrypt(alg, &tamper(&ct)), Err(AsymError::Decrypt));
            let e = public.encrypt(alg, &vec![0; max + 1]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "Algorithm {alg} and key spec {spec} cannot encrypt data larger than {max} bytes."
                )
            );
        }
        // The OAEP hash is not ignored: SHA-1 ciphertext does not decrypt as SHA-256.
        let ct = public
            .encrypt(EncryptionAlgorithm::RsaesOaepSha1, b"x")
            .unwrap();
        let wrong = key.decrypt(EncryptionAlgorithm::RsaesOaepSha256, &ct);
        assert_eq!(wrong, Err(AsymError::Decrypt));
    }
}

#[test]
fn ecdh_both_sides_agree_on_every_nist_curve() {
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ] {
        let a = PrivateKey::generate(spec).unwrap();
        let b = PrivateKey::generate(spec).unwrap();
        let ab = a.derive_shared_secret(b.public_key().spki()).unwrap();
        let ba = b.derive_shared_secret(a.public_key().spki()).unwrap();
        assert_eq!(ab.expose(), ba.expose());
        let other = PrivateKey::generate(KeySpec::EccNistP256).unwrap();
        if spec != KeySpec::EccNistP256 {
            assert!(a.derive_shared_secret(other.public_key().spki()).is_err());
        }
    }
    let k1 = PrivateKey::generate(KeySpec::EccSecgP256k1).unwrap();
    assert!(k1.derive_shared_secret(k1.public_key().spki()).is_err());
}

#[test]
fn hmac_every_spec_macs_verifies_and_refuses_tampering() {
    for &alg in MacAlgorithm::ALL {
        let spec = alg.key_spec();
        let key = HmacKey::generate(spec).unwrap();
        assert_eq!(key.material().expose().len(), alg.mac_len());
        let tag = key.mac(alg, MSG).unwrap();
        assert_eq!(tag.len(), alg.mac_len());
        key.verify(alg, MSG, &tag).unwrap();
        assert_eq!(
            key.verify(alg, MSG, &tamper(&tag)),
            Err(AsymError::InvalidMac)
        );
        assert_eq!(key.verify(alg, MSG, &tag[1..]), Err(AsymError::InvalidMac));
        let again = HmacKey::from_material(spec, key.material().expose()).unwrap();
        assert_eq!(again.mac(alg, MSG).unwrap(), tag);
        assert!(!format!("{key:?}").contains(&kmsfs::crypto::hex(key.material().expose())));
        let other = MacAlgorithm::ALL.iter().find(|&&a| a != alg).unwrap();
        assert!(key.mac(*other, MSG).is_err());
        assert!(HmacKey::from_material(spec, &vec![1; alg.mac_len() - 1]).is_err());
    }
}

// ---------------------------------------------------------------- OpenSSL interop

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl")
}

fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The `openssl dgst` options that verify `alg` (not Ed25519).
fn dgst_args(alg: SigningAlgorithm) -> Vec<&'static str> {
    let hash = match alg.hash().unwrap().output_len() {
        32 => "-sha256",
        48 => "-sha384",
        _ => "-sha512",
    };
    let mut a = vec!["dgst", hash];
    if alg.name().starts_with("RSASSA_PSS") {
        a.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:-1",
        ]);
    }
    a
}

#[test]
fn openssl_verifies_our_signatures_and_we_verify_its() {
    if !common::mount::tool_or_skip("openssl_verifies_our_signatures", "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("msg"), MSG).unwrap();
    let specs = [
        KeySpec::Rsa2048,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
    ];
    for spec in specs {
        let key = PrivateKey::generate(spec).unwrap();
        std::fs::write(d.join("pub.pem"), key.public_key().to_pem()).unwrap();
        std::fs::write(d.join("key.der"), key.pkcs8().expose()).unwrap();
        for &alg in spec.signing_algorithms() {
            if alg == SigningAlgorithm::Ed25519PhSha512 {
                continue; // OpenSSL 3.0 has no Ed25519ph.
            }
            if alg == SigningAlgorithm::Ed25519Sha512 {
                let sig = key.sign(alg, MessageType::Raw, MSG).unwrap();
                std::fs::write(d.join("sig"), &sig).unwrap();
                openssl_ok(
                    d,
                    &[
                        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in",
                        "msg", "-sigfile", "sig",
                    ],
                );
                std::fs::write(d.join("sig"), tamper(&sig)).unwrap();
                let bad = openssl(
                    d,
                    &[
                        "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in",
                        "msg", "-sigfile", "sig",
                    ],
                );
                assert!(!bad.status.success(), "{spec} {alg}: tampered accepted");
                openssl_ok(
                    d,
                    &[
                        "pkeyutl", "-sign", "-keyform", "DER", "-inkey", "key.der", "-rawin",
                        "-in", "msg", "-out", "osig",
                    ],
                );
                let osig = std::fs::read(d.join("osig")).unwrap();
                key.public_key()
                    .verify(alg, MessageType::Raw, MSG, &osig)
                    .unwrap();
                continue;
            }
            // Both RAW and DIGEST signatures must verify with OpenSSL over the message.
            for mt in [MessageType::Raw, MessageType::Digest] {
                let input = match mt {
                    MessageType::Digest => alg.hash().unwrap().digest(MSG),
                    _ => MSG.to_vec(),
                };
                let sig = key.sign(alg, mt, &input).unwrap();
                std::fs::write(d.join("sig"), &sig).unwrap();
                let mut args = dgst_args(alg);
                args.extend(["-verify", "pub.pem", "-signature", "sig", "msg"]);
                openssl_ok(d, &args);
            }
            let mut args = dgst_args(alg);
            args.extend(["-keyform", "DER", "-sign", "key.der", "-out", "osig", "msg"]);
            openssl_ok(d, &args);
            let osig = std::fs::read(d.join("osig")).unwrap();
            key.public_key()
                .verify(alg, MessageType::Raw, MSG, &osig)
                .unwrap();
        }
    }
}

#[test]
fn rsa_oaep_ciphertexts_cross_openssl_both_ways() {
    if !common::mount::tool_or_skip("rsa_oaep_ciphertexts_cross_openssl", "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = PrivateKey::generate(KeySpec::Rsa3072).unwrap();
    std::fs::write(d.join("key.der"), key.pkcs8().expose()).unwrap();
    std::fs::write(d.join("pub.pem"), key.public_key().to_pem()).unwrap();
    std::fs::write(d.join("pt"), MSG).unwrap();
    for (alg, md) in [
        (EncryptionAlgorithm::RsaesOaepSha1, "sha1"),
        (EncryptionAlgorithm::RsaesOaepSha256, "sha256"),
    ] {
        let md_opt = format!("rsa_oaep_md:{md}");
        let mgf_opt = format!("rsa_mgf1_md:{md}");
        let ct = key.public_key().encrypt(alg, MSG).unwrap();
        std::fs::write(d.join("ct"), &ct).unwrap();
        let pt = openssl_ok(
            d,
            &[
                "pkeyutl",
                "-decrypt",
                "-keyform",
                "DER",
                "-inkey",
                "key.der",
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &md_opt,
                "-pkeyopt",
                &mgf_opt,
                "-in",
                "ct",
            ],
        );
        assert_eq!(pt, MSG, "{alg}");
        openssl_ok(
            d,
            &[
                "pkeyutl",
                "-encrypt",
                "-pubin",
                "-inkey",
                "pub.pem",
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &md_opt,
                "-pkeyopt",
                &mgf_opt,
                "-in",
                "pt",
                "-out",
                "oct",
            ],
        );
        let oct = std::fs::read(d.join("oct")).unwrap();
        assert_eq!(key.decrypt(alg, &oct).unwrap().expose(), MSG, "{alg}");
    }
}

#[test]
fn openssl_derives_the_same_ecdh_secret_and_hmac() {
    if !common::mount::tool_or_skip("openssl_derives_the_same_ecdh_secret", "openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = PrivateKey::generate(KeySpec::EccNistP384).unwrap();
    let b = PrivateKey::generate(KeySpec::EccNistP384).unwrap();
    std::fs::write(d.join("a.der"), a.pkcs8().expose()).unwrap();
    std::fs::write(d.join("b.pem"), b.public_key().to_pem()).unwrap();
    openssl_ok(
        d,
        &[
            "pkeyutl", "-derive", "-keyform", "DER", "-inkey", "a.der", "-peerkey", "b.pem",
            "-out", "z",
        ],
    );
    let ours = a.derive_shared_secret(b.public_key().spki()).unwrap();
    assert_eq!(std::fs::read(d.join("z")).unwrap(), ours.expose());
    let key = HmacKey::generate(KeySpec::Hmac384).unwrap();
    std::fs::write(d.join("msg"), MSG).unwrap();
    let hexkey = format!("hexkey:{}", kmsfs::crypto::hex(key.material().expose()));
    let out = openssl_ok(
        d,
        &[
            "mac", "-digest", "SHA384", "-macopt", &hexkey, "-in", "msg", "HMAC",
        ],
    );
    let ours = kmsfs::crypto::hex(&key.mac(MacAlgorithm::HmacSha384, MSG).unwrap());
    assert_eq!(String::from_utf8_lossy(&out).trim().to_lowercase(), ours);
}

// ---------------------------------------------------------------- Wycheproof

/// Whether our answer fits Wycheproof's: valid must pass, invalid must fail, acceptable
/// either way. Counts the checked tests.
fn judge(name: &str, id: usize, result: wycheproof::TestResult, ok: bool, n: &mut usize) {
    use wycheproof::TestResult::*;
    *n += 1;
    match result {
        Valid => assert!(ok, "{name} tcId {id}: valid vector refused"),
        Invalid => assert!(!ok, "{name} tcId {id}: invalid vector accepted"),
        Acceptable => {}
    }
}

#[test]
fn wycheproof_ecdsa_der_verification() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let sets = [
        (TestName::EcdsaSecp256r1Sha256, KeySpec::EccNistP256),
        (TestName::EcdsaSecp384r1Sha384, KeySpec::EccNistP384),
        (TestName::EcdsaSecp521r1Sha512, KeySpec::EccNistP521),
        (TestName::EcdsaSecp256k1Sha256, KeySpec::EccSecgP256k1),
    ];
    for (name, spec) in sets {
        let alg = spec.signing_algorithms()[0];
        let mut n = 0;
        for g in TestSet::load(name).unwrap().test_groups {
            let public = PublicKey::from_spki(spec, &g.der).unwrap();
            for t in g.tests {
                let ok = public.verify(alg, MessageType::Raw, &t.msg, &t.sig).is_ok();
                judge(&format!("{name:?}"), t.tc_id, t.result, ok, &mut n);
            }
        }
        assert!(n > 100, "{name:?}: only {n} vectors");
    }
}

#[test]
fn wycheproof_rsa_pss_and_pkcs1_verification() {
    use wycheproof::HashFunction as H;
    let alg_of = |pss: bool, h: H| match (pss, h) {
        (true, H::Sha2_256) => Some(SigningAlgorithm::RsassaPssSha256),
        (true, H::Sha2_384) => Some(SigningAlgorithm::RsassaPssSha384),
        (true, H::Sha2_512) => Some(SigningAlgorithm::RsassaPssSha512),
        (false, H::Sha2_256) => Some(SigningAlgorithm::RsassaPkcs1V15Sha256),
        (false, H::Sha2_384) => Some(SigningAlgorithm::RsassaPkcs1V15Sha384),
        (false, H::Sha2_512) => Some(SigningAlgorithm::RsassaPkcs1V15Sha512),
        _ => None,
    };
    let spec_of = |bits: usize| match bits {
        2048 => Some(KeySpec::Rsa2048),
        3072 => Some(KeySpec::Rsa3072),
        4096 => Some(KeySpec::Rsa4096),
        _ => None,
    };
    let mut n = 0;
    for name in wycheproof::rsa_pss_verify::TestName::all() {
        for g in wycheproof::rsa_pss_verify::TestSet::load(name)
            .unwrap()
            .test_groups
        {
            // AWS's PSS: MGF1 of the same hash, salt as long as the hash.
            let (Some(alg), Some(spec)) = (alg_of(true, g.hash), spec_of(g.key_size)) else {
                continue;
            };
            if g.salt_size != alg.hash().unwrap().output_len() || g.mgf_hash != Some(g.hash) {
                continue;
            }
            let public = PublicKey::from_spki(spec, &g.der).unwrap();
            for t in g.tests {
                let ok = public.verify(alg, MessageType::Raw, &t.msg, &t.sig).is_ok();
                judge(&format!("{name:?}"), t.tc_id, t.result, ok, &mut n);
            }
        }
    }
    for name in wycheproof::rsa_pkcs1_verify::TestName::all() {
        for g in wycheproof::rsa_pkcs1_verify::TestSet::load(name)
            .unwrap()
            .test_groups
        {
            let (Some(alg), Some(spec)) = (alg_of(false, g.hash), spec_of(g.key_size)) else {
                continue;
            };
            let public = PublicKey::from_spki(spec, &g.der).unwrap();
            for t in g.tests {
                let ok = public.verify(alg, MessageType::Raw, &t.msg, &t.sig).is_ok();
                judge(&format!("{name:?}"), t.tc_id, t.result, ok, &mut n);
            }
        }
    }
    assert!(n > 500, "only {n} RSA signature vectors");
}

#[test]
fn wycheproof_rsa_oaep_decryption() {
    use wycheproof::HashFunction as H;
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let mut n = 0;
    for name in TestName::all() {
        for g in TestSet::load(name).unwrap().test_groups {
            let alg = match (g.hash, g.mgf_hash) {
                (H::Sha1, H::Sha1) => EncryptionAlgorithm::RsaesOaepSha1,
                (H::Sha2_256, H::Sha2_256) => EncryptionAlgorithm::RsaesOaepSha256,
                _ => continue,
            };
            let spec = match g.key_size {
                2048 => KeySpec::Rsa2048,
                3072 => KeySpec::Rsa3072,
                4096 => KeySpec::Rsa4096,
                _ => continue,
            };
            let key = PrivateKey::from_pkcs8(spec, &g.pkcs8).unwrap();
            for t in g.tests.iter().filter(|t| t.label.is_empty()) {
                let got = key.decrypt(alg, &t.ct);
                let ok = got.as_ref().is_ok_and(|p| p.expose() == &t.pt[..]);
                judge(&format!("{name:?}"), t.tc_id, t.result, ok, &mut n);
            }
        }
    }
    assert!(n > 50, "only {n} RSA-OAEP vectors");
}

#[test]
fn wycheproof_ed25519_verification() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut n = 0;
    for g in TestSet::load(TestName::Ed25519).unwrap().test_groups {
        let public = PublicKey::from_spki(KeySpec::EccNistEdwards25519, &g.der).unwrap();
        for t in g.tests {
            let alg = SigningAlgorithm::Ed25519Sha512;
            let ok = public.verify(alg, MessageType::Raw, &t.msg, &t.sig).is_ok();
            judge("ed25519", t.tc_id, t.result, ok, &mut n);
        }
    }
    assert!(n > 100, "only {n} Ed25519 vectors");
}

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    let sets = [
        (TestName::HmacSha224, MacAlgorithm::HmacSha224),
        (TestName::HmacSha256, MacAlgorithm::HmacSha256),
        (TestName::HmacSha384, MacAlgorithm::HmacSha384),
        (TestName::HmacSha512, MacAlgorithm::HmacSha512),
    ];
    for (name, alg) in sets {
        let mut n = 0;
        for g in TestSet::load(name).unwrap().test_groups {
            // AWS MACs are never truncated; key lengths outside the spec's range are refused.
            if g.tag_size != alg.mac_len() * 8 {
                continue;
            }
            for t in g.tests {
                let Ok(key) = HmacKey::from_material(alg.key_spec(), &t.key) else {
                    continue;
                };
                let ok = key.verify(alg, &t.msg, &t.tag).is_ok()
                    && key.mac(alg, &t.msg).unwrap() == t.tag[..];
                judge(&format!("{name:?}"), t.tc_id, t.result, ok, &mut n);
            }
        }
        assert!(n > 10, "{name:?}: only {n} vectors");
    }
}

// ---------------------------------------------------------------- throughput (printed)

#[test]
fn sign_and_verify_throughput_per_spec_printed() {
    let window = std::time::Duration::from_millis(common::env_or("KMSFS_ASYM_BENCH_MS", 150));
    let rate = |f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        let mut n = 0u64;
        while start.elapsed() < window {
            f();
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    for spec in pair_specs() {
        let key = PrivateKey::generate(spec).unwrap();
        let public = key.public_key();
        let alg = spec.signing_algorithms()[0];
        let mt = if alg.accepts(MessageType::Raw) {
            MessageType::Raw
        } else {
            MessageType::Digest
        };
        let msg = if mt == MessageType::Raw {
            MSG.to_vec()
        } else {
            alg.hash().unwrap().digest(MSG)
        };
        let sig = key.sign(alg, mt, &msg).unwrap();
        let s = rate(&mut || drop(key.sign(alg, mt, &msg).unwrap()));
        let v = rate(&mut || public.verify(alg, mt, &msg, &sig).unwrap());
        println!("asym bench: {spec:<22} {alg:<26} sign {s:>9.0}/s  verify {v:>9.0}/s");
    }
}

/// FIPS 204's external mu of message `m` under public key `spki` (whose last `pk_len` bytes
/// are the raw key), pure mode, empty context: SHAKE256(SHAKE256(pk, 64) || 0 || 0 || m, 64),
/// computed by Python's hashlib (an implementation independent of AWS-LC).
fn external_mu(spki: &[u8], pk_len: usize, m: &[u8]) -> Vec<u8> {
    let pk = &spki[spki.len() - pk_len..];
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let script = "import hashlib,sys\n\
        pk=bytes.fromhex(sys.argv[1]); m=bytes.fromhex(sys.argv[2])\n\
        tr=hashlib.shake_256(pk).digest(64)\n\
        print(hashlib.shake_256(tr+b'\\x00\\x00'+m).hexdigest(64))";
    let o = Command::new("python3")
        .args(["-c", script, &hex(pk), &hex(m)])
        .output()
        .expect("python3 (CI installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = String::from_utf8(o.stdout).unwrap();
    (0..128)
        .step_by(2)
        .map(|i| u8::from_str_radix(&h.trim()[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ml_dsa_external_mu_signs_what_raw_verifies() {
    for (spec, pk_len) in [
        (KeySpec::MlDsa44, 1312),
        (KeySpec::MlDsa65, 1952),
        (KeySpec::MlDsa87, 2592),
    ] {
        let k = PrivateKey::generate(spec).unwrap();
        let pubk = k.public_key();
        let alg = SigningAlgorithm::MlDsaShake256;
        let m = b"the message the caller hashed into mu";
        let mu = external_mu(pubk.spki(), pk_len, m);
        let sig = k.sign(alg, MessageType::ExternalMu, &mu).unwrap();
        // The signature over mu is an ordinary ML-DSA signature of the message.
        pubk.verify(alg, MessageType::Raw, m, &sig).unwrap();
        pubk.verify(alg, MessageType::ExternalMu, &mu, &sig)
            .unwrap();
        let raw = k.sign(alg, MessageType::Raw, m).unwrap();
        pubk.verify(alg, MessageType::ExternalMu, &mu, &raw)
            .unwrap();
        // Another mu, another message, a tampered signature, a short mu: refused.
        let mut other = mu.clone();
        other[0] ^= 1;
        assert!(
            pubk.verify(alg, MessageType::ExternalMu, &other, &sig)
                .is_err()
        );
        assert!(
            pubk.verify(alg, MessageType::Raw, b"another", &sig)
                .is_err()
        );
        assert!(
            pubk.verify(alg, MessageType::ExternalMu, &mu, &tamper(&sig))
                .is_err()
        );
        assert!(k.sign(alg, MessageType::ExternalMu, &mu[..32]).is_err());
    }
}
