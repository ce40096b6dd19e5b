//! Rotation through the CLI with real shell scripts as rotation programs (the four steps,
//! calling `kmsfs secretsmanager` back as a rotation Lambda calls Secrets Manager): the
//! success path, a failure at each step (AWSCURRENT unchanged, AWSPENDING kept, the retry
//! with the same token succeeds), due rotations with a moved clock, managed rotation.

mod common;
use common::cli::{BIN, fails, init, kmsfs_env, ok};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A rotation program that logs its steps and fails at `$FAIL_AT`.
const SCRIPT: &str = r#"#!/bin/sh
step="$1"; arn="$2"; token="$3"
echo "$step $KMSFS_ROTATION_STEP $KMSFS_CLIENT_REQUEST_TOKEN" >> "$ROT_LOG"
read -r event
case "$event" in *"\"Step\":\"$step\""*) ;; *) echo "bad event: $event" >&2; exit 9;; esac
if [ "$step" = "$FAIL_AT" ]; then echo "simulated failure in $step" >&2; exit 3; fi
case "$step" in
createSecret)
  kmsfs secretsmanager get-secret-value --secret-id "$arn" --version-id "$token" --version-stage AWSPENDING >/dev/null 2>&1 ||
  kmsfs secretsmanager put-secret-value --secret-id "$arn" --client-request-token "$token" --version-stages AWSPENDING --secret-string "rotated-$token" >/dev/null || exit 4 ;;
finishSecret)
  old=$(kmsfs secretsmanager get-secret-value --secret-id "$arn" | sed -n 's/.*"VersionId": "\(.*\)".*/\1/p')
  [ "$old" = "$token" ] && exit 0
  kmsfs secretsmanager update-secret-version-stage --secret-id "$arn" --version-stage AWSCURRENT --move-to-version-id "$token" --remove-from-version-id "$old" >/dev/null || exit 5 ;;
esac
exit 0
"#;

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    script: PathBuf,
    log: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let home = init(dir.path());
    let script = dir.path().join("rotate.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("steps.log");
    Setup {
        _dir: dir,
        home,
        script,
        log,
    }
}

impl Setup {
    fn run(&self, args: &[&str], fail_at: &str) -> std::process::Output {
        let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
        let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
        let log = self.log.display().to_string();
        let mut full = vec!["secretsmanager"];
        full.extend_from_slice(args);
        kmsfs_env(
            &self.home,
            &full,
            &[("PATH", &path), ("ROT_LOG", &log), ("FAIL_AT", fail_at)],
        )
    }
    fn ok(&self, args: &[&str]) -> Value {
        ok(&self.run(args, ""))
    }
    fn value(&self, stage: &str) -> (String, String) {
        let v = self.ok(&[
            "get-secret-value",
            "--secret-id",
            "s",
            "--version-stage",
            stage,
        ]);
        (
            v["VersionId"].as_str().unwrap().into(),
            v["SecretString"].as_str().unwrap().into(),
        )
    }
    fn steps(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }
}

#[test]
fn a_program_rotates_through_the_four_steps() {
    let s = setup();
    s.ok(&["create-secret", "--name", "s", "--secret-string", "v0"]);
    let (v0, _) = s.value("AWSCURRENT");
    let r = s.ok(&[
        "rotate-secret",
        "--secret-id",
        "s",
        "--rotation-command",
        s.script.to_str().unwrap(),
        "--rotation-rules",
        "AutomaticallyAfterDays=30",
    ]);
    let token = r["VersionId"].as_str().unwrap();
    assert_eq!(
        s.steps(),
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
    );
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        log.lines().all(|l| l.ends_with(token)),
        "env carries the token: {log}"
    );
    assert_eq!(
        s.value("AWSCURRENT"),
        (token.to_string(), format!("rotated-{token}"))
    );
    assert_eq!(s.value("AWSPREVIOUS").0, v0);
    let d = s.ok(&["describe-secret", "--secret-id", "s"]);
    assert_eq!(d["RotationEnabled"], true);
    assert_eq!(d["RotationLambdaARN"], s.script.to_str().unwrap());
    assert_eq!(d["RotationRules"]["AutomaticallyAfterDays"], 30);
    let (last, next) = (
        d["LastRotatedDate"].as_f64().unwrap(),
        d["NextRotationDate"].as_f64().unwrap(),
    );
    assert!((next - last - 30.0 * 86400.0).abs() < 1.0, "{d}");
    // The pending label is gone; cancel turns rotation off.
    assert!(
        !d["VersionIdsToStages"].to_string().contains("AWSPENDING"),
        "{d}"
    );
    s.ok(&["cancel-rotate-secret", "--secret-id", "s"]);
    assert_eq!(
        s.ok(&["describe-secret", "--secret-id", "s"])["RotationEnabled"],
        false
    );
}

