//! The KMS enforces permissions: every operation asks [`Call::authorize`] (or, for actions
//! on no key, [`Call::authorize_star`]) before it has any effect or output, and a refusal
//! is `AccessDeniedException` with the policy engine's message (AWS's), audited like any
//! error by the audit hook.
//!
//! What is evaluated (`policy::evaluate`): the key's policy (compiled once per key and
//! policy text, so a PutKeyPolicy, here or in another process, is seen at the next
//! request), the caller's identity policies (`iam`, compiled once per document), then the
//! key's grants (only when the policies alone refuse, and never over an explicit Deny), with
//! the request's condition keys; the grants come compiled from the grant store's cache
//! (`grants.rs`, kept while the key's grant folder is unchanged). Actions on no key (`kms:CreateKey`, `kms:ListKeys`,
//! `kms:ListAliases`, `kms:GenerateRandom`, `kms:ListRetirableGrants`; resource `*`) are
//! decided by the identity policies alone, as in AWS.
//!
//! Who is evaluated:
//! - an account root: allowed by its account's delegation (the default key policy);
//! - an IAM user registered in `iam`, a role session: exactly AWS's evaluation;
//! - a Unix user of the home that is not registered in `iam` (`user/NAME` of a name `kmsfs
//!   iam create-user` never made): as if it had an identity policy allowing `kms:*` (the
//!   administrator of its own machine); key policies still bind it (a Deny, or a key policy
//!   that does not delegate to the account, refuses it);
//! - a service principal acting on behalf of a user (`Caller::on_behalf_of`; in this
//!   process by default the Unix user): that user, with `kms:ViaService` set to the
//!   service's endpoint (`ec2.REGION.amazonaws.com` for `ebs.amazonaws.com`); if that
//!   refuses, the service principal alone (a grant to it, or a key policy statement naming
//!   it) may still allow, as EBS uses its own grant at attach time;
//! - a service principal acting alone: only a grant or a key policy statement naming it.

