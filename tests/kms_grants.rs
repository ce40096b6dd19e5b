//! Grants (issue 16): CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant and grant tokens, on the embedded KMS, through the CLI, and with boto3 over a
//! real `kmsfs serve`.

mod common;

use common::cli::{create_key, fails, init, kmsfs, run_ok};
use common::iam::{ALICE, BOB, ROOT, as_, grant, subset};
use common::kms::{ACCOUNT, Env, PRINCIPAL, code, ec, env};
use common::serve::{Server, aws_tool, python_or_skip};
use kmsfs::kms::types::*;
use kmsfs::kms::{Client, Embedded};
use std::os::unix::fs::PermissionsExt;

fn list(e: &Env, key: &str) -> ListGrantsResponse {
    e.c.list_grants(ListGrantsRequest {
        key_id: key.into(),
        ..Default::default()
    })
    .unwrap()
}

/// The folder of a key's grant files.
fn grants_dir(e: &Env, key: &str) -> std::path::PathBuf {
    e.home.kms_dir().join("keys").join(format!("{key}.grants"))
}

#[test]
fn create_list_and_filter_in_aws_shape() {
    let e = env();
    let key = e.create_key();
    let mut r = grant(&key, ALICE, &["Encrypt", "Decrypt", "Encrypt"]);
    r.retiring_principal = Some(BOB.into());
    r.constraints = subset(&[("Dept", "IT")]);
    r.name = Some("alice-use".into());
    let made = e.c.create_grant(r).unwrap();
    assert_eq!(made.grant_id.len(), 64);
    assert!(!made.grant_token.is_empty());
    e.clock.advance_ms(1000);
    e.c.create_grant(grant(&key, BOB, &["DescribeKey"]))
        .unwrap();

    let all = list(&e, &key);
    assert_eq!((all.grants.len(), all.truncated), (2, false));
    assert_eq!(all.next_marker, None);
    let g = &all.grants[0];
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}");
    assert_eq!(g.key_id, arn);
    assert_eq!(g.grant_id, made.grant_id);
    assert_eq!(g.name, "alice-use");
    assert_eq!(g.grantee_principal, ALICE);
    assert_eq!(g.retiring_principal.as_deref(), Some(BOB));
    assert_eq!(g.issuing_account, ROOT, "the account of {PRINCIPAL}");
    assert_eq!(g.operations, ["Encrypt", "Decrypt"], "each operation once");
    assert_eq!(g.constraints, subset(&[("Dept", "IT")]));
    assert_eq!(g.creation_date, 1_800_000_000.0);
    assert_eq!(all.grants[1].name, "", "no name lists as \"\"");

    // The JSON is AWS's.
    let v = serde_json::to_value(&all).unwrap();
    let g0 = &v["Grants"][0];
    for f in [
        "KeyId",
        "GrantId",
        "Name",
        "CreationDate",
        "GranteePrincipal",
        "RetiringPrincipal",
        "IssuingAccount",
        "Operations",
    ] {
        assert!(g0.get(f).is_some(), "{f} in {g0}");
    }
    assert_eq!(g0["Constraints"]["EncryptionContextSubset"]["Dept"], "IT");
    assert!(g0.get("GrantToken").is_none(), "lists never show tokens");

    let by = |grant_id: Option<&str>, grantee: Option<&str>| {
        e.c.list_grants(ListGrantsRequest {
            key_id: arn.clone(),
            grant_id: grant_id.map(Into::into),
            grantee_principal: grantee.map(Into::into),
            ..Default::default()
        })
    };
    let one = by(Some(&made.grant_id), None).unwrap();
    assert_eq!(one.grants.len(), 1);
    assert_eq!(
        by(None, Some(BOB)).unwrap().grants[0].grantee_principal,
        BOB
    );
    assert_eq!(
        code(by(Some("not-a-grant-id"), None)),
        "InvalidGrantIdException"
    );
    let alias = e.c.list_grants(ListGrantsRequest {
        key_id: "alias/nope".into(),
        ..Default::default()
    });
    assert_eq!(code(alias), "NotFoundException");
}

