//! Identities and grants of account 111122223333 shared by the tests of IAM, grants and
//! enforcement: principals' ARNs, the role trust policy, the `kms:*` identity policy, IAM
//! users made on the embedded registry, and grant requests.

use kmsfs::kms::types::{CreateGrantRequest, GrantConstraints};
use kmsfs::kms::{Embedded, Kms};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

pub const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
pub const BOB: &str = "arn:aws:iam::111122223333:user/bob";
pub const ROOT: &str = "arn:aws:iam::111122223333:root";
/// The role [`create_role`] makes (named `R`).
pub const ROLE: &str = "arn:aws:iam::111122223333:role/R";
/// A trust policy letting the account's principals assume the role.
pub const TRUST_ACCOUNT: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;
/// An identity policy allowing every KMS action on every key.
pub const ALLOW_KMS: &str = r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;

/// `kmsfs iam create-role` of role `R` trusting the account (through `run`, the test's
/// way of running the CLI on `home`): its reply.
pub fn create_role(run: impl Fn(&Path, &[&str]) -> Value, home: &Path) -> Value {
    let args = [
        "iam",
        "create-role",
        "--role-name",
        "R",
        "--assume-role-policy-document",
        TRUST_ACCOUNT,
    ];
    run(home, &args)
}

/// `kmsfs iam put-user-policy` / `put-role-policy` (`holder`: `--user-name` or
/// `--role-name`) of `doc` named `policy` on `name`.
pub fn put_policy(
    run: impl Fn(&Path, &[&str]) -> Value,
    home: &Path,
    holder: &str,
    name: &str,
    policy: &str,
    doc: &str,
) -> Value {
    let verb = match holder {
        "--user-name" => "put-user-policy",
        _ => "put-role-policy",
    };
    let args = [
        "iam",
        verb,
        holder,
        name,
        "--policy-name",
        policy,
        "--policy-document",
        doc,
    ];
    run(home, &args)
}

/// The IAM user `name` of the account registered in `home`'s identity registry, with the
/// inline policy `doc` if any.
pub fn user(home: &kmsfs::home::Home, name: &str, doc: Option<&str>) {
    let iam = kmsfs::iam::Iam::open(home);
    iam.create_user(crate::common::kms::ACCOUNT, name).unwrap();
    if let Some(doc) = doc {
        iam.put_policy(
            crate::common::kms::ACCOUNT,
            kmsfs::iam::Holder::User,
            name,
            "policy",
            doc,
        )
        .unwrap();
    }
}

/// An embedded client of `kms` acting as `principal`.
pub fn as_(kms: &Arc<Kms>, principal: &str) -> Embedded {
    Embedded::new(kms.clone(), principal)
}

/// A CreateGrant of `ops` on `key` for `grantee`.
pub fn grant(key: &str, grantee: &str, ops: &[&str]) -> CreateGrantRequest {
    CreateGrantRequest {
        key_id: key.into(),
        grantee_principal: grantee.into(),
        operations: ops.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    }
}

/// Grant constraints: `EncryptionContextSubset` of `pairs`.
pub fn subset(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
    Some(GrantConstraints {
        encryption_context_subset: crate::common::kms::ec(pairs),
        encryption_context_equals: None,
    })
}

/// Account `account` made in `home` with the IAM user `name`, whose identity policy
/// allows KMS (across accounts AWS needs both the key policy and the caller's identity
/// policy), and an access key of that user: `(id, secret)`.
pub fn account_user(home: &Path, account: &str, name: &str) -> (String, String) {
    use crate::common::cli::run_ok;
    run_ok(home, &["account", "create", "--account-id", account]);
    let user = ["--user-name", name, "--account-id", account];
    run_ok(home, &[&["iam", "create-user"][..], &user].concat());
    let k = run_ok(home, &[&["iam", "create-access-key"][..], &user].concat());
    let get = |f: &str| k["AccessKey"][f].as_str().unwrap().to_string();
    let pol = ["--policy-name", "use-kms", "--policy-document", ALLOW_KMS];
    run_ok(
        home,
        &[&["iam", "put-user-policy"][..], &user, &pol].concat(),
    );
    (get("AccessKeyId"), get("SecretAccessKey"))
}
