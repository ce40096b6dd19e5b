//! `--output yaml` and `yaml-stream`: block-style YAML of a JSON value, as the AWS CLI's
//! emitter writes it (sequences in a mapping start at the key's indent). Hand-written: it
//! is small, and the YAML crates are deprecated or carry advisories (docs/ARCHITECTURE.md).
//! A string is written plain when YAML would read it back as the same string, else
//! single-quoted, or double-quoted (JSON escapes) when it holds control characters.

use serde_json::Value;

pub fn render(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(v, 0, &mut out),
        Value::Array(a) if !a.is_empty() => sequence(v, 0, &mut out),
        s => {
            out.push_str(&inline(s));
            out.push('\n');
        }
    }
    out
}

/// A scalar, or an empty collection, on one line.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

fn mapping(v: &Value, indent: usize, out: &mut String) {
    let Value::Object(m) = v else { return };
    let pad = " ".repeat(indent);
    for (i, (k, x)) in m.iter().enumerate() {
        // The first key of a mapping inside a sequence item follows its "- ".
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&pad);
        }
        out.push_str(&string(k));
        out.push(':');
        match x {
            Value::Object(_) if is_block(x) => {
                out.push('\n');
                mapping(x, indent + 2, out);
            }
            Value::Array(_) if is_block(x) => {
                out.push('\n');
                sequence(x, indent, out);
            }
            s => {
                out.push(' ');
                out.push_str(&inline(s));
                out.push('\n');
            }
        }
    }
}

fn sequence(v: &Value, indent: usize, out: &mut String) {
    let Value::Array(a) = v else { return };
    let pad = " ".repeat(indent);
    for x in a {
        if !out.ends_with("- ") {
            out.push_str(&pad);
        }
        out.push_str("- ");
        match x {
            Value::Object(_) if is_block(x) => mapping(x, indent + 2, out),
            Value::Array(_) if is_block(x) => sequence(x, indent + 2, out),
            s => {
                out.push_str(&inline(s));
                out.push('\n');
            }
        }
    }
}

/// A string as a YAML scalar that reads back as itself.
fn string(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        return serde_json::to_string(s).expect("a string serializes");
    }
    if plain_ok(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn plain_ok(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ".inf", ".Inf", ".INF", "-.inf", ".nan", ".NaN", ".NAN",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let numeric = s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '_');
    !(RESERVED.contains(&s)
        || numeric
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first == ' '
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_yaml() {
        let v =
            json!({"Keys":[{"KeyArn":"arn:aws:kms:x","KeyId":"1234"}],"Num":0,"E":[],"S":"a: b"});
        assert_eq!(
            render(&v),
            "E: []\nKeys:\n- KeyArn: arn:aws:kms:x\n  KeyId: '1234'\nNum: 0\nS: 'a: b'\n"
        );
        assert_eq!(
            render(&json!([{"A": {"B": "true"}}])),
            "- A:\n    B: 'true'\n"
        );
        assert_eq!(render(&json!([["x"], "it's"])), "- - x\n- it's\n");
        assert_eq!(render(&json!("l1\nl2")), "\"l1\\nl2\"\n");
        assert_eq!(render(&Value::Null), "null\n");
    }
}
