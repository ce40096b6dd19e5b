//! Rename in the view: copy then delete, every key below for a folder, as S3 tools do.

use super::{BucketView, NodeKind, ViewError, ViewResult};
use crate::object::PutOptions;
use std::ffi::OsStr;

impl BucketView {
    /// Rename: copy then delete (every key below, for a folder), as S3 tools do. With
    /// `no_replace` an existing target is refused.
    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        no_replace: bool,
    ) -> ViewResult<()> {
        let r = self.child(parent, name).and_then(|from| {
            let to = self.child(newparent, newname)?;
            self.rename_path(&from, &to, no_replace)
        });
        // Many keys may have changed, even when a step failed: list again.
        self.reindex();
        r
    }

    /// Rename the file or folder `from` to `to`; the inode of `from` then names `to`.
    fn rename_path(&self, from: &str, to: &str, no_replace: bool) -> ViewResult<()> {
        let a = self.attr_of(from)?;
        if no_replace && self.attr_of(to).is_ok() {
            return Err(ViewError::Exists);
        }
        if self.pending_len(from).is_some() {
            return Err(ViewError::NotSupported);
        }
        match a.kind {
            NodeKind::File => self.rename_file(from, to)?,
            NodeKind::Dir => self.rename_dir(from, to)?,
        }
        // The old path's inode now names the new path.
        let mut t = self.inodes.lock().expect("inodes");
        if let Some(ino) = t.by_path.remove(from) {
            t.by_path.remove(to);
            t.by_path.insert(to.to_string(), ino);
            t.by_ino.insert(ino, to.to_string());
        }
        Ok(())
    }

    fn rename_file(&self, from: &str, to: &str) -> ViewResult<()> {
        if let Ok(t) = self.attr_of(to)
            && t.kind == NodeKind::Dir
        {
            return Err(ViewError::IsDir);
        }
        self.move_keys(&[(from.to_string(), to.to_string())])
    }

    /// Rename a folder: every key below it (an existing target must be an empty folder).
    fn rename_dir(&self, from: &str, to: &str) -> ViewResult<()> {
        if self.pending_under(&format!("{from}/")) {
            return Err(ViewError::NotSupported);
        }
        if let Ok(t) = self.attr_of(to) {
            if t.kind != NodeKind::Dir {
                return Err(ViewError::NotDir);
            }
            if !self.readdir(t.ino)?.is_empty() {
                return Err(ViewError::NotEmpty);
            }
        }
        let src = format!("{from}/");
        let moves: Vec<(String, String)> = self
            .list_all(&src)?
            .into_iter()
            .map(|o| {
                let dst = format!("{to}/{}", &o.key[src.len()..]);
                (o.key, dst)
            })
            .collect();
        self.move_keys(&moves)
    }

    /// Copy each `(from, to)` (with the bucket's default encryption), then delete every
    /// `from`.
    fn move_keys(&self, moves: &[(String, String)]) -> ViewResult<()> {
        let opts = PutOptions::default();
        for (from, to) in moves {
            self.svc
                .copy_object(&self.bucket, from, None, &self.bucket, to, &opts)?;
        }
        for (from, _) in moves {
            self.svc.delete_object(&self.bucket, from)?;
        }
        Ok(())
    }
}
