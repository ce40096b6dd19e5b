//! Folders of the view: listing one (keys and pending files below its prefix), making one
//! (an empty `dir/` marker object), removing one, and unlinking files.

use super::{BucketView, DirEntry, NodeAttr, NodeKind, ViewError, ViewResult, join, millis};
use crate::object::{ListObjects, PutOptions};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::time::SystemTime;

/// Whether a key's path segment can be a file name: not empty (keys with a leading `/` or
/// `//`), `.` or `..`. The view does not show keys with other segments; `kmsfs object list`
/// does, and `object get`/`delete` reach them.
fn shown(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

impl BucketView {
    /// The folder `ino`'s entries (without `.` and `..`), in key order.
    pub fn readdir(&self, ino: u64) -> ViewResult<Vec<DirEntry>> {
        let dir = self.path_of(ino)?;
        if !self.is_dir(&dir)? {
            return Err(ViewError::NotDir);
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut out = self.listed_entries(&dir, &prefix)?;
        self.add_pending_entries(&dir, &prefix, &mut out);
        Ok(out
            .into_iter()
            .map(|(name, attr)| DirEntry { name, attr })
            .collect())
    }

    /// The entries of the folder `dir` (its keys start with `prefix`) that the index holds:
    /// its files and the first level of folders below it.
    fn listed_entries(&self, dir: &str, prefix: &str) -> ViewResult<BTreeMap<String, NodeAttr>> {
        let listed: Vec<(String, u64, i64)> = self.with_index(|m| {
            m.range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, (size, ms))| (k.clone(), *size, *ms))
                .collect()
        })?;
        let mut out = BTreeMap::new();
        for (key, size, ms) in listed {
            let rest = &key[prefix.len()..];
            match rest.split_once('/') {
                None if rest.is_empty() => {} // the folder's own marker
                // No file name can reach these keys (see `shown`).
                None if !shown(rest) => {}
                Some((d, _)) if !shown(d) => {}
                None => {
                    let attr = NodeAttr::file(self.ino_of(&key), size, millis(ms));
                    out.insert(rest.to_string(), attr);
                }
                Some((d, _)) if out.contains_key(d) => {}
                Some((d, _)) => {
                    let attr = self.dir_attr(self.ino_of(&join(dir, d)));
                    out.insert(d.to_string(), attr);
                }
            }
        }
        Ok(out)
    }

    /// Add to `out` the files being written below `prefix` (and the folders they are in)
    /// that it does not hold yet.
    fn add_pending_entries(&self, dir: &str, prefix: &str, out: &mut BTreeMap<String, NodeAttr>) {
        let pend: Vec<String> = self
            .pending
            .lock()
            .expect("pending")
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        for k in pend {
            let rest = &k[prefix.len()..];
            let (name, kind) = match rest.split_once('/') {
                Some((d, _)) => (d.to_string(), NodeKind::Dir),
                None => (rest.to_string(), NodeKind::File),
            };
            if out.contains_key(&name) {
                continue;
            }
            let path = join(dir, &name);
            let size = self.pending_len(&path).unwrap_or(0);
            out.insert(
                name,
                NodeAttr {
                    ino: self.ino_of(&path),
                    kind,
                    size,
                    mtime: SystemTime::now(),
                },
            );
        }
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> ViewResult<()> {
        let path = self.child(parent, name)?;
        let existed = self.svc.delete_object(&self.bucket, &path)?;
        self.indexed_delete(&path);
        if !existed {
            if self.pending_len(&path).is_some() {
                return Ok(());
            }
            return Err(if self.is_dir(&path)? {
                ViewError::IsDir
            } else {
                ViewError::NotFound
            });
        }
        Ok(())
    }

    /// Make a folder: an empty `path/` object, as the S3 console does.
    pub fn mkdir(&self, parent: u64, name: &OsStr) -> ViewResult<NodeAttr> {
        let path = self.child(parent, name)?;
        if self.attr_of(&path).is_ok() {
            return Err(ViewError::Exists);
        }
        let info = self.svc.put_object(
            &self.bucket,
            &format!("{path}/"),
            std::io::empty(),
            &PutOptions::default(),
        )?;
        self.indexed_put(&info);
        self.attr_of(&path)
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> ViewResult<()> {
        let path = self.child(parent, name)?;
        let marker = format!("{path}/");
        let r = self.svc.list_objects(
            &self.bucket,
            &ListObjects {
                prefix: marker.clone(),
                max_keys: 2,
                ..Default::default()
            },
        )?;
        if r.contents.iter().any(|o| o.key != marker) || self.pending_under(&marker) {
            return Err(ViewError::NotEmpty);
        }
        if r.contents.is_empty() {
            return Err(if self.attr_of(&path).is_ok() {
                ViewError::NotDir
            } else {
                ViewError::NotFound
            });
        }
        self.svc.delete_object(&self.bucket, &marker)?;
        self.indexed_delete(&marker);
        Ok(())
    }
}