#[test]
fn operations_must_suit_the_key_and_constraints_have_limits() {
    let e = env();
    let key = e.create_key();
    for ops in [
        &["Sign"][..],
        &["Encrypt", "GenerateMac"],
        &["GetPublicKey"],
    ] {
        let err = e.c.create_grant(grant(&key, ALICE, ops)).unwrap_err();
        assert_eq!(err.code(), "ValidationException", "{ops:?}");
        assert!(err.message().contains("not valid for"), "{err}");
    }
    let err =
        e.c.create_grant(grant(&key, ALICE, &["Frobnicate"]))
            .unwrap_err();
    assert!(err.message().contains("enum value set"), "{err}");
    assert_eq!(
        code(e.c.create_grant(grant(&key, ALICE, &[]))),
        "ValidationException"
    );
    for p in ["", "alice", "has space"] {
        let r = e.c.create_grant(grant(&key, p, &["Encrypt"]));
        assert_eq!(code(r), "ValidationException", "{p:?}");
    }
    let mut named = grant(&key, ALICE, &["Encrypt"]);
    named.name = Some("no spaces allowed".into());
    assert_eq!(code(e.c.create_grant(named)), "ValidationException");

    let pairs: Vec<(String, String)> = (0..9).map(|i| (format!("k{i}"), "v".into())).collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut r = grant(&key, ALICE, &["Decrypt"]);
    r.constraints = subset(&refs[..9]);
    assert_eq!(
        code(e.c.create_grant(r.clone())),
        "ValidationException",
        "9 pairs"
    );
    r.constraints = subset(&refs[..8]);
    e.c.create_grant(r.clone()).expect("8 pairs");
    let long = "v".repeat(385);
    r.constraints = Some(GrantConstraints {
        encryption_context_subset: None,
        encryption_context_equals: ec(&[("k", &long)]),
    });
    assert_eq!(
        code(e.c.create_grant(r.clone())),
        "ValidationException",
        "385"
    );
    r.constraints = Some(GrantConstraints {
        encryption_context_subset: None,
        encryption_context_equals: ec(&[("k", &long[..384])]),
    });
    e.c.create_grant(r).expect("384 characters");
    // Every symmetric operation, and the data key pair ones, suit a symmetric key.
    let all = "Decrypt Encrypt GenerateDataKey GenerateDataKeyWithoutPlaintext ReEncryptFrom \
               ReEncryptTo CreateGrant RetireGrant DescribeKey GenerateDataKeyPair \
               GenerateDataKeyPairWithoutPlaintext";
    let all: Vec<&str> = all.split_whitespace().collect();
    e.c.create_grant(grant(&key, ALICE, &all)).unwrap();
}

#[test]
fn a_name_makes_create_grant_idempotent_per_key() {
    let e = env();
    let [k1, k2] = e.keys();
    let named = |key: &str, ops: &[&str]| {
        let mut r = grant(key, ALICE, ops);
        r.name = Some("app".into());
        r.constraints = subset(&[("a", "b")]);
        e.c.create_grant(r).unwrap()
    };
    let a = named(&k1, &["Encrypt", "Decrypt"]);
    let b = named(&k1, &["Decrypt", "Encrypt"]);
    assert_eq!(a.grant_id, b.grant_id, "same name, same parameters");
    assert_ne!(a.grant_token, b.grant_token, "a fresh token each time");
    let c = named(&k1, &["Encrypt"]);
    assert_ne!(c.grant_id, a.grant_id, "different parameters: a new grant");
    let d = named(&k2, &["Encrypt", "Decrypt"]);
    assert_ne!(d.grant_id, a.grant_id, "names are per key");
    assert_eq!(list(&e, &k1).grants.len(), 2);
    let unnamed = grant(&k1, ALICE, &["Encrypt"]);
    let x = e.c.create_grant(unnamed.clone()).unwrap();
    let y = e.c.create_grant(unnamed).unwrap();
    assert_ne!(
        x.grant_id, y.grant_id,
        "without a name every call makes a grant"
    );
    // Both tokens of one grant name it: the second retires nothing left.
    let root = as_(&e.kms, ROOT);
    root.retire_grant(RetireGrantRequest {
        grant_token: Some(b.grant_token),
        ..Default::default()
    })
    .unwrap();
    let again = root.retire_grant(RetireGrantRequest {
        grant_token: Some(a.grant_token),
        ..Default::default()
    });
    assert_eq!(code(again), "NotFoundException");
}

