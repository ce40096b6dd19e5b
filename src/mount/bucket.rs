//! Mounting a bucket: its directory view served over FUSE in the foreground.

use super::{MountError, unmount_on_signal};
use crate::object::ObjectService;
use crate::object::view::BucketView;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Open `bucket`'s directory view (spooling files being written in `spool`), unmount on
/// SIGTERM, SIGINT or SIGHUP, call `ready`, and serve it at `mp` until it is unmounted.
pub fn serve_bucket(
    svc: Arc<ObjectService>,
    bucket: &str,
    spool: PathBuf,
    mp: &Path,
    allow_other: bool,
    ready: impl FnOnce(),
) -> Result<(), MountError> {
    let view = BucketView::new(svc, bucket, spool)?;
    unmount_on_signal(mp.to_path_buf()).map_err(MountError::Internal)?;
    ready();
    crate::object::fuse::serve(Arc::new(view), mp, allow_other).map_err(MountError::Fuse)
}
