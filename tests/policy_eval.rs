//! The policy layer against the AWS KMS developer guide's examples: a table of requests
//! (principal, action, condition keys) against key policies, identity policies and grants,
//! each with AWS's decision; the parser's refusals; AWS's AccessDenied messages; grants and
//! their narrowing; property tests (a Deny never turns a refusal into an allow; statement
//! order never matters); and the evaluation's cost.

#[path = "policy_eval/policies.rs"]
mod policies;
#[path = "policy_eval/props.rs"]
mod props;

use kmsfs::policy::{
    AllowedBy, Decision, Denial, Grant, GrantConstraints, GrantOperation as Op, Policy, PolicyKind,
    Principal, RequestContext, can_create_grant, evaluate, lockout_check,
};
use policies::*;
use std::collections::BTreeMap;

pub const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const A: &str = "111122223333";
pub const B: &str = "444455556666";

fn leak<T: 'static>(t: T) -> &'static T {
    Box::leak(Box::new(t))
}
fn user(n: &str) -> &'static Principal {
    leak(Principal::user(A, n))
}
fn role(r: &str) -> &'static Principal {
    leak(Principal::role_session(A, r, "session-1"))
}
fn root() -> &'static Principal {
    leak(Principal::root(A))
}
fn ext_user(n: &str) -> &'static Principal {
    leak(Principal::user(B, n))
}
fn ext_role(r: &str) -> &'static Principal {
    leak(Principal::role_session(B, r, "s"))
}
fn svc(s: &str) -> &'static Principal {
    leak(Principal::service(s, A))
}
pub fn ec(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
fn lec(pairs: &[(&str, &str)]) -> Option<&'static BTreeMap<String, String>> {
    Some(leak(ec(pairs)))
}
fn strs(v: &[&str]) -> &'static [String] {
    Box::leak(
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}
const S3: Option<&str> = Some("s3.us-east-1.amazonaws.com");
fn req(p: &'static Principal, action: &'static str) -> RequestContext<'static> {
    RequestContext::new(p, action, KEY)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Allow(AllowedBy),
    Deny(Denial),
}
use AllowedBy::*;
use Denial::*;
use Want::Allow as Y;
use Want::Deny as N;

struct Case {
    name: &'static str,
    key_policy: &'static str,
    identity: &'static [&'static str],
    grants: Vec<Grant>,
    ctx: RequestContext<'static>,
    want: Want,
}

fn c(
    name: &'static str,
    key_policy: &'static str,
    ctx: RequestContext<'static>,
    want: Want,
) -> Case {
    Case {
        name,
        key_policy,
        identity: &[],
        grants: Vec::new(),
        ctx,
        want,
    }
}

fn ci(
    name: &'static str,
    key_policy: &'static str,
    identity: &'static [&'static str],
    ctx: RequestContext<'static>,
    want: Want,
) -> Case {
    Case {
        name,
        key_policy,
        identity,
        grants: Vec::new(),
        ctx,
        want,
    }
}

fn cg(name: &'static str, grants: Vec<Grant>, ctx: RequestContext<'static>, want: Want) -> Case {
    Case {
        name,
        key_policy: NO_ROOT,
        identity: &[],
        grants,
        ctx,
        want,
    }
}

