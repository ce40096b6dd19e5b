//! The audit trail (this KMS's CloudTrail): one JSON line per request, allowed or refused,
//! hash-chained so that a changed, removed, inserted or reordered line is found.
//!
//! Each line carries `seq` (1, 2, 3, ...) and `prev`, the hex SHA-256 of the previous line's
//! bytes (64 zeros for the first). `audit.head` records the seq and hash of the last line
//! written, so lines cut from the end are found too. Lines are buffered and written in
//! batches (on a timer, when the batch is full, and on drop), each batch appended under an
//! exclusive lock, fsynced, then the head replaced atomically: a crash loses at most the
//! last unsynced batch, and what remains still verifies. A torn last line (a crash inside
//! a write) is cut off by the next writer and reported, not counted as tampering, by verify.
//! Lines never hold plaintext or key material. `awsRegion`, `sourceIPAddress` and
//! `userAgent` are optional members (lines written before they existed still verify).

use super::context::EncryptionContext;
use crate::crypto::{hex, sha256};
use crate::fsutil::{self, FileLock};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One request as the trail records it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub time_ms: i64,
    pub request_id: String,
    pub principal: Arc<str>,
    /// The user a service principal acted for (CloudTrail's `invokedBy` turned around).
    pub on_behalf_of: Option<Arc<str>>,
    pub operation: &'static str,
    /// The service the request was made to, when not the KMS (`secretsmanager.amazonaws.com`,
    /// `ssm.amazonaws.com`: CloudTrail's `eventSource`); `None` for KMS requests.
    pub event_source: Option<&'static str>,
    /// The resource of a service request (a secret's or a parameter's ARN).
    pub resource_arn: Option<String>,
    /// The region the request acted in (absent in lines written before it was recorded).
    pub aws_region: Option<String>,
    /// The client's address, or a service's host name (see `kms::Caller`).
    pub source_ip_address: Option<Arc<str>>,
    /// The client's `User-Agent`, bounded and without control characters.
    pub user_agent: Option<Arc<str>>,
    pub key_arn: Option<String>,
    pub destination_key_arn: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub destination_encryption_context: Option<EncryptionContext>,
    /// `None` on success, else the AWS error name and message.
    pub error: Option<(&'static str, String)>,
}

/// A line of the trail, in field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLine {
    pub seq: u64,
    pub time: String,
    pub request_id: String,
    pub principal: String,
    /// The user a service principal (`principal`) acted for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub on_behalf_of: Option<String>,
    /// The service of a request not made to the KMS (absent for KMS requests).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event_source: Option<String>,
    pub operation: String,
    /// The secret or parameter a service request acted on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aws_region: Option<String>,
    #[serde(
        rename = "sourceIPAddress",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub source_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination_key_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encryption_context: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination_encryption_context: Option<EncryptionContext>,
    /// `Success` or `Failure`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_message: Option<String>,
    /// The members cut to keep the line within [`MAX_LINE`] (absent when nothing was cut).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub truncated: Option<Vec<String>>,
    pub prev: String,
}

impl AuditLine {
    pub fn from_event(e: &AuditEvent, seq: u64, prev: &str) -> AuditLine {
        AuditLine {
            seq,
            time: crate::timefmt::rfc3339(e.time_ms),
            request_id: e.request_id.clone(),
            principal: e.principal.to_string(),
            on_behalf_of: e.on_behalf_of.as_deref().map(str::to_string),
            event_source: e.event_source.map(str::to_string),
            operation: e.operation.to_string(),
            resource_arn: e.resource_arn.clone(),
            aws_region: e.aws_region.clone(),
            source_ip_address: e.source_ip_address.as_deref().map(str::to_string),
            user_agent: e.user_agent.as_deref().map(str::to_string),
            key_arn: e.key_arn.clone(),
            destination_key_arn: e.destination_key_arn.clone(),
            encryption_context: e.encryption_context.clone(),
            destination_encryption_context: e.destination_encryption_context.clone(),
            outcome: if e.error.is_some() {
                "Failure"
            } else {
                "Success"
            }
            .into(),
            error_code: e.error.as_ref().map(|(c, _)| c.to_string()),
            error_message: e.error.as_ref().map(|(_, m)| m.clone()),
            truncated: None,
            prev: prev.to_string(),
        }
    }

