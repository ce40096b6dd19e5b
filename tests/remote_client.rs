//! The remote KMS client (`kmsfs::kms::Remote`) against a real `kmsfs serve`: directly
//! (keys, Encrypt/Decrypt, errors mapped back to their `KmsError` variants, keep-alive,
//! retries on connection errors), and through the CLI's `--kms-endpoint` on a second home
//! (volume create, mount, write and read, umount; envelope files), with the served home's
//! audit trail showing the calls that came through the endpoint.

mod common;
use common::cli::{init, kmsfs_env, ok, s};
use common::serve::*;
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, EncryptionContext, KmsError, Remote};
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

fn context(pairs: &[(&str, &str)]) -> Option<EncryptionContext> {
    common::kms::ec(pairs)
}

fn create_key(c: &Remote) -> String {
    c.create_key(CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .arn
}

fn encrypt(c: &Remote, key: &str, ctx: &[(&str, &str)]) -> Result<EncryptResponse, KmsError> {
    c.encrypt(EncryptRequest {
        key_id: key.into(),
        plaintext: kmsfs::crypto::SecretBytes::from_slice(b"attack at dawn"),
        encryption_context: context(ctx),
        ..Default::default()
    })
}

fn decrypt(c: &Remote, blob: &[u8], ctx: &[(&str, &str)]) -> Result<DecryptResponse, KmsError> {
    c.decrypt(DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: context(ctx),
        ..Default::default()
    })
}