/// One row a line: a table, not formatted.
#[rustfmt::skip]
fn default_and_console_cases() -> Vec<Case> {
    let u = user("ExampleUser");
    vec![
        c("default: the account root may do anything", DEFAULT, req(root(), "kms:ScheduleKeyDeletion"), Y(KeyPolicy)),
        c("default: a user without IAM policy is refused", DEFAULT, req(u, "kms:Decrypt"), N(NoIdentityPolicy)),
        ci("default: a user with an IAM policy may decrypt", DEFAULT, &[ID_USE_ALL_KEYS], req(u, "kms:Decrypt"), Y(IdentityPolicy)),
        ci("default: the IAM policy does not cover DescribeKey", DEFAULT, &[ID_USE_ALL_KEYS], req(u, "kms:DescribeKey"), N(NoIdentityPolicy)),
        ci("default: an IAM policy naming another key", DEFAULT, &[ID_DESCRIBE_ONE_KEY], RequestContext { resource: "arn:aws:kms:us-east-1:111122223333:key/other", ..req(u, "kms:DescribeKey") }, N(NoIdentityPolicy)),
        ci("default: an IAM policy naming this key", DEFAULT, &[ID_DESCRIBE_ONE_KEY], req(u, "kms:DescribeKey"), Y(IdentityPolicy)),
        ci("default: a role session with an IAM policy", DEFAULT, &[ID_USE_ALL_KEYS], req(role("App"), "kms:GenerateDataKeyWithoutPlaintext"), Y(IdentityPolicy)),
        c("default: another account's root is refused", DEFAULT, req(leak(Principal::root(B)), "kms:Decrypt"), N(NoResourcePolicy)),
        ci("default: action names are case-insensitive", DEFAULT, &[ID_USE_ALL_KEYS], req(u, "KMS:decrypt"), Y(IdentityPolicy)),
        c("console: key administrators administer", CONSOLE, req(role("KMSAdminRole"), "kms:PutKeyPolicy"), Y(KeyPolicy)),
        c("console: key administrators do not decrypt", CONSOLE, req(role("KMSAdminRole"), "kms:Decrypt"), N(NoIdentityPolicy)),
        c("console: key administrators' Describe*", CONSOLE, req(role("KMSAdminRole"), "kms:DescribeKey"), Y(KeyPolicy)),
        c("console: key users decrypt", CONSOLE, req(u, "kms:Decrypt"), Y(KeyPolicy)),
        c("console: ReEncrypt* covers ReEncryptTo", CONSOLE, req(role("ExampleUserRole"), "kms:ReEncryptTo"), Y(KeyPolicy)),
        c("console: GenerateDataKey* covers GenerateDataKeyPair", CONSOLE, req(u, "kms:GenerateDataKeyPair"), Y(KeyPolicy)),
        c("console: key users do not schedule deletion", CONSOLE, req(u, "kms:ScheduleKeyDeletion"), N(NoIdentityPolicy)),
        c("console: grants for AWS resources", CONSOLE, RequestContext { grant_is_for_aws_resource: Some(true), ..req(u, "kms:CreateGrant") }, Y(KeyPolicy)),
        c("console: no grant for a non-AWS resource", CONSOLE, RequestContext { grant_is_for_aws_resource: Some(false), ..req(u, "kms:CreateGrant") }, N(NoIdentityPolicy)),
        c("console: GrantIsForAWSResource absent", CONSOLE, req(u, "kms:CreateGrant"), N(NoIdentityPolicy)),
        c("no root statement: IAM policies do not count", NO_ROOT, req(user("Other"), "kms:Decrypt"), N(NoResourcePolicy)),
        ci("no root statement: even with an IAM allow", NO_ROOT, &[ID_USE_ALL_KEYS], req(user("Other"), "kms:Decrypt"), N(NoResourcePolicy)),
        c("no root statement: even the root", NO_ROOT, req(root(), "kms:Decrypt"), N(NoResourcePolicy)),
        c("no root statement: the named user", NO_ROOT, req(u, "kms:Encrypt"), Y(KeyPolicy)),
    ]
}

