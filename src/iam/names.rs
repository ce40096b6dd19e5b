//! What IAM accepts as a name, an account id and a policy document, the ARNs of principals
//! ([`Principal`], parsed back from an ARN), and new unique ids (`AIDA...`, `AROA...`).

use super::IamError;
use crate::policy::{Policy, PolicyKind};

/// Longest user, role or session name... as IAM bounds them.
const MAX_USER_NAME: usize = 64;
const MAX_ROLE_NAME: usize = 64;
const MAX_POLICY_NAME: usize = 128;
/// Largest inline policy or trust policy kept (IAM's role limit; a user's is 2,048).
pub(crate) const MAX_POLICY_LEN: usize = 10_240;

/// `[\w+=,.@-]{1,max}`: IAM's pattern for user, role, policy and session names.
pub(crate) fn check_name(kind: &str, name: &str, min: usize, max: usize) -> Result<(), IamError> {
    let ok = name.len() >= min
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        return Ok(());
    }
    let shown: String = name.chars().take(max + 1).collect();
    Err(IamError::Validation(format!(
        "1 validation error detected: Value '{shown}' at '{kind}' failed to satisfy constraint: \
         Member must have length between {min} and {max} and match [\\w+=,.@-]+"
    )))
}

pub(crate) fn check_user_name(n: &str) -> Result<(), IamError> {
    check_name("userName", n, 1, MAX_USER_NAME)
}

pub(crate) fn check_role_name(n: &str) -> Result<(), IamError> {
    check_name("roleName", n, 1, MAX_ROLE_NAME)
}

/// A role session name: 2 to 64 of `[\w+=,.@-]`.
pub fn check_session_name(n: &str) -> Result<(), IamError> {
    check_name("roleSessionName", n, 2, 64)
}

pub(crate) fn check_policy_name(n: &str) -> Result<(), IamError> {
    check_name("policyName", n, 1, MAX_POLICY_NAME)
}

/// An account id: exactly 12 digits.
pub fn check_account_id(id: &str) -> Result<(), IamError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(IamError::Validation(format!(
            "the account id '{}' is not 12 digits",
            id.chars().take(20).collect::<String>()
        )))
    }
}

/// A policy document: 1 to 10,240 characters that the policy engine parses as a `kind`
/// policy (an identity policy, or a role's trust policy, which names principals as a key
/// policy does). The document is returned as given.
pub fn check_policy_document(doc: &str, kind: PolicyKind) -> Result<String, IamError> {
    if doc.is_empty() || doc.len() > MAX_POLICY_LEN {
        return Err(IamError::Validation(format!(
            "the policy document has {} characters; it must have 1 to {MAX_POLICY_LEN}",
            doc.len()
        )));
    }
    Policy::parse(doc, kind)
        .map_err(|e| IamError::MalformedPolicyDocument(e.message().to_string()))?;
    Ok(doc.to_string())
}

/// The root of `account`: `arn:PARTITION:iam::ACCOUNT:root`.
pub fn root_arn(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// A principal an ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Root {
        account: String,
    },
    User {
        account: String,
        name: String,
    },
    Role {
        account: String,
        name: String,
    },
    AssumedRole {
        account: String,
        role: String,
        session: String,
    },
}

impl Principal {
    /// Parse `arn:PARTITION:iam::ACCOUNT:root|user/[PATH/]NAME|role/[PATH/]NAME` or
    /// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`; `None` for anything else.
    pub fn parse(arn: &str) -> Option<Principal> {
        let mut it = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(service), Some(""), Some(account), Some(res)) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) else {
            return None;
        };
        let account = account.to_string();
        match (service, res) {
            ("iam", "root") => Some(Principal::Root { account }),
            ("iam", r) if r.starts_with("user/") => Some(Principal::User {
                account,
                name: r.rsplit('/').next()?.to_string(),
            }),
            ("iam", r) if r.starts_with("role/") => Some(Principal::Role {
                account,
                name: r.rsplit('/').next()?.to_string(),
            }),
            ("sts", r) => {
                let mut p = r.strip_prefix("assumed-role/")?.splitn(2, '/');
                let (role, session) = (p.next()?, p.next()?);
                Some(Principal::AssumedRole {
                    account,
                    role: role.to_string(),
                    session: session.to_string(),
                })
            }
            _ => None,
        }
    }

    pub fn account(&self) -> &str {
        match self {
            Principal::Root { account }
            | Principal::User { account, .. }
            | Principal::Role { account, .. }
            | Principal::AssumedRole { account, .. } => account,
        }
    }
}

/// A new unique id: `prefix` and 17 characters of `A-Z 2-7`, as IAM's `AIDA...`/`AROA...`.
pub(crate) fn new_unique_id(prefix: &str) -> Result<String, IamError> {
    const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut b = [0u8; 17];
    crate::crypto::fill_random(&mut b).map_err(|e| IamError::Keys(e.to_string()))?;
    let tail: String = b.iter().map(|x| B32[usize::from(x & 31)] as char).collect();
    Ok(format!("{prefix}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(check_user_name("alice+ops@x.y-z_1=,").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            let e = check_user_name(bad).unwrap_err();
            assert_eq!(e.code(), "ValidationError", "{bad}");
        }
        assert!(check_account_id("222222222222").is_ok());
        assert!(check_account_id("22222222222a").is_err());
        let id = new_unique_id("AIDA").unwrap();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
    }

    #[test]
    fn policy_documents() {
        let id = PolicyKind::Identity;
        let ok = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert!(check_policy_document(ok, id).is_ok());
        let e = check_policy_document("{", id).unwrap_err();
        assert_eq!(e.code(), "MalformedPolicyDocument");
        let e = check_policy_document(r#"{"Version":"2012-10-17"}"#, id).unwrap_err();
        assert_eq!(e.code(), "MalformedPolicyDocument");
        let e = check_policy_document(
            r#"{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}"#,
            id,
        )
        .unwrap_err();
        assert_eq!(e.code(), "MalformedPolicyDocument");
        assert!(check_policy_document("", id).is_err());
    }

    #[test]
    fn principals_parse() {
        let p = |s| Principal::parse(s);
        assert_eq!(
            p("arn:aws:iam::111122223333:root"),
            Some(Principal::Root {
                account: "111122223333".into()
            })
        );
        assert_eq!(
            p("arn:aws:iam::111122223333:user/ops/alice"),
            Some(Principal::User {
                account: "111122223333".into(),
                name: "alice".into()
            })
        );
        assert_eq!(
            p("arn:aws:sts::111122223333:assumed-role/R/s1"),
            Some(Principal::AssumedRole {
                account: "111122223333".into(),
                role: "R".into(),
                session: "s1".into()
            })
        );
        assert_eq!(p("ebs.amazonaws.com"), None);
        assert_eq!(p("arn:aws:kms:us-east-1:1:key/x"), None);
    }
}
