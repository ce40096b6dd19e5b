//! The view's index of the bucket's keys: one listing answers lookups for [`INDEX_TTL`],
//! changes made through the view update it at once, and folders are found in it.

use super::{BucketView, ViewResult};
use crate::object::{ListObjects, ObjectError, ObjectInfo, ObjectSummary};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long one listing of the bucket answers lookups before it is read again: changes made
/// by other processes show within this time, changes made through the view at once.
const INDEX_TTL: Duration = Duration::from_secs(1);

/// Every key of the bucket with its size and last-modified time (ms).
pub(super) type Keys = BTreeMap<String, (u64, i64)>;

pub(super) struct Index {
    at: Instant,
    keys: Keys,
}

impl BucketView {
    /// Run `f` on the key index, listing the bucket again if the index is older than
    /// [`INDEX_TTL`].
    pub(super) fn with_index<R>(&self, f: impl FnOnce(&Keys) -> R) -> ViewResult<R> {
        let mut g = self.index.lock().expect("index");
        if g.as_ref().is_none_or(|i| i.at.elapsed() > INDEX_TTL) {
            let keys = self
                .list_all("")?
                .into_iter()
                .map(|o| (o.key, (o.size, o.last_modified_ms)))
                .collect();
            *g = Some(Index {
                at: Instant::now(),
                keys,
            });
        }
        Ok(f(&g.as_ref().expect("just listed").keys))
    }

    /// Every object whose key starts with `prefix`, through all pages of the listing.
    pub(super) fn list_all(&self, prefix: &str) -> ViewResult<Vec<ObjectSummary>> {
        let mut all = Vec::new();
        let mut req = ListObjects {
            prefix: prefix.to_string(),
            ..Default::default()
        };
        loop {
            let r = self.svc.list_objects(&self.bucket, &req)?;
            all.extend(r.contents);
            match r.next_continuation_token {
                Some(t) if r.is_truncated => req.start_after = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Record a PUT made through the view in the index.
    pub(super) fn indexed_put(&self, info: &ObjectInfo) {
        self.index_insert(&info.key, info.size, info.last_modified_ms);
    }

    /// Add a key (size, last-modified ms) to the index, if there is one.
    fn index_insert(&self, key: &str, size: u64, ms: i64) {
        if let Some(i) = self.index.lock().expect("index").as_mut() {
            i.keys.insert(key.to_string(), (size, ms));
        }
    }

    /// Record a delete made through the view in the index.
    pub(super) fn indexed_delete(&self, key: &str) {
        if let Some(i) = self.index.lock().expect("index").as_mut() {
            i.keys.remove(key);
        }
    }

    /// Forget the index (after changes to many keys).
    pub(super) fn reindex(&self) {
        *self.index.lock().expect("index") = None;
    }

    /// Whether `path/` holds anything (a marker or keys below it, or pending files).
    pub(super) fn is_dir(&self, path: &str) -> ViewResult<bool> {
        if path.is_empty() {
            return Ok(true);
        }
        let prefix = format!("{path}/");
        let under = |m: &Keys| {
            m.range(prefix.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&prefix))
        };
        if self
            .pending
            .lock()
            .expect("pending")
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
        {
            return Ok(true);
        }
        self.with_index(under)
    }

    /// The size and last-modified time of `key`: from the index, else from the object
    /// itself (one file, found by its key's hash), so a key another process just PUT is
    /// found at once.
    pub(super) fn find_key(&self, key: &str) -> ViewResult<Option<(u64, i64)>> {
        if let Some(f) = self.with_index(|m| m.get(key).copied())? {
            return Ok(Some(f));
        }
        match self.svc.stat_object(&self.bucket, key) {
            Ok(o) => {
                self.index_insert(key, o.size, o.last_modified_ms);
                Ok(Some((o.size, o.last_modified_ms)))
            }
            Err(ObjectError::NoSuchKey { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