/// One row a line: a table, not formatted.
#[rustfmt::skip]
fn condition_cases() -> Vec<Case> {
    let u = user("ExampleUser");
    let app = role("RoleForExampleApp");
    vec![
        c("ViaService EC2 allows", VIA, RequestContext { via_service: Some("ec2.us-west-2.amazonaws.com"), ..req(u, "kms:Decrypt") }, Y(KeyPolicy)),
        c("ViaService RDS allows", VIA, RequestContext { via_service: Some("rds.us-west-2.amazonaws.com"), ..req(u, "kms:GenerateDataKey") }, Y(KeyPolicy)),
        c("ViaService in another region", VIA, RequestContext { via_service: Some("ec2.us-east-1.amazonaws.com"), ..req(u, "kms:Decrypt") }, N(NoResourcePolicy)),
        c("ViaService absent (a direct call)", VIA, req(u, "kms:Decrypt"), N(NoResourcePolicy)),
        c("account id principal = the root", VIA, req(root(), "kms:GetKeyPolicy"), Y(KeyPolicy)),
        c("EC: AppName matches", EC, RequestContext { encryption_context: lec(&[("AppName", "ExampleApp")]), ..req(app, "kms:Decrypt") }, Y(KeyPolicy)),
        c("EC: AppName value is case-sensitive", EC, RequestContext { encryption_context: lec(&[("AppName", "exampleapp")]), ..req(app, "kms:Decrypt") }, N(NoResourcePolicy)),
        c("EC: the condition key name is case-insensitive", EC, RequestContext { encryption_context: lec(&[("appname", "ExampleApp")]), ..req(app, "kms:Decrypt") }, Y(KeyPolicy)),
        c("EC: no context", EC, req(app, "kms:Decrypt"), N(NoResourcePolicy)),
        c("EC: ForAllValues, keys within the list", EC, RequestContext { encryption_context: lec(&[("Purpose", "x"), ("Department", "y")]), ..req(u, "kms:GenerateDataKey") }, Y(KeyPolicy)),
        c("EC: ForAllValues, a key outside the list", EC, RequestContext { encryption_context: lec(&[("Purpose", "x"), ("Other", "y")]), ..req(u, "kms:GenerateDataKey") }, N(NoResourcePolicy)),
        c("EC: ForAllValues on an empty set is true", EC, req(u, "kms:GenerateDataKey"), Y(KeyPolicy)),
        c("EC: ForAnyValue, one key matches", EC, RequestContext { encryption_context: lec(&[("Project", "x"), ("Other", "y")]), ..req(u, "kms:Encrypt") }, Y(KeyPolicy)),
        c("EC: ForAnyValue on an empty set is false", EC, req(u, "kms:Encrypt"), N(NoResourcePolicy)),
        c("EC: Null false requires a context, StringLike matches", EC, RequestContext { encryption_context: lec(&[("Project", "Alpha-7")]), ..req(u, "kms:ReEncryptFrom") }, Y(KeyPolicy)),
        c("EC: StringLike does not match", EC, RequestContext { encryption_context: lec(&[("Project", "Beta")]), ..req(u, "kms:ReEncryptFrom") }, N(NoResourcePolicy)),
        c("EC: Null false without a context", EC, req(u, "kms:ReEncryptFrom"), N(NoResourcePolicy)),
        c("EC: StringEqualsIgnoreCase", EC, RequestContext { encryption_context: lec(&[("Dept", "IT")]), ..req(u, "kms:Decrypt") }, Y(KeyPolicy)),
        c("global: source IP in the office v4", GLOBAL, RequestContext { source_ip: Some("203.0.113.7".parse().unwrap()), ..req(u, "kms:Encrypt") }, Y(KeyPolicy)),
        c("global: source IP in the office v6", GLOBAL, RequestContext { source_ip: Some("2001:db8::1".parse().unwrap()), ..req(u, "kms:Encrypt") }, Y(KeyPolicy)),
        c("global: source IP elsewhere", GLOBAL, RequestContext { source_ip: Some("198.51.100.1".parse().unwrap()), ..req(u, "kms:Encrypt") }, N(NoResourcePolicy)),
        c("global: no source IP", GLOBAL, req(u, "kms:Encrypt"), N(NoResourcePolicy)),
        c("global: before the date, by role ARN", GLOBAL, RequestContext { current_time_ms: Some(1_900_000_000_000), ..req(role("AppServer"), "kms:Decrypt") }, Y(KeyPolicy)),
        c("global: after the date", GLOBAL, RequestContext { current_time_ms: Some(1_990_000_000_000), ..req(role("AppServer"), "kms:Decrypt") }, N(NoResourcePolicy)),
        c("global: PrincipalArn does not match", GLOBAL, RequestContext { current_time_ms: Some(1_900_000_000_000), ..req(role("Batch"), "kms:Decrypt") }, N(NoResourcePolicy)),
        c("global: epoch time and key spec/usage", GLOBAL, RequestContext { current_time_ms: Some(1_900_000_000_000), key_spec: Some("SYMMETRIC_DEFAULT"), key_usage: Some("ENCRYPT_DECRYPT"), ..req(u, "kms:GenerateDataKey") }, Y(KeyPolicy)),
        c("global: wrong key spec", GLOBAL, RequestContext { current_time_ms: Some(1_900_000_000_000), key_spec: Some("RSA_2048"), key_usage: Some("ENCRYPT_DECRYPT"), ..req(u, "kms:GenerateDataKey") }, N(NoResourcePolicy)),
        c("global: RequestAlias matches", GLOBAL, RequestContext { request_alias: Some("alias/finance-prod"), ..req(root(), "kms:DescribeKey") }, Y(KeyPolicy)),
        c("global: RequestAlias by key id", GLOBAL, req(root(), "kms:DescribeKey"), N(NoResourcePolicy)),
        c("global: ResourceAliases has team-a", GLOBAL, RequestContext { resource_aliases: strs(&["alias/x", "alias/team-a"]), ..req(root(), "kms:GetKeyPolicy") }, Y(KeyPolicy)),
        c("global: ResourceAliases without it", GLOBAL, RequestContext { resource_aliases: strs(&["alias/x"]), ..req(root(), "kms:GetKeyPolicy") }, N(NoResourcePolicy)),
        c("global: ResourceTag", GLOBAL, RequestContext { resource_tags: lec(&[("Project", "Alpha")]), ..req(root(), "kms:ListGrants") }, Y(KeyPolicy)),
        c("global: GrantOperations within the list", GLOBAL, RequestContext { grant_operations: strs(&["Decrypt"]), ..req(root(), "kms:CreateGrant") }, Y(KeyPolicy)),
        c("global: GrantOperations beyond the list", GLOBAL, RequestContext { grant_operations: strs(&["Decrypt", "Encrypt"]), ..req(root(), "kms:CreateGrant") }, N(NoResourcePolicy)),
        c("global: a service principal", GLOBAL, req(svc("ebs.amazonaws.com"), "kms:Decrypt"), Y(KeyPolicy)),
        c("global: another service principal", GLOBAL, req(svc("s3.amazonaws.com"), "kms:Decrypt"), N(NoResourcePolicy)),
        c("global: Resource names other keys", GLOBAL, req(root(), "kms:Sign"), N(NoResourcePolicy)),
    ]
}

