//! Who asks for what: the calling principal and the request's condition keys, borrowed from
//! the request in flight (building a context allocates nothing).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// What kind of principal calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account itself (`arn:aws:iam::ACCT:root`).
    Root,
    /// An IAM user (`arn:aws:iam::ACCT:user/NAME`).
    User,
    /// A role session (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`); policies naming the
    /// role's ARN (`arn:aws:iam::ACCT:role/ROLE`) match it.
    RoleSession,
    /// An AWS service principal (`ec2.amazonaws.com`): matched by `{"Service": ...}` only,
    /// and no identity policy applies to it.
    Service,
}

/// The calling principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its ARN (for a service principal, its name, `ebs.amazonaws.com`).
    pub arn: String,
    /// The account it belongs to (for a service, the account it acts in).
    pub account: String,
    pub kind: PrincipalKind,
    /// For a role session, the role's ARN (`aws:PrincipalArn`, and what policies name).
    pub role_arn: Option<String>,
    /// `arn:<partition>:iam::<account>:root`, precomputed (the account's delegation).
    root_arn: String,
}

impl Principal {
    /// A principal; `partition` is `aws` outside China and GovCloud.
    pub fn new(arn: &str, account: &str, kind: PrincipalKind, partition: &str) -> Principal {
        let role_arn = (kind == PrincipalKind::RoleSession)
            .then(|| role_of_session(arn, partition))
            .flatten();
        Principal {
            arn: arn.to_string(),
            account: account.to_string(),
            kind,
            role_arn,
            root_arn: format!("arn:{partition}:iam::{account}:root"),
        }
    }

    /// An account's root (`arn:aws:iam::ACCT:root`).
    pub fn root(account: &str) -> Principal {
        Principal::new(
            &format!("arn:aws:iam::{account}:root"),
            account,
            PrincipalKind::Root,
            "aws",
        )
    }

    /// An IAM user of an account.
    pub fn user(account: &str, name: &str) -> Principal {
        let arn = format!("arn:aws:iam::{account}:user/{name}");
        Principal::new(&arn, account, PrincipalKind::User, "aws")
    }

    /// A session of a role (`assume-role`).
    pub fn role_session(account: &str, role: &str, session: &str) -> Principal {
        let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{session}");
        Principal::new(&arn, account, PrincipalKind::RoleSession, "aws")
    }

    /// A service principal acting in an account.
    pub fn service(name: &str, account: &str) -> Principal {
        Principal::new(name, account, PrincipalKind::Service, "aws")
    }

    /// The ARN of the account's root.
    pub fn root_arn(&self) -> &str {
        &self.root_arn
    }

    /// `aws:PrincipalArn`: the role's ARN for a role session, else the ARN.
    pub fn principal_arn(&self) -> &str {
        self.role_arn.as_deref().unwrap_or(&self.arn)
    }
}

/// `arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`.
fn role_of_session(arn: &str, partition: &str) -> Option<String> {
    let rest = arn.strip_prefix(&format!("arn:{partition}:sts::"))?;
    let (account, res) = rest.split_once(':')?;
    let role = res.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// A request as the policies see it: principal, action, resource, and the condition keys
/// the operation sets (those left `None`/empty are absent from the request).
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub principal: &'a Principal,
    /// `kms:Decrypt`, ...
    pub action: &'a str,
    /// The key's ARN.
    pub resource: &'a str,
    /// `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`.
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
    /// `kms:ViaService` (`ec2.us-east-1.amazonaws.com`).
    pub via_service: Option<&'a str>,
    pub grant_is_for_aws_resource: Option<bool>,
    /// `kms:GrantOperations` (a CreateGrant's operations).
    pub grant_operations: &'a [String],
    pub key_spec: Option<&'a str>,
    pub key_usage: Option<&'a str>,
    /// `kms:EncryptionAlgorithm`, `kms:SigningAlgorithm`, `kms:MacAlgorithm`,
    /// `kms:MessageType` (the request's).
    pub encryption_algorithm: Option<&'a str>,
    pub signing_algorithm: Option<&'a str>,
    pub mac_algorithm: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub request_alias: Option<&'a str>,
    pub resource_aliases: &'a [String],
    /// `aws:SourceIp` (over the endpoint).
    pub source_ip: Option<IpAddr>,
    /// `aws:CurrentTime` / `aws:EpochTime`, in milliseconds since the epoch.
    pub current_time_ms: Option<i64>,
    /// `aws:ResourceTag/<k>`.
    pub resource_tags: Option<&'a BTreeMap<String, String>>,
}

impl<'a> RequestContext<'a> {
    /// A request with no condition keys but the principal's.
    pub fn new(principal: &'a Principal, action: &'a str, resource: &'a str) -> Self {
        RequestContext {
            principal,
            action,
            resource,
            encryption_context: None,
            via_service: None,
            grant_is_for_aws_resource: None,
            grant_operations: &[],
            key_spec: None,
            key_usage: None,
            encryption_algorithm: None,
            signing_algorithm: None,
            mac_algorithm: None,
            message_type: None,
            request_alias: None,
            resource_aliases: &[],
            source_ip: None,
            current_time_ms: None,
            resource_tags: None,
        }
    }

    /// The account that owns the resource (the 5th field of its ARN).
    pub fn resource_account(&self) -> &'a str {
        self.resource.split(':').nth(4).unwrap_or("")
    }
}

