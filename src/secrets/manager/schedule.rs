//! Rotation schedules as Secrets Manager takes them (`RotationRules`): `AutomaticallyAfterDays`,
//! or a `ScheduleExpression` (`rate(N days)`, `rate(N hours)`, or a six-field
//! `cron(minutes hours day-of-month month day-of-week year)` as EventBridge writes it), and an
//! optional window `Duration` (`"3h"`). [`validate`] checks them with AWS's messages;
//! [`next_rotation`] says when a secret rotated at a time rotates next.
//!
//! Cron fields take `*`, single values, ranges `a-b`, steps `*/n`, `a/n` and `a-b/n`, lists
//! `a,b`, month names `JAN`-`DEC`, day names `SUN`-`SAT` (1 = Sunday, as AWS), `?` in one of the
//! day fields (exactly one of day-of-month and day-of-week is `?`), and `L` (the last day) in
//! day-of-month. `W` and `#` are refused with a clear message. Times are UTC.

use serde::{Deserialize, Serialize};

/// `RotationRules`, AWS's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRules {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub automatically_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule_expression: Option<String>,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How far ahead a cron schedule is searched (a schedule that matches nothing in it, such as
/// `cron(0 0 31 2 ? *)`, is refused).
const SEARCH_DAYS: i64 = 366 * 8;

/// The schedule `rules` describe.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Schedule {
    Every(i64),
    Cron(Box<Cron>),
}

/// Check `rules` as AWS does: `Err` is the message of AWS's InvalidParameterException.
pub fn validate(rules: &RotationRules) -> Result<(), String> {
    parse(rules).map(|_| ())
}

/// When a secret last rotated (or set up) at `last_ms` rotates next under `rules` (Unix
/// milliseconds, UTC): `last_ms` plus the interval, or the next time the cron expression
/// matches strictly after `last_ms`.
pub fn next_rotation(rules: &RotationRules, last_ms: i64) -> Result<i64, String> {
    match parse(rules)? {
        Schedule::Every(ms) => Ok(last_ms.saturating_add(ms)),
        Schedule::Cron(c) => c
            .next_after(last_ms)
            .ok_or_else(|| "The schedule expression does not match any time.".to_string()),
    }
}

fn parse(rules: &RotationRules) -> Result<Schedule, String> {
    if let Some(d) = &rules.duration {
        parse_duration(d)?;
    }
    match (rules.automatically_after_days, &rules.schedule_expression) {
        (Some(_), Some(_)) => Err(
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression in the same rotation rules."
                .into(),
        ),
        (None, None) => Err(
            "You must specify either AutomaticallyAfterDays or ScheduleExpression in the rotation rules."
                .into(),
        ),
        (Some(days), None) if (1..=1000).contains(&days) => Ok(Schedule::Every(days * DAY_MS)),
        (Some(_), None) => Err(
            "The AutomaticallyAfterDays must be an integer between 1 and 1000.".into(),
        ),
        (None, Some(e)) => parse_expression(e),
    }
}

/// `"3h"`: a rotation window of 1 to 24 hours.
fn parse_duration(d: &str) -> Result<i64, String> {
    let bad =
        || format!("Invalid Duration: {d}. The Duration must be between 1h and 24h, e.g. 3h.");
    let hours: i64 = d
        .strip_suffix('h')
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    if (1..=24).contains(&hours) {
        Ok(hours * HOUR_MS)
    } else {
        Err(bad())
    }
}

fn parse_expression(e: &str) -> Result<Schedule, String> {
    let bad = |why: &str| format!("Invalid ScheduleExpression: {e}. {why}");
    let e = e.trim();
    if let Some(inner) = e.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (n, unit) = (parts.next(), parts.next());
        if parts.next().is_some() {
            return Err(bad("Use rate(N days) or rate(N hours)."));
        }
        let n: i64 = n
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("Use rate(N days) or rate(N hours)."))?;
        return match unit {
            Some("day" | "days") if (1..=1000).contains(&n) => Ok(Schedule::Every(n * DAY_MS)),
            Some("day" | "days") => Err(bad("The rate must be between 1 and 1000 days.")),
            Some("hour" | "hours") if (4..=24 * 1000).contains(&n) => {
                Ok(Schedule::Every(n * HOUR_MS))
            }
            Some("hour" | "hours") => Err(bad("The rate must be at least 4 hours.")),
            _ => Err(bad("Use rate(N days) or rate(N hours).")),
        };
    }
    if let Some(inner) = e.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return Cron::parse(inner)
            .map(|c| Schedule::Cron(Box::new(c)))
            .map_err(|w| bad(&w));
    }
    Err(bad("Use rate(...) or cron(...)."))
}

