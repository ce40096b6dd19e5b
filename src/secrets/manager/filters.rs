//! ListSecrets' filters (`name`, `description`, `tag-key`, `tag-value`, `primary-region`,
//! `owning-service`, `all`; a value starting `!` negates), sorting and page tokens.

use super::error::SmError;
use super::record::SecretRecord;
use super::types::Filter;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const KEYS: &[&str] = &[
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
];

/// Check filters' keys and values.
pub fn check(filters: &[Filter]) -> Result<(), SmError> {
    if filters.len() > 10 {
        return Err(SmError::InvalidParameter(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
        ));
    }
    for f in filters {
        if !KEYS.contains(&f.key.as_str()) {
            return Err(SmError::InvalidParameter(format!(
                "1 validation error detected: Value '{}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                f.key,
                KEYS.join(", ")
            )));
        }
        if f.values.is_empty() || f.values.len() > 10 || f.values.iter().any(|v| v.len() > 512) {
            return Err(SmError::InvalidParameter(
                "1 validation error detected: Value at 'filters.1.member.values' failed to satisfy constraint: Member must have length between 1 and 10, of values of at most 512 characters".into(),
            ));
        }
    }
    Ok(())
}

/// Whether `r` passes every filter (within a filter, any value).
pub fn matches(r: &SecretRecord, filters: &[Filter], region: &str) -> bool {
    filters
        .iter()
        .all(|f| f.values.iter().any(|v| value_matches(r, &f.key, v, region)))
}

fn value_matches(r: &SecretRecord, key: &str, value: &str, region: &str) -> bool {
    match value.strip_prefix('!') {
        Some(v) => !attribute_matches(r, key, v, region),
        None => attribute_matches(r, key, value, region),
    }
}

/// Prefix matching, as AWS does, of the attribute `key` of `r`.
fn attribute_matches(r: &SecretRecord, key: &str, v: &str, region: &str) -> bool {
    let desc = r.description.as_deref().unwrap_or("");
    match key {
        "name" => r.name.starts_with(v),
        "description" => desc.starts_with(v),
        "tag-key" => r.tags.iter().any(|(k, _)| k.starts_with(v)),
        "tag-value" => r.tags.iter().any(|(_, x)| x.starts_with(v)),
        "primary-region" => region == v,
        "owning-service" => false,
        _ => {
            let words = |s: &str| -> bool {
                let lower = v.to_lowercase();
                s.to_lowercase().starts_with(&lower)
                    || s.split(|c: char| "/_+=.@- ".contains(c))
                        .any(|w| w.to_lowercase().starts_with(&lower))
            };
            words(&r.name) || words(desc) || r.tags.iter().any(|(k, x)| words(k) || words(x))
        }
    }
}

/// Sort by `by` (`created-date` default, `last-accessed-date`, `last-changed-date`, `name`)
/// in `order` (`asc`, default `desc`).
pub fn sort(
    list: &mut [SecretRecord],
    by: Option<&str>,
    order: Option<&str>,
) -> Result<(), SmError> {
    match by.unwrap_or("created-date") {
        "created-date" => list.sort_by_key(|r| (r.created_ms, r.name.clone())),
        "last-accessed-date" => list.sort_by_key(|r| (r.last_accessed_ms, r.name.clone())),
        "last-changed-date" => list.sort_by_key(|r| (r.last_changed_ms, r.name.clone())),
        "name" => list.sort_by(|a, b| a.name.cmp(&b.name)),
        other => {
            return Err(SmError::InvalidParameter(format!(
                "1 validation error detected: Value '{other}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]"
            )));
        }
    }
    match order.unwrap_or("desc") {
        "asc" => {}
        "desc" => list.reverse(),
        other => {
            return Err(SmError::InvalidParameter(format!(
                "1 validation error detected: Value '{other}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"
            )));
        }
    }
    Ok(())
}

/// One page of `items` from `token` (`None`: the start), at most `max` (1..=`limit`,
/// default `limit`); the page and the next page's token.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    max: Option<i64>,
    limit: i64,
) -> Result<(Vec<T>, Option<String>), SmError> {
    let max = max.unwrap_or(limit);
    if !(1..=limit).contains(&max) {
        return Err(SmError::InvalidParameter(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {limit}"
        )));
    }
    let start = match token {
        None => 0,
        Some(t) => STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("kmsfs:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .filter(|&n| n <= items.len())
            .ok_or_else(|| SmError::InvalidNextToken("The NextToken value is not valid.".into()))?,
    };
    let end = (start + max as usize).min(items.len());
    let next = (end < items.len()).then(|| STANDARD.encode(format!("kmsfs:{end}")));
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}
