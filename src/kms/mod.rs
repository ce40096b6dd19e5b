//! The KMS: symmetric keys whose material never leaves it unencrypted, aliases, rotation,
//! scheduled deletion, AWS-managed service keys, and a hash-chained audit trail of every
//! request. Services reach it only through [`Client`].
//!
//! - `service`: the [`Kms`] struct, open/create, the audit hook and key-state checks shared
//!   by every operation; `resolve`: KeyId to key; `maintenance`: lazy deletion and rotation,
//!   AWS-managed keys; `policy`: key policy documents; `ops/`: the operations, one file per
//!   family, with their validation.
//! - `client`: the [`Client`] trait and the in-process [`Embedded`] client; `remote`: the
//!   [`Remote`] client of a KMS endpoint (AWS JSON 1.1 over HTTP, SigV4, retries).
//! - `regions`: the KMS of each region of the home ([`Kms::in_region`]), and the reset of
//!   every region; `seed` and `seed_apply`: seed files ([`Seed`]), parsed and applied.
//! - `quota`: request quotas (token buckets per operation family, shared by the home's
//!   processes; off by default); `retry`: backoff with full jitter, and [`Retrying`], the
//!   client kmsfs's services get, which backs off when throttled.
//! - `caller`: [`Caller`], who makes a request and from where (the principal, and for the
//!   trail the source address, user agent and request id).
//! - `access_keys`: the SigV4 access keys ([`AccessKey`]), sealed one per file.
//! - `grants`: the grants of each key (one sealed file per grant) and grant tokens.
//! - `key_id`: key ids as AWS shows them (UUIDs, `mrk-` ids of multi-Region keys).
//! - `import_params` (public for tests and fuzzers): the wrapping key of GetParametersForImport,
//!   sealed beside its key, and the ImportToken.
//! - `keystore`: the sealed key records and alias table on disk; `error`: [`KmsError`] (AWS's
//!   error names) and [`StoreError`].
//! - Public for tools, tests and fuzzers: [`audit`] (the trail and its verification),
//!   [`blob`] and [`record`] (the on-disk and wire formats), [`clock`], [`context`], and
//!   [`types`] (the request and response shapes).

mod access_keys;
pub mod audit;
mod audit_ahead;
pub mod audit_check;
mod authorize;
pub mod blob;
mod caller;
mod client;
pub mod clock;
pub mod context;
mod error;
mod grants;
pub mod import_params;
pub mod key_id;
mod keystore;
mod maintenance;
mod metadata;
mod ops;
mod policy;
pub mod quota;
pub mod record;
mod regions;
pub mod remote;
mod resolve;
pub mod retry;
mod seed;
mod seed_apply;
mod service;
pub mod types;
mod types_mrk;

pub use access_keys::{AccessKey, AccessKeyCache, AccessKeyInfo, SessionToken};
pub use caller::{Caller, MAX_USER_AGENT, OnBehalf};
pub use client::{Client, Embedded};
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::EncryptionContext;
pub use error::{KmsError, StoreError};
pub use keystore::RootKeySource;
/// Every operation once (for front ends that dispatch by AWS name, e.g. `server`).
pub(crate) use ops::for_each_operation;
pub use remote::{Remote, RemoteConfigError};
pub use retry::Retrying;
pub use seed::Seed;
pub use seed_apply::{SEED_KEY_OPERATION, SeedReport, SeededKey};
pub use service::{Kms, KmsOptions, PurgeReport};
