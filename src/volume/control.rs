//! The mount daemon's control socket (`ctl.sock` in the volume's directory, reachable only
//! by whoever may enter that 0700 directory). One request for now: `freeze`, which holds
//! every change to the backing tree until the connection closes, so that a snapshot taken
//! by another process reads the tree at one point in time while reads go on.

use super::{VolumeError, VolumeFs};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The socket's name in the volume directory.
pub(crate) const SOCKET: &str = "ctl.sock";

/// Listen on `dir/ctl.sock` in a background thread for as long as the process lives.
pub fn serve(dir: &Path, fs: Arc<VolumeFs>) -> std::io::Result<()> {
    let path = dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::thread::Builder::new()
        .name("kmsfs-control".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let fs = fs.clone();
                let _ = std::thread::Builder::new()
                    .name("kmsfs-freeze".into())
                    .spawn(move || handle(conn, &fs));
            }
        })?;
    Ok(())
}

fn handle(conn: UnixStream, fs: &VolumeFs) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(conn).lines();
    while let Some(Ok(line)) = lines.next() {
        match line.trim() {
            "freeze" => {
                let guard = fs.freeze();
                if out.write_all(b"frozen\n").is_err() {
                    return;
                }
                // Held until the client says thaw or goes away (even if it is killed).
                loop {
                    match lines.next() {
                        Some(Ok(l)) if l.trim() == "thaw" => break,
                        Some(Ok(_)) => continue,
                        _ => return,
                    }
                }
                drop(guard);
                let _ = out.write_all(b"thawed\n");
            }
            "ping" => {
                let _ = out.write_all(b"pong\n");
            }
            _ => {
                let _ = out.write_all(b"error unknown request\n");
            }
        }
    }
}

/// Changes to a mounted volume held by its daemon; dropping this thaws it.
pub(crate) struct Frozen {
    conn: UnixStream,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = self.conn.write_all(b"thaw\n");
    }
}

/// Push the kernel's dirty pages of the mount at `mountpoint` to its daemon (syncfs), then
/// ask the daemon of the volume in `dir` to hold all changes.
pub(crate) fn freeze(dir: &Path, mountpoint: &Path) -> Result<Frozen, VolumeError> {
    if let Ok(f) = std::fs::File::open(mountpoint) {
        let _ = nix::unistd::syncfs(&f);
    }
    let path: PathBuf = dir.join(SOCKET);
    let conn = UnixStream::connect(&path).map_err(|e| VolumeError::io(&path, e))?;
    conn.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| VolumeError::io(&path, e))?;
    let mut w = conn.try_clone().map_err(|e| VolumeError::io(&path, e))?;
    w.write_all(b"freeze\n")
        .map_err(|e| VolumeError::io(&path, e))?;
    let mut line = String::new();
    BufReader::new(conn.try_clone().map_err(|e| VolumeError::io(&path, e))?)
        .read_line(&mut line)
        .map_err(|e| VolumeError::io(&path, e))?;
    if line.trim() != "frozen" {
        return Err(VolumeError::Invalid(format!(
            "{}: the mount daemon did not freeze the volume (it said '{}')",
            path.display(),
            line.trim()
        )));
    }
    Ok(Frozen { conn })
}