use super::caller::{OnBehalf, is_service_principal};
use super::context::EncryptionContext;
use super::error::KmsError;
use super::keystore::LoadedKey;
use super::resolve::principal_account;
use super::service::Call;
use crate::home::AccountConfig;
use crate::iam::{IamError, IdentityPolicies};
use crate::policy::{
    AllowedBy, Decision, Denial, Grant, GrantOperation, Policy, PolicyKind, Principal,
    PrincipalKind, RequestContext, can_create_grant, evaluate,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The operations on no key (resource `*`): decided by identity policies alone.
pub(super) const STAR_OPERATIONS: &[&str] = &[
    "CreateKey",
    "ListKeys",
    "ListAliases",
    "GenerateRandom",
    "ListRetirableGrants",
];

/// The operations that decide who may call them by their own rules (RetireGrant: the
/// grant's retiring principal, issuing account, or grantee).
pub(super) const OWN_RULES: &[&str] = &["RetireGrant"];

/// Compiled identity documents kept at most (the cache is emptied beyond).
const MAX_IDENTITY_DOCS: usize = 1024;

/// The implicit identity policy of a Unix user not registered in `iam`.
const UNIX_USER_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;

/// A key's policy, compiled, and the text it was compiled from.
struct CachedPolicy {
    text: String,
    policy: Arc<Policy>,
    /// Whether it names `kms:ResourceAliases` (the alias table is read only then).
    uses_aliases: bool,
}

/// Who is asked about (the principal evaluated), and its identity policies.
pub(super) struct Subject {
    pub(super) principal: Principal,
    identity: Vec<Arc<Policy>>,
    /// `kms:ViaService`, for a service acting for a user.
    via_service: Option<String>,
}

/// What a KMS keeps to decide requests: the identity registry and the compiled policies.
pub(super) struct Access {
    users: crate::iam::Iam,
    keys: RwLock<HashMap<[u8; 16], Arc<CachedPolicy>>>,
    docs: RwLock<HashMap<String, Arc<Policy>>>,
    /// The account's default key policy: what actions on no key are evaluated under.
    star: Arc<Policy>,
    unix_user: Arc<Policy>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

fn internal(e: IamError) -> KmsError {
    KmsError::Internal(format!("reading the identity registry: {e}"))
}

impl Access {
    pub(super) fn new(iam: crate::iam::Iam, account: &AccountConfig) -> Result<Access, KmsError> {
        Ok(Access {
            users: iam,
            keys: RwLock::default(),
            docs: RwLock::default(),
            star: super::policy::compile(&super::policy::default_policy(account))?,
            unix_user: Arc::new(
                Policy::parse(UNIX_USER_POLICY, PolicyKind::Identity)
                    .map_err(|e| KmsError::Internal(e.message().to_string()))?,
            ),
        })
    }

    /// The same for another account of the home (`regions.rs`).
    pub(super) fn sibling(&self, account: &AccountConfig) -> Result<Access, KmsError> {
        Access::new(self.users.clone(), account)
    }

    /// The compiled policy of key `k` (compiled again only when its text changed).
    fn key_policy(&self, k: &LoadedKey) -> Result<Arc<CachedPolicy>, KmsError> {
        let id = &k.record.key_id;
        if let Some(c) = self.keys.read().expect("policy cache").get(id)
            && c.text == k.record.policy
        {
            return Ok(c.clone());
        }
        let c = Arc::new(CachedPolicy {
            policy: super::policy::compile(&k.record.policy)?,
            uses_aliases: k
                .record
                .policy
                .to_ascii_lowercase()
                .contains("kms:resourcealiases"),
            text: k.record.policy.clone(),
        });
        self.keys
            .write()
            .expect("policy cache")
            .insert(*id, c.clone());
        Ok(c)
    }

    /// An identity document, compiled once.
    fn identity_doc(&self, doc: &str) -> Result<Arc<Policy>, KmsError> {
        if let Some(p) = self.docs.read().expect("identity cache").get(doc) {
            return Ok(p.clone());
        }
        let p = Arc::new(Policy::parse(doc, PolicyKind::Identity).map_err(|e| {
            KmsError::Internal(format!("a stored identity policy: {}", e.message()))
        })?);
        let mut docs = self.docs.write().expect("identity cache");
        if docs.len() >= MAX_IDENTITY_DOCS {
            docs.clear();
        }
        docs.insert(doc.to_string(), p.clone());
        Ok(p)
    }

    /// The identity policies of `p`: a registered user's or a role's inline policies; for
    /// a user `iam` does not know (a Unix user of the home), the implicit `kms:*`.
    fn identity_of(&self, p: &Principal) -> Result<Vec<Arc<Policy>>, KmsError> {
        match p.kind {
            PrincipalKind::Root | PrincipalKind::Service => return Ok(Vec::new()),
            PrincipalKind::User if p.arn.contains(":user/") => {
                let name = p.arn.rsplit('/').next().unwrap_or_default();
                match self.users.get_user(&p.account, name) {
                    Ok(_) => {}
                    Err(IamError::NoSuchEntity(_) | IamError::Validation(_)) => {
                        return Ok(vec![self.unix_user.clone()]);
                    }
                    Err(e) => return Err(internal(e)),
                }
            }
            PrincipalKind::User | PrincipalKind::RoleSession => {}
        }
        let docs = self.users.identity_policies(&p.arn).map_err(internal)?;
        docs.iter().map(|(_, d)| self.identity_doc(d)).collect()
    }
}

/// The principal an ARN (or a service principal's name) names; `account` and `partition`
/// are the serving KMS's, for names that carry none.
pub(super) fn principal_of(arn: &str, account: &str, partition: &str) -> Principal {
    if is_service_principal(arn) {
        return Principal::new(arn, account, PrincipalKind::Service, partition);
    }
    let acct = principal_account(arn).unwrap_or(account);
    let kind = if arn.ends_with(":root") {
        PrincipalKind::Root
    } else if arn.contains(":assumed-role/") {
        PrincipalKind::RoleSession
    } else {
        PrincipalKind::User
    };
    Principal::new(arn, acct, kind, partition)
}

/// `kms:ViaService` of a service principal in `region`: `ebs.amazonaws.com` calls through
/// EC2's endpoint, other services through their own.
fn via_service(service: &str, region: &str) -> String {
    let name = service.strip_suffix(".amazonaws.com").unwrap_or(service);
    let name = if name == "ebs" { "ec2" } else { name };
    format!("{name}.{region}.amazonaws.com")
}

/// A grant that allows CreateGrant creates only equal or narrower grants: `AccessDenied`
/// when `new` would allow more than `parent`.
pub(super) fn check_narrower(
    parent: &Grant,
    new: &super::grants::Grant,
    caller: &str,
    key_arn: &str,
) -> Result<(), KmsError> {
    let child = super::grants::engine_grant(new);
    let ops: Vec<GrantOperation> = child.operations().collect();
    if can_create_grant(parent, &ops, child.constraints.as_ref()) {
        return Ok(());
    }
    Err(KmsError::AccessDenied(format!(
        "User: {caller} is not authorized to perform: kms:CreateGrant on resource: {key_arn} \
         because the grant that allows it cannot create a grant that allows more than it does"
    )))
}

/// What a request asks of a key, beyond its action.
#[derive(Default, Clone, Copy)]
pub(super) struct Ask<'a> {
    /// The KeyId as given (an alias name sets `kms:RequestAlias`).
    pub(super) key_id: Option<&'a str>,
    pub(super) context: Option<&'a EncryptionContext>,
    /// `kms:GrantOperations` (CreateGrant).
    pub(super) grant_operations: &'a [String],
    /// The request's algorithms and (CreateKey) key spec and usage.
    pub(super) keys: Option<&'a RequestKeys>,
}

/// Condition keys a request sets from its members, noted by the operation before its key
/// is resolved ([`Call::note_request_keys`]).
#[derive(Debug, Default, Clone)]
pub(super) struct RequestKeys {
    /// CreateKey's KeySpec and KeyUsage (an existing key's are its own).
    pub(super) key_spec: Option<String>,
    pub(super) key_usage: Option<String>,
    pub(super) encryption_algorithm: Option<String>,
    pub(super) signing_algorithm: Option<String>,
    pub(super) mac_algorithm: Option<String>,
    pub(super) message_type: Option<String>,
}

/// The operations whose `*` resource check happens inside the operation, once the request
/// members it conditions on are noted (CreateKey: `kms:KeySpec`, `kms:KeyUsage`).
pub(super) const STAR_CHECKED_INSIDE: &[&str] = &["CreateKey"];

/// The alias a KeyId names (`alias/x`, or the alias of an alias ARN), if any.
fn request_alias(key_id: &str) -> Option<&str> {
    match key_id.find("alias/") {
        Some(0) => Some(key_id),
        Some(i) if key_id.starts_with("arn:") => Some(&key_id[i..]),
        _ => None,
    }
}

impl Call<'_> {
    /// Who this request is evaluated as (see the module's documentation): the principal,
    /// its identity policies and `kms:ViaService`; and, for a service acting for a user, the
    /// service alone as a second chance.
    pub(super) fn subjects(&self) -> Result<(Subject, Option<Subject>), KmsError> {
        let (acct, part) = (&self.account.account_id, &self.account.partition);
        let caller = self.caller();
        let me = principal_of(caller.principal(), acct, part);
        let user: Option<String> = match caller.on_behalf() {
            None | Some(OnBehalf::Nobody) => None,
            Some(OnBehalf::ProcessUser) => Some(self.os_principal()),
            Some(OnBehalf::Principal(p)) => Some(p.to_string()),
        };
        let Some(user) = user else {
            let identity = self.access.identity_of(&me)?;
            let s = Subject {
                principal: me,
                identity,
                via_service: None,
            };
            return Ok((s, None));
        };
        let principal = principal_of(&user, acct, part);
        let s = Subject {
            identity: self.access.identity_of(&principal)?,
            principal,
            via_service: Some(via_service(caller.principal(), &self.account.region)),
        };
        let alone = Subject {
            principal: me,
            identity: Vec::new(),
            via_service: None,
        };
        Ok((s, Some(alone)))
    }

    /// Decide `action` on key `k` for this request; the grant that allowed it, if a grant
    /// did (CreateGrant checks that the new grant is no wider). A refusal is
    /// `AccessDeniedException` with AWS's message.
    pub(super) fn authorize(
        &self,
        k: &LoadedKey,
        action: &str,
        ask: Ask<'_>,
    ) -> Result<Option<Grant>, KmsError> {
        self.mark_authorized();
        let cached = self.access.key_policy(k)?;
        let (first, second) = self.subjects()?;
        let aliases = if cached.uses_aliases {
            self.aliases_of(&k.record.key_id)?
        } else {
            Vec::new()
        };
        let arn = self.key_arn(k);
        let mut refusal = None;
        for s in std::iter::once(&first).chain(second.as_ref()) {
            let mut ctx = self.context(s, action, arn, ask);
            ctx.resource_tags = Some(&k.record.tags);
            ctx.resource_aliases = &aliases;
            ctx.key_spec = Some(k.record.spec_name());
            ctx.key_usage = Some(k.record.usage.as_str());
            let d = evaluate(&ctx, &cached.policy, s.identity.iter().map(|p| &**p), []);
            match d {
                Decision::Allow(_) => return Ok(None),
                Decision::Deny(Denial::NoResourcePolicy | Denial::NoIdentityPolicy) => {
                    if let Some(g) = self.allowing_grant(k, &ctx)? {
                        return Ok(Some(g));
                    }
                }
                Decision::Deny(_) => {}
            }
            refusal.get_or_insert_with(|| d.denial_message(&ctx).unwrap_or_default());
        }
        Err(KmsError::AccessDenied(refusal.unwrap_or_default()))
    }

    /// The request's condition keys for subject `s` (tags and aliases are the caller's to
    /// add).
    fn context<'a>(
        &'a self,
        s: &'a Subject,
        action: &'a str,
        arn: &'a str,
        ask: Ask<'a>,
    ) -> RequestContext<'a> {
        let mut ctx = RequestContext::new(&s.principal, action, arn);
        ctx.encryption_context = ask.context;
        ctx.via_service = s.via_service.as_deref();
        ctx.grant_operations = ask.grant_operations;
        if action == "kms:CreateGrant" {
            ctx.grant_is_for_aws_resource = Some(s.via_service.is_some());
        }
        let keys = ask.keys;
        let key = |f: fn(&RequestKeys) -> &Option<String>| keys.and_then(|k| f(k).as_deref());
        ctx.key_spec = Some(key(|k| &k.key_spec).unwrap_or("SYMMETRIC_DEFAULT"));
        ctx.key_usage = Some(key(|k| &k.key_usage).unwrap_or("ENCRYPT_DECRYPT"));
        ctx.encryption_algorithm = key(|k| &k.encryption_algorithm);
        ctx.signing_algorithm = key(|k| &k.signing_algorithm);
        ctx.mac_algorithm = key(|k| &k.mac_algorithm);
        ctx.message_type = key(|k| &k.message_type);
        ctx.request_alias = ask.key_id.and_then(request_alias);
        ctx.source_ip = self.caller().source_ip().and_then(|s| s.parse().ok());
        ctx.current_time_ms = Some(self.clock.now_ms());
        ctx
    }

    /// The first grant of `k` that allows the request.
    fn allowing_grant(
        &self,
        k: &LoadedKey,
        ctx: &RequestContext<'_>,
    ) -> Result<Option<Grant>, KmsError> {
        let Some(op) = GrantOperation::from_action(ctx.action) else {
            return Ok(None);
        };
        let grants = self.compiled_grants(&k.record.key_id)?;
        Ok(grants.iter().find(|g| g.allows(ctx, op)).cloned())
    }

    /// The aliases of key `id` (`kms:ResourceAliases`).
    fn aliases_of(&self, id: &[u8; 16]) -> Result<Vec<String>, KmsError> {
        let target = uuid::Uuid::from_bytes(*id).to_string();
        Ok(self
            .ks
            .aliases()?
            .iter()
            .filter(|(_, e)| e.target == target)
            .map(|(n, _)| n.clone())
            .collect())
    }

    /// Decide an action on no key (resource `*`): identity policies alone (an account root
    /// and a Unix user not in `iam` are allowed; a service acting for a user is that user).
    pub(super) fn authorize_star(&self, action: &str) -> Result<(), KmsError> {
        self.mark_authorized();
        let (s, _) = self.subjects()?;
        let keys = self.request_keys();
        let ask = Ask {
            keys: Some(&keys),
            ..Ask::default()
        };
        let ctx = self.context(&s, action, "*", ask);
        let d = evaluate(&ctx, &self.access.star, s.identity.iter().map(|p| &**p), []);
        match d {
            Decision::Allow(AllowedBy::KeyPolicy | AllowedBy::IdentityPolicy) => Ok(()),
            _ => Err(KmsError::AccessDenied(
                d.denial_message(&ctx).unwrap_or_default(),
            )),
        }
    }

    /// The check of the operation in flight on key `k` (named by `key_id`, as given): its
    /// action (`kms:<Operation>`; ReEncrypt's source key: `kms:ReEncryptFrom`), with the
    /// encryption context noted for the request. Operations on no key, and those with their
    /// own rules, pass here (they are checked elsewhere).
    pub(super) fn authorize_operation(
        &self,
        k: &LoadedKey,
        key_id: Option<&str>,
    ) -> Result<Option<Grant>, KmsError> {
        let op = self.operation();
        if STAR_OPERATIONS.contains(&op) || OWN_RULES.contains(&op) {
            return Ok(None);
        }
        let action = match op {
            "ReEncrypt" => "kms:ReEncryptFrom".to_string(),
            op => format!("kms:{op}"),
        };
        let ec = self.noted_context();
        let ops = self.grant_request_operations();
        let keys = self.request_keys();
        let ask = Ask {
            key_id,
            context: ec.as_ref(),
            grant_operations: &ops,
            keys: Some(&keys),
        };
        self.authorize(k, &action, ask)
    }
}

impl Call<'_> {
    /// AWS's lockout safety check of a new key policy (CreateKey, PutKeyPolicy), unless
    /// `bypass`: the caller could still change the policy later.
    pub(super) fn check_lockout(
        &self,
        policy: &str,
        key_arn: &str,
        bypass: Option<bool>,
    ) -> Result<(), KmsError> {
        if bypass == Some(true) {
            return Ok(());
        }
        let compiled = super::policy::compile(policy)?;
        let (s, _) = self.subjects()?;
        crate::policy::lockout_check(&compiled, &s.principal, key_arn)
            .map_err(|e| KmsError::MalformedPolicyDocument(e.message().to_string()))
    }
}