/// One row a line: a table, not formatted.
#[rustfmt::skip]
fn account_and_deny_cases() -> Vec<Case> {
    let u = user("ExampleUser");
    vec![
        c("cross-account: no IAM policy in the other account", CROSS, req(ext_user("Dev"), "kms:Decrypt"), N(NoIdentityPolicy)),
        ci("cross-account: with an IAM policy there", CROSS, &[ID_USE_ALL_KEYS], req(ext_user("Dev"), "kms:Decrypt"), Y(IdentityPolicy)),
        ci("cross-account: not an action the key policy gives", CROSS, &[ID_NOT_ACTION], req(ext_user("Dev"), "kms:ScheduleKeyDeletion"), N(NoResourcePolicy)),
        ci("cross-account: the root of the other account needs no IAM policy", CROSS, &[], req(leak(Principal::root(B)), "kms:Encrypt"), Y(KeyPolicy)),
        c("cross-account: a named role still needs its IAM policy", CROSS, req(ext_role("Analyst"), "kms:CreateGrant"), N(NoIdentityPolicy)),
        ci("cross-account: a named role with its IAM policy", CROSS, &[ID_NOT_ACTION], req(ext_role("Analyst"), "kms:CreateGrant"), Y(KeyPolicy)),
        c("deny: the root cannot delete", DENY, req(root(), "kms:ScheduleKeyDeletion"), N(ExplicitKeyPolicy)),
        c("deny: Delete* covers DeleteAlias", DENY, req(root(), "kms:DeleteAlias"), N(ExplicitKeyPolicy)),
        c("deny: decrypt through S3 is allowed", DENY, RequestContext { via_service: Some("s3.us-east-1.amazonaws.com"), ..req(u, "kms:Decrypt") }, Y(KeyPolicy)),
        c("deny: decrypt through EC2 is denied", DENY, RequestContext { via_service: Some("ec2.us-east-1.amazonaws.com"), ..req(u, "kms:Decrypt") }, N(ExplicitKeyPolicy)),
        c("deny: NotEqualsIfExists, key absent: the Deny applies", DENY, req(u, "kms:Decrypt"), N(ExplicitKeyPolicy)),
        c("deny: Bob is denied what the root allows", DENY, req(user("Bob"), "kms:DescribeKey"), N(ExplicitKeyPolicy)),
        ci("deny: an identity-policy Deny wins over the key policy", DENY, &[ID_DENY_DECRYPT], RequestContext { encryption_context: lec(&[("Team", "red")]), via_service: S3, ..req(u, "kms:Decrypt") }, N(ExplicitIdentityPolicy)),
        ci("deny: the identity Deny's condition not met", DENY, &[ID_DENY_DECRYPT], RequestContext { encryption_context: lec(&[("Team", "blue")]), via_service: S3, ..req(u, "kms:Decrypt") }, Y(KeyPolicy)),
        c("deny: CallerAccount of another account", DENY, RequestContext { via_service: S3, ..req(ext_user("Dev"), "kms:Decrypt") }, N(NoResourcePolicy)),
        c("NotPrincipal: the admin may put the policy", NOT, req(user("Admin"), "kms:PutKeyPolicy"), N(NoIdentityPolicy)),
        ci("NotPrincipal: the admin with IAM", NOT, &[ID_NOT_ACTION], req(user("Admin"), "kms:PutKeyPolicy"), Y(IdentityPolicy)),
        ci("NotPrincipal: anyone else is denied", NOT, &[ID_NOT_ACTION], req(u, "kms:PutKeyPolicy"), N(ExplicitKeyPolicy)),
        c("NotPrincipal: the root is listed", NOT, req(root(), "kms:PutKeyPolicy"), Y(KeyPolicy)),
        c("NotPrincipal: listing a user without its account denies it", NOT, req(user("Carol"), "kms:TagResource"), N(ExplicitKeyPolicy)),
        c("NotAction: everything but the listed", NOT, req(u, "kms:Decrypt"), Y(KeyPolicy)),
        c("NotAction: a listed action", NOT, req(u, "kms:DisableKey"), N(NoIdentityPolicy)),
        ci("NotAction in an identity policy", DEFAULT, &[ID_NOT_ACTION], req(u, "kms:ReEncryptFrom"), N(NoIdentityPolicy)),
    ]
}