#[test]
fn grant_tokens_are_checked_on_every_operation_that_takes_them() {
    let e = env();
    let key = e.create_key();
    let made = e.c.create_grant(grant(&key, ALICE, &["Encrypt"])).unwrap();
    let bad = Some(vec!["not-a-grant-token".to_string()]);
    let enc = |t: Option<Vec<String>>| {
        e.c.encrypt(EncryptRequest {
            key_id: key.clone(),
            plaintext: kmsfs::crypto::SecretBytes::from_slice(b"x"),
            grant_tokens: t,
            ..Default::default()
        })
    };
    assert_eq!(code(enc(bad.clone())), "InvalidGrantTokenException");
    let blob = enc(None).unwrap().ciphertext_blob;
    let dec = e.c.decrypt(DecryptRequest {
        ciphertext_blob: blob.clone(),
        grant_tokens: bad.clone(),
        ..Default::default()
    });
    assert_eq!(code(dec), "InvalidGrantTokenException");
    let mut gdk = common::kms::aes_256(&key);
    gdk.grant_tokens = bad.clone();
    assert_eq!(
        code(e.c.generate_data_key(gdk)),
        "InvalidGrantTokenException"
    );
    let describe = e.c.describe_key(KeyIdRequest {
        key_id: key.clone(),
        grant_tokens: bad.clone(),
    });
    assert_eq!(code(describe), "InvalidGrantTokenException");
    let mut cg = grant(&key, BOB, &["Decrypt"]);
    cg.grant_tokens = bad;
    assert_eq!(code(e.c.create_grant(cg)), "InvalidGrantTokenException");
    let retire = e.c.retire_grant(RetireGrantRequest {
        grant_token: Some("garbage".into()),
        ..Default::default()
    });
    assert_eq!(code(retire), "InvalidGrantTokenException");

    // Up to 10 well-formed tokens pass, even of a grant that is gone.
    let ten = Some(vec![made.grant_token.clone(); 10]);
    enc(ten.clone()).unwrap();
    let eleven = Some(vec![made.grant_token.clone(); 11]);
    assert_eq!(code(enc(eleven)), "ValidationException");
    e.c.revoke_grant(RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: made.grant_id,
    })
    .unwrap();
    enc(ten).expect("a retired grant's token is still well formed");
}

