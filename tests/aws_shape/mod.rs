//! Checks a `kmsfs ec2`/`s3api` output against botocore's model of the operation: every
//! key must be a member of the output shape (recursively), each value of the member's type
//! (integers are integers, lists are lists). Runs the venv's Python (tests/common/serve.rs
//! `python_or_skip`: without the venv the check fails under CI, else says SKIPPED).
//! Each test binary that includes it uses only some helpers: hence the `dead_code` allowance.
#![allow(dead_code)]

use super::common::serve::python_or_skip;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const CHECK: &str = r#"
import json, sys, botocore.session
service, op = sys.argv[1], sys.argv[2]
shape = botocore.session.get_session().get_service_model(service).operation_model(op).output_shape
data = json.load(sys.stdin)
bad = []
def walk(s, v, path):
    if s is None:
        bad.append(path + ': the operation has no output'); return
    t = s.type_name
    if t == 'structure':
        if not isinstance(v, dict): bad.append(path + ': not an object'); return
        for k, x in v.items():
            if k not in s.members: bad.append(path + '.' + k + ': not in ' + s.name)
            else: walk(s.members[k], x, path + '.' + k)
    elif t == 'list':
        if not isinstance(v, list): bad.append(path + ': not a list'); return
        for i, x in enumerate(v): walk(s.member, x, '%s[%d]' % (path, i))
    elif t == 'map':
        if not isinstance(v, dict): bad.append(path + ': not a map'); return
        for k, x in v.items(): walk(s.value, x, path + '.' + k)
    elif t in ('integer', 'long'):
        if not isinstance(v, int) or isinstance(v, bool): bad.append(path + ': not an integer')
    elif t == 'boolean':
        if not isinstance(v, bool): bad.append(path + ': not a boolean')
    elif t in ('string', 'timestamp'):
        if not isinstance(v, str): bad.append(path + ': not a string')
walk(shape, data, op)
print('\n'.join(bad))
sys.exit(1 if bad else 0)
"#;

/// Python with botocore, or `None` (the test says SKIPPED, or fails under CI).
pub fn python(test: &str) -> Option<std::path::PathBuf> {
    python_or_skip(test).map(|bin| bin.join("python3"))
}

/// Every key of `out` is in botocore's output shape of `service`'s operation `op`.
pub fn check(python: &Option<std::path::PathBuf>, service: &str, op: &str, out: &Value) {
    let Some(py) = python else { return };
    let mut child = Command::new(py)
        .args(["-c", CHECK, service, op])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let body = serde_json::to_vec(out).unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{service} {op}: output not in botocore's shape:\n{}{}\n{out:#}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `kmsfs ec2 ARGS`: must succeed; its JSON output (`Null` if none), checked against
/// botocore's output shape of `op` (an operation with no output must print nothing).
pub fn ec2(home: &Path, py: &Option<std::path::PathBuf>, op: &str, args: &[&str]) -> Value {
    let mut all = vec!["ec2"];
    all.extend_from_slice(args);
    let v = super::common::cli::run_ok(home, &all);
    if v.is_null() {
        assert!(NO_OUTPUT.contains(&op), "{op} printed nothing");
    } else {
        assert!(!NO_OUTPUT.contains(&op), "{op} printed {v}");
        check(py, "ec2", op, &v);
    }
    v
}

/// EC2 operations whose output is empty (the AWS CLI prints nothing).
const NO_OUTPUT: &[&str] = &[
    "DeleteVolume",
    "DeleteSnapshot",
    "ModifySnapshotAttribute",
    "ResetSnapshotAttribute",
    "CreateTags",
    "DeleteTags",
];

pub fn ids(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}
