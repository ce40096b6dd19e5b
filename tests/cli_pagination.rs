//! The AWS CLI's pagination through the real binary: list verbs fetch every page
//! (`--page-size` only sets the size of each call), `--max-items` stops with a NextToken
//! that `--starting-token` resumes from, `--no-paginate` and the raw `--limit`/`--marker`
//! (`--max-results`/`--next-token`) fetch one page; for the KMS (NextMarker), Secrets
//! Manager and Parameter Store (NextToken) alike.

mod common;
use common::cli::{init, run_ok};
use serde_json::Value;
use std::path::Path;

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}

/// Every item once, in order, whatever the page size; and max-items/starting-token resume.
fn check(home: &Path, verb: &[&str], list: &str, field: &str, n: usize, raw_limit: &str) {
    let all = run_ok(home, verb);
    let want = names(&all, list, field);
    assert_eq!(want.len(), n, "{all}");
    for extra in [["--page-size", "1"], ["--page-size", "2"]] {
        let v = run_ok(home, &[verb, &extra].concat());
        assert_eq!(names(&v, list, field), want, "{extra:?}");
        assert!(
            v.get("NextToken").is_none() && v.get("NextMarker").is_none(),
            "{v}"
        );
    }
    let first = run_ok(
        home,
        &[verb, &["--max-items", "2", "--page-size", "1"]].concat(),
    );
    assert_eq!(names(&first, list, field), want[..2]);
    let token = first["NextToken"]
        .as_str()
        .expect("a NextToken")
        .to_string();
    let rest = run_ok(home, &[verb, &["--starting-token", &token]].concat());
    assert_eq!(names(&rest, list, field), want[2..]);
    let one = run_ok(home, &[verb, &[raw_limit, "1"]].concat());
    assert_eq!(names(&one, list, field).len(), 1, "{one}");
    let one = run_ok(
        home,
        &[verb, &["--no-paginate", "--page-size", "1"]].concat(),
    );
    assert_eq!(names(&one, list, field).len(), 1, "{one}");
}

#[test]
fn list_verbs_paginate_as_the_aws_cli() {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    for i in 0..5 {
        run_ok(
            &home,
            &["kms", "create-key", "--description", &format!("k{i}")],
        );
        run_ok(
            &home,
            &[
                "secretsmanager",
                "create-secret",
                "--name",
                &format!("s{i}"),
                "--secret-string",
                "v",
            ],
        );
        run_ok(
            &home,
            &[
                "ssm",
                "put-parameter",
                "--name",
                &format!("/p/{i}"),
                "--value",
                "v",
                "--type",
                "String",
            ],
        );
    }
    // Five keys, and Secrets Manager's AWS-managed key (made by its first secret).
    check(&home, &["kms", "list-keys"], "Keys", "KeyId", 6, "--limit");
    check(
        &home,
        &["secretsmanager", "list-secrets"],
        "SecretList",
        "Name",
        5,
        "--max-results",
    );
    check(
        &home,
        &["ssm", "describe-parameters"],
        "Parameters",
        "Name",
        5,
        "--max-results",
    );
    check(
        &home,
        &["ssm", "get-parameters-by-path", "--path", "/p"],
        "Parameters",
        "Name",
        5,
        "--max-results",
    );
}