#[test]
fn who_may_retire_a_grant_and_revoke() {
    let e = env();
    let key = e.create_key();
    let carol_role = "arn:aws:iam::111122223333:role/Carol";
    let mk = |grantee: &str, retiring: Option<&str>, ops: &[&str]| {
        let mut r = grant(&key, grantee, ops);
        r.retiring_principal = retiring.map(Into::into);
        e.c.create_grant(r).unwrap()
    };
    let by_id = |g: &CreateGrantResponse| RetireGrantRequest {
        key_id: Some(key.clone()),
        grant_id: Some(g.grant_id.clone()),
        ..Default::default()
    };
    let by_token = |g: &CreateGrantResponse| RetireGrantRequest {
        grant_token: Some(g.grant_token.clone()),
        ..Default::default()
    };
    let g1 = mk(ALICE, Some(BOB), &["Decrypt"]);
    assert_eq!(
        code(as_(&e.kms, ALICE).retire_grant(by_id(&g1))),
        "AccessDeniedException"
    );
    as_(&e.kms, BOB)
        .retire_grant(by_token(&g1))
        .expect("the retiring principal");

    let g2 = mk(ALICE, None, &["Decrypt", "RetireGrant"]);
    assert_eq!(
        code(as_(&e.kms, BOB).retire_grant(by_id(&g2))),
        "AccessDeniedException"
    );
    as_(&e.kms, ALICE)
        .retire_grant(by_id(&g2))
        .expect("a grantee allowed RetireGrant");

    let g3 = mk(ALICE, None, &["Decrypt"]);
    let denied = as_(&e.kms, ALICE).retire_grant(by_token(&g3)).unwrap_err();
    assert_eq!(denied.code(), "AccessDeniedException");
    assert!(denied.message().contains("kms:RetireGrant"), "{denied}");
    as_(&e.kms, ROOT)
        .retire_grant(by_token(&g3))
        .expect("the issuing account");

    let g4 = mk(ALICE, Some(carol_role), &["Decrypt"]);
    let session = "arn:aws:sts::111122223333:assumed-role/Carol/s1";
    as_(&e.kms, session)
        .retire_grant(by_id(&g4))
        .expect("a session of the retiring role");
    let other = "arn:aws:iam::444455556666:root";
    let g5 = mk(ALICE, None, &["Decrypt"]);
    assert_eq!(
        code(as_(&e.kms, other).retire_grant(by_id(&g5))),
        "AccessDeniedException"
    );
    assert_eq!(
        code(e.c.retire_grant(RetireGrantRequest::default())),
        "ValidationException"
    );

    // RevokeGrant: key and grant id; unknown ids are NotFound, malformed InvalidGrantId.
    let revoke = |gid: &str| {
        e.c.revoke_grant(RevokeGrantRequest {
            key_id: key.clone(),
            grant_id: gid.into(),
        })
    };
    revoke(&g5.grant_id).unwrap();
    assert_eq!(code(revoke(&g5.grant_id)), "NotFoundException");
    assert_eq!(code(revoke("xyz")), "InvalidGrantIdException");
    assert!(list(&e, &key).grants.is_empty());
}

#[test]
fn key_states_create_grant_needs_an_enabled_key() {
    let e = env();
    let key = e.create_key();
    let g = e.c.create_grant(grant(&key, ALICE, &["Decrypt"])).unwrap();
    e.c.disable_key(e.kid(&key)).unwrap();
    assert_eq!(
        code(e.c.create_grant(grant(&key, ALICE, &["Decrypt"]))),
        "DisabledException"
    );
    assert_eq!(
        list(&e, &key).grants.len(),
        1,
        "ListGrants works on a disabled key"
    );
    e.c.revoke_grant(RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: g.grant_id,
    })
    .expect("RevokeGrant works on a disabled key");
    e.c.enable_key(e.kid(&key)).unwrap();
    e.schedule_deletion(&key, Some(7)).unwrap();
    assert_eq!(
        code(e.c.create_grant(grant(&key, ALICE, &["Decrypt"]))),
        "KMSInvalidStateException"
    );
}

#[test]
fn lists_page_with_markers() {
    let e = env();
    let [k1, k2] = e.keys();
    for i in 0..7 {
        e.clock.advance_ms(1000);
        let mut r = grant(if i % 2 == 0 { &k1 } else { &k2 }, ALICE, &["Decrypt"]);
        r.retiring_principal = Some(BOB.into());
        e.c.create_grant(r).unwrap();
        e.c.create_grant(grant(&k1, ALICE, &["Encrypt"])).unwrap();
    }
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let p =
            e.c.list_grants(ListGrantsRequest {
                key_id: k1.clone(),
                limit: Some(3),
                marker: marker.clone(),
                ..Default::default()
            })
            .unwrap();
        pages += 1;
        seen.extend(
            p.grants
                .iter()
                .map(|g| (g.creation_date, g.grant_id.clone())),
        );
        assert_eq!(p.truncated, p.next_marker.is_some());
        match p.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (11, 4));
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(seen, sorted, "creation order, no repeats");
    sorted.dedup();
    assert_eq!(sorted.len(), 11);

    let bad = e.c.list_grants(ListGrantsRequest {
        key_id: k1.clone(),
        marker: Some("nonsense".into()),
        ..Default::default()
    });
    assert_eq!(code(bad), "InvalidMarkerException");
    let zero = e.c.list_grants(ListGrantsRequest {
        key_id: k1.clone(),
        limit: Some(0),
        ..Default::default()
    });
    assert_eq!(code(zero), "ValidationException");

    // Retirable by BOB: 4 on k1, 3 on k2, over both keys.
    let mut retirable = Vec::new();
    let mut marker = None;
    loop {
        let p =
            e.c.list_retirable_grants(ListRetirableGrantsRequest {
                retiring_principal: BOB.into(),
                limit: Some(2),
                marker: marker.clone(),
            })
            .unwrap();
        retirable.extend(p.grants);
        match p.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(retirable.len(), 7);
    assert!(
        retirable
            .iter()
            .all(|g| g.retiring_principal.as_deref() == Some(BOB))
    );
    let on = |k: &str| retirable.iter().filter(|g| g.key_id.ends_with(k)).count();
    assert_eq!((on(&k1), on(&k2)), (4, 3));
    let none =
        e.c.list_retirable_grants(ListRetirableGrantsRequest {
            retiring_principal: ALICE.into(),
            ..Default::default()
        })
        .unwrap();
    assert!(none.grants.is_empty() && !none.truncated);
}

