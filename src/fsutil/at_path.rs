//! Paths relative to a root directory, resolved one name at a time through directory handles
//! (never as one path string): a tree of any depth is walked without ENAMETOOLONG, and no
//! symlink on the way is followed. A walk in sorted (depth-first) order opens each directory
//! about once, since the handles of the last path's directories are kept.

use super::at::{self, At, DirFd};
use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// Directory handles kept open at most (deeper ones are reopened from the nearest kept
/// ancestor when needed), well under the usual 1,024 descriptors.
const KEEP: usize = 256;

/// A root directory and the handles of the directories of the last path resolved.
pub struct AtPath {
    root: DirFd,
    /// The components below the root of the last directory resolved, each with its handle
    /// (`None`: dropped to stay within [`KEEP`]).
    chain: Vec<(Vec<u8>, Option<DirFd>)>,
}

impl AtPath {
    pub fn open(root: &Path) -> io::Result<AtPath> {
        Ok(AtPath {
            root: Arc::new(at::open_root(root)?),
            chain: Vec::new(),
        })
    }

    /// The entry `rel` (bytes, `/`-separated, relative to the root) as the directory that
    /// holds it and its last name; for the root itself (`rel` empty), the root and `.`.
    pub fn at(&mut self, rel: &[u8]) -> io::Result<At> {
        if rel.is_empty() {
            return Ok(At {
                dir: self.root.clone(),
                name: ".".into(),
            });
        }
        let mut parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        let name = OsStr::from_bytes(parts.pop().expect("split gives one part at least"));
        let same = (self.chain.iter().zip(&parts))
            .take_while(|((c, _), p)| c.as_slice() == **p)
            .count();
        self.chain.truncate(same);
        if same > 0 && self.chain[same - 1].1.is_none() {
            self.reopen(same - 1)?;
        }
        for p in &parts[same..] {
            let fd = at::open_dir(self.last().as_fd(), OsStr::from_bytes(p))?;
            self.chain.push((p.to_vec(), Some(Arc::new(fd))));
        }
        let keep_from = self.chain.len().saturating_sub(KEEP);
        for (_, fd) in &mut self.chain[..keep_from] {
            *fd = None;
        }
        Ok(At {
            dir: self.last().clone(),
            name: name.to_os_string(),
        })
    }

    /// The handle of the deepest directory of the chain (the root when it is empty).
    fn last(&self) -> &DirFd {
        match self.chain.last() {
            Some((_, Some(fd))) => fd,
            Some((_, None)) => unreachable!("the chain's last directory is always open"),
            None => &self.root,
        }
    }

    /// Reopen the handles of the chain down to level `i` from the nearest open ancestor.
    fn reopen(&mut self, i: usize) -> io::Result<()> {
        let from = (0..i).rev().find(|&j| self.chain[j].1.is_some());
        let start = from.map_or(0, |j| j + 1);
        for j in start..=i {
            let dir = match j {
                0 => &self.root,
                _ => self.chain[j - 1].1.as_ref().expect("opened above"),
            };
            let fd = at::open_dir(dir.as_fd(), OsStr::from_bytes(&self.chain[j].0))?;
            self.chain[j].1 = Some(Arc::new(fd));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_deep_paths_and_reopens_dropped_handles() {
        let d = tempfile::tempdir().unwrap();
        let name = "d".repeat(200);
        let mut rel = Vec::new();
        let mut w = AtPath::open(d.path()).unwrap();
        for _ in 0..(KEEP + 50) {
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            let a = w.at(&rel).unwrap();
            at::mkdir(a.fd(), a.name(), 0o700).unwrap();
        }
        assert!(rel.len() > 4096 * 10);
        // Back up to a shallow path, then down again: the dropped handles are reopened.
        let shallow = &rel[..name.len() * 3 + 2];
        for r in [shallow, &rel[..], b""] {
            let a = w.at(r).unwrap();
            assert!(at::stat(a.fd(), a.name()).unwrap().is_dir());
        }
    }

    #[test]
    fn a_symlinked_directory_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::fs::write(d.path().join("real/f"), b"x").unwrap();
        std::os::unix::fs::symlink("real", d.path().join("link")).unwrap();
        let mut w = AtPath::open(d.path()).unwrap();
        assert!(w.at(b"real/f").is_ok());
        let e = w.at(b"link/f").map(|_| ()).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)),
            "{e}"
        );
    }
}
