//! A throwaway home for `kmsfs serve --ephemeral`: a new home (with `init`'s account and
//! region, a random root key file) in a private temporary directory, deleted when dropped.

use super::error::ServerError;
use crate::crypto;
use crate::home::{Home, HomeError, InitOptions};
use crate::kms::{Kms, KmsError, RootKeySource};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// A home that exists until it is dropped.
pub struct EphemeralHome {
    home: Home,
    dir: TempDir,
}

/// A directory removed (with everything in it) when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl EphemeralHome {
    /// Create a home with its KMS keystore in a new directory (mode 0700) of `$TMPDIR`.
    pub fn create(opts: &InitOptions) -> Result<EphemeralHome, ServerError> {
        let mut b = [0u8; 8];
        crypto::fill_random(&mut b).map_err(KmsError::from)?;
        let path = std::env::temp_dir().join(format!("kmsfs-serve-{}", crypto::hex(&b)));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| HomeError::io(&path, e))?;
        let dir = TempDir(path);
        let home = Home::init(&dir.0.join("home"), opts)?;
        Kms::create(&home, RootKeySource::RandomFile)?;
        Ok(EphemeralHome { home, dir })
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The directory deleted at drop (the home is inside it).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}
