//! A real `kmsfs serve` process for the endpoint tests, and the Python clients (boto3, the
//! AWS CLI, the Encryption SDK) from the venv `.ci/run` makes (`target/py-venv`, or
//! `KMSFS_PYTHON_VENV`).

use super::cli::cmd;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The credentials every endpoint test signs with (registered by `--credentials`).
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

/// A running `kmsfs serve`, stopped with SIGTERM on drop (and then it must exit 0).
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its ready line (`Endpoint`, `Region`, `AccountId`, `Home`).
    pub ready: serde_json::Value,
}

impl Server {
    /// Start `kmsfs serve` on `home` (initialized by the caller) with `extra` arguments and
    /// the test credentials; wait for its ready line.
    pub fn start(home: &Path, extra: &[&str]) -> Server {
        let creds = format!("{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}");
        let mut args = vec!["serve", "--credentials", &creds];
        args.extend_from_slice(extra);
        Server::spawn(cmd(home, &args))
    }

    /// Spawn `c` (a `kmsfs serve` command) with its stdout piped; wait for its ready line.
    pub fn spawn(mut c: Command) -> Server {
        let mut child = c.stdout(Stdio::piped()).spawn().expect("start kmsfs serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the ready line");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("kmsfs serve's ready line is not JSON ({e}): {line:?}"));
        let endpoint = ready["Endpoint"].as_str().expect("Endpoint").to_string();
        Server {
            child,
            endpoint,
            ready,
        }
    }

    /// Stop the server (SIGTERM) and check that it exits 0.
    pub fn stop(self) {
        assert_eq!(self.stop_code(), Some(0), "kmsfs serve's exit code");
    }

    /// Stop the server (SIGTERM): its exit code.
    pub fn stop_code(mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().expect("wait for kmsfs serve").code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let code = self.terminate();
            assert!(
                code == Some(0) || std::thread::panicking(),
                "kmsfs serve exited {code:?}"
            );
        }
    }
}

/// The Python venv's `bin/` with boto3, awscli and aws-encryption-sdk, when there is one.
/// Without it the test fails (or is skipped if the user set `KMSFS_SKIP_UNAVAILABLE=python`).
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("KMSFS_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-venv"));
    let bin = venv.join("bin");
    let ok = Command::new(bin.join("python3"))
        .args([
            "-c",
            "import boto3, awscli, aws_encryption_sdk, aws_cryptographic_material_providers",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(bin);
    }
    let why = format!(
        "no Python venv with boto3, awscli and aws-encryption-sdk at {}",
        venv.display()
    );
    let fix = "python3 -m venv target/py-venv && target/py-venv/bin/pip install boto3 awscli 'aws-encryption-sdk[MPL]', or set KMSFS_PYTHON_VENV";
    super::skip::available(test, "python", false, &why, fix);
    None
}

/// A command from the venv's `bin/` pointed at `endpoint` the way AWS tools are
/// (`AWS_ENDPOINT_URL_KMS`, the standard credential variables, no config files).
pub fn aws_tool(bin: &Path, program: &str, endpoint: &str) -> Command {
    let mut c = Command::new(bin.join(program));
    c.env("AWS_ENDPOINT_URL_KMS", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    c
}

/// `aws --output json --endpoint-url ENDPOINT ARGS` from the venv: must succeed; its JSON
/// output (`Null` when it printed nothing).
pub fn aws_json(bin: &Path, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let o = aws_tool(bin, "aws", endpoint)
        .args(["--output", "json", "--endpoint-url", endpoint])
        .args(args)
        .output()
        .unwrap();
    let out = check(&o, &format!("aws {args:?}"));
    if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&out).unwrap()
    }
}

/// Run the boto3 `runner` script (it reads `EP` and the JSON list `CALLS`, prints one JSON
/// list of results) against `endpoint` as the access key `who` (`None`: the test's root
/// key).
pub fn boto3_calls(
    bin: &Path,
    endpoint: &str,
    runner: &str,
    who: Option<&(String, String)>,
    calls: serde_json::Value,
) -> Vec<serde_json::Value> {
    let mut c = aws_tool(bin, "python3", endpoint);
    c.env("EP", endpoint)
        .env("CALLS", calls.to_string())
        .args(["-c", runner]);
    if let Some((id, secret)) = who {
        c.env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret);
    }
    let out = check(&c.output().unwrap(), "the boto3 runner");
    serde_json::from_str(out.trim()).unwrap()
}

/// The stdout of `o`, which must have succeeded (else a failure naming `what`, with both
/// streams).
pub fn check(o: &std::process::Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{what} failed: {}\nstdout:\n{out}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A remote KMS client of `endpoint` (us-east-1) signing with the test credentials.
pub fn remote(endpoint: &str) -> kmsfs::kms::Remote {
    kmsfs::kms::Remote::new(
        endpoint,
        "us-east-1",
        ACCESS_KEY_ID,
        zeroize::Zeroizing::new(SECRET_ACCESS_KEY.to_string()),
    )
    .unwrap()
}

/// The account root's access key id that `kmsfs init` made in `home` (beside the test's
/// `testing`, when a server registered it).
pub fn root_access_key(home: &Path) -> String {
    let keys = super::cli::run_ok(home, &["credentials", "list"]);
    keys["AccessKeyMetadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap().to_string())
        .find(|id| id.starts_with("AKIA"))
        .unwrap()
}
