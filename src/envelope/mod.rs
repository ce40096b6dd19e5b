//! Envelope encryption for applications: what the AWS Encryption SDK gives a program. A
//! stream of any size is encrypted under a fresh data key from KMS, bound to an encryption
//! context, into a self-describing message (docs/FORMAT.md section 10) that carries the
//! wrapped data key; decryption asks KMS to unwrap it and streams the plaintext back a frame
//! at a time, never releasing a byte before its frame is authenticated.
//!
//! One module, one job (arrows point down: envelope → `kms::Client`, `crypto`):
//!
//! - [`format`](mod@format): the message bytes: header encode/parse with explicit limits,
//!   key derivation and commitment.
//! - `keyring`: where data keys come from: the [`Keyring`] trait (the SDK's keyring and
//!   materials manager in one), [`KmsKeyring`] (GenerateDataKey / Decrypt through a
//!   [`crate::kms::Client`]).
//! - `cache`: [`DataKeyCache`] and [`CachingKeyring`], the SDK's caching materials
//!   manager: reuse a data key for a bounded age, number of messages and bytes.
//! - `stream`: [`encrypt`] and [`decrypt`] over `Read`/`Write` in bounded memory.
//!
//! ```no_run
//! use kmsfs::envelope::{self, KmsKeyring, EncryptOptions, DecryptOptions};
//! # fn f(client: std::sync::Arc<dyn kmsfs::kms::Client>) -> Result<(), envelope::EnvelopeError> {
//! let keyring = KmsKeyring::new(client, "alias/app");
//! let ctx = [("purpose".to_string(), "backup".to_string())].into();
//! let mut msg = Vec::new();
//! envelope::encrypt(&keyring, &ctx, &b"hello"[..], &mut msg, &EncryptOptions::default())?;
//! let mut out = Vec::new();
//! let info = envelope::decrypt(&keyring, &msg[..], &mut out, &DecryptOptions::default())?;
//! assert_eq!(out, b"hello");
//! assert_eq!(info.context, ctx);
//! # Ok(()) }
//! ```

mod cache;
pub mod format;
mod keyring;
mod stream;

pub use cache::{CacheLimits, CacheStats, CachingKeyring, DataKeyCache};
pub use format::{DEFAULT_FRAME_LEN, EncryptedDataKey, Header, MAX_FRAME_LEN, MIN_FRAME_LEN};
pub use keyring::{DecryptionMaterials, EncryptionMaterials, Keyring, KmsKeyring};
pub use stream::{DecryptInfo, DecryptOptions, EncryptInfo, EncryptOptions, decrypt, encrypt};

use crate::crypto::CryptoError;
use crate::kms::KmsError;

/// Errors of the envelope layer. None carries key material or plaintext; KMS failures keep
/// their AWS error names.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// KMS refused or failed (GenerateDataKey, Decrypt).
    #[error("{0}")]
    Kms(#[from] KmsError),
    /// The message bytes do not follow the format (bad magic, version, suite, a length out
    /// of bounds, a header or frame that ends early, a non-canonical encoding).
    #[error("the message is malformed: {0}")]
    Malformed(String),
    /// The header's key commitment is not the data key's: the message was not made with
    /// the data key its wrapped key unwrapped to.
    #[error(
        "the key commitment does not match the data key (the message was altered or made with another key)"
    )]
    Commitment,
    /// The header tag did not verify.
    #[error("the message header failed authentication (altered, or made with another key)")]
    HeaderAuthentication,
    /// A frame did not verify at its position.
    #[error(
        "frame {index} failed authentication (altered, reordered, or from another message); nothing of it was written"
    )]
    FrameAuthentication { index: u64 },
    /// The input ended before the final frame.
    #[error(
        "the message is truncated: it ends after {frames} complete frames, without its final frame"
    )]
    Truncated { frames: u64 },
    /// Bytes follow the final frame.
    #[error("bytes follow the final frame (the message was extended)")]
    TrailingBytes,
    /// A pair the caller requires is absent from the message's context, or has another value.
    #[error("the message's encryption context {0}")]
    ContextMismatch(String),
    /// No encrypted data key in the message is one this keyring can unwrap.
    #[error("no encrypted data key in the message can be unwrapped here: {0}")]
    NoUsableDataKey(String),
    /// The plaintext was longer than the length declared for the data key cache.
    #[error("the plaintext is longer than the declared {declared} bytes")]
    LengthExceeded { declared: u64 },
    /// A bad argument (frame length, context).
    #[error("{0}")]
    InvalidArgument(String),
    /// Reading the input failed.
    #[error("reading the input failed: {0}")]
    Read(#[source] std::io::Error),
    /// Writing the output failed.
    #[error("writing the output failed: {0}")]
    Write(#[source] std::io::Error),
    /// The random source or a cipher failed.
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}
