//! `kmsfs serve --tls` (real processes): boto3 (`verify=`) and the AWS CLI (`--ca-bundle`,
//! `AWS_CA_BUNDLE`) over https; `--print-ca`; a volume round trip through the remote
//! client over https (`--kms-ca-bundle`); an untrusted certificate as a clear error, no
//! hang; plain HTTP to the TLS port refused promptly; non-loopback `--listen` refused
//! without `--tls` or `--insecure-http`; key files 0600, the CA kept across restarts.

mod common;
use common::cli::{cmd, init, kmsfs_env, ok, s};
use common::serve::*;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Remote};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `kmsfs serve --ephemeral --tls` (plus `extra`) with the test credentials.
fn ephemeral_tls(extra: &[&str]) -> Server {
    let creds = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
    let mut args = vec!["serve", "--ephemeral", "--tls", "--credentials", &creds];
    args.extend_from_slice(extra);
    Server::spawn(cmd(Path::new("/nonexistent-kmsfs-home"), &args))
}

fn ca_bundle(server: &Server) -> PathBuf {
    PathBuf::from(server.ready["CaBundle"].as_str().expect("CaBundle"))
}

/// The test client with quick retries (the TLS cases fail fast).
fn quick(endpoint: &str) -> Remote {
    remote(endpoint).with_retries(3, Duration::from_millis(10))
}

fn trusting(endpoint: &str, ca: &Path) -> Remote {
    quick(endpoint).with_ca_bundle(ca).unwrap()
}

#[test]
fn boto3_over_https_with_verify() {
    let Some(bin) = python_or_skip("boto3_over_https_with_verify") else {
        return;
    };
    let server = ephemeral_tls(&[]);
    assert!(
        server.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        server.ready
    );
    let ca = ca_bundle(&server);
    let py = r#"
import sys, boto3, botocore.exceptions
ep, ca = sys.argv[1], sys.argv[2]
k = boto3.client("kms", endpoint_url=ep, verify=ca)
key = k.create_key(Description="tls")["KeyMetadata"]["KeyId"]
blob = k.encrypt(KeyId=key, Plaintext=b"over https", EncryptionContext={"a": "b"})["CiphertextBlob"]
assert k.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"over https"
# Without the CA: the certificate does not verify.
try:
    boto3.client("kms", endpoint_url=ep).list_keys()
    sys.exit("an untrusted certificate was accepted")
except botocore.exceptions.SSLError:
    pass
print("boto3 https: ok")
"#;
    let o = aws_tool(&bin, "python3", &server.endpoint)
        .env_remove("AWS_CA_BUNDLE")
        .args(["-c", py, &server.endpoint, s(&ca)])
        .output()
        .unwrap();
    assert!(check(&o, "boto3").contains("boto3 https: ok"));
    server.stop();
}

#[test]
fn aws_cli_over_https_with_ca_bundle() {
    let Some(bin) = python_or_skip("aws_cli_over_https_with_ca_bundle") else {
        return;
    };
    let server = ephemeral_tls(&[]);
    let ca = ca_bundle(&server);
    let key = trusting(&server.endpoint, &ca)
        .create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    let list = |env_bundle: bool, flag: bool| {
        let mut c = aws_tool(&bin, "aws", &server.endpoint);
        c.env_remove("AWS_CA_BUNDLE");
        if env_bundle {
            c.env("AWS_CA_BUNDLE", &ca);
        }
        c.args(["kms", "list-keys", "--output", "json"]);
        if flag {
            c.args(["--ca-bundle", s(&ca)]);
        }
        c.output().unwrap()
    };
    for (env_bundle, flag) in [(false, true), (true, false)] {
        let out = check(&list(env_bundle, flag), "aws kms list-keys");
        assert!(out.contains(&key), "{out}");
    }
    let o = list(false, false);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("CERTIFICATE_VERIFY_FAILED"), "{err}");
    server.stop();
}

#[test]
fn print_ca_key_modes_and_a_stable_ca() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    // --print-ca makes the CA when there is none.
    let printed = ok_text(&kmsfs_env(&home, &["serve", "--print-ca"], &[]));
    assert!(
        printed.starts_with("-----BEGIN CERTIFICATE-----\n"),
        "{printed}"
    );
    let server = Server::start(&home, &["--tls"]);
    let ca = ca_bundle(&server);
    assert_eq!(ca, home.join("kms/tls/ca.pem"));
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), printed);
    let server_pem = std::fs::read(home.join("kms/tls/server.pem")).unwrap();
    for key in ["ca.key", "server.key"] {
        let mode = std::fs::metadata(home.join("kms/tls").join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    trusting(&server.endpoint, &ca)
        .list_keys(ListRequest::default())
        .unwrap();
    server.stop();
    // A restart: the same CA and certificate, still trusted by the same bundle.
    let server = Server::start(&home, &["--tls"]);
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), printed);
    assert_eq!(
        std::fs::read(home.join("kms/tls/server.pem")).unwrap(),
        server_pem
    );
    trusting(&server.endpoint, &ca)
        .list_keys(ListRequest::default())
        .unwrap();
    let again = ok_text(&kmsfs_env(&home, &["serve", "--print-ca"], &[]));
    assert_eq!(again, printed);
    server.stop();
}

fn ok_text(o: &std::process::Output) -> String {
    check(o, "kmsfs")
}

/// `kmsfs --kms-endpoint ENDPOINT ARGS` on `home` with the test credentials and `env`.
fn via_env(
    home: &Path,
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut a = vec!["--kms-endpoint", endpoint];
    a.extend_from_slice(args);
    let mut c = cmd(home, &a);
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("KMSFS_KMS_CA_BUNDLE")
        .envs(env.iter().copied());
    c.output().expect("run kmsfs")
}

