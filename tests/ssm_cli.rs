//! `kmsfs ssm <verb>` as a user runs it: the AWS CLI's verbs and flags, AWS's JSON field
//! names, failures as `kmsfs: ssm <verb> failed: <AWS error>` with their exit codes, and
//! the policy events after a moved clock (`KMSFS_CLOCK_OFFSET_SECS`).

mod common;

use common::cli::{fails, init, kmsfs, kmsfs_env, ok, run_ok};
use serde_json::Value;

fn names(v: &Value) -> Vec<String> {
    v["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn put_get_by_path_history_labels_tags_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let v = run_ok(
        &home,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/app/url",
            "--value",
            "https://x",
            "--type",
            "String",
        ],
    );
    assert_eq!(v, serde_json::json!({"Version": 1, "Tier": "Standard"}));
    let o = kmsfs(
        &home,
        &["ssm", "put-parameter", "--name", "/app/url", "--value", "y"],
    );
    fails(&o, 5, "ssm put-parameter failed: ParameterAlreadyExists");
    let v = run_ok(
        &home,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/app/url",
            "--value",
            "https://y",
            "--overwrite",
        ],
    );
    assert_eq!(v["Version"], 2);
    run_ok(
        &home,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/app/db/pw",
            "--value",
            "s3cret",
            "--type",
            "SecureString",
            "--tags",
            "Key=team,Value=core",
        ],
    );
    let p = &run_ok(&home, &["ssm", "get-parameter", "--name", "/app/db/pw"])["Parameter"];
    assert_ne!(p["Value"], "s3cret");
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:111122223333:parameter/app/db/pw"
    );
    assert!(p["LastModifiedDate"].is_f64());
    let p = &run_ok(
        &home,
        &[
            "ssm",
            "get-parameter",
            "--name",
            "/app/db/pw",
            "--with-decryption",
        ],
    )["Parameter"];
    assert_eq!(p["Value"], "s3cret");
    let v = run_ok(
        &home,
        &["ssm", "get-parameters", "--names", "/app/url:1", "/nope"],
    );
    assert_eq!(v["Parameters"][0]["Value"], "https://x");
    assert_eq!(v["Parameters"][0]["Selector"], ":1");
    assert_eq!(v["InvalidParameters"], serde_json::json!(["/nope"]));
    let v = run_ok(&home, &["ssm", "get-parameters-by-path", "--path", "/app"]);
    assert_eq!(names(&v), ["/app/url"]);
    let v = run_ok(
        &home,
        &[
            "ssm",
            "get-parameters-by-path",
            "--path",
            "/app",
            "--recursive",
            "--with-decryption",
        ],
    );
    assert_eq!(names(&v), ["/app/db/pw", "/app/url"]);
    assert_eq!(v["Parameters"][0]["Value"], "s3cret");
    let v = run_ok(
        &home,
        &[
            "ssm",
            "get-parameters-by-path",
            "--path",
            "/app",
            "--recursive",
            "--parameter-filters",
            "Key=Type,Option=Equals,Values=SecureString",
        ],
    );
    assert_eq!(names(&v), ["/app/db/pw"]);
    let v = run_ok(
        &home,
        &[
            "ssm",
            "label-parameter-version",
            "--name",
            "/app/url",
            "--parameter-version",
            "1",
            "--labels",
            "stable",
            "9bad",
        ],
    );
    assert_eq!(v["InvalidLabels"], serde_json::json!(["9bad"]));
    let v = run_ok(
        &home,
        &["ssm", "get-parameter-history", "--name", "/app/url"],
    );
    assert_eq!(v["Parameters"][0]["Labels"], serde_json::json!(["stable"]));
    assert_eq!(v["Parameters"].as_array().unwrap().len(), 2);
    let v = run_ok(
        &home,
        &["ssm", "get-parameter", "--name", "/app/url:stable"],
    );
    assert_eq!(v["Parameter"]["Value"], "https://x");
    let v = run_ok(
        &home,
        &[
            "ssm",
            "unlabel-parameter-version",
            "--name",
            "/app/url",
            "--parameter-version",
            "1",
            "--labels",
            "stable",
        ],
    );
    assert_eq!(v["RemovedLabels"], serde_json::json!(["stable"]));
    let v = run_ok(
        &home,
        &[
            "ssm",
            "describe-parameters",
            "--parameter-filters",
            "Key=tag:team,Values=core",
        ],
    );
    assert_eq!(names(&v), ["/app/db/pw"]);
    assert_eq!(v["Parameters"][0]["KeyId"], "alias/aws/ssm");
    let v = run_ok(
        &home,
        &[
            "ssm",
            "describe-parameters",
            "--filters",
            r#"{"Key":"Name","Values":["/app/u"]}"#,
        ],
    );
    assert_eq!(names(&v), ["/app/url"]);
    run_ok(
        &home,
        &[
            "ssm",
            "add-tags-to-resource",
            "--resource-type",
            "Parameter",
            "--resource-id",
            "/app/url",
            "--tags",
            "Key=a,Value=1",
            "Key=b,Value=2",
        ],
    );
    let v = run_ok(
        &home,
        &[
            "ssm",
            "list-tags-for-resource",
            "--resource-type",
            "Parameter",
            "--resource-id",
            "/app/url",
        ],
    );
    assert_eq!(v["TagList"].as_array().unwrap().len(), 2);
    run_ok(
        &home,
        &[
            "ssm",
            "remove-tags-from-resource",
            "--resource-type",
            "Parameter",
            "--resource-id",
            "/app/url",
            "--tag-keys",
            "a",
        ],
    );
    let v = run_ok(
        &home,
        &[
            "ssm",
            "list-tags-for-resource",
            "--resource-type",
            "Parameter",
            "--resource-id",
            "/app/url",
        ],
    );
    assert_eq!(
        v["TagList"],
        serde_json::json!([{"Key": "b", "Value": "2"}])
    );
    run_ok(&home, &["ssm", "delete-parameter", "--name", "/app/url"]);
    fails(
        &kmsfs(&home, &["ssm", "get-parameter", "--name", "/app/url"]),
        5,
        "ParameterNotFound: Parameter /app/url not found.",
    );
    let v = run_ok(
        &home,
        &["ssm", "delete-parameters", "--names", "/app/db/pw", "/gone"],
    );
    assert_eq!(v["DeletedParameters"], serde_json::json!(["/app/db/pw"]));
    assert_eq!(v["InvalidParameters"], serde_json::json!(["/gone"]));
    fails(
        &kmsfs(
            &home,
            &["ssm", "put-parameter", "--name", "a/b", "--value", "v"],
        ),
        2,
        "ValidationException",
    );
    fails(
        &kmsfs(
            &home,
            &[
                "ssm",
                "describe-parameters",
                "--parameter-filters",
                "Key=Colour,Values=red",
            ],
        ),
        2,
        "InvalidFilterKey",
    );
    // The service's audit lines never hold a value.
    let trail = std::fs::read_to_string(home.join("kms/audit.log")).unwrap_or_default();
    assert!(!trail.contains("s3cret"));
}

