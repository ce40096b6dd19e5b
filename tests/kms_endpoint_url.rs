//! `kmsfs kms <verb> --endpoint-url URL`, as `aws kms --endpoint-url`: the request goes to
//! that endpoint (here a real `kmsfs serve` of another home), signed with the environment's
//! credentials; the local home's KMS is not touched. Seeds and purges, the home's own,
//! refuse it.

mod common;
use common::cli::{init, kmsfs_env, run_ok};
use common::serve::*;
use serde_json::Value;

#[test]
fn kms_verbs_go_to_the_endpoint_url() {
    let dir = tempfile::tempdir().unwrap();
    let served = init(&dir.path().join("served"));
    let local = init(&dir.path().join("local"));
    let srv = Server::start(&served, &[]);
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
    ];
    let kms = |args: &[&str]| -> Value {
        let mut a = vec!["kms"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--endpoint-url", &srv.endpoint]);
        let o = kmsfs_env(&local, &a, &env);
        assert!(
            o.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    };
    let key = kms(&["create-key", "--description", "remote"]);
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let ct = kms(&["encrypt", "--key-id", &id, "--plaintext", "hello"]);
    let pt = kms(&[
        "decrypt",
        "--ciphertext-blob",
        ct["CiphertextBlob"].as_str().unwrap(),
    ]);
    assert_eq!(pt["Plaintext"], "aGVsbG8=");
    // The key is the served home's, not the local one's.
    let served_keys = run_ok(&served, &["kms", "list-keys"]);
    assert!(served_keys.to_string().contains(&id));
    let local_keys = run_ok(&local, &["kms", "list-keys"]);
    assert!(!local_keys.to_string().contains(&id));
    // Pagination over the wire too.
    let listed = kms(&["list-keys", "--page-size", "1"]);
    assert!(listed.to_string().contains(&id));
    let o = kmsfs_env(
        &local,
        &["kms", "purge", "--endpoint-url", &srv.endpoint],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    drop(srv);
}
