//! Accounts and their identities (the policy/iam layer, below the KMS): the accounts of a
//! home (the home's own, from `config.json`, and those `kmsfs account create` adds), each
//! with its root, IAM users, roles (with their trust policy) and the inline identity
//! policies of users and roles. Nothing here is secret: access keys and session
//! credentials are sealed by the KMS (`kms/access_keys.rs`), which names their owner by
//! ARN; iam asks it through [`KeyOwners`] whether a user still has keys.
//!
//! - `names`: what a name, an account id or a policy document may be; ARNs and unique ids.
//! - `registry`: [`Iam`], the registry on disk (`iam/accounts/<ACCOUNT>/account.json`,
//!   atomic writes under `iam/lock`), and the operations on it.
//!
//! The KMS asks for "the identity policies of this principal" through
//! [`IdentityPolicies`] (implemented by [`Iam`]); evaluating them is the policy engine's.

mod names;
mod registry;

pub use names::{Principal, check_account_id, check_policy_document, check_session_name, root_arn};
pub use registry::{Account, Holder, Iam, Role, User};

/// Why an IAM request failed, by IAM's error names ([`IamError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// A user, role, policy or account that does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// A user with access keys or policies, a role with policies, an account with users.
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is damaged: {why}")]
    Damaged {
        path: std::path::PathBuf,
        why: String,
    },
    /// Another process holds the registry's lock.
    #[error("the identity registry {0} is locked by another process")]
    Locked(std::path::PathBuf),
    /// The key store could not say which keys a user has.
    #[error("{0}")]
    Keys(String),
}

impl IamError {
    /// IAM's error name (`NoSuchEntity`, `DeleteConflict`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::Validation(_) => "ValidationError",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            _ => "ServiceFailure",
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> IamError {
        IamError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Who holds access keys: the KMS's sealed store answers for a principal's ARN.
pub trait KeyOwners {
    /// The ids of the access keys (permanent or temporary) that act as `principal_arn`.
    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<String>, IamError>;
}

/// The identity policies of a principal, for the KMS to evaluate (a user's inline
/// policies; an assumed role's session: its role's; a root or unknown principal: none).
pub trait IdentityPolicies: Send + Sync {
    /// `(policy name, policy document)` pairs, by name.
    fn identity_policies(&self, principal_arn: &str) -> Result<Vec<(String, String)>, IamError>;
}
