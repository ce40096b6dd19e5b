//! Mount daemons: the kmsfs executable itself, serving a mount in the foreground, detached in
//! its own process group with its output appended to a log; the starter waits until the
//! mount is up, or reports what the daemon logged if it exited first.

use super::{MountError, is_mount_point};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a daemon may take to mount.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Run the current executable with `args` (a command that serves a mount on `mp` in the
/// foreground) as a detached daemon logging to `log_path`, and wait until `mp` is mounted;
/// the daemon's pid. If the daemon exits first, the error carries what it logged meanwhile
/// and its exit code.
///
/// With `key` (a volume daemon, which needs no KMS), the daemon's stdin is a pipe that
/// carries `key` and then ends, and its environment has none of the secret variables
/// ([`super::secrets::SECRET_VARS`]); without, stdin is /dev/null and the daemon inherits
/// the environment (a bucket daemon opens the KMS with it, then wipes it).
pub fn spawn_daemon(
    args: &[OsString],
    mp: &Path,
    log_path: &Path,
    key: Option<&[u8]>,
) -> Result<u32, MountError> {
    use std::os::unix::process::CommandExt;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| MountError::io(log_path, e))?;
    let start = std::fs::metadata(log_path).map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe().map_err(MountError::Internal)?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(MountError::Internal)?)
        .stderr(log)
        .process_group(0);
    if key.is_some() {
        cmd.stdin(Stdio::piped());
        for v in super::secrets::SECRET_VARS {
            cmd.env_remove(v);
        }
    }
    let mut child = cmd.spawn().map_err(MountError::Spawn)?;
    if let (Some(key), Some(mut pipe)) = (key, child.stdin.take()) {
        use std::io::Write;
        // A message of a few dozen bytes fits the pipe's buffer: this never blocks. If the
        // daemon died first, the error it logged is reported below.
        let _ = pipe.write_all(key);
    }
    let t0 = Instant::now();
    loop {
        if is_mount_point(mp) {
            return Ok(child.id());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(exited(log_path, start, status));
        }
        if t0.elapsed() > READY_TIMEOUT {
            let _ = child.kill();
            return Err(MountError::Timeout);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon exited before mounting: what it appended to its log after `start`.
fn exited(log_path: &Path, start: u64, status: ExitStatus) -> MountError {
    let logged = std::fs::read(log_path).unwrap_or_default();
    let tail = logged.get(start as usize..).unwrap_or_default();
    MountError::DaemonExited {
        log: String::from_utf8_lossy(tail).trim().to_string(),
        code: status.code(),
    }
}
