//! Access keys for SigV4: stored sealed one per file (0600), a swapped or edited file
//! refused by name, audit lines without the secret, requests verified against them,
//! `kmsfs credentials create|add|list|delete` as a user runs them, and the cache of opened
//! keys (a running server's) following every change of their files at once.

mod common;
use common::cli::{fails, init, kmsfs, ok, run_ok};
use common::kms::{ACCOUNT, env};
use kmsfs::kms::types::ListRequest;
use kmsfs::kms::{AccessKeyCache, Client, KmsError, Remote};
use kmsfs::server::sigv4::{self, AuthError, Request};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

const ROOT: &str = "arn:aws:iam::111122223333:root";

fn keys_dir(home: &kmsfs::home::Home) -> std::path::PathBuf {
    home.kms_dir().join("access-keys")
}

#[test]
fn keys_are_created_listed_and_deleted() {
    let e = env();
    let (id, secret) = e.kms.create_access_key(ROOT).unwrap();
    assert!(id.starts_with("AKIA") && id.len() == 20, "{id}");
    assert!(
        id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(secret.len(), 40);
    e.kms
        .add_access_key("testing", "testing", "arn:aws:iam::111122223333:user/ci")
        .unwrap();
    let k = e.kms.access_key("testing").unwrap().unwrap();
    assert_eq!(
        (k.principal.as_str(), k.secret.expose()),
        ("arn:aws:iam::111122223333:user/ci", &b"testing"[..])
    );
    assert_eq!(k.created_ms, 1_800_000_000_000);
    e.kms.add_access_key("dbg", "hunter2-secret", ROOT).unwrap();
    let dbg = format!("{:?}", e.kms.access_key("dbg").unwrap().unwrap());
    assert!(
        dbg.contains("redacted") && !dbg.contains("hunter2"),
        "{dbg}"
    );
    e.kms.delete_access_key("dbg").unwrap();
    let created = e.kms.access_key(&id).unwrap().unwrap();
    assert!(!format!("{created:?}").contains(std::str::from_utf8(secret.expose()).unwrap()));
    let list = e.kms.list_access_keys().unwrap();
    let ids: Vec<&str> = list.iter().map(|k| k.access_key_id.as_str()).collect();
    assert_eq!(ids, [id.as_str(), "testing"]);
    for f in std::fs::read_dir(keys_dir(&e.home)).unwrap() {
        let m = f.unwrap().metadata().unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
    assert!(matches!(
        e.kms.add_access_key("testing", "other", ROOT),
        Err(KmsError::AlreadyExists(_))
    ));
    e.kms.delete_access_key("testing").unwrap();
    assert!(e.kms.access_key("testing").unwrap().is_none());
    assert!(matches!(
        e.kms.delete_access_key("testing"),
        Err(KmsError::NotFound(_))
    ));
    // Ids that cannot name a key are refused, never looked up as paths.
    for bad in ["", "../keystore.json", "a/b", "x y", &"a".repeat(129)] {
        assert!(
            matches!(
                e.kms.add_access_key(bad, "s", ROOT),
                Err(KmsError::Validation(_))
            ),
            "{bad}"
        );
        assert!(e.kms.access_key(bad).unwrap().is_none());
    }
    for (secret, principal) in [("", ROOT), ("has space", ROOT), ("ok", "root")] {
        let err = e.kms.add_access_key("k1", secret, principal).unwrap_err();
        assert!(matches!(err, KmsError::Validation(_)), "{err}");
        assert!(
            secret.is_empty() || !err.to_string().contains(secret),
            "{err}"
        );
    }
}

#[test]
fn a_swapped_or_edited_file_is_refused_by_name() {
    let e = env();
    e.kms.add_access_key("alice", "alice-secret", ROOT).unwrap();
    e.kms.add_access_key("bob", "bob-secret", ROOT).unwrap();
    let dir = keys_dir(&e.home);
    std::fs::copy(dir.join("alice"), dir.join("bob")).unwrap();
    let err = e.kms.access_key("bob").unwrap_err().to_string();
    assert!(
        err.contains(&dir.join("bob").display().to_string()),
        "{err}"
    );
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    let mut bytes = std::fs::read(dir.join("alice")).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(dir.join("alice"), &bytes).unwrap();
    assert!(e.kms.access_key("alice").is_err());
    assert!(e.kms.list_access_keys().is_err());
    std::fs::write(dir.join("alice"), b"junk").unwrap();
    let err = e.kms.access_key("alice").unwrap_err().to_string();
    assert!(err.contains("not a kmsfs access key file"), "{err}");
}

#[test]
fn changes_are_audited_without_the_secret() {
    let e = env();
    let (id, secret) = e.kms.create_access_key(ROOT).unwrap();
    e.kms
        .add_access_key("testing", "s3cr3t-value", ROOT)
        .unwrap();
    let _ = e.kms.add_access_key("testing", "s3cr3t-value", ROOT);
    e.kms.delete_access_key(&id).unwrap();
    e.kms.flush_audit().unwrap();
    let trail = std::fs::read_to_string(e.kms.audit_path()).unwrap();
    assert!(!trail.contains("s3cr3t-value"));
    assert!(!trail.contains(std::str::from_utf8(secret.expose()).unwrap()));
    let ops: Vec<(String, String, String)> = trail
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("operation"), s("keyArn"), s("outcome"))
        })
        // A change writes its `Pending` line before its effect; its outcome line follows.
        .filter(|(_, _, outcome)| outcome != "Pending")
        .collect();
    let arn = |id: &str| format!("arn:aws:iam::{ACCOUNT}:access-key/{id}");
    let expected = [
        ("CreateAccessKey", arn(&id), "Success"),
        ("AddAccessKey", arn("testing"), "Success"),
        ("AddAccessKey", arn("testing"), "Failure"),
        ("DeleteAccessKey", arn(&id), "Success"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.clone(), c.to_string()))
        .collect();
    assert_eq!(ops, expected);
}

