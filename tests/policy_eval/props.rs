//! Property tests: statements drawn from a pool (allows and denies, with and without
//! conditions) against random requests. Adding a Deny statement never turns a refusal into
//! an allow; the order of statements (and of identity policies) never changes the decision.

use super::{A, B, KEY, ec};
use kmsfs::policy::{Policy, PolicyKind, Principal, RequestContext, evaluate};
use proptest::prelude::*;

const STATEMENTS: &[&str] = &[
    r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/u0"},"Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"*"},"NotAction":"kms:Put*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:GenerateDataKey*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept","App"]}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/u1"},"Action":"kms:*","Resource":"*","Condition":{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/u2"},"Action":"kms:Encrypt","Resource":"arn:aws:kms:us-east-1:111122223333:key/*"}"#,
];
const DENIES: &[&str] = &[
    r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/u1"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/u0","111122223333"]},"Action":"kms:Encrypt","Resource":"*"}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*","Condition":{"Null":{"kms:ViaService":"true"}}}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"444455556666"},"NotAction":"kms:Describe*","Resource":"*"}"#,
];
const IDENTITY: &[&str] = &[
    r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
    r#"{"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:App":"x"}}}]}"#,
];
const IDENTITY_DENIES: &[&str] = &[
    r#"{"Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}}"#,
    r#"{"Statement":{"Effect":"Deny","NotAction":"kms:Describe*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}}"#,
    r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"false"}}}}"#,
];
const ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:PutKeyPolicy",
    "kms:DescribeKey",
];

/// The 10-statement policy of the cost measurement.
pub fn ten_statements() -> String {
    let all: Vec<&str> = STATEMENTS.iter().chain(&DENIES[..2]).copied().collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        all.join(",")
    )
}

fn doc(statements: &[&str]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn principal(i: usize) -> Principal {
    match i % 6 {
        0 => Principal::root(A),
        1 => Principal::user(A, "u0"),
        2 => Principal::user(A, "u1"),
        3 => Principal::role_session(A, "R", "s"),
        4 => Principal::user(B, "u0"),
        _ => Principal::user(A, "u2"),
    }
}

#[derive(Debug, Clone)]
struct Req {
    who: usize,
    action: usize,
    ec: Vec<(usize, usize)>,
    via: bool,
}

fn request() -> impl Strategy<Value = Req> {
    (
        0..6usize,
        0..ACTIONS.len(),
        prop::collection::vec((0..3usize, 0..3usize), 0..3),
        any::<bool>(),
    )
        .prop_map(|(who, action, ec, via)| Req {
            who,
            action,
            ec,
            via,
        })
}

fn decide(key: &[&str], ids: &[&str], r: &Req) -> kmsfs::policy::Decision {
    let kp = Policy::parse(&doc(key), PolicyKind::Key).unwrap();
    let idp: Vec<Policy> = ids
        .iter()
        .map(|d| Policy::parse(d, PolicyKind::Identity).unwrap())
        .collect();
    let p = principal(r.who);
    let names = ["Dept", "App", "Other"];
    let vals = ["IT", "x", "y"];
    let pairs: Vec<(&str, &str)> = r.ec.iter().map(|(k, v)| (names[*k], vals[*v])).collect();
    let ctx_ec = ec(&pairs);
    let mut ctx = RequestContext::new(&p, ACTIONS[r.action], KEY);
    ctx.encryption_context = Some(&ctx_ec);
    ctx.via_service = r.via.then_some("s3.us-east-1.amazonaws.com");
    evaluate(&ctx, &kp, &idp, [])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_deny_never_turns_a_refusal_into_an_allow(
        picks in prop::collection::vec(0..STATEMENTS.len(), 1..6),
        ids in prop::collection::vec(0..IDENTITY.len(), 0..3),
        deny in 0..DENIES.len(),
        at in 0..6usize,
        in_identity in any::<bool>(),
        r in request(),
    ) {
        let key: Vec<&str> = picks.iter().map(|i| STATEMENTS[*i]).collect();
        let ids: Vec<&str> = ids.iter().map(|i| IDENTITY[*i]).collect();
        let before = decide(&key, &ids, &r);
        let (mut key2, mut ids2) = (key.clone(), ids.clone());
        if in_identity {
            ids2.insert(at.min(ids.len()), IDENTITY_DENIES[deny % IDENTITY_DENIES.len()]);
        } else {
            key2.insert(at.min(key.len()), DENIES[deny]);
        }
        let after = decide(&key2, &ids2, &r);
        prop_assert!(before.is_allowed() || !after.is_allowed(), "{before:?} -> {after:?}");
    }

    #[test]
    fn statement_order_never_matters(
        picks in prop::collection::vec(0..(STATEMENTS.len() + DENIES.len()), 1..8),
        ids in prop::collection::vec(0..IDENTITY.len(), 0..3),
        seed in any::<u64>(),
        r in request(),
    ) {
        let all: Vec<&str> = STATEMENTS.iter().chain(DENIES).copied().collect();
        let key: Vec<&str> = picks.iter().map(|i| all[*i]).collect();
        let mut shuffled = key.clone();
        let ids: Vec<&str> = ids.iter().map(|i| IDENTITY[*i]).collect();
        let mut ids2 = ids.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        ids2.reverse();
        prop_assert_eq!(decide(&key, &ids, &r), decide(&shuffled, &ids2, &r));
    }
}
