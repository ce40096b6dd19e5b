//! The KMS: symmetric keys whose material never leaves it unencrypted, aliases, rotation,
//! scheduled deletion, AWS-managed service keys, and a hash-chained audit trail of every
//! request. Services reach it only through [`Client`].

pub mod audit;
pub mod blob;
pub mod client;
pub mod clock;
pub mod context;
pub mod error;
pub mod keystore;
pub mod record;
pub mod service;
pub mod types;

pub use client::{Client, Embedded};
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::EncryptionContext;
pub use error::{KmsError, StoreError};
pub use keystore::RootKeySource;
pub use service::{Kms, KmsOptions, PurgeReport};
