//! `--output table`: the AWS CLI's boxed table (awscli/formatter.py TableFormatter). The
//! result is a section titled with the operation's name; an object gives a header row of
//! its scalar keys (sorted) over one row of values (a lone scalar key: one `key | value`
//! row), then one nested section per list or object value; a list of objects gives one
//! header row over a row per object. A nested section is framed by one more `|` each side;
//! every section is widened to the widest.

use super::scalar;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

struct Section {
    indent: usize,
    title: String,
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

pub fn render(v: &Value, title: &str) -> String {
    let mut t = Vec::new();
    build(&mut t, Some(title), v, 0);
    if t.iter().all(|s| s.rows.is_empty() && s.header.is_none()) && !is_block(v) {
        // A scalar result (a query's): one row in the titled section.
        if let Some(s) = t.first_mut() {
            s.rows.push(vec![scalar(v).unwrap_or_default()]);
        }
    }
    draw(&t)
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

fn build(t: &mut Vec<Section>, title: Option<&str>, v: &Value, indent: usize) {
    let empty = match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Null => true,
        _ => false,
    };
    if empty && title.is_some() && indent > 0 {
        return;
    }
    if let Some(title) = title {
        t.push(Section {
            indent,
            title: title.to_string(),
            header: None,
            rows: Vec::new(),
        });
    }
    match v {
        Value::Array(a) if a.first().is_some_and(Value::is_object) => {
            from_list(t, a, indent, title.unwrap_or_default())
        }
        Value::Array(a) => {
            for x in a {
                match x {
                    Value::Array(row) if row.iter().all(|c| !is_block(c)) => {
                        push_row(t, row.iter().map(cell).collect())
                    }
                    x if is_block(x) => build(t, None, x, indent),
                    x => push_row(t, vec![cell(x)]),
                }
            }
        }
        Value::Object(m) => from_object(t, m, indent),
        _ => {}
    }
}

fn cell(v: &Value) -> String {
    scalar(v).unwrap_or_default()
}

fn push_row(t: &mut [Section], row: Vec<String>) {
    if let Some(s) = t.last_mut() {
        s.rows.push(row);
    }
}

/// Scalar keys and the others, each sorted.
fn split(m: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let (s, o): (Vec<_>, Vec<_>) = m.iter().partition(|(_, v)| !is_block(v));
    (
        s.into_iter().map(|(k, _)| k.clone()).collect(),
        o.into_iter().map(|(k, _)| k.clone()).collect(),
    )
}

fn from_object(t: &mut Vec<Section>, m: &Map<String, Value>, indent: usize) {
    let (headers, more) = split(m);
    if headers.len() == 1 {
        push_row(t, vec![headers[0].clone(), cell(&m[&headers[0]])]);
    } else if !headers.is_empty() {
        let row = headers.iter().map(|k| cell(&m[k])).collect();
        if let Some(s) = t.last_mut() {
            s.header = Some(headers);
        }
        push_row(t, row);
    }
    for k in more {
        build(t, Some(&k), &m[&k], indent + 1);
    }
}

fn from_list(t: &mut Vec<Section>, a: &[Value], indent: usize, title: &str) {
    let mut headers = BTreeSet::new();
    let mut more = BTreeSet::new();
    for m in a.iter().filter_map(Value::as_object) {
        let (h, o) = split(m);
        headers.extend(h);
        more.extend(o);
    }
    let headers: Vec<String> = headers.into_iter().collect();
    for (i, x) in a.iter().enumerate() {
        let Some(m) = x.as_object() else { continue };
        if i > 0 && !more.is_empty() {
            t.push(Section {
                indent,
                title: title.to_string(),
                header: None,
                rows: Vec::new(),
            });
        }
        if let Some(s) = t.last_mut()
            && s.header.is_none()
        {
            s.header = Some(headers.clone());
        }
        push_row(
            t,
            headers
                .iter()
                .map(|k| m.get(k).map(cell).unwrap_or_default())
                .collect(),
        );
        for k in more.iter().filter(|k| m.contains_key(*k)) {
            build(t, Some(k), &m[k], indent + 1);
        }
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Column widths of a section (each cell padded by two spaces each side), widened to `inner`.
fn columns(s: &Section, inner: usize) -> Vec<usize> {
    let n = s
        .header
        .as_ref()
        .map_or(0, Vec::len)
        .max(s.rows.iter().map(Vec::len).max().unwrap_or(0));
    if n == 0 {
        return Vec::new();
    }
    let mut w = vec![0; n];
    for row in s.header.iter().chain(s.rows.iter()) {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(width(c) + 4);
        }
    }
    let natural = w.iter().sum::<usize>() + n - 1;
    if inner > natural {
        let extra = inner - natural;
        let total: usize = w.iter().sum();
        let mut given = 0;
        for x in w.iter_mut() {
            let add = extra * *x / total;
            *x += add;
            given += add;
        }
        w[n - 1] += extra - given;
    }
    w
}

fn natural_width(s: &Section) -> usize {
    let cols = columns(s, 0);
    let body = if cols.is_empty() {
        0
    } else {
        cols.iter().sum::<usize>() + cols.len() - 1
    };
    body.max(width(&s.title) + 4) + 2 + 2 * s.indent
}

fn center(s: &str, w: usize) -> String {
    let left = (w.saturating_sub(width(s))) / 2;
    let right = w.saturating_sub(width(s) + left);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(right))
}

fn draw(t: &[Section]) -> String {
    let total = t.iter().map(natural_width).max().unwrap_or(0);
    let mut out = Vec::new();
    for s in t {
        let side = "|".repeat(s.indent);
        let inner = total - 2 - 2 * s.indent;
        let cols = columns(s, inner);
        let line = |l: &str, r: &str, body: String| format!("{side}{l}{body}{r}{side}");
        let rule = |joints: bool| {
            let body = if joints && !cols.is_empty() {
                cols.iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("+")
            } else {
                "-".repeat(inner)
            };
            line("+", "+", body)
        };
        let row = |cells: &[String], centered: bool| {
            let body = cols
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let c = cells.get(i).map_or("", String::as_str);
                    if centered {
                        center(c, *w)
                    } else {
                        format!("  {c}{}", " ".repeat(w.saturating_sub(width(c) + 2)))
                    }
                })
                .collect::<Vec<_>>()
                .join("|");
            line("|", "|", body)
        };
        if s.indent == 0 {
            out.push("-".repeat(total));
        }
        out.push(line("|", "|", center(&s.title, inner)));
        out.push(rule(true));
        if let Some(h) = &s.header {
            out.push(row(h, true));
            out.push(rule(true));
        }
        for r in &s.rows {
            out.push(row(r, false));
        }
        if !s.rows.is_empty() {
            out.push(rule(true));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boxed_table() {
        let v = json!({"Keys":[{"KeyArn":"arn:k/1","KeyId":"1"}]});
        let t = render(&v, "ListKeys");
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].chars().all(|c| c == '-'), "{t}");
        assert!(
            lines[1].starts_with('|') && lines[1].contains("ListKeys"),
            "{t}"
        );
        assert!(
            lines[3].starts_with("||") && lines[3].contains("Keys"),
            "{t}"
        );
        assert!(lines.iter().any(|l| l.starts_with("||  arn:k/1")), "{t}");
        let w = lines[0].len();
        assert!(lines.iter().all(|l| l.chars().count() == w), "{t}");
    }
}