fn post<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Request<'a> {
    Request {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body,
    }
}

#[test]
fn requests_verify_against_stored_keys() {
    let e = env();
    e.kms.add_access_key("testing", "testing", ROOT).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut headers = vec![("host".to_string(), "127.0.0.1:4566".to_string())];
    let body = br#"{"KeyId":"alias/a"}"#;
    let added = sigv4::sign(
        &post(&headers, body),
        "kms",
        "us-east-1",
        "testing",
        "testing",
        now,
    );
    headers.extend(added);
    let secret_for = |id: &str| e.kms.access_key(id).ok().flatten().map(|k| k.secret);
    let v = sigv4::verify(&post(&headers, body), "kms", now, secret_for).unwrap();
    assert_eq!(v.access_key_id, "testing");
    e.kms.delete_access_key("testing").unwrap();
    assert_eq!(
        sigv4::verify(&post(&headers, body), "kms", now, secret_for).unwrap_err(),
        AuthError::UnrecognizedClient
    );
}

/// `kmsfs credentials add` of `id`, `secret` for `principal`.
fn add(home: &std::path::Path, id: &str, secret: &str, principal: &str) -> std::process::Output {
    let args = [
        "credentials",
        "add",
        "--access-key-id",
        id,
        "--secret-access-key",
        secret,
    ];
    kmsfs(home, &[&args[..], &["--principal", principal]].concat())
}

#[test]
fn the_cli_creates_lists_adds_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let c = run_ok(&home, &["credentials", "create"]);
    let k = &c["AccessKey"];
    let id = k["AccessKeyId"].as_str().unwrap().to_string();
    let secret = k["SecretAccessKey"].as_str().unwrap().to_string();
    assert!(id.starts_with("AKIA") && secret.len() == 40, "{c}");
    assert_eq!(
        (k["Status"].as_str(), k["Principal"].as_str()),
        (Some("Active"), Some(ROOT))
    );
    assert!(k["CreateDate"].as_str().unwrap().ends_with('Z'));
    let a = ok(&add(
        &home,
        "testing",
        "testing",
        "arn:aws:iam::111122223333:user/ci",
    ));
    assert_eq!(a["AccessKey"]["AccessKeyId"], "testing");
    assert!(a["AccessKey"].get("SecretAccessKey").is_none());
    let l = run_ok(&home, &["credentials", "list"]);
    let text = l.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("SecretAccessKey"),
        "{text}"
    );
    let ids: Vec<&str> = l["AccessKeyMetadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap())
        .collect();
    // Beside these two, the account root's key that `kmsfs init` made.
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&"testing"),
        "{ids:?}"
    );
    assert!(ids.iter().all(|i| *i == "testing" || i.starts_with("AKIA")));
    let o = add(&home, "testing", "x", ROOT);
    fails(&o, 5, "credentials add failed: AlreadyExistsException");
    let o = add(&home, "a/b", "x", ROOT);
    fails(&o, 5, "ValidationException");
    assert_eq!(
        run_ok(
            &home,
            &["credentials", "delete", "--access-key-id", "testing"]
        ),
        serde_json::Value::Null
    );
    let o = kmsfs(
        &home,
        &["credentials", "delete", "--access-key-id", "testing"],
    );
    let err = fails(&o, 5, "credentials delete failed: NotFoundException");
    assert!(err.contains("kmsfs credentials list"), "{err}");
    std::fs::write(home.join("kms/access-keys").join(&id), b"KMSC junk").unwrap();
    let err = fails(
        &kmsfs(&home, &["credentials", "list"]),
        3,
        "credentials list failed",
    );
    assert!(
        err.contains(&format!("access-keys/{id} is damaged")),
        "{err}"
    );
    let o = kmsfs(&dir.path().join("nohome"), &["credentials", "list"]);
    fails(&o, 3, "no kmsfs home");
}

