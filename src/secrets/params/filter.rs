//! Parameter filters (`ParameterStringFilter` of GetParametersByPath and
//! DescribeParameters, `ParametersFilter` of DescribeParameters), checked as AWS checks
//! them, and the pagination tokens of the listing operations.

use super::error::ParamError;
use super::name;
use super::record::Record;
use super::types::{ParameterStringFilter, ParametersFilter};
use crate::kms::types::b64;

/// The filter keys GetParametersByPath takes.
pub const BY_PATH_KEYS: &[&str] = &["Type", "KeyId", "Label"];
/// The filter keys DescribeParameters takes (and `tag:<key>`).
pub const DESCRIBE_KEYS: &[&str] = &["Name", "Type", "KeyId", "Path", "Tier", "DataType", "Label"];

/// A checked filter.
#[derive(Debug, Clone)]
pub struct Filter {
    key: String,
    option: String,
    values: Vec<String>,
}

/// Check `filters` for an operation taking the keys `keys` (`tag:` keys when `tags`).
pub fn check(
    filters: &[ParameterStringFilter],
    keys: &[&str],
    tags: bool,
) -> Result<Vec<Filter>, ParamError> {
    filters.iter().map(|f| check_one(f, keys, tags)).collect()
}

fn check_one(f: &ParameterStringFilter, keys: &[&str], tags: bool) -> Result<Filter, ParamError> {
    let is_tag = f.key.starts_with("tag:") && f.key.len() > 4;
    let known = keys.contains(&f.key.as_str()) || (tags && is_tag);
    if !known {
        return Err(ParamError::InvalidFilterKey(format!(
            "The following filter key is not valid: {}. Valid filter keys include: [{}].",
            f.key,
            keys.join(", ")
        )));
    }
    let options: &[&str] = match f.key.as_str() {
        "Name" => &["Equals", "BeginsWith", "Contains"],
        "Path" => &["OneLevel", "Recursive"],
        "Label" | "Type" | "KeyId" | "Tier" | "DataType" => &["Equals"],
        _ => &["Equals"],
    };
    let option = f.option.clone().unwrap_or_else(|| options[0].to_string());
    if !options.contains(&option.as_str()) {
        return Err(ParamError::InvalidFilterOption(format!(
            "The following filter option is not valid: {option}. Valid options include: [{}].",
            options.join(", ")
        )));
    }
    let values = f.values.clone().unwrap_or_default();
    if values.is_empty() && !is_tag {
        return Err(ParamError::InvalidFilterValue(format!(
            "The following filter values are missing: null for filter key {}.",
            f.key
        )));
    }
    if values.iter().any(|v| v.is_empty() || v.len() > 1024) {
        return Err(ParamError::InvalidFilterValue(format!(
            "A value of filter key {} is empty or longer than 1024 characters.",
            f.key
        )));
    }
    if f.key == "Path" {
        values.iter().try_for_each(|v| name::check_path(v))?;
    }
    Ok(Filter {
        key: f.key.clone(),
        option,
        values,
    })
}

/// DescribeParameters' older filters as the newer ones (`Name` is BeginsWith).
pub fn from_legacy(filters: &[ParametersFilter]) -> Result<Vec<Filter>, ParamError> {
    filters
        .iter()
        .map(|f| {
            if !["Name", "Type", "KeyId"].contains(&f.key.as_str()) {
                return Err(ParamError::InvalidFilterKey(format!(
                    "The following filter key is not valid: {}. Valid filter keys include: [Name, Type, KeyId].",
                    f.key
                )));
            }
            let option = if f.key == "Name" { "BeginsWith" } else { "Equals" };
            check_one(
                &ParameterStringFilter {
                    key: f.key.clone(),
                    option: Some(option.into()),
                    values: Some(f.values.clone()),
                },
                &["Name", "Type", "KeyId"],
                false,
            )
        })
        .collect()
}

impl Filter {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Does parameter `r` (its latest version) pass?
    pub fn matches(&self, r: &Record) -> bool {
        let Ok(v) = r.latest() else { return false };
        let any = |s: &str| self.values.iter().any(|x| x == s);
        match self.key.as_str() {
            "Name" => self.values.iter().any(|x| {
                let (n, x) = (r.name.trim_start_matches('/'), x.trim_start_matches('/'));
                match self.option.as_str() {
                    "BeginsWith" => n.starts_with(x),
                    "Contains" => n.contains(x),
                    _ => n == x,
                }
            }),
            "Type" => any(&v.kind),
            "KeyId" => v.key_id.as_deref().is_some_and(any),
            "Tier" => any(&v.tier),
            "DataType" => any(&v.data_type),
            "Path" => {
                let recursive = self.option == "Recursive";
                self.values
                    .iter()
                    .any(|p| name::in_path(&r.name, p, recursive))
            }
            "Label" => r.versions.iter().any(|v| v.labels.iter().any(|l| any(l))),
            tag => {
                let key = tag.trim_start_matches("tag:");
                r.tags
                    .iter()
                    .any(|(k, val)| k == key && (self.values.is_empty() || any(val)))
            }
        }
    }
}

/// The page size asked for, within `1..=max` (default `max`).
pub fn page_size(asked: Option<i64>, max: i64) -> Result<usize, ParamError> {
    match asked {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(ParamError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
             constraint: Member must have value between 1 and {max}"
        ))),
    }
}

const TOKEN_PREFIX: &str = "kmsfs-ssm-next:";

/// The token of the page after `last`.
pub fn token(last: &str) -> String {
    b64::encode(format!("{TOKEN_PREFIX}{last}").as_bytes())
}

/// Where a token says to resume (after this name or position).
pub fn after(token: Option<&str>) -> Result<Option<String>, ParamError> {
    let Some(t) = token else { return Ok(None) };
    let bad = || ParamError::InvalidNextToken("The nextToken is not valid.".into());
    let bytes = b64::decode(t).map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    s.strip_prefix(TOKEN_PREFIX)
        .map(|s| Some(s.to_string()))
        .ok_or_else(bad)
}

/// One page of `items` (sorted by `key`), after the token's position.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    next: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), ParamError> {
    let after = after(next)?;
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_deref().is_none_or(|a| key(i).as_str() > a))
        .collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let token = if more {
        rest.last().map(|i| token(&key(i)))
    } else {
        None
    };
    Ok((rest, token))
}
