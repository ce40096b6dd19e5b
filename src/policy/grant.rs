//! Grants as data: grantee, operations, encryption-context constraints, and the two rules
//! the KMS needs: does a grant allow this request, and may a grant that allows CreateGrant
//! create this one (only equal or narrower grants). The grant store and the
//! CreateGrant/ListGrants/RetireGrant/RevokeGrant operations live in `kms`.
//!
//! In a constraint the encryption-context *key* matches case-insensitively and the value
//! case-sensitively (AWS's `GrantConstraints`); constraints apply only to operations that
//! take an encryption context.

use super::context::{PrincipalKind, RequestContext};
use std::collections::BTreeMap;

macro_rules! grant_operations {
    ($($op:ident $ctx:literal),* $(,)?) => {
        /// AWS's `GrantOperation` values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum GrantOperation { $($op),* }

        impl GrantOperation {
            pub const ALL: &'static [GrantOperation] = &[$(GrantOperation::$op),*];

            /// AWS's name (`Decrypt`).
            pub fn name(self) -> &'static str {
                match self { $(GrantOperation::$op => stringify!($op)),* }
            }

            /// Whether the operation takes an encryption context (constraints apply).
            pub fn takes_context(self) -> bool {
                match self { $(GrantOperation::$op => $ctx),* }
            }
        }
    };
}

grant_operations! {
    Decrypt true, Encrypt true, GenerateDataKey true, GenerateDataKeyWithoutPlaintext true,
    ReEncryptFrom true, ReEncryptTo true, Sign false, Verify false, GetPublicKey false,
    CreateGrant true, RetireGrant false, DescribeKey false, GenerateDataKeyPair true,
    GenerateDataKeyPairWithoutPlaintext true, GenerateMac false, VerifyMac false,
    DeriveSharedSecret false,
}

impl GrantOperation {
    /// The operation named `s` (AWS's spelling).
    pub fn parse(s: &str) -> Option<GrantOperation> {
        Self::ALL.iter().copied().find(|o| o.name() == s)
    }

    /// The operation of an action (`kms:Decrypt`), case-insensitively as actions are.
    pub fn from_action(action: &str) -> Option<GrantOperation> {
        let (vendor, name) = action.split_once(':')?;
        if !vendor.eq_ignore_ascii_case("kms") {
            return None;
        }
        Self::ALL
            .iter()
            .copied()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// `EncryptionContextEquals` / `EncryptionContextSubset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantConstraints {
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}

fn key_eq(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Whether `ctx` holds every pair of `want` (keys case-insensitively, values exactly).
fn holds_all(ctx: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter()
        .all(|(k, v)| ctx.iter().any(|(ck, cv)| cv == v && key_eq(ck, k)))
}

impl GrantConstraints {
    /// Whether a request with encryption context `ec` satisfies the constraints.
    pub fn allows(&self, ec: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let ec = ec.unwrap_or(&empty);
        let eq_ok = self
            .encryption_context_equals
            .as_ref()
            .is_none_or(|e| e.len() == ec.len() && holds_all(ec, e));
        let sub_ok = (self.encryption_context_subset.as_ref()).is_none_or(|s| holds_all(ec, s));
        eq_ok && sub_ok
    }
}

/// One grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The grantee: an IAM ARN or a service principal.
    pub grantee: String,
    pub retiring: Option<String>,
    ops: u32,
    pub constraints: Option<GrantConstraints>,
}

impl Grant {
    pub fn new(
        grantee: &str,
        operations: &[GrantOperation],
        constraints: Option<GrantConstraints>,
    ) -> Grant {
        Grant {
            grantee: grantee.to_string(),
            retiring: None,
            ops: operations.iter().fold(0, |m, o| m | o.bit()),
            constraints,
        }
    }

    pub fn operations(&self) -> impl Iterator<Item = GrantOperation> + '_ {
        GrantOperation::ALL
            .iter()
            .copied()
            .filter(|o| self.permits(*o))
    }

    pub fn permits(&self, op: GrantOperation) -> bool {
        self.ops & op.bit() != 0
    }

    /// Whether this grant allows the request (`op` is its action's operation).
    pub fn allows(&self, ctx: &RequestContext<'_>, op: GrantOperation) -> bool {
        let p = ctx.principal;
        let grantee = if p.kind == PrincipalKind::Service {
            self.grantee.eq_ignore_ascii_case(&p.arn)
        } else {
            self.grantee == p.arn || p.role_arn.as_deref() == Some(self.grantee.as_str())
        };
        grantee
            && self.permits(op)
            && (!op.takes_context()
                || (self.constraints.as_ref()).is_none_or(|c| c.allows(ctx.encryption_context)))
    }
}

/// Whether `parent` (a grant that allows CreateGrant) may create a grant of `ops` under
/// `constraints`: its operations among the parent's, and every encryption context it would
/// accept accepted by the parent's constraints (equally or more constrained).
pub fn can_create_grant(
    parent: &Grant,
    ops: &[GrantOperation],
    constraints: Option<&GrantConstraints>,
) -> bool {
    if !parent.permits(GrantOperation::CreateGrant) || !ops.iter().all(|o| parent.permits(*o)) {
        return false;
    }
    let Some(pc) = &parent.constraints else {
        return true;
    };
    if !ops.iter().any(|o| o.takes_context()) {
        return true;
    }
    let none = GrantConstraints::default();
    let cc = constraints.unwrap_or(&none);
    if let Some(e) = &cc.encryption_context_equals {
        // The child accepts exactly `e` (or nothing, if `e` misses its own subset).
        let accepts_e = cc
            .encryption_context_subset
            .as_ref()
            .is_none_or(|s| holds_all(e, s));
        return !accepts_e || pc.allows(Some(e));
    }
    // The child accepts every context holding its subset: the parent may not demand equality.
    let sub = cc.encryption_context_subset.clone().unwrap_or_default();
    pc.encryption_context_equals.is_none()
        && pc
            .encryption_context_subset
            .as_ref()
            .is_none_or(|p| holds_all(&sub, p))
}
