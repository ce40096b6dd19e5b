//! The policy document: JSON parsed into typed statements, validated with messages that name
//! the problem (AWS's `MalformedPolicyDocumentException`), and compiled for evaluation.

use super::condition::Condition;
use super::context::{Principal, PrincipalKind, RequestContext};
use super::glob::glob_match;
use super::{MAX_POLICY_BYTES, PolicyError};
use serde_json::{Map, Value};

/// What a document is: a key policy (every statement names a Principal) or an identity
/// policy of a user or role (no statement may).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Key,
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A compiled policy: parse once, evaluate many times (share it as an `Arc<Policy>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

impl AsRef<Policy> for Policy {
    fn as_ref(&self) -> &Policy {
        self
    }
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `None` in identity policies.
    pub(crate) principal: Option<PrincipalSpec>,
    /// `None`: no Action nor NotAction, the statement has no effect.
    pub(crate) actions: Option<Matcher>,
    /// `None`: no Resource nor NotResource, the statement has no effect.
    pub(crate) resources: Option<Matcher>,
    pub(crate) conditions: Vec<Condition>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: wildcard patterns, maybe negated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    not: bool,
    patterns: Vec<String>,
}

impl Matcher {
    /// `fold`: ASCII case-insensitive (action names).
    fn matches(&self, s: &str, fold: bool) -> bool {
        self.patterns.iter().any(|p| glob_match(p, s, fold)) != self.not
    }
}

/// `Principal`/`NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrincipalSpec {
    not: bool,
    any: bool,
    /// ARNs, an account id normalised to its root ARN.
    arns: Vec<String>,
    /// Service principals, lower case.
    services: Vec<String>,
}

/// How a statement's principal covers the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrincipalMatch {
    No,
    /// By its own ARN (or its role's, or `*`).
    Direct,
    /// By its account's root: the key policy delegates to the account's IAM policies.
    Account,
}

impl PrincipalSpec {
    fn matches(&self, p: &Principal) -> PrincipalMatch {
        if self.not {
            return if self.excludes(p) {
                PrincipalMatch::No
            } else {
                PrincipalMatch::Direct
            };
        }
        if self.any {
            return PrincipalMatch::Direct;
        }
        if p.kind == PrincipalKind::Service {
            let named = self.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn));
            return if named {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            };
        }
        let named = |a: &str| self.arns.iter().any(|x| x == a);
        if named(&p.arn) || p.role_arn.as_deref().is_some_and(named) {
            PrincipalMatch::Direct
        } else if named(p.root_arn()) {
            PrincipalMatch::Account
        } else {
            PrincipalMatch::No
        }
    }

    /// NotPrincipal leaves a caller out only if every identity it carries is listed: its
    /// ARN, its role's and its account's (AWS's rule: list the account too).
    fn excludes(&self, p: &Principal) -> bool {
        if p.kind == PrincipalKind::Service {
            return self.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn));
        }
        let named = |a: &str| self.arns.iter().any(|x| x == a);
        named(&p.arn) && p.role_arn.as_deref().is_none_or(named) && named(p.root_arn())
    }
}

impl Statement {
    /// Whether this statement applies to the request, and how its principal matched
    /// (identity policies: `Direct`).
    pub(crate) fn applies(&self, ctx: &RequestContext<'_>) -> PrincipalMatch {
        let (Some(actions), Some(resources)) = (&self.actions, &self.resources) else {
            return PrincipalMatch::No;
        };
        let how = match &self.principal {
            Some(p) => p.matches(ctx.principal),
            None => PrincipalMatch::Direct,
        };
        if how == PrincipalMatch::No
            || !actions.matches(ctx.action, true)
            || !resources.matches(ctx.resource, false)
            || !self.conditions.iter().all(|c| c.holds(ctx))
        {
            return PrincipalMatch::No;
        }
        how
    }

    /// Like [`applies`](Self::applies) with every condition taken as met.
    pub(crate) fn could_apply(&self, ctx: &RequestContext<'_>) -> PrincipalMatch {
        let mut s = self.clone();
        s.conditions.clear();
        s.applies(ctx)
    }
}

impl Policy {
    /// Parse and validate a policy document of `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::malformed(format!(
                "The policy is {} bytes long; the limit is {MAX_POLICY_BYTES} bytes",
                text.len()
            )));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError::malformed(format!("The policy is not valid JSON: {e}")))?;
        let top = v
            .as_object()
            .ok_or_else(|| PolicyError::malformed("The policy must be a JSON object"))?;
        for k in top.keys() {
            if !["Version", "Id", "Statement"].contains(&k.as_str()) {
                return Err(PolicyError::malformed(format!(
                    "The policy has an unknown element {k:?}"
                )));
            }
        }
        let version = opt_str(top, "Version", "The policy's Version")?;
        if let Some(ver) = &version
            && ver != "2012-10-17"
            && ver != "2008-10-17"
        {
            return Err(PolicyError::malformed(format!(
                "The policy's Version {ver:?} is not 2012-10-17 or 2008-10-17"
            )));
        }
        let id = opt_str(top, "Id", "The policy's Id")?;
        let list = match top.get("Statement") {
            None => return Err(PolicyError::malformed("The policy has no Statement")),
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(o @ Value::Object(_)) => vec![o],
            Some(_) => {
                return Err(PolicyError::malformed(
                    "The policy's Statement must be an object or a list of objects",
                ));
            }
        };
        if list.is_empty() {
            return Err(PolicyError::malformed("The policy's Statement is empty"));
        }
        let mut statements = Vec::with_capacity(list.len());
        for (i, s) in list.into_iter().enumerate() {
            let st = parse_statement(s, i, kind)?;
            if let Some(sid) = &st.sid
                && statements
                    .iter()
                    .any(|o: &Statement| o.sid.as_ref() == Some(sid))
            {
                return Err(PolicyError::malformed(format!(
                    "Statement IDs (SID) in a single policy must be unique: {sid:?} appears twice"
                )));
            }
            statements.push(st);
        }
        Ok(Policy {
            kind,
            version,
            id,
            statements,
        })
    }
}

