//! Rotation: RotateSecret, CancelRotateSecret and the due rotations (`run-due-rotations`,
//! `kmsfs serve`'s background check). A rotation program stands in for the rotation
//! Lambda: it is run for the steps createSecret, setSecret, testSecret and finishSecret as
//! `PROGRAM <Step> <SecretArn> <ClientRequestToken>` with the Lambda's JSON event on stdin
//! and calls kmsfs back itself (put-secret-value with AWSPENDING, then
//! update-secret-version-stage), so the secrets lock is never held while it runs. Without
//! a program, kmsfs rotates the secret itself (managed rotation): a new random password
//! (the `password` member of a JSON object secret, else the whole value) made AWSCURRENT.

use super::error::SmError;
use super::record::SecretRecord;
use super::types::*;
use super::values::NewValue;
use super::versions::{self, CURRENT, PENDING};
use super::{SecretsManager, password, schedule, seal};
use crate::crypto::SecretBytes;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The four steps, in order.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
/// How long one step may run (seconds), as a Lambda's longest timeout; env
/// `KMSFS_ROTATION_TIMEOUT_SECS` overrides it.
pub const DEFAULT_TIMEOUT_SECS: u64 = 900;
/// How much of a failed program's stderr the error quotes (its tail).
const STDERR_TAIL: usize = 600;

/// What one rotation runs with.
struct Plan {
    arn: String,
    token: String,
    program: Option<String>,
    rules: Option<RotationRules>,
}

impl SecretsManager {
    pub fn rotate_secret(&self, req: RotateSecretRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("RotateSecret", &req.secret_id.clone(), || self.rotate(req))
    }

    fn rotate(&self, req: RotateSecretRequest) -> Result<ArnNameVersion, SmError> {
        if let Some(rules) = &req.rotation_rules {
            schedule::validate(rules).map_err(SmError::InvalidParameter)?;
        }
        if let Some(p) = req.rotation_lambda_arn.as_deref().filter(|p| !p.is_empty()) {
            check_program(p)?;
        }
        if let Some(t) = &req.client_request_token {
            super::check_len("clientRequestToken", t, 32, 64)?;
        }
        let plan = self.modify(&req.secret_id, true, |r| configure(r, &req))?;
        if !req.rotate_immediately.unwrap_or(true) {
            let r = self.finish(&plan, false)?;
            return Ok(ArnNameVersion {
                arn: r.arn,
                name: r.name,
                version_id: None,
            });
        }
        match &plan.program {
            Some(p) => self.run_program_steps(p, &plan)?,
            None => self.managed(&plan)?,
        }
        let r = self.finish(&plan, true)?;
        Ok(ArnNameVersion {
            arn: r.arn,
            name: r.name,
            version_id: Some(plan.token),
        })
    }

    /// Record a rotation (or, without `rotated`, only the schedule).
    fn finish(&self, plan: &Plan, rotated: bool) -> Result<SecretRecord, SmError> {
        let now = self.now();
        self.modify(&plan.arn, true, |r| {
            if rotated {
                let cur = r.staged(CURRENT).map(|v| v.id.clone());
                if cur.as_deref() != Some(plan.token.as_str()) {
                    return Err(SmError::InvalidRequest(format!(
                        "Rotation of {} did not finish: after finishSecret, AWSCURRENT is not on the new version {}.",
                        r.arn, plan.token
                    )));
                }
                r.rotation.last_rotated_ms = Some(now);
                for v in &mut r.versions {
                    v.stages.retain(|s| s != PENDING);
                }
            }
            r.rotation.next_rotation_ms = match &plan.rules {
                Some(rules) => Some(schedule::next_rotation(rules, now).map_err(SmError::InvalidParameter)?),
                None => None,
            };
            Ok(r.clone())
        })
    }

    /// Run the four steps of `program`; the first that fails ends the rotation.
    fn run_program_steps(&self, program: &str, plan: &Plan) -> Result<(), SmError> {
        for step in STEPS {
            self.run_step(program, step, plan)?;
        }
        Ok(())
    }