/// A condition key, recognised once when the policy is compiled (names are
/// case-insensitive, as in AWS; an unknown key is absent from every request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CondKey {
    /// `kms:EncryptionContext:<k>`; the context key is matched case-insensitively, as the
    /// condition key name it is part of.
    EncryptionContext(String),
    EncryptionContextKeys,
    ViaService,
    CallerAccount,
    GrantIsForAwsResource,
    GrantOperations,
    KeySpec,
    KeyUsage,
    EncryptionAlgorithm,
    SigningAlgorithm,
    MacAlgorithm,
    MessageType,
    RequestAlias,
    ResourceAliases,
    PrincipalArn,
    PrincipalAccount,
    PrincipalType,
    SourceIp,
    CurrentTime,
    EpochTime,
    /// `aws:ResourceTag/<k>` (tag keys are case-sensitive in KMS).
    ResourceTag(String),
    Unknown,
}

impl CondKey {
    pub(crate) fn parse(name: &str) -> CondKey {
        let lower = name.to_ascii_lowercase();
        if let Some(k) = lower.strip_prefix("kms:encryptioncontext:") {
            return CondKey::EncryptionContext(k.to_string());
        }
        if lower.starts_with("aws:resourcetag/") {
            return CondKey::ResourceTag(name["aws:resourcetag/".len()..].to_string());
        }
        match lower.as_str() {
            "kms:encryptioncontextkeys" => CondKey::EncryptionContextKeys,
            "kms:viaservice" => CondKey::ViaService,
            "kms:calleraccount" => CondKey::CallerAccount,
            "kms:grantisforawsresource" => CondKey::GrantIsForAwsResource,
            "kms:grantoperations" => CondKey::GrantOperations,
            "kms:keyspec" => CondKey::KeySpec,
            "kms:keyusage" => CondKey::KeyUsage,
            "kms:encryptionalgorithm" => CondKey::EncryptionAlgorithm,
            "kms:signingalgorithm" => CondKey::SigningAlgorithm,
            "kms:macalgorithm" => CondKey::MacAlgorithm,
            "kms:messagetype" => CondKey::MessageType,
            "kms:requestalias" => CondKey::RequestAlias,
            "kms:resourcealiases" => CondKey::ResourceAliases,
            "aws:principalarn" => CondKey::PrincipalArn,
            "aws:principalaccount" => CondKey::PrincipalAccount,
            "aws:principaltype" => CondKey::PrincipalType,
            "aws:sourceip" => CondKey::SourceIp,
            "aws:currenttime" => CondKey::CurrentTime,
            "aws:epochtime" => CondKey::EpochTime,
            _ => CondKey::Unknown,
        }
    }
}

/// One value of a condition key in a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Bool(bool),
    Ip(IpAddr),
    TimeMs(i64),
}

/// The values of a key in a request: none (absent), one, or several (multi-valued keys).
pub(crate) enum Vals<'a> {
    One(Val<'a>),
    Many(&'a [String]),
    Keys(std::collections::btree_map::Keys<'a, String, String>),
}

impl<'a> Iterator for Vals<'a> {
    type Item = Val<'a>;
    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            Vals::One(v) => {
                let v = *v;
                *self = Vals::Many(&[]);
                Some(v)
            }
            Vals::Many(s) => {
                let (first, rest) = s.split_first()?;
                *s = rest;
                Some(Val::Str(first))
            }
            Vals::Keys(k) => k.next().map(|k| Val::Str(k)),
        }
    }
}

impl<'a> RequestContext<'a> {
    /// The values of `key` in this request; `None` when the key is absent (a multi-valued
    /// key with no value is absent too, as in AWS).
    pub(crate) fn values(&self, key: &CondKey) -> Option<Vals<'a>> {
        let one = |s: Option<&'a str>| s.map(|s| Vals::One(Val::Str(s)));
        let many = |s: &'a [String]| (!s.is_empty()).then_some(Vals::Many(s));
        let p = self.principal;
        match key {
            CondKey::EncryptionContext(k) => self
                .encryption_context?
                .iter()
                .find(|(ck, _)| ck.eq_ignore_ascii_case(k))
                .map(|(_, v)| Vals::One(Val::Str(v))),
            CondKey::EncryptionContextKeys => self
                .encryption_context
                .filter(|c| !c.is_empty())
                .map(|c| Vals::Keys(c.keys())),
            CondKey::ViaService => one(self.via_service),
            CondKey::CallerAccount | CondKey::PrincipalAccount => one(Some(p.account.as_str())),
            CondKey::GrantIsForAwsResource => self
                .grant_is_for_aws_resource
                .map(|b| Vals::One(Val::Bool(b))),
            CondKey::GrantOperations => many(self.grant_operations),
            CondKey::KeySpec => one(self.key_spec),
            CondKey::KeyUsage => one(self.key_usage),
            CondKey::EncryptionAlgorithm => one(self.encryption_algorithm),
            CondKey::SigningAlgorithm => one(self.signing_algorithm),
            CondKey::MacAlgorithm => one(self.mac_algorithm),
            CondKey::MessageType => one(self.message_type),
            CondKey::RequestAlias => one(self.request_alias),
            CondKey::ResourceAliases => many(self.resource_aliases),
            CondKey::PrincipalArn => one(Some(p.principal_arn())),
            CondKey::PrincipalType => one(Some(principal_type(p.kind))),
            CondKey::SourceIp => self.source_ip.map(|ip| Vals::One(Val::Ip(ip))),
            CondKey::CurrentTime | CondKey::EpochTime => {
                self.current_time_ms.map(|t| Vals::One(Val::TimeMs(t)))
            }
            CondKey::ResourceTag(k) => one(self.resource_tags?.get(k).map(String::as_str)),
            CondKey::Unknown => None,
        }
    }
}

fn principal_type(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::Root => "Account",
        PrincipalKind::User => "User",
        PrincipalKind::RoleSession => "AssumedRole",
        PrincipalKind::Service => "Service",
    }
}
