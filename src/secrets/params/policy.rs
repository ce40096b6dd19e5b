//! Parameter policies (Advanced parameters only), as AWS documents them: a JSON array of
//! `{"Type": ..., "Version": "1.0", "Attributes": {...}}` with the types `Expiration`
//! (`Timestamp`, ISO 8601: the parameter is deleted then), `ExpirationNotification`
//! (`Before` + `Unit` Days|Hours: an event that long before the expiration) and
//! `NoChangeNotification` (`After` + `Unit`: an event when the parameter has not changed
//! for that long). With no EventBridge here, events go to the directory's events file
//! (JSON lines) and the audit trail. They run lazily when a parameter is read and in the
//! sweep [`run_due_policies`](super::ParameterStore::run_due_policies).

use super::error::ParamError;
use super::record::{Record, Store};
use super::types::ParameterInlinePolicy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// At most this many policies on one parameter.
pub const MAX_POLICIES: usize = 10;
const HOUR_MS: i64 = 3_600_000;

/// One policy, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    /// The policy's JSON (AWS's `PolicyText`).
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PolicyKind {
    /// Delete at this time (Unix ms).
    Expiration(i64),
    /// Notify this long (ms) before the expiration.
    ExpirationNotification(i64),
    /// Notify when unchanged for this long (ms).
    NoChangeNotification(i64),
}

impl PolicyKind {
    pub fn name(&self) -> &'static str {
        match self {
            PolicyKind::Expiration(_) => "Expiration",
            PolicyKind::ExpirationNotification(_) => "ExpirationNotification",
            PolicyKind::NoChangeNotification(_) => "NoChangeNotification",
        }
    }
}

/// Parse and check a `Policies` string. `now_ms` refuses an expiration in the past.
pub fn parse(text: &str, now_ms: i64) -> Result<Vec<Policy>, ParamError> {
    let items: Vec<Value> = serde_json::from_str(text).map_err(|e| {
        ParamError::InvalidPolicyAttribute(format!(
            "Policies must be a JSON array of policies: {e}"
        ))
    })?;
    if items.len() > MAX_POLICIES {
        return Err(ParamError::PoliciesLimitExceeded(format!(
            "You specified more than the maximum number of allowed policies for the parameter. \
             The maximum is {MAX_POLICIES}."
        )));
    }
    let mut out: Vec<Policy> = Vec::new();
    for item in &items {
        let p = parse_one(item, now_ms)?;
        if out.iter().any(|q| q.kind.name() == p.kind.name()) {
            return Err(ParamError::IncompatiblePolicy(format!(
                "A parameter can have only one {} policy.",
                p.kind.name()
            )));
        }
        out.push(p);
    }
    let has_expiration = out
        .iter()
        .any(|p| matches!(p.kind, PolicyKind::Expiration(_)));
    if !has_expiration
        && out
            .iter()
            .any(|p| matches!(p.kind, PolicyKind::ExpirationNotification(_)))
    {
        return Err(ParamError::IncompatiblePolicy(
            "An ExpirationNotification policy needs an Expiration policy.".into(),
        ));
    }
    Ok(out)
}

fn parse_one(item: &Value, now_ms: i64) -> Result<Policy, ParamError> {
    let field = |k: &str| item.get(k).and_then(Value::as_str);
    let kind = field("Type").unwrap_or_default();
    if !matches!(
        kind,
        "Expiration" | "ExpirationNotification" | "NoChangeNotification"
    ) {
        return Err(ParamError::InvalidPolicyType(format!(
            "The policy type {kind:?} is not supported: use Expiration, \
             ExpirationNotification or NoChangeNotification."
        )));
    }
    if field("Version") != Some("1.0") {
        return Err(attr(kind, "Version must be \"1.0\""));
    }
    let attrs = item
        .get("Attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| attr(kind, "Attributes is missing"))?;
    let get = |k: &str| attrs.get(k).and_then(Value::as_str);
    let parsed = match kind {
        "Expiration" => {
            let ts = get("Timestamp").ok_or_else(|| attr(kind, "Timestamp is missing"))?;
            let at = parse_timestamp(ts).ok_or_else(|| attr(kind, "Timestamp is not ISO 8601"))?;
            if at <= now_ms {
                return Err(attr(kind, "Timestamp must be in the future"));
            }
            PolicyKind::Expiration(at)
        }
        "ExpirationNotification" => {
            PolicyKind::ExpirationNotification(span(kind, get("Before"), get("Unit"))?)
        }
        _ => PolicyKind::NoChangeNotification(span(kind, get("After"), get("Unit"))?),
    };
    let text = serde_json::to_string(item).map_err(|e| ParamError::Internal(e.to_string()))?;
    Ok(Policy { kind: parsed, text })
}

/// `Before`/`After` with `Unit` (Days or Hours), in ms.
fn span(kind: &str, n: Option<&str>, unit: Option<&str>) -> Result<i64, ParamError> {
    let n: i64 = n
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0 && *n <= 100_000)
        .ok_or_else(|| attr(kind, "Before/After must be a positive whole number"))?;
    match unit {
        Some("Days") => Ok(n * 24 * HOUR_MS),
        Some("Hours") => Ok(n * HOUR_MS),
        _ => Err(attr(kind, "Unit must be Days or Hours")),
    }
}

