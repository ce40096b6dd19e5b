//! Secrets Manager through its Rust API on an embedded KMS with a manual clock: every
//! operation, the staging label rules, idempotency, the version cap, deletion windows,
//! listing, tags, policies and random passwords. Keys, tampering, audit and concurrency:
//! `secretsmanager_secure.rs`.

mod common;
#[path = "secretsmanager/helpers.rs"]
mod helpers;
use common::kms::env;
use helpers::*;
use kmsfs::secrets::manager::password::PasswordSpec;
use kmsfs::secrets::manager::*;

#[test]
fn create_get_by_name_arn_and_partial_arn() {
    let e = env();
    let s = sm(&e);
    let c = create(&s, "app/db", "hunter2");
    assert!(
        c.arn
            .starts_with("arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-")
    );
    assert_eq!(
        c.arn.len(),
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-".len() + 6
    );
    let partial = &c.arn[..c.arn.len() - 7];
    for idv in ["app/db", c.arn.as_str(), partial] {
        let v = get(&s, idv).unwrap();
        assert_eq!(v.secret_string.unwrap().expose(), "hunter2", "{idv}");
        assert_eq!(v.version_stages, vec!["AWSCURRENT"]);
        assert_eq!(Some(v.version_id), c.version_id);
    }
    assert_eq!(
        get(&s, "app/nope").unwrap_err().code(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        get(&s, &format!("{}-ABCDEF", partial)).unwrap_err().code(),
        "ResourceNotFoundException"
    );
    // Binary values, and Debug never shows a value.
    let b = s
        .create_secret(CreateSecretRequest {
            name: "bin".into(),
            secret_binary: Some(kmsfs::crypto::SecretBytes::from_slice(&[0, 1, 2, 255])),
            ..Default::default()
        })
        .unwrap();
    let v = get(&s, &b.arn).unwrap();
    assert_eq!(v.secret_binary.as_ref().unwrap().expose(), &[0, 1, 2, 255]);
    assert!(v.secret_string.is_none());
    let shown = format!("{:?}", get(&s, "app/db").unwrap());
    assert!(!shown.contains("hunter2"), "{shown}");
    // Both values, duplicate names, bad names.
    let both = s.create_secret(CreateSecretRequest {
        name: "x".into(),
        secret_string: Some(SecretText::new("a")),
        secret_binary: Some(kmsfs::crypto::SecretBytes::from_slice(b"a")),
        ..Default::default()
    });
    assert_eq!(both.unwrap_err().code(), "InvalidParameterException");
    let dup = s.create_secret(CreateSecretRequest {
        name: "app/db".into(),
        secret_string: Some(SecretText::new("b")),
        ..Default::default()
    });
    assert_eq!(dup.unwrap_err().code(), "ResourceExistsException");
    let bad = s.create_secret(CreateSecretRequest {
        name: "a b".into(),
        ..Default::default()
    });
    assert_eq!(bad.unwrap_err().code(), "InvalidParameterException");
    let repl = s.create_secret(CreateSecretRequest {
        name: "r".into(),
        add_replica_regions: Some(vec![serde_json::json!({"Region": "eu-west-1"})]),
        ..Default::default()
    });
    assert_eq!(repl.unwrap_err().code(), "InvalidRequestException");
}

#[test]
fn put_moves_labels_and_is_idempotent_by_token() {
    let e = env();
    let s = sm(&e);
    let c = create(&s, "p", "v1");
    let v1 = c.version_id.unwrap();
    let p2 = put(&s, "p", "v2", Some(T1)).unwrap();
    assert_eq!(p2.version_id, T1);
    assert_eq!(p2.version_stages, vec!["AWSCURRENT"]);
    assert_eq!(get_stage(&s, "p", "AWSCURRENT"), "v2");
    assert_eq!(get_stage(&s, "p", "AWSPREVIOUS"), "v1");
    // Same token, same value: the same version; same token, another value: refused.
    assert_eq!(put(&s, "p", "v2", Some(T1)).unwrap().version_id, T1);
    assert_eq!(
        put(&s, "p", "other", Some(T1)).unwrap_err().code(),
        "ResourceExistsException"
    );
    assert_eq!(get_stage(&s, "p", "AWSCURRENT"), "v2");
    // A third: AWSPREVIOUS moves, v1 loses its label (deprecated).
    let p3 = put(&s, "p", "v3", None).unwrap();
    let d = describe(&s, "p");
    let map = d.version_ids_to_stages.unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map[&p3.version_id], vec!["AWSCURRENT"]);
    assert_eq!(map[T1], vec!["AWSPREVIOUS"]);
    // Pending versions do not move AWSCURRENT.
    let pend = s
        .put_secret_value(PutSecretValueRequest {
            secret_id: "p".into(),
            secret_string: Some(SecretText::new("v4")),
            version_stages: Some(vec!["AWSPENDING".into()]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(get_stage(&s, "p", "AWSCURRENT"), "v3");
    assert_eq!(get_stage(&s, "p", "AWSPENDING"), "v4");
    // By version id, with a mismatched stage, of a missing version.
    let by_id = s
        .get_secret_value(GetSecretValueRequest {
            secret_id: "p".into(),
            version_id: Some(v1.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_id.secret_string.unwrap().expose(), "v1");
    assert!(by_id.version_stages.is_empty());
    let mism = s.get_secret_value(GetSecretValueRequest {
        secret_id: "p".into(),
        version_id: Some(v1.clone()),
        version_stage: Some("AWSCURRENT".into()),
    });
    assert_eq!(mism.unwrap_err().code(), "InvalidRequestException");
    let missing = s.get_secret_value(GetSecretValueRequest {
        secret_id: "p".into(),
        version_id: Some("22222222-2222-4222-8222-222222222222".into()),
        ..Default::default()
    });
    assert_eq!(missing.unwrap_err().code(), "ResourceNotFoundException");
    // ListSecretVersionIds: deprecated only with IncludeDeprecated; pagination.
    let l = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "p".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(l.versions.len(), 3);
    let all = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "p".into(),
            include_deprecated: Some(true),
            max_results: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.versions.len(), 3);
    let rest = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "p".into(),
            include_deprecated: Some(true),
            next_token: all.next_token,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rest.versions.len(), 1);
    assert_eq!(rest.versions[0].version_id, v1);
    assert!(all.versions.iter().any(|v| v.version_id == pend.version_id));
}

#[test]
fn update_secret_version_stage_rules() {
    let e = env();
    let s = sm(&e);
    let v1 = create(&s, "l", "a").version_id.unwrap();
    let v2 = put(&s, "l", "b", None).unwrap().version_id;
    let stage = |stage: &str, from: Option<&str>, to: Option<&str>| {
        s.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_id: "l".into(),
            version_stage: stage.into(),
            remove_from_version_id: from.map(str::to_string),
            move_to_version_id: to.map(str::to_string),
        })
    };
    // Moving AWSCURRENT needs the version it is on named.
    let e1 = stage("AWSCURRENT", None, Some(&v1)).unwrap_err();
    assert_eq!(e1.code(), "InvalidParameterException");
    assert!(e1.to_string().contains("RemoveFromVersionId"), "{e1}");
    // Removing AWSCURRENT without moving it is refused.
    assert_eq!(
        stage("AWSCURRENT", Some(&v2), None).unwrap_err().code(),
        "InvalidParameterException"
    );
    // A label not on the version named.
    assert_eq!(
        stage("AWSCURRENT", Some(&v1), Some(&v1))
            .unwrap_err()
            .code(),
        "InvalidParameterException"
    );
    stage("AWSCURRENT", Some(&v2), Some(&v1)).unwrap();
    assert_eq!(get_stage(&s, "l", "AWSCURRENT"), "a");
    assert_eq!(get_stage(&s, "l", "AWSPREVIOUS"), "b");
    // Custom labels: attach, then remove.
    stage("MYLABEL", None, Some(&v2)).unwrap();
    assert_eq!(get_stage(&s, "l", "MYLABEL"), "b");
    stage("MYLABEL", Some(&v2), None).unwrap();
    let r = s.get_secret_value(GetSecretValueRequest {
        secret_id: "l".into(),
        version_stage: Some("MYLABEL".into()),
        ..Default::default()
    });
    assert_eq!(r.unwrap_err().code(), "ResourceNotFoundException");
    assert_eq!(
        stage("X", None, Some("33333333-3333-4333-8333-333333333333"))
            .unwrap_err()
            .code(),
        "InvalidParameterException"
    );
}

#[test]
fn at_most_100_versions_oldest_unlabelled_dropped() {
    let e = env();
    let s = sm(&e);
    let first = create(&s, "cap", "v0").version_id.unwrap();
    let keep = s
        .put_secret_value(PutSecretValueRequest {
            secret_id: "cap".into(),
            secret_string: Some(SecretText::new("kept")),
            version_stages: Some(vec!["KEEP".into()]),
            ..Default::default()
        })
        .unwrap()
        .version_id;
    for i in 1..=105 {
        put(&s, "cap", &format!("v{i}"), None).unwrap();
    }
    let l = s
        .list_secret_version_ids(ListSecretVersionIdsRequest {
            secret_id: "cap".into(),
            include_deprecated: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(l.versions.len(), 100);
    assert!(
        l.versions.iter().all(|v| v.version_id != first),
        "the oldest unlabelled version is gone"
    );
    assert!(
        l.versions.iter().any(|v| v.version_id == keep),
        "a labelled version stays"
    );
    assert_eq!(get_stage(&s, "cap", "AWSCURRENT"), "v105");
    assert_eq!(get_stage(&s, "cap", "KEEP"), "kept");
}

#[test]
fn delete_window_restore_and_purge_with_a_moved_clock() {
    let e = env();
    let s = sm(&e);
    create(&s, "d", "x");
    let bad = |req: DeleteSecretRequest| s.delete_secret(req).unwrap_err().code();
    let del = |days: Option<i64>, force: Option<bool>| DeleteSecretRequest {
        secret_id: "d".into(),
        recovery_window_in_days: days,
        force_delete_without_recovery: force,
    };
    assert_eq!(bad(del(Some(6), None)), "InvalidParameterException");
    assert_eq!(bad(del(Some(31), None)), "InvalidParameterException");
    assert_eq!(bad(del(Some(7), Some(true))), "InvalidParameterException");
    let d = s.delete_secret(del(Some(7), None)).unwrap();
    let now = 1_800_000_000.0;
    assert_eq!(d.deletion_date, Some(now + 7.0 * 86400.0));
    let err = get(&s, "d").unwrap_err();
    assert_eq!(err.code(), "InvalidRequestException");
    assert_eq!(
        err.to_string(),
        "You can't perform this operation on the secret because it was marked for deletion."
    );
    assert_eq!(
        put(&s, "d", "y", None).unwrap_err().code(),
        "InvalidRequestException"
    );
    assert_eq!(describe(&s, "d").deleted_date, Some(now));
    let listed = |planned: bool| {
        s.list_secrets(ListSecretsRequest {
            include_planned_deletion: Some(planned),
            ..Default::default()
        })
        .unwrap()
        .secret_list
        .len()
    };
    assert_eq!((listed(false), listed(true)), (0, 1));
    let again = s.create_secret(CreateSecretRequest {
        name: "d".into(),
        ..Default::default()
    });
    assert_eq!(again.unwrap_err().code(), "InvalidRequestException");
    s.restore_secret(id("d")).unwrap();
    assert_eq!(get(&s, "d").unwrap().secret_string.unwrap().expose(), "x");
    assert!(describe(&s, "d").deleted_date.is_none());
    // Deleted again; 7 days later it is gone, and the name is free.
    s.delete_secret(del(Some(7), None)).unwrap();
    e.clock.advance_days(6);
    assert_eq!(describe(&s, "d").name, "d");
    e.clock.advance_days(1);
    assert_eq!(
        s.describe_secret(id("d")).unwrap_err().code(),
        "ResourceNotFoundException"
    );
    assert_eq!(listed(true), 0);
    create(&s, "d", "new");
    // Forced: gone at once.
    s.delete_secret(del(None, Some(true))).unwrap();
    assert_eq!(
        get(&s, "d").unwrap_err().code(),
        "ResourceNotFoundException"
    );
}

#[test]
fn list_filters_sorting_and_pagination() {
    let e = env();
    let s = sm(&e);
    for (i, n) in ["prod/db", "prod/api", "dev/db"].iter().enumerate() {
        s.create_secret(CreateSecretRequest {
            name: n.to_string(),
            description: Some(format!("desc {n}")),
            tags: Some(vec![Tag {
                key: "team".into(),
                value: format!("t{i}"),
            }]),
            ..Default::default()
        })
        .unwrap();
        e.clock.advance_ms(1000);
    }
    let names = |filters: Vec<Filter>, order: Option<&str>| -> Vec<String> {
        s.list_secrets(ListSecretsRequest {
            filters: Some(filters),
            sort_order: order.map(str::to_string),
            ..Default::default()
        })
        .unwrap()
        .secret_list
        .into_iter()
        .map(|d| d.name)
        .collect()
    };
    let f = |k: &str, v: &[&str]| Filter {
        key: k.into(),
        values: v.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        names(vec![f("name", &["prod"])], Some("asc")),
        ["prod/db", "prod/api"]
    );
    assert_eq!(
        names(vec![f("name", &["prod"])], None),
        ["prod/api", "prod/db"]
    );
    assert_eq!(names(vec![f("name", &["!prod"])], None), ["dev/db"]);
    assert_eq!(names(vec![f("tag-value", &["t1"])], None), ["prod/api"]);
    assert_eq!(
        names(
            vec![f("tag-key", &["team"]), f("description", &["desc dev"])],
            None
        ),
        ["dev/db"]
    );
    assert_eq!(names(vec![f("all", &["api"])], None), ["prod/api"]);
    assert_eq!(
        names(vec![f("primary-region", &["us-east-1"])], None).len(),
        3
    );
    assert!(names(vec![f("owning-service", &["rds"])], None).is_empty());
    let bad = s.list_secrets(ListSecretsRequest {
        filters: Some(vec![f("color", &["x"])]),
        ..Default::default()
    });
    assert_eq!(bad.unwrap_err().code(), "InvalidParameterException");
    let p1 = s
        .list_secrets(ListSecretsRequest {
            max_results: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p1.secret_list.len(), 2);
    let p2 = s
        .list_secrets(ListSecretsRequest {
            next_token: p1.next_token,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p2.secret_list.len(), 1);
    assert!(p2.next_token.is_none());
    let badtok = s.list_secrets(ListSecretsRequest {
        next_token: Some("zz".into()),
        ..Default::default()
    });
    assert_eq!(badtok.unwrap_err().code(), "InvalidNextTokenException");
    // BatchGetSecretValue: values need versions; errors per secret.
    put(&s, "prod/db", "pdb", None).unwrap();
    let b = s
        .batch_get_secret_value(BatchGetSecretValueRequest {
            secret_id_list: Some(vec!["prod/db".into(), "nope".into(), "dev/db".into()]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(b.secret_values.len(), 1);
    assert_eq!(
        b.secret_values[0].secret_string.as_ref().unwrap().expose(),
        "pdb"
    );
    let codes: Vec<&str> = b.errors.iter().map(|e| e.error_code.as_str()).collect();
    assert_eq!(
        codes,
        ["ResourceNotFoundException", "ResourceNotFoundException"]
    );
    let bf = s
        .batch_get_secret_value(BatchGetSecretValueRequest {
            filters: Some(vec![f("name", &["prod/"])]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((bf.secret_values.len(), bf.errors.len()), (1, 1));
}

#[test]
fn tags_policies_and_random_passwords() {
    let e = env();
    let s = sm(&e);
    create(&s, "tp", "v");
    s.tag_resource(TagResourceRequest {
        secret_id: "tp".into(),
        tags: vec![
            Tag {
                key: "a".into(),
                value: "1".into(),
            },
            Tag {
                key: "b".into(),
                value: "2".into(),
            },
        ],
    })
    .unwrap();
    s.untag_resource(UntagResourceRequest {
        secret_id: "tp".into(),
        tag_keys: vec!["a".into()],
    })
    .unwrap();
    assert_eq!(
        describe(&s, "tp").tags.unwrap(),
        vec![Tag {
            key: "b".into(),
            value: "2".into()
        }]
    );
    let reserved = s.tag_resource(TagResourceRequest {
        secret_id: "tp".into(),
        tags: vec![Tag {
            key: "aws:x".into(),
            value: "1".into(),
        }],
    });
    assert_eq!(reserved.unwrap_err().code(), "InvalidParameterException");
    let pol = |p: &str, block: bool| {
        s.put_resource_policy(PutResourcePolicyRequest {
            secret_id: "tp".into(),
            resource_policy: p.into(),
            block_public_policy: Some(block),
        })
    };
    let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    assert_eq!(
        pol("{not json", false).unwrap_err().code(),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        pol(public, true).unwrap_err().code(),
        "PublicPolicyException"
    );
    pol(ok, true).unwrap();
    assert_eq!(
        s.get_resource_policy(id("tp"))
            .unwrap()
            .resource_policy
            .as_deref(),
        Some(ok)
    );
    let v = s
        .validate_resource_policy(ValidateResourcePolicyRequest {
            secret_id: None,
            resource_policy: public.into(),
        })
        .unwrap();
    assert_eq!(v.policy_validation_passed, Some(false));
    s.delete_resource_policy(id("tp")).unwrap();
    assert!(
        s.get_resource_policy(id("tp"))
            .unwrap()
            .resource_policy
            .is_none()
    );
    let p = s
        .get_random_password(PasswordSpec {
            password_length: Some(20),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.random_password.expose().chars().count(), 20);
    let bad = s.get_random_password(PasswordSpec {
        password_length: Some(0),
        ..Default::default()
    });
    assert_eq!(bad.unwrap_err().code(), "InvalidParameterException");
}