#[test]
fn grants_persist_sealed_0600_and_go_with_their_key() {
    let e = env();
    let [key, other] = e.keys();
    let g = e.c.create_grant(grant(&key, ALICE, &["Decrypt"])).unwrap();
    e.c.create_grant(grant(&other, ALICE, &["Decrypt"]))
        .unwrap();
    let file = grants_dir(&e, &key).join(&g.grant_id);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], b"KMSG");
    assert!(
        !String::from_utf8_lossy(&bytes).contains("alice"),
        "the grant is sealed"
    );

    // Another process (a fresh KMS on the same home) sees it.
    let kms2 = common::kms::open(&e.home, &e.clock);
    let c2 = Embedded::new(kms2, PRINCIPAL);
    let listed = c2
        .list_grants(ListGrantsRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.grants[0].grant_id, g.grant_id);

    // A grant file moved to another grant's name does not open.
    let moved = grants_dir(&e, &key).join("ab".repeat(32));
    std::fs::copy(&file, &moved).unwrap();
    let err = c2.list_grants(ListGrantsRequest {
        key_id: key.clone(),
        ..Default::default()
    });
    assert_eq!(code(err), "KMSInternalException");
    std::fs::remove_file(&moved).unwrap();

    // Deleting the key deletes its grants, and only its own.
    e.schedule_deletion(&key, Some(7)).unwrap();
    e.clock.advance_ms(8 * 86_400_000);
    e.kms.purge().unwrap();
    assert!(!grants_dir(&e, &key).exists(), "the key's grants are gone");
    assert!(grants_dir(&e, &other).exists());
    let lines = e.audit_lines();
    assert!(lines.iter().any(|l| l.operation == "DeleteKey"));
}

#[test]
fn every_grant_operation_is_audited() {
    let e = env();
    let key = e.create_key();
    let g = e.c.create_grant(grant(&key, ALICE, &["Decrypt"])).unwrap();
    list(&e, &key);
    e.c.list_retirable_grants(ListRetirableGrantsRequest {
        retiring_principal: BOB.into(),
        ..Default::default()
    })
    .unwrap();
    let g2 = e.c.create_grant(grant(&key, ALICE, &["Decrypt"])).unwrap();
    as_(&e.kms, ROOT)
        .retire_grant(RetireGrantRequest {
            grant_token: Some(g.grant_token),
            ..Default::default()
        })
        .unwrap();
    e.c.revoke_grant(RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: g2.grant_id,
    })
    .unwrap();
    let bad = e.c.create_grant(grant(&key, ALICE, &["Sign"]));
    assert!(bad.is_err());
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}");
    let lines = e.audit_lines();
    let of = |op: &str| -> Vec<_> { lines.iter().filter(|l| l.operation == op).collect() };
    for op in ["CreateGrant", "ListGrants", "RetireGrant", "RevokeGrant"] {
        assert!(
            of(op)
                .iter()
                .any(|l| l.key_arn.as_deref() == Some(arn.as_str())),
            "{op} names the key"
        );
    }
    assert_eq!(of("ListRetirableGrants").len(), 1);
    // Changes are written ahead (Pending), then their outcome; the refusal is on record.
    let all = kmsfs::kms::audit::read_all_lines(e.kms.audit_path()).unwrap();
    for op in ["CreateGrant", "RetireGrant", "RevokeGrant"] {
        let outcomes: Vec<&str> = (all.iter().filter(|l| l.operation == op))
            .map(|l| l.outcome.as_str())
            .collect();
        assert!(outcomes.contains(&"Pending"), "{op}: {outcomes:?}");
    }
    let reads = all.iter().filter(|l| l.operation == "ListGrants");
    assert!(
        reads.into_iter().all(|l| l.outcome == "Success"),
        "reads write one line"
    );
    let refused = of("CreateGrant");
    let refused = refused.last().unwrap();
    assert_eq!(refused.error_code.as_deref(), Some("ValidationException"));
    assert_eq!(refused.principal, PRINCIPAL);
}

