//! Write-ahead for the audit trail: no state change becomes durable before its line.
//!
//! Every request runs as a [`Request`] (see `Kms::run`), pushed on this thread's stack of
//! requests in flight for as long as it runs. The keystore the operations see is a
//! [`Gated`] one: its writes (key records, the alias table, access keys) first call
//! [`before_effect`], which appends the innermost request's line with outcome `Pending`
//! (and fsyncs it, and the head) the first time that request changes anything. Only then is
//! the change made. When the request is done, its line is written again with its outcome
//! (`Success` or `Failure`, the same `requestId`). A `Pending` line with no outcome line after
//! it is a request cut short by a crash: its effect may or may not have happened. A state
//! change outside any request is refused. Requests that change nothing write one line.

use super::audit::{AuditEvent, AuditLog};
use super::error::KmsError;
use super::keystore::{AliasEntry, Keystore, LoadedKey};
use super::record::KeyRecord;
use crate::fsutil;
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// One request in flight: its line as known so far, and whether its `Pending` line is
/// written.
pub(super) struct Request {
    audit: Arc<AuditLog>,
    pub(super) event: RefCell<AuditEvent>,
    ahead: Cell<bool>,
}

thread_local! {
    static IN_FLIGHT: RefCell<Vec<Rc<Request>>> = const { RefCell::new(Vec::new()) };
}

/// While alive, its request is this thread's innermost request.
pub(super) struct Scope(());

impl Drop for Scope {
    fn drop(&mut self) {
        IN_FLIGHT.with(|s| s.borrow_mut().pop());
    }
}

fn trail_error(e: impl std::fmt::Display) -> KmsError {
    KmsError::Internal(format!("the audit trail cannot be written: {e}"))
}

impl Request {
    pub(super) fn new(audit: Arc<AuditLog>, event: AuditEvent) -> Rc<Request> {
        Rc::new(Request {
            audit,
            event: RefCell::new(event),
            ahead: Cell::new(false),
        })
    }

    /// Make `self` this thread's innermost request until the scope ends.
    pub(super) fn enter(self: &Rc<Self>) -> Scope {
        IN_FLIGHT.with(|s| s.borrow_mut().push(self.clone()));
        Scope(())
    }

    /// Write the request's line with its outcome (`result`) at `time_ms`. A request that
    /// changed nothing fails if its line cannot be written in a synchronous trail (the CLI):
    /// no result is returned that was not logged. One whose `Pending` line is written keeps
    /// its result: its effect happened and is on record.
    pub(super) fn finish<T>(&self, time_ms: i64, r: Result<T, KmsError>) -> Result<T, KmsError> {
        let e = {
            let mut e = self.event.borrow_mut();
            e.time_ms = time_ms;
            e.error = r.as_ref().err().map(|e| (e.code(), e.message()));
            e.clone()
        };
        if !self.audit.synchronous() {
            self.audit.record(e);
            return r;
        }
        match self.audit.write_now(e, false) {
            Err(err) if !self.ahead.get() => Err(trail_error(err)),
            _ => r,
        }
    }

    /// Write the `Pending` line, once.
    fn write_ahead(&self) -> Result<(), KmsError> {
        if self.ahead.get() {
            return Ok(());
        }
        let e = self.event.borrow().clone();
        self.audit.write_now(e, true).map_err(trail_error)?;
        self.ahead.set(true);
        Ok(())
    }
}

/// Called before every state change: the innermost request's `Pending` line is durable
/// when this returns `Ok`.
pub(super) fn before_effect() -> Result<(), KmsError> {
    let top = IN_FLIGHT.with(|s| s.borrow().last().cloned());
    match top {
        Some(r) => r.write_ahead(),
        None => Err(KmsError::Internal(
            "a change to the keystore outside an audited request was refused".into(),
        )),
    }
}

/// The keystore as the operations see it: reads as [`Keystore`]'s, writes behind
/// [`before_effect`].
#[derive(Debug)]
pub(super) struct Gated(Keystore);

impl Gated {
    pub(super) fn new(ks: Keystore) -> Gated {
        Gated(ks)
    }

    pub(super) fn put(&self, rec: KeyRecord) -> Result<Arc<LoadedKey>, KmsError> {
        before_effect()?;
        Ok(self.0.put(rec)?)
    }

    pub(super) fn remove(&self, id: &[u8; 16]) -> Result<(), KmsError> {
        before_effect()?;
        Ok(self.0.remove(id)?)
    }

    pub(super) fn put_aliases(
        &self,
        table: std::collections::BTreeMap<String, AliasEntry>,
    ) -> Result<(), KmsError> {
        before_effect()?;
        Ok(self.0.put_aliases(table)?)
    }

    /// Write a file of the keystore (an access key) atomically.
    pub(super) fn write_file(&self, path: &Path, data: &[u8]) -> Result<(), KmsError> {
        before_effect()?;
        fsutil::atomic_write(path, data, 0o600)
            .map_err(|e| super::error::StoreError::io(path, e).into())
    }

    /// Remove a file of the keystore (an access key), durably.
    pub(super) fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        before_effect().map_err(std::io::Error::other)?;
        fsutil::durable_remove(path)
    }
}

impl std::ops::Deref for Gated {
    type Target = Keystore;

    fn deref(&self) -> &Keystore {
        &self.0
    }
}