/// Longer than the time a key file must have been unchanged for the cache to keep it.
const SETTLE: Duration = Duration::from_millis(250);

#[test]
fn cached_keys_follow_their_files_at_once() {
    let e = env();
    let cache = AccessKeyCache::new();
    let get = || e.kms.access_key_cached(&cache, "alice");
    let secret = || get().unwrap().map(|k| k.secret.expose().to_vec());
    e.kms.add_access_key("alice", "secret-one", ROOT).unwrap();
    assert_eq!(secret().as_deref(), Some(&b"secret-one"[..]));
    std::thread::sleep(SETTLE);
    let (a, b) = (get().unwrap().unwrap(), get().unwrap().unwrap());
    assert!(Arc::ptr_eq(&a, &b), "a settled key file is read once");
    // Deleted, then added again at once with a secret of the same length (the same file
    // size, likely the same inode), with and without a lookup in between.
    e.kms.delete_access_key("alice").unwrap();
    assert!(get().unwrap().is_none());
    e.kms.add_access_key("alice", "secret-two", ROOT).unwrap();
    assert_eq!(secret().as_deref(), Some(&b"secret-two"[..]));
    std::thread::sleep(SETTLE);
    assert!(Arc::ptr_eq(
        &get().unwrap().unwrap(),
        &get().unwrap().unwrap()
    ));
    e.kms.delete_access_key("alice").unwrap();
    e.kms.add_access_key("alice", "secret-333", ROOT).unwrap();
    assert_eq!(secret().as_deref(), Some(&b"secret-333"[..]));
    // A file edited in place (same inode, same size) is read again, and refused.
    std::thread::sleep(SETTLE);
    assert!(Arc::ptr_eq(
        &get().unwrap().unwrap(),
        &get().unwrap().unwrap()
    ));
    let path = keys_dir(&e.home).join("alice");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(get().is_err());
    assert!(get().is_err(), "an error is not cached either");
    std::fs::remove_file(&path).unwrap();
    assert!(get().unwrap().is_none());
    assert!(e.kms.access_key_cached(&cache, "../x").unwrap().is_none());
}

/// A remote client of `endpoint` signing with `id` and `secret`.
fn remote(endpoint: &str, id: &str, secret: &str) -> Remote {
    Remote::new(
        endpoint,
        "us-east-1",
        id,
        Zeroizing::new(secret.to_string()),
    )
    .unwrap()
    .with_retries(1, Duration::from_millis(1))
}

/// The AWS error name a request signed by `c` gets, or `OK`.
fn outcome(c: &Remote) -> String {
    match c.list_keys(ListRequest::default()) {
        Ok(_) => "OK".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_running_server_refuses_a_deleted_or_changed_key_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let server = common::serve::Server::start(&home, &[]);
    ok(&add(&home, "alice", "secret-one", ROOT));
    let one = remote(&server.endpoint, "alice", "secret-one");
    assert_eq!(outcome(&one), "OK");
    std::thread::sleep(SETTLE);
    assert_eq!(outcome(&one), "OK");
    assert_eq!(outcome(&one), "OK", "the server's cached key");
    run_ok(
        &home,
        &["credentials", "delete", "--access-key-id", "alice"],
    );
    let refused = outcome(&one);
    assert!(refused.contains("UnrecognizedClientException"), "{refused}");
    // Added again by another process with another secret: the old one is refused, the
    // new one accepted, on the same kept-alive connection.
    ok(&add(&home, "alice", "secret-two", ROOT));
    let refused = outcome(&one);
    assert!(refused.contains("InvalidSignatureException"), "{refused}");
    let two = remote(&server.endpoint, "alice", "secret-two");
    assert_eq!(outcome(&two), "OK");
    std::thread::sleep(SETTLE);
    assert_eq!(outcome(&two), "OK");
    run_ok(
        &home,
        &["credentials", "delete", "--access-key-id", "alice"],
    );
    let refused = outcome(&two);
    assert!(refused.contains("UnrecognizedClientException"), "{refused}");
    server.stop();
}