/// 50,000 grants per key: the 50,001st is LimitExceededException. The grants past the
/// first are hard links of its file under other grant ids (counting reads names only).
#[test]
fn a_key_holds_at_most_50000_grants() {
    let e = env();
    let key = e.create_key();
    let g = e.c.create_grant(grant(&key, ALICE, &["Decrypt"])).unwrap();
    let dir = grants_dir(&e, &key);
    let first = dir.join(&g.grant_id);
    for i in 1..50_000u32 {
        std::fs::hard_link(&first, dir.join(format!("{:064x}", i))).unwrap();
    }
    let err =
        e.c.create_grant(grant(&key, ALICE, &["Decrypt"]))
            .unwrap_err();
    assert_eq!(err.code(), "LimitExceededException");
    assert!(err.message().contains("50000"), "{err}");
    for i in 1..50_000u32 {
        std::fs::remove_file(dir.join(format!("{:064x}", i))).unwrap();
    }
    e.c.create_grant(grant(&key, ALICE, &["Decrypt"]))
        .expect("room again");
}

#[test]
fn cli_create_list_retire_revoke() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = create_key(&home, "KeyId");
    let made = run_ok(
        &home,
        &[
            "kms",
            "create-grant",
            "--key-id",
            &key,
            "--grantee-principal",
            ALICE,
            "--operations",
            "Encrypt",
            "Decrypt",
            "--constraints",
            "EncryptionContextSubset={Dept=IT,Purpose=Test}",
            "--name",
            "cli-grant",
        ],
    );
    let gid = made["GrantId"].as_str().unwrap().to_string();
    let token = made["GrantToken"].as_str().unwrap().to_string();
    let listed = run_ok(&home, &["kms", "list-grants", "--key-id", &key]);
    let g = &listed["Grants"][0];
    assert_eq!(g["GrantId"], gid.as_str());
    assert_eq!(g["Operations"], serde_json::json!(["Encrypt", "Decrypt"]));
    assert_eq!(
        g["Constraints"]["EncryptionContextSubset"],
        serde_json::json!({"Dept": "IT", "Purpose": "Test"})
    );
    assert_eq!(g["Name"], "cli-grant");

    let bad = kmsfs(
        &home,
        &[
            "kms",
            "create-grant",
            "--key-id",
            &key,
            "--grantee-principal",
            ALICE,
            "--operations",
            "Sign",
        ],
    );
    fails(&bad, 5, "CreateGrant failed");
    let bad = kmsfs(
        &home,
        &[
            "kms",
            "create-grant",
            "--key-id",
            &key,
            "--grantee-principal",
            ALICE,
            "--operations",
            "Decrypt",
            "--constraints",
            "Subset={a=b}",
        ],
    );
    fails(&bad, 2, "bad --constraints");
    let bad = kmsfs(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &key,
            "--plaintext",
            "x",
            "--grant-tokens",
            "junk",
        ],
    );
    fails(&bad, 5, "InvalidGrantToken");

    run_ok(&home, &["kms", "retire-grant", "--grant-token", &token]);
    let listed = run_ok(&home, &["kms", "list-grants", "--key-id", &key]);
    assert!(listed["Grants"].as_array().unwrap().is_empty());
    let again = run_ok(
        &home,
        &[
            "kms",
            "create-grant",
            "--key-id",
            &key,
            "--grantee-principal",
            ALICE,
            "--retiring-principal",
            BOB,
            "--operations",
            "Decrypt",
        ],
    );
    let retirable = run_ok(
        &home,
        &["kms", "list-retirable-grants", "--retiring-principal", BOB],
    );
    assert_eq!(retirable["Grants"][0]["GrantId"], again["GrantId"]);
    let gid2 = again["GrantId"].as_str().unwrap();
    run_ok(
        &home,
        &["kms", "revoke-grant", "--key-id", &key, "--grant-id", gid2],
    );
    let o = kmsfs(
        &home,
        &["kms", "revoke-grant", "--key-id", &key, "--grant-id", gid2],
    );
    fails(&o, 5, "RevokeGrant failed");
}

