//! The AWS CLI's forms of structure and list arguments: JSON (`{"Name":"encrypted",...}`,
//! `[{...}]`, `file://PATH`) or its shorthand syntax (`Name=encrypted,Values=true,false`,
//! `ResourceType=volume,Tags=[{Key=a,Value=b}]`, `Objects=[{Key=a},{Key=b}],Quiet=true`),
//! parsed into JSON values for `ec2`/`s3api` verbs. Shorthand scalars stay strings: the verb
//! reads them as the model's type.

use super::error::CliError;
use serde_json::{Map, Value};

/// One structure argument (`--tag-specifications X`, `--delete X`): JSON or shorthand.
pub fn structure(arg: &str, flag: &str) -> Result<Value, CliError> {
    let text = file_or_literal(arg, flag)?;
    let t = text.trim();
    if t.starts_with('{') || t.starts_with('[') {
        return serde_json::from_str(t)
            .map_err(|e| CliError::usage(format!("bad {flag}"), format!("not JSON ({e})")));
    }
    let mut p = Parser {
        s: t.chars().collect(),
        i: 0,
    };
    let v = p.hash(None).map_err(|why| {
        CliError::usage(format!("bad {flag}"), format!("'{t}': {why}"))
            .hint("use the AWS CLI's shorthand (Key=value,List=[{K=v}]) or JSON")
    })?;
    Ok(Value::Object(v))
}

/// A list-of-structures argument given as several values (`--filters A B`) or one JSON
/// list: the structures.
pub fn structures(args: &[String], flag: &str) -> Result<Vec<Value>, CliError> {
    let mut out = Vec::new();
    for a in args {
        match structure(a, flag)? {
            Value::Array(items) => out.extend(items),
            v => out.push(v),
        }
    }
    Ok(out)
}

/// A value's strings: a string is one, a list gives its strings (numbers and booleans as
/// written), anything else none.
pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        _ => vec![],
    }
}

fn file_or_literal(arg: &str, flag: &str) -> Result<String, CliError> {
    match arg.strip_prefix("file://") {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::usage(format!("cannot read {flag}"), format!("{p}: {e}"))),
        None => Ok(arg.to_string()),
    }
}

struct Parser {
    s: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "expected '{c}' at '{x}' (character {})",
                self.i + 1
            )),
            None => Err(format!("expected '{c}' at the end")),
        }
    }

    /// `k=v,k2=v2` up to `close` (or the end); a bare value after a scalar continues
    /// that key as a list (`Values=a,b`).
    fn hash(&mut self, close: Option<char>) -> Result<Map<String, Value>, String> {
        let mut m = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == close {
                return Ok(m);
            }
            let key = self.word(&['='])?;
            if key.is_empty() {
                return Err(format!("a key is missing (character {})", self.i + 1));
            }
            self.expect('=')?;
            let mut v = self.value(close.is_some())?;
            while self.peek() == Some(',') && self.continues_list() {
                self.i += 1;
                let next = self.value(close.is_some())?;
                v = match v {
                    Value::Array(mut a) if !matches!(next, Value::Array(_)) => {
                        a.push(next);
                        Value::Array(a)
                    }
                    first => Value::Array(vec![first, next]),
                };
            }
            m.insert(key.trim().to_string(), v);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.i += 1,
                c if c == close => return Ok(m),
                Some(c) => return Err(format!("unexpected '{c}' (character {})", self.i + 1)),
                None => return Err("unexpected end".into()),
            }
        }
    }

    /// After a `,`: whether what follows is a bare value (no `=` before the next `,`).
    fn continues_list(&self) -> bool {
        let mut j = self.i + 1;
        let mut quote = None;
        while let Some(&c) = self.s.get(j) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '=') => return false,
                (None, ',' | ']' | '}') => return true,
                _ => {}
            }
            j += 1;
        }
        true
    }

    fn value(&mut self, nested: bool) -> Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            Some('[') => {
                self.i += 1;
                let v = self.list()?;
                self.expect(']')?;
                Ok(v)
            }
            Some('{') => {
                self.i += 1;
                let m = self.hash(Some('}'))?;
                self.expect('}')?;
                Ok(Value::Object(m))
            }
            _ => {
                let stops: &[char] = if nested { &[',', ']', '}'] } else { &[','] };
                Ok(Value::String(self.word(stops)?.trim().to_string()))
            }
        }
    }

    fn list(&mut self) -> Result<Value, String> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(']') {
                return Ok(Value::Array(items));
            }
            items.push(self.value(true)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(']') => return Ok(Value::Array(items)),
                Some(c) => return Err(format!("unexpected '{c}' (character {})", self.i + 1)),
                None => return Err("a list is not closed with ']'".into()),
            }
        }
    }

    /// Characters up to one of `stops` (quotes keep them).
    fn word(&mut self, stops: &[char]) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stops.contains(&c) {
                break;
            }
            self.i += 1;
            if c == '\'' || c == '"' {
                loop {
                    match self.peek() {
                        Some(x) if x == c => break,
                        Some(x) => out.push(x),
                        None => return Err("a quote is not closed".into()),
                    }
                    self.i += 1;
                }
                self.i += 1;
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(s: &str) -> Value {
        structure(s, "--x").unwrap()
    }

    #[test]
    fn shorthand_forms() {
        assert_eq!(
            sh("Name=encrypted,Values=true"),
            json!({"Name":"encrypted","Values":"true"})
        );
        assert_eq!(
            sh("Name=volume-id,Values=vol-1,vol-2"),
            json!({"Name":"volume-id","Values":["vol-1","vol-2"]})
        );
        assert_eq!(
            sh("ResourceType=volume,Tags=[{Key=a,Value=b},{Key=c,Value='x,y'}]"),
            json!({"ResourceType":"volume","Tags":[{"Key":"a","Value":"b"},{"Key":"c","Value":"x,y"}]})
        );
        assert_eq!(
            sh("Objects=[{Key=a},{Key=b}],Quiet=false"),
            json!({"Objects":[{"Key":"a"},{"Key":"b"}],"Quiet":"false"})
        );
        assert_eq!(
            sh("Add=[{UserId=1234}]"),
            json!({"Add":[{"UserId":"1234"}]})
        );
        assert_eq!(
            sh("Name=x,Values=[a,b]"),
            json!({"Name":"x","Values":["a","b"]})
        );
        assert_eq!(sh(r#"{"A":[1]}"#), json!({"A":[1]}));
    }

    #[test]
    fn shorthand_errors() {
        for bad in ["Name", "Tags=[{Key=a}", "=x", "A={B=c"] {
            assert!(structure(bad, "--x").is_err(), "{bad}");
        }
    }

    #[test]
    fn several_and_json_lists() {
        let v = structures(
            &[
                "Name=a,Values=1".into(),
                r#"[{"Name":"b","Values":["2"]}]"#.into(),
            ],
            "--filters",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(strings(&v[1]["Values"]), vec!["2"]);
    }
}