#[test]
fn volume_round_trip_over_https() {
    if !common::mount::fuse_or_skip("volume_round_trip_over_https") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let kms_home = init(&d.path().join("kms"));
    let home = init(&d.path().join("client"));
    let server = Server::start(&kms_home, &["--tls"]);
    let ca = ca_bundle(&server);
    let key = trusting(&server.endpoint, &ca)
        .create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .arn;
    let ep = &server.endpoint;
    let via = |args: &[&str]| {
        let mut a = vec!["--kms-ca-bundle", s(&ca)];
        a.extend_from_slice(args);
        ok(&via_env(&home, ep, &a, &[]))
    };
    let v = via(&["volume", "create", "--size", "64MiB", "--kms-key-id", &key]);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = via(&["mount", &vol, s(&mnt)]);
    assert_eq!(m["State"], "in-use", "{m}");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(mnt.join("f"), &data).unwrap();
    via(&["umount", s(&mnt)]);
    // Remount with the bundle from AWS_CA_BUNDLE instead of the flag.
    let m = ok(&via_env(
        &home,
        ep,
        &["mount", &vol, s(&mnt)],
        &[("AWS_CA_BUNDLE", s(&ca))],
    ));
    assert_eq!(m["State"], "in-use", "{m}");
    assert_eq!(std::fs::read(mnt.join("f")).unwrap(), data);
    via(&["umount", s(&mnt)]);
    server.stop();
    let decrypts = kmsfs_env(&kms_home, &["audit", "show", "--operation", "Decrypt"], &[]);
    let n = String::from_utf8_lossy(&decrypts.stdout).lines().count();
    assert!(n >= 2, "{n} Decrypts in the served home's trail");
}

#[test]
fn an_untrusted_certificate_is_a_clear_error() {
    let server = ephemeral_tls(&[]);
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let t = Instant::now();
    let o = via_env(
        &home,
        &server.endpoint,
        &["volume", "create", "--size", "64MiB"],
        &[],
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    for part in [
        "kmsfs: volume create failed:",
        server.endpoint.as_str(),
        "does not verify",
        "--kms-ca-bundle",
        "kmsfs serve --print-ca",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    // The library client: the same error, not retried.
    let e = quick(&server.endpoint)
        .list_keys(ListRequest::default())
        .unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // A bundle that is not PEM: refused when the client is made.
    let junk = d.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = quick(&server.endpoint).with_ca_bundle(&junk).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    server.stop();
}

#[test]
fn plain_http_to_the_tls_port_fails_promptly() {
    let server = ephemeral_tls(&[]);
    let authority = server
        .endpoint
        .strip_prefix("https://")
        .unwrap()
        .to_string();
    let t = Instant::now();
    let mut sock = std::net::TcpStream::connect(&authority).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    sock.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    // The remote client given http:// for a TLS endpoint: an error that says so.
    let e = quick(&format!("http://{authority}"))
        .list_keys(ListRequest::default())
        .unwrap_err();
    assert!(e.to_string().contains("it speaks https"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The server still serves TLS clients.
    trusting(&server.endpoint, &ca_bundle(&server))
        .list_keys(ListRequest::default())
        .unwrap();
    server.stop();
    // And https:// for a plain HTTP endpoint.
    let plain = Server::spawn(cmd(
        Path::new("/nonexistent-kmsfs-home"),
        &["serve", "--ephemeral"],
    ));
    let https = plain.endpoint.replace("http://", "https://");
    let e = quick(&https).list_keys(ListRequest::default()).unwrap_err();
    assert!(e.to_string().contains("does it serve https?"), "{e}");
    plain.stop();
}

#[test]
fn non_loopback_listen_needs_tls_or_insecure_http() {
    let creds = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
    let nowhere = Path::new("/nonexistent-kmsfs-home");
    let args = |extra: &[&str]| {
        let mut a = vec!["serve", "--ephemeral", "--listen", "0.0.0.0:0"];
        a.extend_from_slice(&["--credentials", &creds]);
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let refused = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        cmd(nowhere, &a).output().unwrap()
    };
    let o = refused(&[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    for part in [
        "0.0.0.0",
        "not a loopback address",
        "--tls",
        "--insecure-http",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    // --insecure-http: plain HTTP, with a warning.
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("stderr");
    let a = args(&["--insecure-http"]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut c = cmd(nowhere, &a);
    c.stderr(std::fs::File::create(&log).unwrap());
    let server = Server::spawn(c);
    assert!(
        server.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        server.ready
    );
    quick(&server.endpoint)
        .list_keys(ListRequest::default())
        .unwrap();
    server.stop();
    let warning = std::fs::read_to_string(&log).unwrap();
    assert!(warning.contains("warning: serving plain HTTP"), "{warning}");
    // --tls: https, for loopback and the host's name.
    let server = ephemeral_tls(&["--listen", "0.0.0.0:0"]);
    assert!(
        server.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        server.ready
    );
    let ca = ca_bundle(&server);
    trusting(&server.endpoint, &ca)
        .list_keys(ListRequest::default())
        .unwrap();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let port = server.endpoint.rsplit(':').next().unwrap();
    if std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0)).is_ok() {
        trusting(
            &format!("https://{}:{port}", host.to_ascii_lowercase()),
            &ca,
        )
        .list_keys(ListRequest::default())
        .unwrap();
    }
    server.stop();
}
