//! kmsfs: local KMS-backed encrypted storage.
//!
//! Layers (arrows point down only; no module imports one above it). `docs/ARCHITECTURE.md`
//! is the map of files and of which file holds which rule.
//!
//! ```text
//! cli                         (clap front end, the `kmsfs` binary: parse, call, print)
//!  |     server               (`kmsfs serve`: the KMS as an AWS JSON 1.1 endpoint, SigV4)
//!  |
//! mount                       (mount lifecycle of volumes and buckets: mount points,
//!  |                           daemons, signals, unmount)
//! snapshot                    (EBS snapshots: chunk store, manifests, copies, restores)
//!  |
//! volume    object            (EBS volumes: header, encrypted backing tree, FUSE adaptor;
//!  |          |                S3 buckets and SSE objects: STREAM segments, bucket keys)
//!  |          |   envelope     (envelope messages for applications, data key cache)
//!  |          |      |
//! kms::Client                 (trait: the only way services reach the KMS; Embedded in
//!  |                           this process, Remote over HTTP to an endpoint)
//!  |
//! kms                         (keys, aliases, rotation, deletion, audit trail, keystore)
//!  |
//! policy                      (key and identity policies, evaluation, grants; no I/O)
//!  |
//! crypto, encoding, timefmt,  (AEAD, KDFs, secrets; encryption-context encoding; time
//! fsutil, home, fuseutil,      formats; atomic files and locks; the home and its layout;
//! sigv4, awsconfig             what the two FUSE adaptors share; AWS SigV4 sign/verify;
//!                              the AWS config and credentials files)
//! ```

pub mod awsconfig;
pub mod cli;
pub mod crypto;
pub mod encoding;
pub mod envelope;
pub mod fsutil;
pub(crate) mod fuseutil;
pub mod fuzzing;
pub mod home;
pub mod iam;
pub mod kms;
pub mod mount;
pub mod object;
pub mod policy;
pub mod secrets;
pub mod server;
pub mod sigv4;
pub mod snapshot;
pub mod tags;
pub mod timefmt;
pub mod volume;