#[test]
fn boto3_creates_lists_retires_and_revokes_grants() {
    let Some(bin) = python_or_skip("boto3_creates_lists_retires_and_revokes_grants") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = create_key(&home, "KeyId");
    let srv = Server::start(&home, &[]);
    let script = format!(
        r#"
import boto3, botocore.exceptions
c = boto3.client("kms")
key = "{key}"
made = [c.create_grant(KeyId=key, GranteePrincipal="{ALICE}", RetiringPrincipal="{BOB}",
                       Operations=["Encrypt", "Decrypt"],
                       Constraints={{"EncryptionContextEquals": {{"app": "x"}}}})
        for _ in range(5)]
ids = [m["GrantId"] for m in made]
seen = []
for page in c.get_paginator("list_grants").paginate(KeyId=key, PaginationConfig={{"PageSize": 2}}):
    seen += [g["GrantId"] for g in page["Grants"]]
    for g in page["Grants"]:
        assert g["IssuingAccount"].endswith(":root"), g
        assert g["Constraints"] == {{"EncryptionContextEquals": {{"app": "x"}}}}, g
        assert g["CreationDate"].year >= 2024, g
assert sorted(seen) == sorted(ids), (seen, ids)
print("pages ok", len(seen))
r = c.list_retirable_grants(RetiringPrincipal="{BOB}")
assert len(r["Grants"]) == 5, r
c.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=[made[0]["GrantToken"]])
c.retire_grant(GrantToken=made[0]["GrantToken"])
c.retire_grant(KeyId=key, GrantId=ids[1])
c.revoke_grant(KeyId=key, GrantId=ids[2])
left = c.list_grants(KeyId=key)["Grants"]
assert sorted(g["GrantId"] for g in left) == sorted(ids[3:]), left
try:
    c.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=["not a grant token"])
    raise SystemExit("a malformed grant token was accepted")
except c.exceptions.InvalidGrantTokenException as e:
    print("refused", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
try:
    c.revoke_grant(KeyId=key, GrantId=ids[2])
    raise SystemExit("revoked twice")
except c.exceptions.NotFoundException:
    print("gone")
"#
    );
    let o = aws_tool(&bin, "python3", &srv.endpoint)
        .args(["-c", &script])
        .output()
        .unwrap();
    let out = common::serve::check(&o, "the boto3 grant script");
    assert!(out.contains("pages ok 5"), "{out}");
    assert!(
        out.contains("refused InvalidGrantTokenException 400"),
        "{out}"
    );
    assert!(out.contains("gone"), "{out}");
    // kmsfs's own remote client: the same operations, and the errors' names back.
    let r = common::serve::remote(&srv.endpoint);
    let made = r.create_grant(grant(&key, BOB, &["Decrypt"])).unwrap();
    let one = ListGrantsRequest {
        key_id: key.clone(),
        grant_id: Some(made.grant_id),
        ..Default::default()
    };
    assert_eq!(
        r.list_grants(one.clone()).unwrap().grants[0].grantee_principal,
        BOB
    );
    let bad_id = ListGrantsRequest {
        grant_id: Some("nope".into()),
        ..one
    };
    assert_eq!(code(r.list_grants(bad_id)), "InvalidGrantIdException");
    srv.stop();
}