#[test]
fn remote_client_round_trips_and_maps_errors() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let server = Server::start(&home, &[]);
    let c = remote(&server.endpoint);
    let key = create_key(&c);
    assert!(
        key.starts_with("arn:aws:kms:us-east-1:111122223333:key/"),
        "{key}"
    );
    let e = encrypt(&c, &key, &[("purpose", "test")]).unwrap();
    assert_eq!(e.key_id, key);
    let blob = e.ciphertext_blob;
    // Many requests over the pooled keep-alive connections.
    for _ in 0..20 {
        let p = decrypt(&c, &blob, &[("purpose", "test")]).unwrap();
        assert_eq!(p.plaintext.expose(), b"attack at dawn");
    }
    let wrong = decrypt(&c, &blob, &[("purpose", "other")]).unwrap_err();
    assert!(matches!(wrong, KmsError::InvalidCiphertext(_)), "{wrong:?}");
    c.disable_key(KeyIdRequest {
        key_id: key.clone(),
        ..Default::default()
    })
    .unwrap();
    let disabled = encrypt(&c, &key, &[]).unwrap_err();
    assert!(matches!(disabled, KmsError::Disabled(_)), "{disabled:?}");
    let missing = c.delete_alias("alias/none").unwrap_err();
    assert!(matches!(missing, KmsError::NotFound(_)), "{missing:?}");
    // A wrong secret: the server's auth error, kept by name.
    let bad = Remote::new(
        &server.endpoint,
        "us-east-1",
        ACCESS_KEY_ID,
        Zeroizing::new("wrong".into()),
    )
    .unwrap();
    let e = bad.list_keys(ListRequest::default()).unwrap_err();
    assert!(e.to_string().contains("InvalidSignatureException"), "{e}");
    server.stop();
    // The endpoint gone: connection errors, retried, then reported.
    let t = std::time::Instant::now();
    let c = c.with_retries(3, Duration::from_millis(10));
    let e = c.list_keys(ListRequest::default()).unwrap_err();
    assert!(
        e.to_string().contains("cannot reach the KMS endpoint"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn other_schemes_are_refused() {
    let e = Remote::new(
        "ftp://kms.us-east-1.amazonaws.com",
        "us-east-1",
        "id",
        Zeroizing::new("s".into()),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("not an http:// or https:// URL"),
        "{e}"
    );
}

/// Run `kmsfs --kms-endpoint ENDPOINT ARGS` on `home` with the test credentials.
fn via(home: &Path, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--kms-endpoint", endpoint];
    a.extend_from_slice(args);
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
    ];
    ok(&kmsfs_env(home, &a, &env))
}

/// How many audit lines of `home` record `operation`.
fn audited(home: &Path, operation: &str) -> usize {
    let o = kmsfs_env(home, &["audit", "show", "--operation", operation], &[]);
    String::from_utf8_lossy(&ok_raw(o))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn ok_raw(o: std::process::Output) -> Vec<u8> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[test]
fn cli_envelope_files_through_the_endpoint() {
    let d = tempfile::tempdir().unwrap();
    let kms_home = init(&d.path().join("kms"));
    let home = init(&d.path().join("client"));
    let server = Server::start(&kms_home, &[]);
    let key = create_key(&remote(&server.endpoint));
    let (plain, msg, back) = (d.path().join("p"), d.path().join("m"), d.path().join("b"));
    std::fs::write(&plain, vec![7u8; 200_000]).unwrap();
    let ep = &server.endpoint;
    let ctx = "purpose=remote";
    via(
        &home,
        ep,
        &[
            "encrypt-file",
            "--key-id",
            &key,
            "-i",
            s(&plain),
            "-o",
            s(&msg),
            "--encryption-context",
            ctx,
        ],
    );
    via(
        &home,
        ep,
        &[
            "decrypt-file",
            "-i",
            s(&msg),
            "-o",
            s(&back),
            "--encryption-context",
            ctx,
        ],
    );
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    // The AWS tools' own variable selects the endpoint too.
    let env = [
        ("AWS_ENDPOINT_URL_KMS", ep.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
    ];
    let args = [
        "decrypt-file",
        "-i",
        s(&msg),
        "-o",
        s(&back),
        "--encryption-context",
        ctx,
    ];
    ok(&kmsfs_env(&home, &args, &env));
    server.stop();
    assert_eq!(audited(&kms_home, "GenerateDataKey"), 1);
    assert_eq!(audited(&kms_home, "Decrypt"), 2);
    // The client home's own KMS saw none of it.
    assert_eq!(audited(&home, "GenerateDataKey"), 0);
    assert_eq!(audited(&home, "Decrypt"), 0);
}

#[test]
fn cli_volume_round_trip_through_the_endpoint() {
    if !common::mount::fuse_or_skip("cli_volume_round_trip_through_the_endpoint") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let kms_home = init(&d.path().join("kms"));
    let home = init(&d.path().join("client"));
    let server = Server::start(&kms_home, &[]);
    let key = create_key(&remote(&server.endpoint));
    let ep = &server.endpoint;
    let v = via(
        &home,
        ep,
        &["volume", "create", "--size", "64MiB", "--kms-key-id", &key],
    );
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    assert_eq!(v["KmsKeyId"], key.as_str(), "{v}");
    let mnt = d.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = via(&home, ep, &["mount", &vol, s(&mnt)]);
    assert_eq!(m["State"], "in-use", "{m}");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(mnt.join("f"), &data).unwrap();
    via(&home, ep, &["umount", s(&mnt)]);
    via(&home, ep, &["mount", &vol, s(&mnt)]);
    assert_eq!(std::fs::read(mnt.join("f")).unwrap(), data);
    via(&home, ep, &["umount", s(&mnt)]);
    server.stop();
    assert!(audited(&kms_home, "GenerateDataKeyWithoutPlaintext") >= 1);
    assert!(audited(&kms_home, "Decrypt") >= 2);
    assert_eq!(audited(&home, "Decrypt"), 0);
}

/// `--profile NAME` alone selects the remote KMS: the endpoint, access key and region of an
/// AWS profile (the one `kmsfs credentials export` prints for the serving home's first access
/// key) in the files `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` name; mount daemons
/// get the profile too. An unknown profile is a usage error naming it.
#[test]
fn cli_profile_selects_the_endpoint_and_its_credentials() {
    let fuse = common::mount::fuse_or_skip("cli_profile_selects_the_endpoint_and_its_credentials");
    let d = tempfile::tempdir().unwrap();
    let kms_home = init(&d.path().join("kms"));
    let home = init(&d.path().join("client"));
    let server = Server::start(&kms_home, &[]);
    let key = create_key(&remote(&server.endpoint));
    let id = root_access_key(&kms_home);
    let export = [
        "credentials",
        "export",
        "--profile",
        "far",
        "--access-key-id",
        &id,
        "--endpoint-url",
        &server.endpoint,
    ];
    let text = String::from_utf8(ok_raw(kmsfs_env(&kms_home, &export, &[]))).unwrap();
    let (creds, config) = text.split_once("# ~/.aws/config").unwrap();
    let (cf, cc) = (d.path().join("config"), d.path().join("credentials"));
    std::fs::write(&cc, creds).unwrap();
    std::fs::write(&cf, config).unwrap();
    let env = [
        ("AWS_CONFIG_FILE", cf.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", cc.to_str().unwrap()),
    ];
    let run = |args: &[&str]| {
        ok(&kmsfs_env(
            &home,
            &[&["--profile", "far"], args].concat(),
            &env,
        ))
    };
    let v = run(&["volume", "create", "--size", "64MiB", "--kms-key-id", &key]);
    let vol = v["VolumeId"].as_str().unwrap().to_string();
    if fuse {
        let mnt = d.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run(&["mount", &vol, s(&mnt)]);
        std::fs::write(mnt.join("f"), b"through a profile").unwrap();
        run(&["umount", s(&mnt)]);
        run(&["mount", &vol, s(&mnt)]);
        assert_eq!(std::fs::read(mnt.join("f")).unwrap(), b"through a profile");
        run(&["umount", s(&mnt)]);
    }
    let o = kmsfs_env(&home, &["--profile", "near", "volume", "list"], &env);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("profile 'near'"), "{err}");
    server.stop();
    assert_eq!(audited(&kms_home, "GenerateDataKeyWithoutPlaintext"), 1);
    assert_eq!(audited(&home, "GenerateDataKeyWithoutPlaintext"), 0);
    let lines = ok_raw(kmsfs_env(
        &kms_home,
        &["audit", "show", "--operation", "Decrypt"],
        &[],
    ));
    let lines = String::from_utf8(lines).unwrap();
    // Each mount unwraps the volume's key (the mount command checks it first).
    assert!(lines.lines().count() >= if fuse { 2 } else { 0 }, "{lines}");
    for l in lines.lines() {
        assert!(l.contains("arn:aws:iam::111122223333:root"), "{l}");
    }
}

/// A fake endpoint answering each request with the next of `replies` (status, body), then
/// closing the connection (without saying so, as an idle timeout would): the requests'
/// `x-amz-target`s.
fn fake_endpoint(
    replies: Vec<(u16, &'static str)>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let mut targets = Vec::new();
        for (status, body) in replies {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s);
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if let Some(v) = lower.strip_prefix("x-amz-target:") {
                    targets.push(v.trim().to_string());
                }
                if line == "\r\n" {
                    break;
                }
            }
            r.read_exact(&mut vec![0; len]).unwrap();
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            r.get_mut().write_all((head + body).as_bytes()).unwrap();
        }
        targets
    });
    (url, t)
}

