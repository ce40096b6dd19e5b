//! Condition operators: `String*`, `Numeric*`, `Date*`, `Bool`, `Null`, `IpAddress`,
//! `Arn*`, with the `ForAnyValue:`/`ForAllValues:` set qualifiers and `...IfExists`.
//! Policy values are parsed once, into the operator's own type.
//!
//! AWS's rules: several values for one key match if any matches (a negated operator: if none
//! does); several keys, or several operators, must all match. A key absent from the request
//! makes a condition false, except a negated operator (true), `...IfExists` (true),
//! `ForAllValues:` (true) and `Null` (which asks exactly that).

use super::PolicyError;
use super::context::{CondKey, RequestContext, Val};
use super::glob::glob_match;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StrEq,
    StrEqIgnoreCase,
    StrLike,
    Num(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQ {
    Single,
    Any,
    All,
}

/// One policy value, in the operator's type.
#[derive(Debug, Clone, PartialEq)]
enum PVal {
    Str(String),
    Num(f64),
    TimeMs(i64),
    Bool(bool),
    Cidr(IpAddr, u8),
}

/// One (operator, key, values) of a statement's Condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    kind: Kind,
    negated: bool,
    set: SetQ,
    if_exists: bool,
    key: CondKey,
    values: Vec<PVal>,
}

/// `(kind, negated)` of an operator name without qualifier or `IfExists`.
fn operator(name: &str) -> Option<(Kind, bool)> {
    use Cmp::*;
    Some(match name {
        "StringEquals" => (Kind::StrEq, false),
        "StringNotEquals" => (Kind::StrEq, true),
        "StringEqualsIgnoreCase" => (Kind::StrEqIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Kind::StrEqIgnoreCase, true),
        "StringLike" => (Kind::StrLike, false),
        "StringNotLike" => (Kind::StrLike, true),
        "NumericEquals" => (Kind::Num(Eq), false),
        "NumericNotEquals" => (Kind::Num(Eq), true),
        "NumericLessThan" => (Kind::Num(Lt), false),
        "NumericLessThanEquals" => (Kind::Num(Le), false),
        "NumericGreaterThan" => (Kind::Num(Gt), false),
        "NumericGreaterThanEquals" => (Kind::Num(Ge), false),
        "DateEquals" => (Kind::Date(Eq), false),
        "DateNotEquals" => (Kind::Date(Eq), true),
        "DateLessThan" => (Kind::Date(Lt), false),
        "DateLessThanEquals" => (Kind::Date(Le), false),
        "DateGreaterThan" => (Kind::Date(Gt), false),
        "DateGreaterThanEquals" => (Kind::Date(Ge), false),
        "Bool" => (Kind::Bool, false),
        "IpAddress" => (Kind::Ip, false),
        "NotIpAddress" => (Kind::Ip, true),
        "ArnEquals" | "ArnLike" => (Kind::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Kind::Arn, true),
        "Null" => (Kind::Null, false),
        _ => return None,
    })
}

impl Condition {
    /// Compile `"Operator": {"key": value-or-list, ...}` into one condition per key.
    pub(crate) fn parse(
        op: &str,
        body: &serde_json::Value,
        out: &mut Vec<Condition>,
    ) -> Result<(), PolicyError> {
        let unknown = || PolicyError::malformed(format!("Unknown condition operator: {op}"));
        let (set, rest) = if let Some(r) = op.strip_prefix("ForAnyValue:") {
            (SetQ::Any, r)
        } else if let Some(r) = op.strip_prefix("ForAllValues:") {
            (SetQ::All, r)
        } else {
            (SetQ::Single, op)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let (kind, negated) = operator(base).ok_or_else(unknown)?;
        if kind == Kind::Null && (if_exists || set != SetQ::Single) {
            return Err(unknown());
        }
        let map = body.as_object().ok_or_else(|| {
            PolicyError::malformed(format!(
                "The condition operator {op} must map condition keys to values"
            ))
        })?;
        for (key, v) in map {
            let raw = scalar_list(v).ok_or_else(|| {
                PolicyError::malformed(format!(
                    "The value of condition key {key} must be a string, number, boolean or a list of them"
                ))
            })?;
            let values = raw
                .iter()
                .map(|s| parse_value(kind, s, op, key))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Condition {
                kind,
                negated,
                set,
                if_exists,
                key: CondKey::parse(key),
                values,
            });
        }
        Ok(())
    }

    /// Whether the request satisfies this condition.
    pub(crate) fn holds(&self, ctx: &RequestContext<'_>) -> bool {
        let vals = ctx.values(&self.key);
        if self.kind == Kind::Null {
            let absent = vals.is_none();
            return (self.values.iter()).any(|v| matches!(v, PVal::Bool(b) if *b == absent));
        }
        let Some(mut vals) = vals else {
            return self.if_exists || self.negated || self.set == SetQ::All;
        };
        let test = |v: Val<'_>| self.any_value_matches(v) != self.negated;
        match self.set {
            SetQ::All => vals.all(test),
            SetQ::Single | SetQ::Any => vals.any(test),
        }
    }

    fn any_value_matches(&self, v: Val<'_>) -> bool {
        self.values.iter().any(|p| matches_one(self.kind, p, v))
    }
}

