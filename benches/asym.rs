//! Sign/s and Verify/s per asymmetric key spec, and GenerateMac/s and VerifyMac/s per HMAC
//! spec, on one thread, straight on `kmsfs::crypto::asym` (issue 17: "within 1.5x of
//! `openssl speed` for every algorithm"). What is measured is what `openssl speed` measures:
//! - RSA: RSASSA_PKCS1_V1_5_SHA_256 over a DIGEST (openssl signs a 36-byte buffer with
//!   PKCS#1 v1.5 padding, no hashing);
//! - ECDSA: the spec's ECDSA algorithm over a DIGEST (openssl signs a 20-byte buffer);
//! - Ed25519: ED25519_SHA_512 over a 20-byte RAW message (pure EdDSA, as openssl);
//! - ML-DSA: ML_DSA_SHAKE_256 over a 20-byte RAW message (openssl 3.0 has no ML-DSA);
//! - HMAC: the spec's MAC over a 16-byte message (`openssl speed -hmac sha256 -bytes 16`).
//!
//! Verify goes through `PublicKey::verify`, as KMS's Verify does: the public key (DER
//! SubjectPublicKeyInfo) is parsed on every call, where openssl reuses a parsed key.
//!
//! Rates are per second of this thread's CPU time (user + system, `getrusage(RUSAGE_THREAD)`),
//! as `openssl speed` divides by its CPU time by default: on a shared machine the wall clock
//! counts other processes' time slices. Output, one line per spec:
//! `asym SPEC ALG sign_per_cpu_s verify_per_cpu_s sign_per_wall_s verify_per_wall_s`.
//!
//! `BENCH_SECS` (CPU seconds per operation, default 3) and `BENCH_SPECS` (comma-separated AWS
//! key specs, default every signing and HMAC spec). Run with `cargo bench --bench asym`, or
//! beside `openssl speed` on one core with `scripts/bench/asym.sh`.

use kmsfs::crypto::asym::{HmacKey, KeySpec, MessageType, PrivateKey, PublicKey, SigningAlgorithm};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs `op` until `secs` of this thread's CPU time have passed: (ops per CPU second, ops
/// per wall second).
fn rate(secs: f64, mut op: impl FnMut()) -> (f64, f64) {
    for _ in 0..3 {
        op(); // warm-up
    }
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    let mut n = 0u64;
    loop {
        for _ in 0..8 {
            op();
        }
        n += 8;
        let cpu = (thread_cpu() - cpu0).as_secs_f64();
        if cpu >= secs {
            return (n as f64 / cpu, n as f64 / wall0.elapsed().as_secs_f64());
        }
    }
}

/// The algorithm, message type and message of a signing spec, as `openssl speed` signs.
fn signing_case(spec: KeySpec) -> (SigningAlgorithm, MessageType, Vec<u8>) {
    use SigningAlgorithm::*;
    let digest = |alg: SigningAlgorithm| {
        let hash = alg.hash().expect("a hashed algorithm");
        (alg, MessageType::Digest, hash.digest(b"kmsfs asym bench"))
    };
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => digest(RsassaPkcs1V15Sha256),
        KeySpec::EccNistEdwards25519 => (Ed25519Sha512, MessageType::Raw, vec![7; 20]),
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
            (MlDsaShake256, MessageType::Raw, vec![7; 20])
        }
        _ => digest(spec.signing_algorithms()[0]),
    }
}

fn bench_signing(spec: KeySpec, secs: f64) {
    let key = PrivateKey::generate(spec).expect("key generation");
    let public = PublicKey::from_spki(spec, key.public_key().spki()).expect("public key");
    let (alg, mt, msg) = signing_case(spec);
    let sig = key.sign(alg, mt, &msg).expect("sign");
    public.verify(alg, mt, &msg, &sig).expect("verify");
    let (sign_cpu, sign_wall) = rate(secs, || {
        black_box(key.sign(alg, mt, black_box(&msg)).unwrap());
    });
    let (verify_cpu, verify_wall) = rate(secs, || {
        public.verify(alg, mt, black_box(&msg), &sig).unwrap();
    });
    println!("asym {spec} {alg} {sign_cpu:.1} {verify_cpu:.1} {sign_wall:.1} {verify_wall:.1}");
}

fn bench_mac(spec: KeySpec, secs: f64) {
    let key = HmacKey::generate(spec).expect("key generation");
    let alg = spec.mac_algorithm().expect("an HMAC spec");
    let msg = [7u8; 16];
    let tag = key.mac(alg, &msg).expect("mac");
    let (mac_cpu, mac_wall) = rate(secs, || {
        black_box(key.mac(alg, black_box(&msg)).unwrap());
    });
    let (verify_cpu, verify_wall) = rate(secs, || {
        key.verify(alg, black_box(&msg), &tag).unwrap();
    });
    println!("asym {spec} {alg} {mac_cpu:.1} {verify_cpu:.1} {mac_wall:.1} {verify_wall:.1}");
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let specs: Vec<KeySpec> = match std::env::var("BENCH_SPECS") {
        Ok(list) => list
            .split(',')
            .map(|s| KeySpec::parse(s.trim()).unwrap_or_else(|| panic!("unknown key spec {s}")))
            .collect(),
        Err(_) => KeySpec::ALL.to_vec(),
    };
    for spec in specs {
        if spec.mac_algorithm().is_some() {
            bench_mac(spec, secs);
        } else {
            bench_signing(spec, secs);
        }
    }
}