#[test]
fn throttling_5xx_and_closed_connections_are_retried() {
    let random = r#"{"Plaintext":"AAECAw=="}"#;
    let (url, t) = fake_endpoint(vec![
        (500, r#"{"__type":"KMSInternalException","message":"boom"}"#),
        (
            400,
            r#"{"__type":"ThrottlingException","message":"slow down"}"#,
        ),
        (200, random),
        (200, random),
    ]);
    let c = remote(&url).with_retries(3, Duration::from_millis(5));
    let req = || GenerateRandomRequest {
        number_of_bytes: Some(4),
    };
    // Two failures retried, the third attempt answers.
    let r = c.generate_random(req()).unwrap();
    assert_eq!(r.plaintext.expose(), &[0, 1, 2, 3]);
    // The pooled connection was closed by the server: a fresh one, no error.
    c.generate_random(req()).unwrap();
    let targets = t.join().unwrap();
    assert_eq!(targets, vec!["trentservice.generaterandom"; 4]);
}

#[test]
fn client_errors_are_not_retried_and_keep_their_variant() {
    let (url, t) = fake_endpoint(vec![
        (400, r#"{"__type":"NotFoundException","message":"no key"}"#),
        (503, "<html>unavailable</html>"),
        (503, "<html>unavailable</html>"),
    ]);
    let c = remote(&url).with_retries(2, Duration::from_millis(5));
    let kid = || KeyIdRequest {
        key_id: "alias/x".into(),
        ..Default::default()
    };
    let e = c.describe_key(kid()).unwrap_err();
    assert!(
        matches!(&e, KmsError::NotFound(m) if m == "no key"),
        "{e:?}"
    );
    // A 5xx without an AWS error body: retried, then reported with its status.
    let e = c.describe_key(kid()).unwrap_err();
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert_eq!(t.join().unwrap().len(), 3);
}