#[test]
fn policies_run_after_a_moved_clock_and_show_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let soon = crate_time(3 * 3600);
    let policies = format!(
        r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{soon}"}}}},
            {{"Type":"ExpirationNotification","Version":"1.0","Attributes":{{"Before":"2","Unit":"Hours"}}}}]"#
    );
    let v = run_ok(
        &home,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/tmp/token",
            "--value",
            "t",
            "--tier",
            "Advanced",
            "--policies",
            &policies,
        ],
    );
    assert_eq!(v["Tier"], "Advanced");
    let v = run_ok(&home, &["ssm", "run-due-policies"]);
    assert_eq!(v["Notifications"], 0);
    let later = [("KMSFS_CLOCK_OFFSET_SECS", "7200")];
    let v = ok(&kmsfs_env(&home, &["ssm", "run-due-policies"], &later));
    assert_eq!(v["Notifications"], 1);
    let much_later = [("KMSFS_CLOCK_OFFSET_SECS", "14400")];
    let v = ok(&kmsfs_env(&home, &["ssm", "run-due-policies"], &much_later));
    assert_eq!(v["Expired"], serde_json::json!(["/tmp/token"]));
    let v = run_ok(&home, &["ssm", "events", "--name", "/tmp/token"]);
    let kinds: Vec<&str> = v["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["policyType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ExpirationNotification", "Expiration"]);
    let v = run_ok(&home, &["ssm", "events", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(v["Events"], serde_json::json!([]));
    fails(
        &kmsfs(&home, &["ssm", "get-parameter", "--name", "/tmp/token"]),
        5,
        "ParameterNotFound",
    );
    let bad = r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2999-01-01T00:00:00Z"}}]"#;
    fails(
        &kmsfs(
            &home,
            &[
                "ssm",
                "put-parameter",
                "--name",
                "/p",
                "--value",
                "v",
                "--policies",
                bad,
            ],
        ),
        2,
        "ValidationException",
    );
}

/// Now plus `secs`, as ISO 8601.
fn crate_time(secs: u64) -> String {
    let t = std::time::SystemTime::now() + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_millis(t).to_string()
}
