//! `Client`: the one way services (volumes, snapshots, objects) and the CLI reach a KMS.
//! `Embedded` runs the operations in this process against the home's keystore; a remote
//! client speaking the AWS JSON protocol implements the same trait.

use super::caller::Caller;
use super::error::KmsError;
use super::ops::for_each_operation;
use super::service::Kms;
use super::types::*;
use std::sync::Arc;

/// The in-process KMS, acting for one caller.
#[derive(Debug, Clone)]
pub struct Embedded {
    kms: Arc<Kms>,
    caller: Caller,
}

impl Embedded {
    /// A client for `caller`: a principal (an IAM ARN, or a service principal such as
    /// `ebs.amazonaws.com`), or a [`Caller`] with where the requests come from.
    pub fn new(kms: Arc<Kms>, caller: impl Into<Caller>) -> Embedded {
        Embedded {
            kms,
            caller: caller.into(),
        }
    }

    /// A client acting as the calling Unix user.
    pub fn as_os_user(kms: Arc<Kms>) -> Embedded {
        let p = kms.os_principal();
        Embedded::new(kms, p)
    }

    pub fn kms(&self) -> &Arc<Kms> {
        &self.kms
    }

    pub fn principal(&self) -> &str {
        self.caller.principal()
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// The [`Client`] trait and [`Embedded`]'s forwarding to [`Kms`], from the one list of
/// operations ([`for_each_operation!`]).
macro_rules! client {
    ($($family:ident::$name:ident($req:ty) -> $out:ty = $aws:literal;)*) => {
        /// The KMS operations, as AWS names them.
        pub trait Client: Send + Sync {
            $(
                #[doc = concat!("`", $aws, "`.")]
                fn $name(&self, r: $req) -> Result<$out, KmsError>;
            )*
            /// `DeleteAlias`.
            fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError>;
        }

        impl Client for Embedded {
            $(fn $name(&self, r: $req) -> Result<$out, KmsError> {
                self.kms.$name(&self.caller, r)
            })*

            fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
                self.kms.delete_alias(&self.caller, alias_name)
            }
        }
    };
}
for_each_operation!(client);
