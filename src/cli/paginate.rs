//! The AWS CLI's pagination of list verbs: every page is fetched and the lists joined
//! (`Truncated`/`NextMarker`, or `NextToken`, dropped), unless `--no-paginate` or the raw `--limit`/`--marker`
//! ask for one page; `--page-size` is the `Limit` of each call; `--max-items` stops after
//! that many items and prints a `NextToken` that `--starting-token` resumes from (the AWS
//! CLI's token: base64 of `{"Marker": ..., "boto_truncate_amount": n}`).

use super::error::{CliError, OrFail, exit};
use base64::Engine;
use serde_json::{Map, Value, json};

/// The AWS CLI's pagination flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct PageArgs {
    /// Print at most this many items in all (then a NextToken to resume from).
    #[arg(long)]
    pub max_items: Option<usize>,
    /// The NextToken printed by a previous --max-items run.
    #[arg(long)]
    pub starting_token: Option<String>,
    /// Items per call to the service (each page); all pages are still fetched.
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Fetch one page only, and print its Truncated and NextMarker.
    #[arg(long)]
    pub no_paginate: bool,
}

/// Where a token resumes: the page's marker and how many of its items were printed.
struct Token {
    marker: Option<String>,
    skip: usize,
}

fn decode(t: &str) -> Result<Token, CliError> {
    let bad = || {
        CliError::new(
            "pagination failed",
            format!("--starting-token {t} is not a NextToken of kmsfs"),
            exit::USAGE,
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok(Token {
        marker: v["Marker"].as_str().map(str::to_string),
        skip: v["boto_truncate_amount"].as_u64().unwrap_or(0) as usize,
    })
}

fn encode(marker: Option<&str>, skip: usize) -> String {
    let v = json!({ "Marker": marker, "boto_truncate_amount": skip });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// The raw `--max-results`/`--next-token` of a list verb, as [`pages`] takes them (either
/// asks for one page).
pub(crate) fn one_page(
    max_results: &Option<i64>,
    next_token: &Option<String>,
) -> (Option<u32>, Option<String>) {
    let n = max_results.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32);
    (n, next_token.clone())
}

/// Take a page's continuation out of it: KMS pages by NextMarker and Truncated; Secrets
/// Manager and SSM by NextToken alone.
fn next_of(m: &mut Map<String, Value>) -> (Option<String>, bool) {
    let take = |m: &mut Map<String, Value>, k: &str| {
        m.remove(k).and_then(|v| v.as_str().map(str::to_string))
    };
    if m.contains_key("Truncated") || m.contains_key("NextMarker") {
        let next = take(m, "NextMarker");
        let truncated = m
            .remove("Truncated")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        (next, truncated)
    } else {
        let next = take(m, "NextToken");
        let more = next.is_some();
        (next, more)
    }
}

/// Run a list verb: `call(limit, marker)` fetches one page (`limit`/`marker` the raw flags
/// when `raw` is set). The pages' list member (the first array) is joined.
pub(crate) fn pages<T, E, F>(
    what: &str,
    p: &PageArgs,
    raw: (Option<u32>, Option<String>),
    call: F,
) -> Result<Value, CliError>
where
    T: serde::Serialize,
    E: super::error::Failure,
    F: Fn(Option<u32>, Option<String>) -> Result<T, E>,
{
    let page = |limit, marker| -> Result<Map<String, Value>, CliError> {
        let v = serde_json::to_value(call(limit, marker).or_fail(what)?)
            .map_err(|e| CliError::new(what, e.to_string(), exit::INTERNAL))?;
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(CliError::new(
                what,
                "a list reply is not an object",
                exit::INTERNAL,
            )),
        }
    };
    if p.no_paginate || raw.0.is_some() || raw.1.is_some() {
        return page(raw.0.or(p.page_size), raw.1).map(Value::Object);
    }
    let start = p.starting_token.as_deref().map(decode).transpose()?;
    let (mut marker, mut skip) = start.map_or((None, 0), |t| (t.marker, t.skip));
    let mut out: Option<Map<String, Value>> = None;
    let mut items: Vec<Value> = Vec::new();
    let mut key = String::new();
    loop {
        let mut m = page(p.page_size, marker.clone())?;
        let (next, truncated) = next_of(&mut m);
        if key.is_empty() {
            key = m
                .iter()
                .find(|(_, v)| v.is_array())
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
        }
        let got: Vec<Value> = match m.get_mut(&key) {
            Some(Value::Array(a)) => std::mem::take(a),
            _ => Vec::new(),
        };
        for (i, v) in got.into_iter().enumerate().skip(skip) {
            if p.max_items.is_some_and(|n| items.len() >= n) {
                let mut m = out.unwrap_or(m);
                m.insert(key.clone(), Value::Array(items));
                m.insert(
                    "NextToken".into(),
                    Value::String(encode(marker.as_deref(), i)),
                );
                return Ok(Value::Object(m));
            }
            items.push(v);
        }
        skip = 0;
        if out.is_none() {
            out = Some(m);
        }
        match next {
            Some(n) if truncated => marker = Some(n),
            _ => break,
        }
    }
    let mut m = out.unwrap_or_default();
    if !key.is_empty() {
        m.insert(key, Value::Array(items));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Never;
    impl super::super::error::Failure for Never {
        fn failure(self, what: &str) -> CliError {
            CliError::new(what, "never", 1)
        }
    }

    /// 7 keys served 3 at a time (or `limit`).
    fn keys(limit: Option<u32>, marker: Option<String>) -> Result<Value, Never> {
        let from: usize = marker.map_or(0, |m| m.parse().unwrap());
        let n = limit.unwrap_or(3) as usize;
        let to = (from + n).min(7);
        let page: Vec<Value> = (from..to)
            .map(|i| json!({ "KeyId": format!("k{i}") }))
            .collect();
        let mut v = json!({ "Keys": page, "Truncated": to < 7 });
        if to < 7 {
            v["NextMarker"] = json!(to.to_string());
        }
        Ok(v)
    }

    fn ids(v: &Value) -> Vec<String> {
        v["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["KeyId"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_page_is_joined() {
        let v = pages("t", &PageArgs::default(), (None, None), keys).unwrap();
        assert_eq!(ids(&v).len(), 7);
        assert!(
            v.get("Truncated").is_none() && v.get("NextMarker").is_none(),
            "{v}"
        );
        let small = PageArgs {
            page_size: Some(1),
            ..Default::default()
        };
        assert_eq!(
            ids(&pages("t", &small, (None, None), keys).unwrap()).len(),
            7
        );
    }

    #[test]
    fn max_items_and_starting_token_resume_where_they_stopped() {
        let mut p = PageArgs {
            max_items: Some(4),
            ..Default::default()
        };
        let v = pages("t", &p, (None, None), keys).unwrap();
        assert_eq!(ids(&v), ["k0", "k1", "k2", "k3"]);
        p.starting_token = Some(v["NextToken"].as_str().unwrap().to_string());
        let v = pages("t", &p, (None, None), keys).unwrap();
        assert_eq!(ids(&v), ["k4", "k5", "k6"]);
        assert!(v.get("NextToken").is_none());
        p.starting_token = Some("!!".into());
        assert!(pages("t", &p, (None, None), keys).is_err());
    }

    /// 5 secrets served 2 at a time, paged by NextToken.
    fn secrets(limit: Option<u32>, token: Option<String>) -> Result<Value, Never> {
        let from: usize = token.map_or(0, |m| m.parse().unwrap());
        let to = (from + limit.unwrap_or(2) as usize).min(5);
        let page: Vec<Value> = (from..to)
            .map(|i| json!({ "Name": format!("s{i}") }))
            .collect();
        let mut v = json!({ "SecretList": page });
        if to < 5 {
            v["NextToken"] = json!(to.to_string());
        }
        Ok(v)
    }

    #[test]
    fn next_token_pages_too() {
        let v = pages("t", &PageArgs::default(), (None, None), secrets).unwrap();
        assert_eq!(v["SecretList"].as_array().unwrap().len(), 5);
        assert!(v.get("NextToken").is_none(), "{v}");
        let p = PageArgs {
            max_items: Some(3),
            ..Default::default()
        };
        let v = pages("t", &p, (None, None), secrets).unwrap();
        assert_eq!(v["SecretList"].as_array().unwrap().len(), 3);
        let p = PageArgs {
            starting_token: v["NextToken"].as_str().map(str::to_string),
            ..Default::default()
        };
        let v = pages("t", &p, (None, None), secrets).unwrap();
        assert_eq!(v["SecretList"][0]["Name"], "s3");
    }

    #[test]
    fn one_page_when_asked() {
        let p = PageArgs {
            no_paginate: true,
            ..Default::default()
        };
        let v = pages("t", &p, (None, None), keys).unwrap();
        assert_eq!((ids(&v).len(), v["Truncated"].as_bool()), (3, Some(true)));
        let v = pages("t", &PageArgs::default(), (Some(2), Some("5".into())), keys).unwrap();
        assert_eq!(ids(&v), ["k5", "k6"]);
    }
}
