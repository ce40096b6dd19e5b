//! `--output text`, the AWS CLI's rules (awscli/text.py): an object prints its scalars
//! tab-separated in key order (prefixed by its key, upper-cased, when nested), then its
//! lists and objects; a list of objects prints one row each with the union of their scalar
//! keys (a missing one is an empty column, so columns never shift); a list of scalars
//! prints on one line (nested: one `KEY\tvalue` line each).

use super::scalar;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub fn render(v: &Value) -> String {
    let mut out = Vec::new();
    item(v, None, None, &mut out);
    out.join("\n")
}

fn item(v: &Value, id: Option<&str>, keys: Option<&[String]>, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => object(m, id, keys, out),
        Value::Array(a) => list(a, id, out),
        s => out.push(scalar(s).unwrap_or_default()),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn list(a: &[Value], id: Option<&str>, out: &mut Vec<String>) {
    if a.is_empty() {
        return;
    }
    if a.iter().any(Value::is_object) {
        let keys: BTreeSet<String> = a
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| {
                m.iter()
                    .filter(|(_, v)| is_scalar(v))
                    .map(|(k, _)| k.clone())
            })
            .collect();
        let keys: Vec<String> = keys.into_iter().collect();
        for x in a {
            item(x, id, Some(&keys), out);
        }
    } else if a.iter().any(Value::is_array) {
        let scalars: Vec<&Value> = a.iter().filter(|x| is_scalar(x)).collect();
        if !scalars.is_empty() {
            scalar_list(&scalars, id, out);
        }
        for x in a.iter().filter(|x| !is_scalar(x)) {
            item(x, id, None, out);
        }
    } else {
        scalar_list(&a.iter().collect::<Vec<_>>(), id, out);
    }
}

fn scalar_list(a: &[&Value], id: Option<&str>, out: &mut Vec<String>) {
    let s = |v: &&Value| scalar(v).unwrap_or_default();
    match id {
        Some(id) => out.extend(a.iter().map(|v| format!("{}\t{}", id.to_uppercase(), s(v)))),
        None => out.push(a.iter().map(s).collect::<Vec<_>>().join("\t")),
    }
}

fn object(
    m: &Map<String, Value>,
    id: Option<&str>,
    keys: Option<&[String]>,
    out: &mut Vec<String>,
) {
    let (mut cols, rest): (Vec<String>, Vec<(&String, &Value)>) = match keys {
        None => (
            m.values().filter_map(scalar).collect(),
            m.iter().filter(|(_, v)| !is_scalar(v)).collect(),
        ),
        Some(keys) => (
            keys.iter()
                .map(|k| m.get(k).and_then(scalar).unwrap_or_default())
                .collect(),
            m.iter().filter(|(k, _)| !keys.contains(k)).collect(),
        ),
    };
    if !cols.is_empty() {
        if let Some(id) = id {
            cols.insert(0, id.to_uppercase());
        }
        out.push(cols.join("\t"));
    }
    for (k, v) in rest {
        item(v, Some(k), None, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aws_text_rules() {
        let v = json!({"CiphertextBlob":"QUJD","KeyId":"arn"});
        assert_eq!(render(&v), "QUJD\tarn");
        assert_eq!(render(&json!(["a", "b"])), "a\tb");
        // Rows of a list share the union of scalar keys: a missing one is an empty column.
        let v = json!({"Volumes":[{"A":"1","B":"2"},{"A":"3","M":"/mnt","B":"4"}]});
        assert_eq!(render(&v), "VOLUMES\t1\t2\t\nVOLUMES\t3\t4\t/mnt");
        let v = json!({"K":{"Tags":["x","y"],"N":true}});
        assert_eq!(render(&v), "K\tTrue\nTAGS\tx\nTAGS\ty");
    }
}