fn subset(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
    Some(GrantConstraints {
        encryption_context_subset: Some(ec(pairs)),
        ..Default::default()
    })
}
fn equals(pairs: &[(&str, &str)]) -> Option<GrantConstraints> {
    Some(GrantConstraints {
        encryption_context_equals: Some(ec(pairs)),
        ..Default::default()
    })
}
const ALICE: &str = "arn:aws:iam::111122223333:user/Alice";

/// One row a line: a table, not formatted.
#[rustfmt::skip]
fn grant_cases() -> Vec<Case> {
    let alice = user("Alice");
    let g = |ops: &[Op], c| vec![Grant::new(ALICE, ops, c)];
    vec![
        cg("grant: allows its operation", g(&[Op::Decrypt], None), req(alice, "kms:Decrypt"), Y(AllowedBy::Grant(0))),
        cg("grant: not another operation", g(&[Op::Decrypt], None), req(alice, "kms:Encrypt"), N(NoResourcePolicy)),
        cg("grant: not another grantee", g(&[Op::Decrypt], None), req(user("Eve"), "kms:Decrypt"), N(NoResourcePolicy)),
        cg("grant: the second grant allows", vec![Grant::new("arn:aws:iam::111122223333:user/Eve", &[Op::Encrypt], None), Grant::new(ALICE, &[Op::Encrypt], None)], req(alice, "kms:Encrypt"), Y(AllowedBy::Grant(1))),
        cg("grant: to a role covers its sessions", vec![Grant::new("arn:aws:iam::111122223333:role/Worker", &[Op::Decrypt], None)], req(role("Worker"), "kms:Decrypt"), Y(AllowedBy::Grant(0))),
        cg("grant: to a service principal", vec![Grant::new("ebs.amazonaws.com", &[Op::Decrypt, Op::RetireGrant], None)], req(svc("ebs.amazonaws.com"), "kms:Decrypt"), Y(AllowedBy::Grant(0))),
        cg("grant: Subset met", g(&[Op::Decrypt], subset(&[("Dept", "IT")])), RequestContext { encryption_context: lec(&[("Dept", "IT"), ("x", "y")]), ..req(alice, "kms:Decrypt") }, Y(AllowedBy::Grant(0))),
        cg("grant: Subset key case-insensitive", g(&[Op::Decrypt], subset(&[("Dept", "IT")])), RequestContext { encryption_context: lec(&[("dept", "IT")]), ..req(alice, "kms:Decrypt") }, Y(AllowedBy::Grant(0))),
        cg("grant: Subset value case-sensitive", g(&[Op::Decrypt], subset(&[("Dept", "IT")])), RequestContext { encryption_context: lec(&[("Dept", "it")]), ..req(alice, "kms:Decrypt") }, N(NoResourcePolicy)),
        cg("grant: Equals with an extra pair", g(&[Op::Decrypt], equals(&[("Dept", "IT")])), RequestContext { encryption_context: lec(&[("Dept", "IT"), ("x", "y")]), ..req(alice, "kms:Decrypt") }, N(NoResourcePolicy)),
        cg("grant: Equals exactly", g(&[Op::Decrypt], equals(&[("Dept", "IT")])), RequestContext { encryption_context: lec(&[("DEPT", "IT")]), ..req(alice, "kms:Decrypt") }, Y(AllowedBy::Grant(0))),
        cg("grant: constraints ignored for DescribeKey", g(&[Op::DescribeKey], equals(&[("Dept", "IT")])), req(alice, "kms:DescribeKey"), Y(AllowedBy::Grant(0))),
        Case { name: "grant: an explicit Deny beats a grant", key_policy: DENY, identity: &[], grants: g(&[Op::Decrypt], None), ctx: RequestContext { via_service: Some("ec2.us-east-1.amazonaws.com"), ..req(alice, "kms:Decrypt") }, want: N(ExplicitKeyPolicy) },
    ]
}

