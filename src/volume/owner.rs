//! The account that owns a volume, as EBS scopes volumes to their account: `owner.json`
//! beside the volume's header, `{"OwnerId": "<12 digits>"}` (written atomically, 0600,
//! before the header; docs/FORMAT.md "Volume owner"). A volume made before volumes had
//! owners has none: it belongs to the home's account. Not sealed, as `grant.json` is not:
//! it holds nothing secret, and the volume's key policy still decides who may use its data.

use super::VolumeError;
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file in a volume's directory that names its owner.
const OWNER_FILE: &str = "owner.json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Owner {
    owner_id: String,
}

fn owner_file(dir: &Path) -> PathBuf {
    dir.join(OWNER_FILE)
}

/// The account owning the volume in `dir`: its `owner.json`, else `home_account`.
pub(crate) fn read(dir: &Path, home_account: &str) -> Result<String, VolumeError> {
    let p = owner_file(dir);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice::<Owner>(&b)
            .map(|o| o.owner_id)
            .map_err(|e| VolumeError::Invalid(format!("{}: not a volume owner: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(home_account.to_string()),
        Err(e) => Err(VolumeError::io(&p, e)),
    }
}

/// Record `account` as the owner of the volume in `dir` (atomically, 0600).
pub(crate) fn write(dir: &Path, account: &str) -> Result<(), VolumeError> {
    let p = owner_file(dir);
    let b = serde_json::to_vec(&Owner {
        owner_id: account.to_string(),
    })
    .expect("an owner serializes");
    fsutil::atomic_write(&p, &b, 0o600).map_err(|e| VolumeError::io(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_without_an_owner_is_the_homes_accounts() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path(), "111122223333").unwrap(), "111122223333");
        write(d.path(), "222222222222").unwrap();
        assert_eq!(read(d.path(), "111122223333").unwrap(), "222222222222");
        let text = std::fs::read_to_string(d.path().join(OWNER_FILE)).unwrap();
        assert_eq!(text, r#"{"OwnerId":"222222222222"}"#);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join(OWNER_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