    /// The line of `e` as written: `Pending` when written ahead of the request's effect,
    /// cut to at most [`MAX_LINE`] bytes (without its newline).
    pub fn encode(e: &AuditEvent, pending: bool, seq: u64, prev: &str) -> Vec<u8> {
        let mut line = AuditLine::from_event(e, seq, prev);
        if pending {
            line.outcome = "Pending".into();
        }
        let bytes = serde_json::to_vec(&line).expect("audit line serializes");
        if bytes.len() <= MAX_LINE {
            return bytes;
        }
        let mut cut = Vec::new();
        if line.encryption_context.take().is_some() {
            cut.push("encryptionContext".to_string());
        }
        if line.destination_encryption_context.take().is_some() {
            cut.push("destinationEncryptionContext".to_string());
        }
        line.truncated = Some(cut.clone());
        let bytes = serde_json::to_vec(&line).expect("audit line serializes");
        if bytes.len() <= MAX_LINE {
            return bytes;
        }
        // Every string member at most MAX_MEMBER characters (6 bytes each when escaped):
        // the line then fits whatever they hold.
        for (name, v) in [
            ("requestId", Some(&mut line.request_id)),
            ("principal", Some(&mut line.principal)),
            ("awsRegion", line.aws_region.as_mut()),
            ("sourceIPAddress", line.source_ip_address.as_mut()),
            ("userAgent", line.user_agent.as_mut()),
            ("keyArn", line.key_arn.as_mut()),
            ("resourceArn", line.resource_arn.as_mut()),
            ("destinationKeyArn", line.destination_key_arn.as_mut()),
            ("errorMessage", line.error_message.as_mut()),
        ] {
            if let Some(v) = v
                && let Some((i, _)) = v.char_indices().nth(MAX_MEMBER)
            {
                v.truncate(i);
                cut.push(name.to_string());
            }
        }
        line.truncated = Some(cut);
        serde_json::to_vec(&line).expect("audit line serializes")
    }
}

/// The most bytes one line of the trail holds (without its newline).
pub const MAX_LINE: usize = 16 * 1024;
/// The most characters a string member keeps when a line must be cut.
const MAX_MEMBER: usize = 256;

/// `audit.head`: the last line written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Errors of the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit trail {path} is locked by another process")]
    Locked { path: PathBuf },
    #[error("line {line}: {why}")]
    Broken { line: u64, why: String },
    #[error("{0}")]
    Damaged(String),
}

#[derive(Clone, Copy)]
struct Tail {
    len: u64,
    seq: u64,
    hash: [u8; 32],
}

struct Io {
    file: Option<File>,
    tail: Option<Tail>,
}

