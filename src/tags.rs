//! EC2 resource tags, as EC2 keeps them on volumes and snapshots: [`Tag`] (`Key`, `Value`),
//! the rules of CreateTags (at most 50 a resource, keys 1-128 characters and not `aws:`,
//! values up to 256; a key set again takes the new value) and of DeleteTags (a key alone
//! removes the tag; a key and value remove it only if the value is that one).

use serde::{Deserialize, Serialize};

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Most tags a resource holds.
pub const MAX_TAGS: usize = 50;

/// `tags` with `add` set (a key set again takes the new value), or EC2's complaint.
pub fn apply(tags: &[Tag], add: &[Tag]) -> Result<Vec<Tag>, String> {
    let mut out = tags.to_vec();
    for t in add {
        check(t)?;
        match out.iter_mut().find(|o| o.key == t.key) {
            Some(o) => o.value = t.value.clone(),
            None => out.push(t.clone()),
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!(
            "TagLimitExceeded: a resource has at most {MAX_TAGS} tags ({} asked)",
            out.len()
        ));
    }
    out.sort();
    Ok(out)
}

/// `tags` without those `remove` names: a key alone removes its tag, a key and value only
/// the tag with that value.
pub fn delete(tags: &[Tag], remove: &[(String, Option<String>)]) -> Vec<Tag> {
    tags.iter()
        .filter(|t| {
            !remove
                .iter()
                .any(|(k, v)| *k == t.key && v.as_ref().is_none_or(|v| *v == t.value))
        })
        .cloned()
        .collect()
}

fn check(t: &Tag) -> Result<(), String> {
    if t.key.is_empty() || t.key.chars().count() > 128 {
        return Err(format!(
            "InvalidParameterValue: tag key '{}' must be 1 to 128 characters",
            t.key
        ));
    }
    if t.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!(
            "InvalidParameterValue: tag keys starting with 'aws:' are reserved for AWS use ('{}')",
            t.key
        ));
    }
    if t.value.chars().count() > 256 {
        return Err(format!(
            "InvalidParameterValue: the value of tag '{}' is over 256 characters",
            t.key
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn create_and_delete_as_ec2() {
        let a = apply(&[], &[t("b", "1"), t("a", "2")]).unwrap();
        assert_eq!(a, [t("a", "2"), t("b", "1")]);
        let a = apply(&a, &[t("a", "3")]).unwrap();
        assert_eq!(a, [t("a", "3"), t("b", "1")]);
        assert_eq!(delete(&a, &[("a".into(), Some("9".into()))]), a);
        assert_eq!(delete(&a, &[("a".into(), Some("3".into()))]), [t("b", "1")]);
        assert_eq!(delete(&a, &[("b".into(), None)]), [t("a", "3")]);
        assert!(apply(&[], &[t("aws:x", "")]).is_err());
        assert!(apply(&[], &[t("", "")]).is_err());
        assert!(apply(&[], &[t("k", &"v".repeat(257))]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| t(&format!("k{i}"), "")).collect();
        assert!(
            apply(&[], &many)
                .unwrap_err()
                .starts_with("TagLimitExceeded")
        );
    }
}