    /// Run one step (the secrets lock is not held: the program calls kmsfs back).
    fn run_step(&self, program: &str, step: &str, plan: &Plan) -> Result<(), SmError> {
        let event = serde_json::json!({
            "Step": step,
            "SecretId": plan.arn,
            "ClientRequestToken": plan.token,
            "RotationToken": plan.token,
        });
        let home = self.ctx.dir.ancestors().nth(3).unwrap_or(Path::new("/"));
        let mut child = Command::new(program)
            .args([step, &plan.arn, &plan.token])
            .env("KMSFS_HOME", home)
            .env("AWS_REGION", &self.ctx.region)
            .env("KMSFS_ROTATION_STEP", step)
            .env("KMSFS_SECRET_ID", &plan.arn)
            .env("KMSFS_CLIENT_REQUEST_TOKEN", &plan.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| fail(step, program, format!("it could not be started: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(event.to_string().as_bytes());
        }
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_end(&mut s);
            }
            s
        });
        let limit = Duration::from_secs(timeout_secs());
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) if started.elapsed() >= limit => {
                    // The whole group: a shell's children hold the stderr pipe too.
                    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait();
                    break Err(format!(
                        "it did not finish within {} seconds",
                        limit.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => break Err(e.to_string()),
            }
        };
        let err = reader.join().unwrap_or_default();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(fail(step, program, format!("{s}; stderr: {}", tail(&err)))),
            Err(why) => Err(fail(step, program, why)),
        }
    }

    /// Managed rotation: a new random password as the pending version, made AWSCURRENT.
    fn managed(&self, plan: &Plan) -> Result<(), SmError> {
        self.modify(&plan.arn, true, |r| {
            if r.version(&plan.token).is_none() {
                let value = self.rotated_value(r)?;
                let stages = [PENDING.to_string()];
                self.add_version(r, &plan.token, &value, &stages)?;
            }
            versions::attach(r, CURRENT, &plan.token)?;
            for v in &mut r.versions {
                v.stages.retain(|s| s != PENDING);
            }
            Ok(())
        })
    }

    /// The next value of managed rotation.
    fn rotated_value(&self, r: &SecretRecord) -> Result<NewValue, SmError> {
        let pw = password::random_password(&password::PasswordSpec::default())
            .map_err(SmError::InvalidParameter)?;
        let current = match r.staged(CURRENT) {
            Some(v) if !v.binary => Some(seal::open(self.ctx.kms.as_ref(), &r.arn, v)?),
            _ => None,
        };
        let json = current
            .as_ref()
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(c.expose()).ok())
            .filter(|j| j.get("password").is_some_and(|p| p.is_string()));
        let bytes = match json {
            Some(mut j) => {
                j["password"] = serde_json::Value::String(pw.to_string());
                let s = zeroize::Zeroizing::new(j.to_string());
                SecretBytes::from_slice(s.as_bytes())
            }
            None => SecretBytes::from_slice(pw.as_bytes()),
        };
        Ok(NewValue {
            binary: false,
            bytes,
        })
    }

    pub fn cancel_rotate_secret(&self, req: SecretIdRequest) -> Result<ArnNameVersion, SmError> {
        self.audited("CancelRotateSecret", &req.secret_id.clone(), || {
            self.modify(&req.secret_id, true, |r| {
                r.rotation.enabled = false;
                r.rotation.next_rotation_ms = None;
                Ok(ArnNameVersion {
                    arn: r.arn.clone(),
                    name: r.name.clone(),
                    version_id: pending(r),
                })
            })
        })
    }

    /// Rotate every secret whose NextRotationDate has passed; what was done for each.
    pub fn run_due_rotations(&self) -> Result<DueRotationsResponse, SmError> {
        let now = self.now();
        let due: Vec<SecretRecord> = self
            .all()?
            .into_iter()
            .filter(|r| r.deleted_ms.is_none() && r.rotation.enabled)
            .filter(|r| r.rotation.next_rotation_ms.is_some_and(|t| t <= now))
            .collect();
        let mut out = DueRotationsResponse::default();
        for r in due {
            let req = RotateSecretRequest {
                secret_id: r.arn.clone(),
                ..Default::default()
            };
            let mut d = DueRotation {
                arn: r.arn,
                name: r.name,
                ..Default::default()
            };
            match self.rotate_secret(req) {
                Ok(a) => d.version_id = a.version_id,
                Err(e) => {
                    d.error_code = Some(e.code().to_string());
                    d.message = Some(e.to_string());
                }
            }
            out.rotated.push(d);
        }
        Ok(out)
    }
}

/// Store the request's rotation configuration in `r`; the plan of this rotation (a
/// pending version left by a failed rotation is retried with its token, as AWS does).
fn configure(r: &mut SecretRecord, req: &RotateSecretRequest) -> Result<Plan, SmError> {
    if let Some(p) = &req.rotation_lambda_arn {
        r.rotation.program = Some(p.clone()).filter(|p| !p.is_empty());
    }
    if let Some(rules) = &req.rotation_rules {
        r.rotation.after_days = rules.automatically_after_days;
        r.rotation.duration = rules.duration.clone();
        r.rotation.expression = rules.schedule_expression.clone();
    }
    r.rotation.enabled = true;
    let token = match (pending(r), &req.client_request_token) {
        (Some(p), _) => p,
        (None, Some(t)) => t.clone(),
        (None, None) => uuid::Uuid::new_v4().to_string(),
    };
    let rot = &r.rotation;
    let rules = (rot.after_days.is_some() || rot.expression.is_some()).then(|| RotationRules {
        automatically_after_days: rot.after_days,
        duration: rot.duration.clone(),
        schedule_expression: rot.expression.clone(),
    });
    Ok(Plan {
        arn: r.arn.clone(),
        token,
        program: rot.program.clone(),
        rules,
    })
}

/// The version AWSPENDING is on, unless it is also AWSCURRENT.
fn pending(r: &SecretRecord) -> Option<String> {
    r.staged(PENDING)
        .filter(|v| !v.stages.iter().any(|s| s == CURRENT))
        .map(|v| v.id.clone())
}

/// A rotation program must be an absolute path to a file.
fn check_program(p: &str) -> Result<(), SmError> {
    let path = Path::new(p);
    if !path.is_absolute() || !path.is_file() {
        return Err(SmError::InvalidParameter(format!(
            "The rotation program {p} is not an absolute path to an executable file (RotationLambdaARN names a local program in kmsfs)."
        )));
    }
    Ok(())
}

fn timeout_secs() -> u64 {
    std::env::var("KMSFS_ROTATION_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_SECS)
}

fn fail(step: &str, program: &str, why: String) -> SmError {
    SmError::InvalidRequest(format!(
        "Rotation failed at step {step}: the rotation program {program} failed: {why}. AWSCURRENT is unchanged; AWSPENDING stays on the new version for the retry."
    ))
}

/// The last [`STDERR_TAIL`] bytes of `b`, as text.
fn tail(b: &[u8]) -> String {
    let start = b.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&b[start..]).trim().to_string()
}