const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_statement(v: &Value, i: usize, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let o = v.as_object().ok_or_else(|| {
        PolicyError::malformed(format!("Statement {} is not a JSON object", i + 1))
    })?;
    let sid = opt_str(o, "Sid", &format!("Statement {}'s Sid", i + 1))?;
    let at = match &sid {
        Some(s) => format!("Statement {s:?}"),
        None => format!("Statement {}", i + 1),
    };
    let err = |m: &str| PolicyError::malformed(format!("{at}: {m}"));
    if let Some(k) = o.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(err(&format!("unknown element {k:?}")));
    }
    let effect = match o.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(e) => return Err(err(&format!("unknown Effect {e:?} (Allow or Deny)"))),
        None => return Err(err("no Effect (Allow or Deny)")),
    };
    let principal = match (o.get("Principal"), o.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(err("both Principal and NotPrincipal")),
        (None, None) if kind == PolicyKind::Key => {
            return Err(err(
                "no Principal: every statement of a key policy names one",
            ));
        }
        (None, None) => None,
        (Some(_), _) | (_, Some(_)) if kind == PolicyKind::Identity => {
            return Err(err("Policy document should not specify a principal"));
        }
        (Some(p), None) => Some(parse_principal(p, false).map_err(|m| err(&m))?),
        (None, Some(p)) => Some(parse_principal(p, true).map_err(|m| err(&m))?),
    };
    let actions = matcher(o, "Action", "NotAction").map_err(|m| err(&m))?;
    if let Some(a) = &actions {
        check_actions(a).map_err(|m| err(&m))?;
    }
    let resources = matcher(o, "Resource", "NotResource").map_err(|m| err(&m))?;
    let mut conditions = Vec::new();
    match o.get("Condition") {
        None => {}
        Some(Value::Object(ops)) => {
            for (op, body) in ops {
                Condition::parse(op, body, &mut conditions).map_err(|e| err(e.message()))?;
            }
        }
        Some(_) => return Err(err("the Condition must be a JSON object")),
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

fn opt_str(o: &Map<String, Value>, k: &str, what: &str) -> Result<Option<String>, PolicyError> {
    match o.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::malformed(format!("{what} must be a string"))),
    }
}

/// A string or a non-empty list of strings.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let bad = || format!("{what} must be a string or a non-empty list of strings");
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn matcher(o: &Map<String, Value>, yes: &str, no: &str) -> Result<Option<Matcher>, String> {
    match (o.get(yes), o.get(no)) {
        (Some(_), Some(_)) => Err(format!("both {yes} and {no}")),
        (Some(v), None) => Ok(Some(Matcher {
            not: false,
            patterns: strings(v, yes)?,
        })),
        (None, Some(v)) => Ok(Some(Matcher {
            not: true,
            patterns: strings(v, no)?,
        })),
        (None, None) => Ok(None),
    }
}

fn check_actions(m: &Matcher) -> Result<(), String> {
    for a in &m.patterns {
        let ok = a == "*"
            || a.split_once(':').is_some_and(|(vendor, name)| {
                !vendor.is_empty()
                    && !name.is_empty()
                    && vendor
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {a:?}"
            ));
        }
    }
    Ok(())
}

const INVALID_PRINCIPALS: &str = "Policy contains a statement with one or more invalid principals.";

fn parse_principal(v: &Value, not: bool) -> Result<PrincipalSpec, String> {
    let mut spec = PrincipalSpec {
        not,
        any: false,
        arns: Vec::new(),
        services: Vec::new(),
    };
    let map = match v {
        Value::String(s) if s == "*" => {
            spec.any = true;
            return Ok(spec);
        }
        Value::Object(m) if !m.is_empty() => m,
        _ => return Err(INVALID_PRINCIPALS.into()),
    };
    for (k, v) in map {
        let list = strings(v, &format!("Principal {k}"))?;
        match k.as_str() {
            "AWS" => {
                for a in list {
                    aws_principal(&a, &mut spec)?;
                }
            }
            "Service" => {
                for s in list {
                    if s.is_empty() || s.contains(['*', '?']) {
                        return Err(INVALID_PRINCIPALS.into());
                    }
                    spec.services.push(s.to_ascii_lowercase());
                }
            }
            "Federated" | "CanonicalUser" => {
                // Never a KMS caller here: it names no one who can call.
                spec.arns
                    .extend(list.into_iter().map(|x| format!("{k}:{x}")));
            }
            _ => return Err(format!("unknown principal type {k:?} (AWS or Service)")),
        }
    }
    Ok(spec)
}

/// `*`, an account id, or an IAM/STS ARN (root, user, role, assumed-role); no partial
/// wildcards (AWS refuses them in a Principal).
fn aws_principal(a: &str, spec: &mut PrincipalSpec) -> Result<(), String> {
    if a == "*" {
        spec.any = true;
        return Ok(());
    }
    if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
        spec.arns.push(format!("arn:aws:iam::{a}:root"));
        return Ok(());
    }
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && (parts[2] == "iam" || parts[2] == "sts")
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && !a.contains(['*', '?']);
    if !ok {
        return Err(INVALID_PRINCIPALS.into());
    }
    spec.arns.push(a.to_string());
    Ok(())
}
