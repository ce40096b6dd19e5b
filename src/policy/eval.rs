//! AWS's decision for a KMS request: an explicit Deny anywhere (key policy or identity
//! policy) wins; else the key policy allows the principal (across accounts, an identity
//! policy of the caller must allow too), or it allows the principal's account root and an
//! identity policy of the principal allows; else a grant allows; else an implicit deny.
//! Nothing here allocates unless the request is refused and its message is asked for.

use super::PolicyError;
use super::context::{Principal, PrincipalKind, RequestContext};
use super::document::{Effect, Policy, PrincipalMatch};
use super::grant::{Grant, GrantOperation};

/// What allowed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedBy {
    /// The key policy names the principal (or `*`).
    KeyPolicy,
    /// The key policy allows the principal's account, and an identity policy allows.
    IdentityPolicy,
    /// The grant at this index of those given.
    Grant(usize),
}

/// Why a request is refused (`AccessDeniedException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// A Deny statement of the key policy applies.
    ExplicitKeyPolicy,
    /// A Deny statement of one of the caller's identity policies applies.
    ExplicitIdentityPolicy,
    /// The key policy allows neither the principal nor its account, and no grant allows.
    NoResourcePolicy,
    /// The key policy delegates to the account (or the caller is in another account), but
    /// no identity policy of the caller allows, and no grant allows.
    NoIdentityPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow(AllowedBy),
    Deny(Denial),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// AWS's `AccessDeniedException` message of a refusal, `None` if allowed.
    pub fn denial_message(&self, ctx: &RequestContext<'_>) -> Option<String> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(d) => Some(d.message(ctx)),
        }
    }
}

impl Denial {
    /// `User: <arn> is not authorized to perform: <action> on resource: <key arn> ...`
    pub fn message(&self, ctx: &RequestContext<'_>) -> String {
        let (p, a, r) = (&ctx.principal.arn, ctx.action, ctx.resource);
        let why = match self {
            Denial::ExplicitKeyPolicy => "with an explicit deny in a resource-based policy".into(),
            Denial::ExplicitIdentityPolicy => {
                "with an explicit deny in an identity-based policy".into()
            }
            Denial::NoResourcePolicy => {
                format!("because no resource-based policy allows the {a} action")
            }
            Denial::NoIdentityPolicy => {
                format!("because no identity-based policy allows the {a} action")
            }
        };
        format!("User: {p} is not authorized to perform: {a} on resource: {r} {why}")
    }
}

/// Decide a request: `key_policy` is the key's, `identity` the caller's identity policies
/// (its user's or role's inline policies; ignored for a service principal), `grants` the
/// key's grants.
pub fn evaluate<'p, 'g>(
    ctx: &RequestContext<'_>,
    key_policy: &Policy,
    identity: impl IntoIterator<Item = &'p Policy>,
    grants: impl IntoIterator<Item = &'g Grant>,
) -> Decision {
    let (mut direct, mut account) = (false, false);
    for st in &key_policy.statements {
        match (st.applies(ctx), st.effect) {
            (PrincipalMatch::No, _) => {}
            (_, Effect::Deny) => return Decision::Deny(Denial::ExplicitKeyPolicy),
            (PrincipalMatch::Direct, Effect::Allow) => direct = true,
            (PrincipalMatch::Account, Effect::Allow) => account = true,
        }
    }
    let service = ctx.principal.kind == PrincipalKind::Service;
    // An account's root has every permission of its account without an IAM policy.
    let mut identity_allows = ctx.principal.kind == PrincipalKind::Root;
    if !service {
        for st in identity.into_iter().flat_map(|p| &p.statements) {
            match (st.applies(ctx), st.effect) {
                (PrincipalMatch::No, _) => {}
                (_, Effect::Deny) => return Decision::Deny(Denial::ExplicitIdentityPolicy),
                (_, Effect::Allow) => identity_allows = true,
            }
        }
    }
    let same_account = ctx.principal.account == ctx.resource_account();
    if direct && (same_account || service || identity_allows) {
        return Decision::Allow(AllowedBy::KeyPolicy);
    }
    if account && identity_allows {
        return Decision::Allow(AllowedBy::IdentityPolicy);
    }
    if let Some(op) = GrantOperation::from_action(ctx.action)
        && let Some(i) = grants.into_iter().position(|g| g.allows(ctx, op))
    {
        return Decision::Allow(AllowedBy::Grant(i));
    }
    Decision::Deny(if direct || account {
        Denial::NoIdentityPolicy
    } else {
        Denial::NoResourcePolicy
    })
}

/// AWS's lockout safety check (CreateKey, PutKeyPolicy without
/// `BypassPolicyLockoutSafetyCheck`): the new policy must let `caller` call PutKeyPolicy
/// later, directly or through its account (taking its IAM policies and any condition as
/// allowing), and no unconditional Deny may stop it.
pub fn lockout_check(
    policy: &Policy,
    caller: &Principal,
    key_arn: &str,
) -> Result<(), PolicyError> {
    let ctx = RequestContext::new(caller, "kms:PutKeyPolicy", key_arn);
    let denied = policy.statements.iter().any(|s| {
        s.effect == Effect::Deny && s.conditions.is_empty() && s.applies(&ctx) != PrincipalMatch::No
    });
    let allowed = policy
        .statements
        .iter()
        .any(|s| s.effect == Effect::Allow && s.could_apply(&ctx) != PrincipalMatch::No);
    if allowed && !denied {
        Ok(())
    } else {
        Err(PolicyError::malformed(
            "The new key policy will not allow you to update the key policy in the future.",
        ))
    }
}
