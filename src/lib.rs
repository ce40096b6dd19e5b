//! kmsfs: local KMS-backed encrypted storage.
//!
//! Layers (arrows point down only, see `docs/DESIGN.md` in the shared map):
//!
//! ```text
//! cli                         (clap front end, the `kmsfs` binary)
//!  |
//! snapshot                    (EBS snapshots: chunk store, manifests, copies, restores)
//!  |
//! volume    object            (EBS volumes: header, encrypted backing tree, FUSE adaptor;
//!  |          |                S3 buckets and SSE objects: STREAM segments, bucket keys)
//!  |          |   envelope     (envelope messages for applications, data key cache)
//!  |          |      |
//! kms::Client                 (trait: the only way services reach the KMS)
//!  |
//! kms                         (keys, aliases, rotation, deletion, audit trail, keystore)
//!  |
//! crypto, fsutil, home        (AEAD, KDFs, secrets; atomic files and locks; home layout)
//! ```

pub mod cli;
pub mod crypto;
pub mod encoding;
pub mod envelope;
pub mod fsutil;
pub(crate) mod fuseutil;
pub mod fuzzing;
pub mod home;
pub mod kms;
pub mod object;
pub mod snapshot;
pub mod timefmt;
pub mod volume;
