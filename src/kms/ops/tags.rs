//! Tags: TagResource, UntagResource, ListResourceTags, and AWS's rules for tag keys and
//! values.

use super::Result;
use super::{check_limit, next_marker, page};
use crate::kms::error::KmsError;
use crate::kms::service::{Call, MAX_TAGS};
use crate::kms::types::*;
use std::collections::BTreeMap;

/// Merge `new` tags into `old` with AWS's rules.
pub(in crate::kms) fn validate_tags(
    old: &BTreeMap<String, String>,
    new: &[Tag],
) -> Result<BTreeMap<String, String>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = old.clone();
    for t in new {
        if !seen.insert(t.tag_key.as_str()) {
            return Err(KmsError::Tag("Duplicate tag keys".into()));
        }
        if t.tag_key.is_empty() || t.tag_key.chars().count() > 128 {
            return Err(KmsError::Tag(format!(
                "Tag key '{}' must be 1 to 128 characters",
                t.tag_key
            )));
        }
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
        if t.tag_value.chars().count() > 256 {
            return Err(KmsError::Tag(format!(
                "Tag value for '{}' is longer than 256 characters",
                t.tag_key
            )));
        }
        out.insert(t.tag_key.clone(), t.tag_value.clone());
    }
    if out.len() > MAX_TAGS {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    Ok(out)
}

pub(super) fn tag_resource(c: &Call, req: TagResourceRequest) -> Result<()> {
    c.change_customer_key(&req.key_id, "it cannot be tagged", |r| {
        r.tags = validate_tags(&r.tags, &req.tags)?;
        Ok(())
    })
}

pub(super) fn untag_resource(c: &Call, req: UntagResourceRequest) -> Result<()> {
    c.change_customer_key(&req.key_id, "it cannot be untagged", |r| {
        for k in &req.tag_keys {
            r.tags.remove(k);
        }
        Ok(())
    })
}

pub(super) fn list_resource_tags(c: &Call, req: ListRequest) -> Result<ListResourceTagsResponse> {
    let limit = check_limit(req.limit)?;
    let k = c.resolve_noted(req.key_id.as_deref().unwrap_or(""), false)?;
    let listed = k
        .record
        .tags
        .iter()
        .filter(|(key, _)| req.marker.as_ref().is_none_or(|m| *key > m));
    let (entries, truncated) = page(listed, limit);
    let tags: Vec<Tag> = entries
        .into_iter()
        .map(|(key, value)| Tag {
            tag_key: key.clone(),
            tag_value: value.clone(),
        })
        .collect();
    Ok(ListResourceTagsResponse {
        next_marker: next_marker(truncated, &tags, |t| t.tag_key.clone()),
        tags,
        truncated,
    })
}