/// An ISO 8601 UTC time (`2030-05-13T00:00:00.000Z`, `+00:00` too) in Unix ms.
pub fn parse_timestamp(ts: &str) -> Option<i64> {
    let ts = ts
        .strip_suffix("+00:00")
        .map_or(ts.to_string(), |t| format!("{t}Z"));
    let t = humantime::parse_rfc3339_weak(&ts).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

fn attr(kind: &str, why: &str) -> ParamError {
    ParamError::InvalidPolicyAttribute(format!("A policy of type {kind} is not valid: {why}."))
}

/// The policies of a version as AWS shows them (`Finished` once a notification ran).
pub fn inline(r: &Record, version: u64, text: Option<&str>) -> Vec<ParameterInlinePolicy> {
    let Some(text) = text else { return Vec::new() };
    let Ok(policies) = parse(text, i64::MIN) else {
        return Vec::new();
    };
    policies
        .into_iter()
        .map(|p| {
            let done = r
                .notified
                .iter()
                .any(|(t, v)| t == p.kind.name() && *v == version);
            ParameterInlinePolicy {
                policy_text: p.text,
                policy_type: p.kind.name().to_string(),
                policy_status: if done { "Finished" } else { "Pending" }.to_string(),
            }
        })
        .collect()
}

/// One event of a policy, as a line of the events file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyEvent {
    /// When it was recorded (epoch seconds).
    pub time: f64,
    pub name: String,
    pub arn: String,
    pub version: u64,
    /// `Expiration`, `ExpirationNotification` or `NoChangeNotification`.
    pub policy_type: String,
    /// What happened, in words.
    pub detail: String,
}

/// What a due policy does to a record.
#[derive(Debug, PartialEq)]
pub enum Due {
    Nothing,
    /// The record changed (a notification marked as recorded).
    Notified(Vec<PolicyEvent>),
    /// The parameter expired (it must be deleted).
    Expired(Vec<PolicyEvent>),
}

/// The policies of `r`'s latest version due at `now_ms`.
pub fn due(r: &mut Record, arn: &str, now_ms: i64) -> Due {
    let Ok(latest) = r.latest().cloned() else {
        return Due::Nothing;
    };
    let Some(Ok(policies)) = latest.policies.as_deref().map(|t| parse(t, i64::MIN)) else {
        return Due::Nothing;
    };
    let expiry = policies.iter().find_map(|p| match p.kind {
        PolicyKind::Expiration(at) => Some(at),
        _ => None,
    });
    let event = |kind: &str, detail: String| PolicyEvent {
        time: crate::timefmt::epoch_secs(now_ms),
        name: r.name.clone(),
        arn: arn.to_string(),
        version: latest.version,
        policy_type: kind.to_string(),
        detail,
    };
    if let Some(at) = expiry.filter(|at| *at <= now_ms) {
        let e = event(
            "Expiration",
            format!("expired at {}; deleted", crate::timefmt::rfc3339(at)),
        );
        return Due::Expired(vec![e]);
    }
    let mut events = Vec::new();
    for p in &policies {
        let (when, detail) = match p.kind {
            PolicyKind::ExpirationNotification(before) => match expiry {
                Some(at) => (
                    at - before,
                    format!("expires at {}", crate::timefmt::rfc3339(at)),
                ),
                None => continue,
            },
            PolicyKind::NoChangeNotification(after) => (
                latest.modified_ms + after,
                format!(
                    "unchanged since {}",
                    crate::timefmt::rfc3339(latest.modified_ms)
                ),
            ),
            PolicyKind::Expiration(_) => continue,
        };
        let key = (p.kind.name().to_string(), latest.version);
        if when <= now_ms && !r.notified.contains(&key) {
            r.notified.push(key);
            events.push(event(p.kind.name(), detail));
        }
    }
    if events.is_empty() {
        Due::Nothing
    } else {
        Due::Notified(events)
    }
}

/// Append the events to the events file.
pub fn record_events(store: &Store, events: &[PolicyEvent]) -> Result<(), ParamError> {
    for e in events {
        let line = serde_json::to_vec(e).map_err(|e| ParamError::Internal(e.to_string()))?;
        store.append_event(&line)?;
    }
    Ok(())
}

/// The audit operation of an event of `policy_type`.
pub fn audit_operation(policy_type: &str) -> &'static str {
    match policy_type {
        "Expiration" => "ParameterPolicyExpiration",
        "ExpirationNotification" => "ParameterPolicyExpirationNotification",
        _ => "ParameterPolicyNoChangeNotification",
    }
}