#[test]
fn a_failure_at_each_step_keeps_awscurrent_and_the_retry_succeeds() {
    for (i, step) in ["createSecret", "setSecret", "testSecret", "finishSecret"]
        .iter()
        .enumerate()
    {
        let s = setup();
        s.ok(&["create-secret", "--name", "s", "--secret-string", "v0"]);
        let before = s.value("AWSCURRENT");
        let prog = s.script.to_str().unwrap();
        let o = s.run(
            &[
                "rotate-secret",
                "--secret-id",
                "s",
                "--rotation-lambda-arn",
                prog,
            ],
            step,
        );
        let err = fails(&o, 5, &format!("at step {step}"));
        assert!(
            err.contains("simulated failure"),
            "stderr tail quoted: {err}"
        );
        assert_eq!(s.steps().len(), i + 1, "{step}: later steps did not run");
        assert_eq!(
            s.value("AWSCURRENT"),
            before,
            "{step}: AWSCURRENT unchanged"
        );
        let pending = if i == 0 {
            None
        } else {
            let (id, v) = s.value("AWSPENDING");
            assert_eq!(v, format!("rotated-{id}"));
            Some(id)
        };
        // The retry: the same token (the pending version's), all four steps.
        std::fs::remove_file(&s.log).unwrap();
        let r = s.ok(&["rotate-secret", "--secret-id", "s"]);
        let token = r["VersionId"].as_str().unwrap().to_string();
        if let Some(p) = pending {
            assert_eq!(token, p, "{step}: the retry reuses the pending version");
        }
        assert_eq!(s.steps().len(), 4);
        assert_eq!(s.value("AWSCURRENT").0, token);
        assert_eq!(s.value("AWSPREVIOUS"), before);
    }
}

#[test]
fn a_program_that_does_not_finish_is_an_error() {
    let s = setup();
    s.ok(&["create-secret", "--name", "s", "--secret-string", "v0"]);
    let noop = s.script.with_file_name("noop.sh");
    std::fs::write(&noop, "#!/bin/sh\ncat >/dev/null\nexit 0\n").unwrap();
    std::fs::set_permissions(&noop, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = s.run(
        &[
            "rotate-secret",
            "--secret-id",
            "s",
            "--rotation-lambda-arn",
            noop.to_str().unwrap(),
        ],
        "",
    );
    fails(&o, 5, "AWSCURRENT is not on the new version");
    let o = s.run(
        &[
            "rotate-secret",
            "--secret-id",
            "s",
            "--rotation-lambda-arn",
            "relative.sh",
        ],
        "",
    );
    fails(&o, 5, "InvalidParameterException");
    let slow = s.script.with_file_name("slow.sh");
    std::fs::write(&slow, "#!/bin/sh\nsleep 30\n").unwrap();
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = common::cli::cmd(
        &s.home,
        &[
            "secretsmanager",
            "rotate-secret",
            "--secret-id",
            "s",
            "--rotation-lambda-arn",
            slow.to_str().unwrap(),
        ],
    );
    let t = std::time::Instant::now();
    let o = c.env("KMSFS_ROTATION_TIMEOUT_SECS", "1").output().unwrap();
    fails(&o, 5, "did not finish within 1 seconds");
    assert!(t.elapsed().as_secs() < 20);
}

#[test]
fn managed_rotation_and_due_rotations_with_a_moved_clock() {
    let s = setup();
    s.ok(&[
        "create-secret",
        "--name",
        "s",
        "--secret-string",
        r#"{"username":"app","password":"old"}"#,
    ]);
    s.ok(&["create-secret", "--name", "plain", "--secret-string", "old"]);
    s.ok(&[
        "rotate-secret",
        "--secret-id",
        "s",
        "--rotation-rules",
        r#"{"AutomaticallyAfterDays": 2}"#,
    ]);
    let (_, v) = s.value("AWSCURRENT");
    let j: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(j["username"], "app");
    assert_ne!(j["password"], "old");
    assert_eq!(j["password"].as_str().unwrap().len(), 32);
    s.ok(&[
        "rotate-secret",
        "--secret-id",
        "plain",
        "--rotation-rules",
        "ScheduleExpression=rate(10 days)",
        "--no-rotate-immediately",
    ]);
    let p = s.ok(&["get-secret-value", "--secret-id", "plain"]);
    assert_eq!(p["SecretString"], "old", "not rotated yet");
    // Nothing is due now; in 3 days "s" is; in 11 days both are.
    assert_eq!(
        s.ok(&["run-due-rotations"])["Rotated"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let due = |days: i64| {
        let secs = (days * 86400).to_string();
        ok(&kmsfs_env(
            &s.home,
            &["secretsmanager", "run-due-rotations"],
            &[("KMSFS_CLOCK_OFFSET_SECS", &secs)],
        ))
    };
    let r = due(3);
    let rotated = r["Rotated"].as_array().unwrap();
    assert_eq!(rotated.len(), 1, "{r}");
    assert_eq!(rotated[0]["Name"], "s");
    let r = due(11);
    let names: Vec<&str> = r["Rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{r}");
    assert_ne!(
        s.ok(&["get-secret-value", "--secret-id", "plain"])["SecretString"],
        "old"
    );
}