/// An append-only, hash-chained audit trail.
pub(crate) struct AuditLog {
    path: PathBuf,
    head_path: PathBuf,
    /// Lines not yet written: the event, and whether it is a `Pending` line.
    pending: Mutex<Vec<(AuditEvent, bool)>>,
    io: Mutex<Io>,
    batch: usize,
    /// The error of the last failed background flush; the next request fails with it.
    failed: Mutex<Option<String>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Open (creating if needed) the trail at `path`. With `interval` set, a background
    /// thread flushes buffered lines that often; with `None`, every `record` flushes.
    pub fn open(path: &Path, interval: Option<Duration>) -> Arc<AuditLog> {
        let log = Arc::new(AuditLog {
            path: path.to_path_buf(),
            head_path: head_path(path),
            pending: Mutex::new(Vec::new()),
            io: Mutex::new(Io {
                file: None,
                tail: None,
            }),
            batch: if interval.is_some() { 8192 } else { 1 },
            failed: Mutex::new(None),
        });
        if let Some(iv) = interval {
            let weak: Weak<AuditLog> = Arc::downgrade(&log);
            std::thread::Builder::new()
                .name("kmsfs-audit".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(iv);
                        let Some(log) = weak.upgrade() else { break };
                        log.flush_in_background();
                    }
                })
                .expect("spawn audit flusher");
        }
        log
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fail if a background flush failed since the last check (requests must not go on
    /// unaudited).
    pub fn check_healthy(&self) -> Result<(), String> {
        match self.failed.lock().expect("audit lock").as_ref() {
            Some(e) => Err(format!("the audit trail cannot be written: {e}")),
            None => Ok(()),
        }
    }

    /// Buffer one event (written at the next flush).
    pub fn record(&self, e: AuditEvent) {
        let full = {
            let mut p = self.pending.lock().expect("audit lock");
            p.push((e, false));
            p.len() >= self.batch
        };
        if full {
            self.flush_in_background();
        }
    }

    fn flush_in_background(&self) {
        if let Err(e) = self.flush() {
            *self.failed.lock().expect("audit lock") = Some(e.to_string());
        }
    }

    /// Whether every request's line is written before the request returns (no interval).
    pub fn synchronous(&self) -> bool {
        self.batch == 1
    }

    /// Write the buffered lines and then `e` (`Pending` if `pending`) now, fsynced, with the
    /// head. If that fails, nothing of it is in the trail: the buffered lines stay buffered
    /// and `e` is dropped.
    pub fn write_now(&self, e: AuditEvent, pending: bool) -> Result<(), AuditError> {
        let mut io = self.io.lock().expect("audit io lock");
        let mut events = std::mem::take(&mut *self.pending.lock().expect("audit lock"));
        events.push((e, pending));
        let r = self.write_batch(&mut io, &events);
        if r.is_err() {
            events.pop();
            self.put_back(&mut io, events);
        }
        r
    }

    /// Put lines that could not be written back in front of the buffer, so that nothing is
    /// lost if a later flush succeeds.
    fn put_back(&self, io: &mut Io, events: Vec<(AuditEvent, bool)>) {
        let mut p = self.pending.lock().expect("audit lock");
        let later = std::mem::take(&mut *p);
        *p = events;
        p.extend(later);
        io.tail = None;
        io.file = None;
    }

    /// Write every buffered event, fsync, and update the head.
    pub fn flush(&self) -> Result<(), AuditError> {
        let mut io = self.io.lock().expect("audit io lock");
        let events = std::mem::take(&mut *self.pending.lock().expect("audit lock"));
        if events.is_empty() {
            return Ok(());
        }
        let r = self.write_batch(&mut io, &events);
        if r.is_err() {
            self.put_back(&mut io, events);
        }
        r
    }

    /// Append `events` under the lock, fsync, and replace the head. On any failure the
    /// trail is cut back to where it was: a batch is in the trail whole or not at all, so
    /// that writing it again never repeats a line.
    fn write_batch(&self, io: &mut Io, events: &[(AuditEvent, bool)]) -> Result<(), AuditError> {
        let ioerr = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        if io.file.is_none() {
            let f = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(ioerr)?;
            io.file = Some(f);
        }
        let lock_path = lock_path(&self.path);
        let _lock = FileLock::acquire(&lock_path, fsutil::lock_timeout()).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                AuditError::Locked {
                    path: self.path.clone(),
                }
            } else {
                AuditError::Io {
                    path: lock_path.clone(),
                    source: e,
                }
            }
        })?;
        let file = io.file.as_mut().expect("opened above");
        let len = file.metadata().map_err(ioerr)?.len();
        let tail = match io.tail {
            Some(t) if t.len == len => t,
            _ => scan_tail(file, len).map_err(ioerr)?,
        };
        let mut buf = Vec::with_capacity(events.len() * 300);
        let (mut seq, mut hash) = (tail.seq, tail.hash);
        for (e, pending) in events {
            seq += 1;
            let line = AuditLine::encode(e, *pending, seq, &hex(&hash));
            hash = sha256(&line);
            buf.extend_from_slice(&line);
            buf.push(b'\n');
        }
        let head = Head {
            seq,
            hash: hex(&hash),
        };
        let hb = serde_json::to_vec(&head).expect("head serializes");
        let written = file
            .write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(ioerr)
            .and_then(|()| {
                fsutil::atomic_write(&self.head_path, &hb, 0o600).map_err(|source| AuditError::Io {
                    path: self.head_path.clone(),
                    source,
                })
            });
        if let Err(e) = written {
            // Cut what was appended; the head still names the old last line.
            let _ = file.set_len(tail.len).and_then(|()| file.sync_data());
            return Err(e);
        }
        io.tail = Some(Tail {
            len: tail.len + buf.len() as u64,
            seq,
            hash,
        });
        Ok(())
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `audit.head` beside `audit.log`.
fn head_path(log: &Path) -> PathBuf {
    log.with_file_name("audit.head")
}

fn lock_path(log: &Path) -> PathBuf {
    log.with_file_name("audit.lock")
}