/// A parsed six-field cron expression: each field a bit set of the values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cron {
    minutes: u64,
    hours: u64,
    /// Days 1-31 (bit n = day n); `None` = `?`.
    dom: Option<u64>,
    /// `L`: the last day of the month.
    last_dom: bool,
    months: u64,
    /// Days of the week, 1 = Sunday ... 7 = Saturday; `None` = `?`.
    dow: Option<u64>,
    /// Years 1970-2199 as offsets from 1970 (bits of a u128 pair: a Vec<bool> is simpler).
    years: Vec<bool>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIRST_YEAR: u32 = 1970;
const LAST_YEAR: u32 = 2199;

impl Cron {
    fn parse(s: &str) -> Result<Cron, String> {
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 6 {
            return Err("A cron expression has six fields: minutes hours day-of-month month day-of-week year.".into());
        }
        let (dom_q, dow_q) = (f[2] == "?", f[4] == "?");
        if dom_q == dow_q {
            return Err("You can't specify both the Day-of-month and Day-of-week fields in the same cron expression. If you specify a value in one of the fields, you must use a ? in the other.".into());
        }
        let last_dom = f[2] == "L";
        let years = field(f[5], FIRST_YEAR, LAST_YEAR, &[], "year")?;
        Ok(Cron {
            minutes: bits(field(f[0], 0, 59, &[], "minutes")?),
            hours: bits(field(f[1], 0, 23, &[], "hours")?),
            dom: (!dom_q && !last_dom)
                .then(|| field(f[2], 1, 31, &[], "day-of-month"))
                .transpose()?
                .map(bits),
            last_dom,
            months: bits(field(f[3], 1, 12, &MONTHS, "month")?),
            dow: (!dow_q)
                .then(|| field(f[4], 1, 7, &DAYS, "day-of-week"))
                .transpose()?
                .map(bits),
            years,
        })
    }

    /// The first minute strictly after `after_ms` the expression matches.
    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let start_min = after_ms.div_euclid(60_000) + 1;
        let first_day = start_min.div_euclid(1440);
        for day in first_day..first_day + SEARCH_DAYS {
            if !self.day_matches(day)? {
                continue;
            }
            let from = if day == first_day {
                start_min.rem_euclid(1440)
            } else {
                0
            };
            for m in from..1440 {
                let (h, mi) = (m / 60, m % 60);
                if self.hours & (1 << h) != 0 && self.minutes & (1 << mi) != 0 {
                    return Some((day * 1440 + m) * 60_000);
                }
            }
        }
        None
    }

    /// Whether the day `day` (days since the epoch) matches; `None` past the last year.
    fn day_matches(&self, day: i64) -> Option<bool> {
        let t = time::OffsetDateTime::from_unix_timestamp(day * 86_400).ok()?;
        let year = u32::try_from(t.year()).ok()?;
        if year > LAST_YEAR {
            return None;
        }
        let ok_year = year >= FIRST_YEAR && self.years[(year - FIRST_YEAR) as usize];
        let month = u8::from(t.month());
        let ok_month = self.months & (1 << month) != 0;
        let d = t.day();
        let ok_day = if self.last_dom {
            d == t.month().length(t.year())
        } else if let Some(dom) = self.dom {
            dom & (1 << d) != 0
        } else {
            // 1 = Sunday.
            let wd = t.weekday().number_from_sunday();
            self.dow.is_some_and(|dow| dow & (1 << wd) != 0)
        };
        Some(ok_year && ok_month && ok_day)
    }
}

fn bits(v: Vec<bool>) -> u64 {
    v.iter()
        .enumerate()
        .filter(|(_, b)| **b)
        .fold(0, |acc, (i, _)| acc | (1u64 << i))
}

