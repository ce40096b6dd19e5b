//! The policy layer (below `kms`, above the ground): key policies and identity policies parsed
//! and validated into a compiled form ([`Policy`]), AWS's evaluation of a request against a
//! key policy, the caller's identity policies and the key's grants ([`evaluate`]), and grants
//! as data with their matching and narrowing rules ([`Grant`]). Plain synchronous code, no
//! I/O; it imports nothing of `kms` (the KMS caches an `Arc<Policy>` per key and calls in).
//!
//! - `document.rs`: the JSON grammar (Statement, Effect, Principal, Action, Resource, ...)
//!   and `MalformedPolicyDocumentException`'s messages;
//! - `condition.rs`: condition operators, set qualifiers and `...IfExists`;
//! - `context.rs`: who asks for what (`Principal`, `RequestContext`) and the condition keys;
//! - `eval.rs`: the decision and AWS's `AccessDeniedException` messages;
//! - `grant.rs`: grants, their constraints, and "a grant can only create narrower grants";
//! - `glob.rs`: `*`/`?` wildcard matching.

mod condition;
mod context;
mod document;
mod eval;
mod glob;
mod grant;

pub use context::{Principal, PrincipalKind, RequestContext};
pub use document::{Effect, Policy, PolicyKind, Statement};
pub use eval::{AllowedBy, Decision, Denial, evaluate, lockout_check};
pub use glob::glob_match;
pub use grant::{Grant, GrantConstraints, GrantOperation, can_create_grant};

/// The largest key policy AWS accepts (the KMS quota: 32 KiB).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Why a policy document is refused: AWS's `MalformedPolicyDocumentException`, with a
/// message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Malformed(String),
}

impl PolicyError {
    pub(crate) fn malformed(m: impl Into<String>) -> PolicyError {
        PolicyError::Malformed(m.into())
    }

    /// The message, without the error's name.
    pub fn message(&self) -> &str {
        match self {
            PolicyError::Malformed(m) => m,
        }
    }
}