fn matches_one(kind: Kind, p: &PVal, v: Val<'_>) -> bool {
    match (kind, p, v) {
        (Kind::StrEq, PVal::Str(p), Val::Str(s)) => p == s,
        (Kind::StrEqIgnoreCase, PVal::Str(p), Val::Str(s)) => {
            s.chars().flat_map(char::to_lowercase).eq(p.chars())
        }
        (Kind::StrLike | Kind::Arn, PVal::Str(p), Val::Str(s)) => glob_match(p, s, false),
        (Kind::StrEq | Kind::StrLike, PVal::Str(p), Val::Bool(b)) => p == bool_str(b),
        (Kind::Bool, PVal::Bool(p), Val::Bool(b)) => *p == b,
        (Kind::Bool, PVal::Bool(p), Val::Str(s)) => s.eq_ignore_ascii_case(bool_str(*p)),
        (Kind::Num(c), PVal::Num(p), Val::Str(s)) => {
            s.parse::<f64>().is_ok_and(|x| compare(c, x.partial_cmp(p)))
        }
        (Kind::Num(c), PVal::Num(p), Val::TimeMs(t)) => {
            compare(c, (t as f64 / 1000.0).partial_cmp(p))
        }
        (Kind::Date(c), PVal::TimeMs(p), Val::TimeMs(t)) => compare(c, Some(t.cmp(p))),
        (Kind::Date(c), PVal::TimeMs(p), Val::Str(s)) => {
            parse_time_ms(s).is_some_and(|t| compare(c, Some(t.cmp(p))))
        }
        (Kind::Ip, PVal::Cidr(net, bits), Val::Ip(ip)) => in_cidr(ip, *net, *bits),
        (Kind::Ip, PVal::Cidr(net, bits), Val::Str(s)) => {
            s.parse().is_ok_and(|ip| in_cidr(ip, *net, *bits))
        }
        _ => false,
    }
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn compare(c: Cmp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (c, o),
        (Cmp::Eq, Some(Equal))
            | (Cmp::Lt, Some(Less))
            | (Cmp::Le, Some(Less | Equal))
            | (Cmp::Gt, Some(Greater))
            | (Cmp::Ge, Some(Greater | Equal))
    )
}

/// A JSON scalar or list of scalars, as strings (AWS accepts `true` and `"true"` alike).
fn scalar_list(v: &serde_json::Value) -> Option<Vec<String>> {
    use serde_json::Value as J;
    let one = |v: &J| match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        J::Array(a) => a.iter().map(one).collect(),
        _ => one(v).map(|s| vec![s]),
    }
}

fn parse_value(kind: Kind, s: &str, op: &str, key: &str) -> Result<PVal, PolicyError> {
    let bad = |what: &str| {
        PolicyError::malformed(format!(
            "The value {s:?} of condition key {key} is not {what} (operator {op})"
        ))
    };
    Ok(match kind {
        Kind::StrEq | Kind::StrLike | Kind::Arn => PVal::Str(s.to_string()),
        Kind::StrEqIgnoreCase => PVal::Str(s.to_lowercase()),
        Kind::Num(_) => PVal::Num(s.parse().map_err(|_| bad("a number"))?),
        Kind::Date(_) => PVal::TimeMs(parse_time_ms(s).ok_or_else(|| bad("a date"))?),
        Kind::Bool | Kind::Null => match s.to_ascii_lowercase().as_str() {
            "true" => PVal::Bool(true),
            "false" => PVal::Bool(false),
            _ => return Err(bad("true or false")),
        },
        Kind::Ip => {
            let (ip, bits) = parse_cidr(s).ok_or_else(|| bad("an IP address or CIDR block"))?;
            PVal::Cidr(ip, bits)
        }
    })
}

/// An ISO 8601 / RFC 3339 time (`2026-01-01T00:00:00Z`, `...T00:00:00.5+02:00`, or a date
/// alone, midnight UTC) or epoch seconds, in milliseconds since the epoch.
fn parse_time_ms(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        (t.bytes().all(|c| c.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        ms = frac[..n.min(3)].parse::<i64>().ok()? * 10_i64.pow(3 - n.min(3) as u32);
        rest = &frac[n..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (
                rest[1..3].parse::<i64>().ok()?,
                rest[4..6].parse::<i64>().ok()?,
            );
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, b)) => (ip.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let mask = |n: u32, bits: u8| -> u128 {
        if bits == 0 {
            0
        } else {
            u128::MAX << (n - u32::from(bits))
        }
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = mask(32, bits) as u32;
            u32::from(a) & m == u32::from(b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = mask(128, bits);
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_time() {
        let (n, b) = parse_cidr("203.0.113.0/24").unwrap();
        assert!(in_cidr("203.0.113.9".parse().unwrap(), n, b));
        assert!(!in_cidr("203.0.114.9".parse().unwrap(), n, b));
        assert!(parse_cidr("1.2.3.4/33").is_none());
        assert_eq!(parse_time_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time_ms("86400"), Some(86_400_000));
        assert_eq!(
            parse_time_ms("2031-01-01T00:00:00Z"),
            Some(1_924_992_000_000)
        );
        assert_eq!(
            parse_time_ms("2031-01-01T02:00:00.25+02:00"),
            Some(1_924_992_000_250)
        );
        assert_eq!(parse_time_ms("2031-13-01"), None);
        assert_eq!(parse_time_ms("next year"), None);
    }
}