#[test]
fn the_table_of_aws_examples() {
    let mut cases = default_and_console_cases();
    cases.extend(condition_cases());
    cases.extend(account_and_deny_cases());
    cases.extend(grant_cases());
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failed = Vec::new();
    for case in &cases {
        let kp = Policy::parse(case.key_policy, PolicyKind::Key)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let ids: Vec<Policy> = case
            .identity
            .iter()
            .map(|p| Policy::parse(p, PolicyKind::Identity).unwrap())
            .collect();
        let got = match evaluate(&case.ctx, &kp, &ids, &case.grants) {
            Decision::Allow(a) => Want::Allow(a),
            Decision::Deny(d) => Want::Deny(d),
        };
        if got != case.want {
            failed.push(format!("{}: got {got:?}, want {:?}", case.name, case.want));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
    println!("{} cases", cases.len());
}

#[test]
fn malformed_documents_are_refused_naming_the_problem() {
    let st = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{{{body}}}]}}"#);
    let ok =
        r#""Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*""#;
    let big = format!(
        r#"{{"Statement":[{{{ok}}}],"Id":"{}"}}"#,
        "x".repeat(33 * 1024)
    );
    let cases: Vec<(String, PolicyKind, &str)> = vec![
        ("{not json".into(), PolicyKind::Key, "not valid JSON"),
        ("[]".into(), PolicyKind::Key, "must be a JSON object"),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            PolicyKind::Key,
            "no Statement",
        ),
        (
            r#"{"Statement":[]}"#.into(),
            PolicyKind::Key,
            "Statement is empty",
        ),
        (
            r#"{"Statement":"x"}"#.into(),
            PolicyKind::Key,
            "object or a list",
        ),
        (
            r#"{"Version":"2020-01-01","Statement":[]}"#.into(),
            PolicyKind::Key,
            "Version",
        ),
        (
            r#"{"Statment":[]}"#.into(),
            PolicyKind::Key,
            "unknown element \"Statment\"",
        ),
        (
            st(&ok.replace("Allow", "Permit")),
            PolicyKind::Key,
            "unknown Effect \"Permit\"",
        ),
        (
            st(r#""Principal":"*","Action":"kms:*","Resource":"*""#),
            PolicyKind::Key,
            "no Effect",
        ),
        (
            st(r#""Effect":"Allow","Action":"kms:*","Resource":"*""#),
            PolicyKind::Key,
            "no Principal",
        ),
        (
            st(ok),
            PolicyKind::Identity,
            "should not specify a principal",
        ),
        (
            st(&ok.replace("kms:*", "Decrypt")),
            PolicyKind::Key,
            "prefaced by a vendor",
        ),
        (
            st(&format!(r#"{ok},"NotAction":"kms:Encrypt""#)),
            PolicyKind::Key,
            "both Action and NotAction",
        ),
        (
            st(&format!(r#"{ok},"NotResource":"x""#)),
            PolicyKind::Key,
            "both Resource and NotResource",
        ),
        (
            st(&format!(r#"{ok},"NotPrincipal":"*""#)),
            PolicyKind::Key,
            "both Principal and NotPrincipal",
        ),
        (
            st(&ok.replace("111122223333", "arn:aws:iam::1111:user/x")),
            PolicyKind::Key,
            "invalid principals",
        ),
        (
            st(&ok.replace("111122223333", "arn:aws:iam::111122223333:user/*")),
            PolicyKind::Key,
            "invalid principals",
        ),
        (
            st(&ok.replace("\"AWS\"", "\"Federal\"")),
            PolicyKind::Key,
            "unknown principal type",
        ),
        (
            st(&format!(
                r#"{ok},"Condition":{{"StringEqualz":{{"kms:ViaService":"x"}}}}"#
            )),
            PolicyKind::Key,
            "Unknown condition operator: StringEqualz",
        ),
        (
            st(&format!(
                r#"{ok},"Condition":{{"NumericLessThan":{{"aws:EpochTime":"soon"}}}}"#
            )),
            PolicyKind::Key,
            "not a number",
        ),
        (
            st(&format!(
                r#"{ok},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/40"}}}}"#
            )),
            PolicyKind::Key,
            "CIDR",
        ),
        (
            st(&format!(
                r#"{ok},"Condition":{{"Bool":{{"kms:GrantIsForAWSResource":"yes"}}}}"#
            )),
            PolicyKind::Key,
            "true or false",
        ),
        (
            st(&format!(r#"{ok},"Condition":"x""#)),
            PolicyKind::Key,
            "Condition must be a JSON object",
        ),
        (
            st(&format!(r#""Sid":"a",{ok}}},{{"Sid":"a",{ok}"#)),
            PolicyKind::Key,
            "must be unique: \"a\"",
        ),
        (
            st(&format!(r#"{ok},"Colour":"red""#)),
            PolicyKind::Key,
            "unknown element \"Colour\"",
        ),
        (big, PolicyKind::Key, "limit is 32768 bytes"),
    ];
    for (doc, kind, want) in &cases {
        let e = Policy::parse(doc, *kind).expect_err(want).to_string();
        assert!(e.contains(want), "{want:?} not in {e:?}");
    }
    // The same grammar accepts a lone statement object, and statements naming no Action.
    Policy::parse(&format!(r#"{{"Statement":{{{ok}}}}}"#), PolicyKind::Key).unwrap();
    let no_action = st(r#""Effect":"Allow","Principal":"*","Resource":"*""#);
    let p = Policy::parse(&no_action, PolicyKind::Key).unwrap();
    let ctx = req(root(), "kms:Decrypt");
    assert_eq!(evaluate(&ctx, &p, [], []), Decision::Deny(NoResourcePolicy));
}

#[test]
fn access_denied_messages_have_aws_forms() {
    let u = user("ExampleUser");
    let kp = Policy::parse(DENY, PolicyKind::Key).unwrap();
    let ctx = RequestContext {
        via_service: S3,
        ..req(ext_user("Dev"), "kms:Decrypt")
    };
    let d = evaluate(&ctx, &kp, [], []);
    assert_eq!(
        d.denial_message(&ctx).unwrap(),
        format!(
            "User: arn:aws:iam::444455556666:user/Dev is not authorized to perform: kms:Decrypt on resource: {KEY} because no resource-based policy allows the kms:Decrypt action"
        )
    );
    let ctx = req(user("Bob"), "kms:Encrypt");
    assert_eq!(
        evaluate(&ctx, &kp, [], []).denial_message(&ctx).unwrap(),
        format!(
            "User: arn:aws:iam::111122223333:user/Bob is not authorized to perform: kms:Encrypt on resource: {KEY} with an explicit deny in a resource-based policy"
        )
    );
    let idp = Policy::parse(ID_DENY_DECRYPT, PolicyKind::Identity).unwrap();
    let ctx = RequestContext {
        via_service: S3,
        ..req(u, "kms:Decrypt")
    };
    assert!(
        evaluate(&ctx, &kp, [&idp], [])
            .denial_message(&ctx)
            .unwrap()
            .ends_with("with an explicit deny in an identity-based policy")
    );
    let def = Policy::parse(DEFAULT, PolicyKind::Key).unwrap();
    let ctx = req(u, "kms:GenerateDataKey");
    assert!(
        evaluate(&ctx, &def, [], [])
            .denial_message(&ctx)
            .unwrap()
            .ends_with("because no identity-based policy allows the kms:GenerateDataKey action")
    );
    assert_eq!(
        evaluate(&req(root(), "kms:Decrypt"), &def, [], []).denial_message(&ctx),
        None
    );
}

#[test]
fn a_grant_creates_only_equal_or_narrower_grants() {
    let parent = |ops: &[Op], c| Grant::new(ALICE, ops, c);
    let p = parent(
        &[Op::CreateGrant, Op::Decrypt, Op::Encrypt],
        subset(&[("Dept", "IT")]),
    );
    // Operations.
    assert!(can_create_grant(
        &p,
        &[Op::Decrypt],
        subset(&[("Dept", "IT")]).as_ref()
    ));
    assert!(!can_create_grant(
        &p,
        &[Op::Decrypt, Op::ReEncryptFrom],
        subset(&[("Dept", "IT")]).as_ref()
    ));
    assert!(!can_create_grant(
        &parent(&[Op::Decrypt], None),
        &[Op::Decrypt],
        None
    ));
    // Constraints: a wider subset, an Equals holding the subset (keys case-insensitive).
    assert!(can_create_grant(
        &p,
        &[Op::Decrypt],
        subset(&[("dept", "IT"), ("App", "x")]).as_ref()
    ));
    assert!(can_create_grant(
        &p,
        &[Op::Decrypt],
        equals(&[("DEPT", "IT"), ("App", "x")]).as_ref()
    ));
    assert!(!can_create_grant(&p, &[Op::Decrypt], None));
    assert!(!can_create_grant(
        &p,
        &[Op::Decrypt],
        subset(&[("Dept", "it")]).as_ref()
    ));
    assert!(!can_create_grant(
        &p,
        &[Op::Decrypt],
        equals(&[("App", "x")]).as_ref()
    ));
    // An Equals parent: only the same Equals.
    let e = parent(&[Op::CreateGrant, Op::Decrypt], equals(&[("a", "1")]));
    assert!(can_create_grant(
        &e,
        &[Op::Decrypt],
        equals(&[("A", "1")]).as_ref()
    ));
    assert!(!can_create_grant(
        &e,
        &[Op::Decrypt],
        subset(&[("a", "1")]).as_ref()
    ));
    assert!(!can_create_grant(
        &e,
        &[Op::Decrypt],
        equals(&[("a", "1"), ("b", "2")]).as_ref()
    ));
    // An unconstrained parent creates anything among its operations.
    let u = parent(&[Op::CreateGrant, Op::Decrypt], None);
    assert!(can_create_grant(&u, &[Op::Decrypt], None));
    assert!(can_create_grant(
        &u,
        &[Op::CreateGrant],
        equals(&[("a", "1")]).as_ref()
    ));
    // Operations without a context ignore the constraints.
    let d = parent(&[Op::CreateGrant, Op::DescribeKey], equals(&[("a", "1")]));
    assert!(can_create_grant(&d, &[Op::DescribeKey], None));
    assert_eq!(
        Op::parse("GenerateDataKeyPair"),
        Some(Op::GenerateDataKeyPair)
    );
    assert_eq!(
        Op::from_action("kms:reencryptfrom"),
        Some(Op::ReEncryptFrom)
    );
    assert_eq!(
        u.operations().collect::<Vec<_>>(),
        vec![Op::Decrypt, Op::CreateGrant]
    );
}

#[test]
fn the_lockout_safety_check() {
    let key = |doc: &str| Policy::parse(doc, PolicyKind::Key).unwrap();
    let alice = Principal::user(A, "Alice");
    assert!(lockout_check(&key(DEFAULT), &alice, KEY).is_ok());
    assert!(
        lockout_check(
            &key(CONSOLE),
            &Principal::role_session(A, "KMSAdminRole", "s"),
            KEY
        )
        .is_ok()
    );
    let e = lockout_check(&key(NO_ROOT), &alice, KEY).unwrap_err();
    assert_eq!(
        e.message(),
        "The new key policy will not allow you to update the key policy in the future."
    );
    assert!(lockout_check(&key(NOT), &user("ExampleUser").clone(), KEY).is_err());
    assert!(lockout_check(&key(NOT), &Principal::user(A, "Admin"), KEY).is_ok());
}

/// The cost of a decision: a 10-statement policy and 100 grants (the key's grants are
/// consulted only when the policies do not allow) against the default policy.
#[test]
fn evaluation_cost() {
    let kp = Policy::parse(&props::ten_statements(), PolicyKind::Key).unwrap();
    assert_eq!(kp.statements.len(), 10);
    let def = Policy::parse(DEFAULT, PolicyKind::Key).unwrap();
    let ids = [Policy::parse(ID_USE_ALL_KEYS, PolicyKind::Identity).unwrap()];
    // Grants to users of the other account: B's g99 is allowed by the last one only.
    let grants: Vec<Grant> = (0..100)
        .map(|i| {
            Grant::new(
                &format!("arn:aws:iam::{B}:user/g{i}"),
                &[Op::Decrypt],
                subset(&[("Dept", "IT")]),
            )
        })
        .collect();
    let (a, b) = (Principal::user(A, "g99"), Principal::user(B, "g99"));
    let ctxec = ec(&[("Dept", "IT"), ("App", "web")]);
    let ctx = RequestContext {
        encryption_context: Some(&ctxec),
        via_service: S3,
        ..RequestContext::new(&a, "kms:Decrypt", KEY)
    };
    let ctx_b = RequestContext {
        principal: &b,
        ..ctx
    };
    assert_eq!(
        evaluate(&ctx_b, &kp, [], &grants),
        Decision::Allow(AllowedBy::Grant(99))
    );
    // The best of 5 batches: the machine is shared, the fastest batch is the least disturbed.
    let time = |f: &dyn Fn() -> Decision| {
        let n = 40_000;
        assert!(f().is_allowed());
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..n {
                    std::hint::black_box(f());
                }
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    let small = time(&|| evaluate(&ctx, &def, &ids, &grants));
    let big = time(&|| evaluate(&ctx, &kp, &ids, &grants));
    let scan = time(&|| evaluate(&ctx_b, &kp, [], &grants));
    println!(
        "policy evaluation: {small:.0} ns (default policy + IAM policy), {big:.0} ns (10 statements, \
         100 grants), {scan:.0} ns (10 statements, allowed by the 100th grant)"
    );
    // A Decrypt costs some microseconds (AEAD, audit); a decision must stay far below it.
    assert!(scan < 50_000.0, "{scan} ns per evaluation");
}
