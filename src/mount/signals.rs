//! Signals of a mount daemon: SIGTERM, SIGINT and SIGHUP unmount, so that the FUSE session
//! ends cleanly and the daemon finishes its writes.

use std::path::PathBuf;

/// On SIGTERM, SIGINT or SIGHUP, unmount `mp` (lazily) so that the session ends cleanly.
pub fn watch_signals(mp: PathBuf) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    let _ = set.thread_block();
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            let _ = super::unmount(&mp, true);
        }
    });
}