/// Find the last complete line: its seq and hash. Cuts a torn (unterminated) last line.
fn scan_tail(file: &mut File, len: u64) -> io::Result<Tail> {
    if len == 0 {
        return Ok(Tail {
            len: 0,
            seq: 0,
            hash: [0; 32],
        });
    }
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = vec![0u8; (len - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        // End of the last complete line.
        let end = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => i,
            None if start == 0 => {
                file.set_len(0)?;
                return Ok(Tail {
                    len: 0,
                    seq: 0,
                    hash: [0; 32],
                });
            }
            None => {
                window *= 4;
                continue;
            }
        };
        let line_start = match buf[..end].iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if start == 0 => 0,
            None => {
                window *= 4;
                continue;
            }
        };
        let valid_len = start + end as u64 + 1;
        if valid_len < len {
            // A crash tore the last write: drop the partial line.
            file.set_len(valid_len)?;
            file.sync_data()?;
        }
        let line = &buf[line_start..end];
        let seq = serde_json::from_slice::<SeqOnly>(line)
            .map(|s| s.seq)
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("last audit line does not parse: {e}"),
                )
            })?;
        return Ok(Tail {
            len: valid_len,
            seq,
            hash: sha256(line),
        });
    }
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub lines: u64,
    /// Bytes after the last newline (a write torn by a crash), ignored.
    pub torn_tail_bytes: usize,
    /// The head file's seq, if present.
    pub head_seq: Option<u64>,
}

/// Check the whole chain and the head. The first problem found is returned as an error
/// naming the line.
pub fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(AuditError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    verify_bytes(&data, read_head(path)?)
}

/// Read `audit.head`, if present.
fn read_head(log: &Path) -> Result<Option<Head>, AuditError> {
    let hp = head_path(log);
    match std::fs::read(&hp) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| AuditError::Damaged(format!("{} does not parse: {e}", hp.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuditError::Io { path: hp, source }),
    }
}

/// [`verify`] over bytes already read (fuzzable).
pub fn verify_bytes(data: &[u8], head: Option<Head>) -> Result<VerifyReport, AuditError> {
    let complete = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let torn = data.len() - complete;
    let mut prev_hash = GENESIS.to_string();
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let mut n = 0u64;
    let body: &[u8] = if complete == 0 {
        &[]
    } else {
        &data[..complete - 1]
    };
    for raw in body.split(|&b| b == b'\n').filter(|_| complete > 0) {
        n += 1;
        let line: AuditLine = serde_json::from_slice(raw).map_err(|e| AuditError::Broken {
            line: n,
            why: format!("does not parse as an audit line ({e})"),
        })?;
        if line.seq != n {
            return Err(AuditError::Broken {
                line: n,
                why: format!(
                    "has seq {} where {n} was expected: lines were removed, inserted or reordered before it",
                    line.seq
                ),
            });
        }
        if line.prev != prev_hash {
            return Err(AuditError::Broken {
                line: n,
                why: if n == 1 {
                    "does not start the chain: lines were removed from the start".into()
                } else {
                    format!(
                        "does not chain to line {}: line {} was changed, or lines were removed, inserted or reordered",
                        n - 1,
                        n - 1
                    )
                },
            });
        }
        let h = sha256(raw);
        prev_hash = hex(&h);
        hashes.push(h);
    }
    if let Some(h) = &head {
        if h.seq > n {
            return Err(AuditError::Broken {
                line: n + 1,
                why: format!(
                    "is missing: the head records {} lines but the trail has {n}; lines were cut from the end",
                    h.seq
                ),
            });
        }
        if h.seq > 0 && hex(&hashes[(h.seq - 1) as usize]) != h.hash {
            return Err(AuditError::Broken {
                line: h.seq,
                why: "does not match the hash recorded in audit.head: it was changed".into(),
            });
        }
    } else if n > 0 {
        return Err(AuditError::Damaged(
            "audit.head is missing: the end of the trail cannot be checked".into(),
        ));
    }
    Ok(VerifyReport {
        lines: n,
        torn_tail_bytes: torn,
        head_seq: head.map(|h| h.seq),
    })
}

/// Every request once, as `audit show` lists them: every complete line, without the
/// `Pending` lines of requests whose outcome line follows (a `Pending` line stays only for a
/// request a crash cut short).
pub fn read_lines(path: &Path) -> Result<Vec<AuditLine>, AuditError> {
    let mut lines = read_all_lines(path)?;
    let done: std::collections::HashSet<String> = (lines.iter())
        .filter(|l| l.outcome != "Pending")
        .map(|l| l.request_id.clone())
        .collect();
    lines.retain(|l| l.outcome != "Pending" || !done.contains(&l.request_id));
    Ok(lines)
}

/// Parse every complete line, `Pending` lines included.
pub fn read_all_lines(path: &Path) -> Result<Vec<AuditLine>, AuditError> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        if raw.is_empty() {
            continue;
        }
        match serde_json::from_slice(raw) {
            Ok(l) => out.push(l),
            Err(_) if i == data.split(|&b| b == b'\n').count() - 1 => {} // torn tail
            Err(e) => {
                return Err(AuditError::Broken {
                    line: i as u64 + 1,
                    why: format!("does not parse ({e})"),
                });
            }
        }
    }
    Ok(out)
}
