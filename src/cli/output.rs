//! Printing results: JSON (4-space indent, as the AWS CLI prints) or AWS-CLI-style text,
//! optionally narrowed by `--query`.

use super::{CliError, Format};
use serde::Serialize;
use serde_json::Value;

pub struct Printer {
    pub format: Format,
    pub query: Option<String>,
}

impl Printer {
    pub fn print<T: Serialize>(&self, v: &T) -> Result<(), CliError> {
        let mut v = serde_json::to_value(v)
            .map_err(|e| CliError::new("output failed", e.to_string(), super::exit::INTERNAL))?;
        if let Some(q) = &self.query {
            v = query(&v, q).ok_or_else(|| {
                CliError::usage(
                    "bad --query",
                    format!("'{q}' matches nothing in the result"),
                )
            })?;
        }
        let mut s = render(&v, self.format);
        if !s.is_empty() {
            println!("{s}");
        }
        // Results may hold plaintext (base64): wipe every copy we made.
        zeroize::Zeroize::zeroize(&mut s);
        wipe(&mut v);
        Ok(())
    }
}

fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Render a value.
pub fn render(v: &Value, format: Format) -> String {
    match format {
        Format::Json => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            v.serialize(&mut ser).expect("JSON value serializes");
            String::from_utf8(buf).expect("JSON is UTF-8")
        }
        Format::Text => {
            let mut lines = Vec::new();
            text(v, None, &mut lines);
            lines.join("\n")
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

fn text(v: &Value, name: Option<&str>, out: &mut Vec<String>) {
    let prefix = |mut cols: Vec<String>| {
        if let Some(n) = name {
            cols.insert(0, n.to_uppercase());
        }
        cols.join("\t")
    };
    match v {
        Value::Object(m) => {
            let cols: Vec<String> = m.values().filter_map(scalar).collect();
            if !cols.is_empty() {
                out.push(prefix(cols));
            }
            for (k, child) in m {
                if scalar(child).is_none() {
                    text(child, Some(k), out);
                }
            }
        }
        Value::Array(a) => {
            if a.iter().all(|x| scalar(x).is_some()) {
                if !a.is_empty() {
                    out.push(prefix(a.iter().filter_map(scalar).collect()));
                }
            } else {
                for x in a {
                    text(x, name, out);
                }
            }
        }
        s => out.push(scalar(s).unwrap_or_default()),
    }
}

/// `A.B[2].C` and `A[*].B` paths.
pub fn query(v: &Value, q: &str) -> Option<Value> {
    let mut cur = vec![v.clone()];
    let mut projected = false;
    for seg in q.split('.') {
        let (name, idx) = match seg.find('[') {
            Some(i) => (&seg[..i], Some(seg[i + 1..].trim_end_matches(']'))),
            None => (seg, None),
        };
        let mut next = Vec::new();
        for c in &cur {
            let c = if name.is_empty() {
                c.clone()
            } else {
                c.get(name)?.clone()
            };
            match idx {
                None => next.push(c),
                Some("*") => {
                    projected = true;
                    next.extend(c.as_array()?.iter().cloned());
                }
                Some(i) => next.push(c.as_array()?.get(i.parse::<usize>().ok()?)?.clone()),
            }
        }
        cur = next;
    }
    if projected {
        Some(Value::Array(cur))
    } else {
        cur.into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_paths() {
        let v = serde_json::json!({"Keys":[{"KeyId":"a"},{"KeyId":"b"}],"K":{"X":1}});
        assert_eq!(query(&v, "Keys[1].KeyId").unwrap(), "b");
        assert_eq!(
            query(&v, "Keys[*].KeyId").unwrap(),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(query(&v, "K.X").unwrap(), 1);
        assert!(query(&v, "Nope").is_none());
    }

    #[test]
    fn text_format() {
        let v = serde_json::json!({"CiphertextBlob":"QUJD","KeyId":"arn"});
        assert_eq!(render(&v, Format::Text), "QUJD\tarn");
        assert_eq!(render(&serde_json::json!(["a", "b"]), Format::Text), "a\tb");
    }
}