/// The values one field allows, indexed by value (so `v[n]` for `n` in `lo..=hi`; for years,
/// offsets from `lo`).
fn field(s: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<Vec<bool>, String> {
    let year = lo == FIRST_YEAR;
    let index = |n: u32| if year { (n - lo) as usize } else { n as usize };
    let mut set = vec![false; index(hi) + 1];
    let bad = |why: &str| format!("The {what} field '{s}' is not valid: {why}.");
    for part in s.split(',') {
        if part.contains(['W', '#']) || (part.contains('L') && !names.is_empty()) {
            return Err(bad("W, # and L are not supported here"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (
                r,
                st.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("a bad step"))?,
            ),
            None => (part, 1),
        };
        let value = |t: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
                return Ok(i as u32 + 1);
            }
            t.parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| bad(&format!("values are {lo} to {hi}")))
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if part.contains('/') => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if a > b {
            return Err(bad("a range runs from low to high"));
        }
        for n in (a..=b).step_by(step as usize) {
            set[index(n)] = true;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(e: &str) -> RotationRules {
        RotationRules {
            schedule_expression: Some(e.into()),
            ..Default::default()
        }
    }

    /// 2026-11-30T14:00:00Z (a Monday).
    const T: i64 = 1_796_047_200_000;

    #[test]
    fn intervals() {
        let days = RotationRules {
            automatically_after_days: Some(30),
            ..Default::default()
        };
        assert_eq!(next_rotation(&days, T).unwrap(), T + 30 * DAY_MS);
        assert_eq!(
            next_rotation(&rules("rate(10 days)"), T).unwrap(),
            T + 10 * DAY_MS
        );
        assert_eq!(
            next_rotation(&rules("rate(4 hours)"), T).unwrap(),
            T + 4 * HOUR_MS
        );
        assert!(validate(&rules("rate(3 hours)")).is_err());
        assert!(validate(&rules("rate(0 days)")).is_err());
        assert!(validate(&rules("rate(5 weeks)")).is_err());
        let both = RotationRules {
            automatically_after_days: Some(1),
            schedule_expression: Some("rate(1 days)".into()),
            duration: None,
        };
        assert!(validate(&both).unwrap_err().contains("both"));
        assert!(validate(&RotationRules::default()).is_err());
        let bad_days = RotationRules {
            automatically_after_days: Some(1001),
            ..Default::default()
        };
        assert!(validate(&bad_days).is_err());
        let mut w = rules("rate(1 days)");
        w.duration = Some("3h".into());
        assert!(validate(&w).is_ok());
        w.duration = Some("25h".into());
        assert!(validate(&w).is_err());
    }

    #[test]
    fn cron_expressions() {
        // 16:00 on the 1st and 15th of every month.
        let n = next_rotation(&rules("cron(0 16 1,15 * ? *)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(n), "2026-12-01T16:00:00.000Z");
        // Every Monday at 10:00: the Monday of T is past 10:00, so the next one.
        let n = next_rotation(&rules("cron(0 10 ? * MON *)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(n), "2026-12-07T10:00:00.000Z");
        // Same day, later hour.
        let n = next_rotation(&rules("cron(30 18 ? * 2 *)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(n), "2026-11-30T18:30:00.000Z");
        // The last day of the month.
        let n = next_rotation(&rules("cron(0 0 L * ? *)"), T).unwrap();
        assert_eq!(
            crate::timefmt::rfc3339(n),
            "2026-11-30T00:00:00.000Z".replace("11-30", "12-31")
        );
        // Steps and ranges.
        let n = next_rotation(&rules("cron(0 */6 ? * MON-FRI *)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(n), "2026-11-30T18:00:00.000Z");
        // Strictly after.
        let at = next_rotation(&rules("cron(0 14 ? * MON *)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(at), "2026-12-07T14:00:00.000Z");
        // A year field.
        let n = next_rotation(&rules("cron(0 0 1 JAN ? 2030)"), T).unwrap();
        assert_eq!(crate::timefmt::rfc3339(n), "2030-01-01T00:00:00.000Z");
    }

    #[test]
    fn bad_cron_expressions() {
        for e in [
            "cron(0 16 1 * MON *)",
            "cron(0 16 ? * ? *)",
            "cron(0 16 1 * ?)",
            "cron(60 16 1 * ? *)",
            "cron(0 24 1 * ? *)",
            "cron(0 16 32 * ? *)",
            "cron(0 16 1W * ? *)",
            "cron(0 16 ? * MON#2 *)",
            "cron(0 16 5-1 * ? *)",
            "cron(0 16 */0 * ? *)",
            "cron(0 0 31 2 ? *)",
            "cron(0 0 1 1 ? 1969)",
            "every day",
        ] {
            assert!(next_rotation(&rules(e), T).is_err(), "{e} is refused");
        }
    }
}
