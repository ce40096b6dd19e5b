//! Printing results as the AWS CLI does: `--query` (JMESPath, compiled before the command
//! acts) narrows the result, then `--output` renders it: JSON (4-space indent), text
//! (tab-separated, [`text`]), table (boxed, [`table`]), YAML or a YAML stream ([`yaml`]).
//! Writing to a closed stdout pipe ends quietly, as `cat` does ([`write_stdout`]).

mod table;
mod text;
mod yaml;

use super::{CliError, Format};
use jmespath::{Expression, Rcvar, Variable};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

pub struct Printer {
    pub format: Format,
    /// The `--query` text as given.
    #[allow(dead_code)]
    pub query: Option<String>,
    /// `--query` compiled (when given).
    expr: Option<Expression<'static>>,
    /// The operation's name (`ListKeys`): the title of `--output table`.
    title: String,
}

impl Printer {
    /// A printer for `--output format` and `--query query`; a query that is not JMESPath
    /// fails here, as a usage error, before the command does anything.
    pub fn new(format: Format, query: Option<String>, title: &str) -> Result<Printer, CliError> {
        let expr = match &query {
            Some(q) => Some(jmespath::compile(q).map_err(|e| {
                CliError::usage(
                    "bad --query",
                    format!("'{q}' is not a JMESPath expression: {e}"),
                )
                .hint("see https://jmespath.org, e.g. --query 'Keys[].KeyId'")
            })?),
            None => None,
        };
        Ok(Printer {
            format,
            query,
            expr,
            title: title.to_string(),
        })
    }

    pub fn print<T: Serialize>(&self, v: &T) -> Result<(), CliError> {
        let mut v = serde_json::to_value(v)
            .map_err(|e| CliError::new("output failed", e.to_string(), super::exit::INTERNAL))?;
        if matches!(self.format, Format::Text | Format::Table) {
            drop_pagination(&mut v);
        }
        if let Some(expr) = &self.expr {
            v = search(expr, v)?;
        }
        let mut s = render_titled(&v, self.format, &self.title);
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        let r = write_stdout(s.as_bytes());
        // Results may hold plaintext (base64): wipe every copy we made.
        zeroize::Zeroize::zeroize(&mut s);
        wipe(&mut v);
        r.map_err(|e| {
            CliError::new(
                "output failed",
                format!("stdout: {e}"),
                super::exit::INTERNAL,
            )
        })
    }
}

/// The title of a table: the command's last verb in the AWS CLI's operation spelling
/// (`kms list-keys` → `ListKeys`).
pub fn title(m: &clap::ArgMatches) -> String {
    let mut m = m;
    let mut name = "kmsfs";
    while let Some((n, sub)) = m.subcommand() {
        name = n;
        m = sub;
    }
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

/// Write all of `bytes` to stdout and flush; a closed pipe (EPIPE: the reader, e.g. `head`,
/// has gone) is success, as for `cat`.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    quiet_epipe(out.write_all(bytes).and_then(|()| out.flush()))
}

/// A writer (stdout) that, once its reader has gone (EPIPE), discards what follows: the
/// command finishes its work (a decryption still authenticates to the end) and exits as
/// it would, with no "Broken pipe".
pub struct QuietPipe<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> QuietPipe<W> {
    pub fn new(inner: W) -> Self {
        QuietPipe {
            inner,
            closed: false,
        }
    }
}

impl<W: Write> Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        quiet_epipe(self.inner.flush())
    }
}

/// A write result with a closed pipe counted as success.
pub fn quiet_epipe(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// The AWS CLI follows pages and never prints `"Truncated": false`; in text it would be a
/// stray `False` line.
fn drop_pagination(v: &mut Value) {
    if let Value::Object(m) = v
        && m.get("Truncated") == Some(&Value::Bool(false))
    {
        m.remove("Truncated");
    }
}

/// Evaluate `expr` on `v`; nothing matched is `null`, as in the AWS CLI.
fn search(expr: &Expression<'static>, mut v: Value) -> Result<Value, CliError> {
    let fail = |e: jmespath::JmespathError| {
        CliError::usage("bad --query", format!("'{}' failed: {e}", expr.as_str()))
    };
    let data = Variable::try_from(&v).map(Rcvar::new);
    wipe(&mut v);
    let data = data.map_err(fail)?;
    let found = expr.search(&data).map_err(fail);
    let out = found.and_then(|r| {
        serde_json::to_value(&*r)
            .map_err(|e| CliError::new("output failed", e.to_string(), super::exit::INTERNAL))
    });
    wipe_var(data);
    out
}

fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => zeroize::Zeroize::zeroize(s),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Wipe the strings of a JMESPath value no one else holds.
fn wipe_var(v: Rcvar) {
    if let Ok(v) = Rcvar::try_unwrap(v) {
        match v {
            Variable::String(mut s) => zeroize::Zeroize::zeroize(&mut s),
            Variable::Array(a) => a.into_iter().for_each(wipe_var),
            Variable::Object(m) => m.into_values().for_each(wipe_var),
            _ => {}
        }
    }
}

/// Render a value (the table titled `Result`).
pub fn render(v: &Value, format: Format) -> String {
    render_titled(v, format, "Result")
}

fn render_titled(v: &Value, format: Format, title: &str) -> String {
    match format {
        Format::Json => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            v.serialize(&mut ser).expect("JSON value serializes");
            String::from_utf8(buf).expect("JSON is UTF-8")
        }
        Format::Text => text::render(v),
        Format::Table => table::render(v, title),
        Format::Yaml => yaml::render(v),
        Format::YamlStream => yaml::render(&Value::Array(vec![v.clone()])),
    }
}

/// The AWS CLI's rendering of a scalar in text and table output.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(v: &Value, e: &str) -> Value {
        search(&jmespath::compile(e).unwrap(), v.clone()).unwrap()
    }

    #[test]
    fn jmespath_queries() {
        let v = json!({"Keys":[{"KeyId":"a1","Arn":"x"},{"KeyId":"b","Arn":"y"}],"K":{"X":1}});
        assert_eq!(q(&v, "Keys[1].KeyId"), "b");
        assert_eq!(q(&v, "Keys[].KeyId"), json!(["a1", "b"]));
        assert_eq!(q(&v, "Keys[0].[KeyId,Arn]"), json!(["a1", "x"]));
        assert_eq!(q(&v, "Keys[?contains(KeyId,'1')].Arn"), json!(["x"]));
        assert_eq!(q(&v, "K.X"), 1);
        assert_eq!(q(&v, "Nope"), Value::Null);
    }

    #[test]
    fn bad_query_is_a_usage_error() {
        let e = Printer::new(Format::Json, Some("[a,b".into()), "T")
            .err()
            .unwrap();
        assert_eq!(e.code, super::super::exit::USAGE);
    }

    #[test]
    fn closed_pipe_is_success() {
        let e = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(quiet_epipe(Err(e)).is_ok());
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(quiet_epipe(Err(e)).is_err());
    }
}
