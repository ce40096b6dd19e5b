//! A volume's EC2 tags: `tags.json` in its directory (0600, written atomically under
//! `tags.lock`), gone with the volume. The rules are `crate::tags`'s.

use super::VolumeError;
use super::service::VolumeService;
use crate::fsutil::{self, FileLock};
use crate::tags::{self, Tag};
use std::path::Path;

const TAGS_FILE: &str = "tags.json";
const TAGS_LOCK: &str = "tags.lock";

fn read(dir: &Path) -> Result<Vec<Tag>, VolumeError> {
    let p = dir.join(TAGS_FILE);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| VolumeError::Invalid(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(VolumeError::io(p, e)),
    }
}

impl VolumeService {
    /// The volume's tags, sorted by key.
    pub fn tags(&self, id: &str) -> Result<Vec<Tag>, VolumeError> {
        read(&self.volume_dir(id)?)
    }

    /// Set `add` on the volume (CreateTags); its tags after.
    pub fn tag(&self, id: &str, add: &[Tag]) -> Result<Vec<Tag>, VolumeError> {
        self.change_tags(id, |t| tags::apply(t, add).map_err(VolumeError::Invalid))
    }

    /// Remove tags (DeleteTags: a key alone, or a key and its value); its tags after.
    pub fn untag(
        &self,
        id: &str,
        remove: &[(String, Option<String>)],
    ) -> Result<Vec<Tag>, VolumeError> {
        self.change_tags(id, |t| Ok(tags::delete(t, remove)))
    }

    fn change_tags(
        &self,
        id: &str,
        f: impl FnOnce(&[Tag]) -> Result<Vec<Tag>, VolumeError>,
    ) -> Result<Vec<Tag>, VolumeError> {
        let dir = self.volume_dir(id)?;
        let lock = dir.join(TAGS_LOCK);
        let _g = FileLock::acquire(&lock, fsutil::lock_timeout())
            .map_err(|e| VolumeError::io(&lock, e))?;
        let new = f(&read(&dir)?)?;
        let p = dir.join(TAGS_FILE);
        let b = serde_json::to_vec_pretty(&new).expect("tags serialize");
        fsutil::atomic_write(&p, &b, 0o600).map_err(|e| VolumeError::io(&p, e))?;
        Ok(new)
    }
}
