//! Listing objects (ListObjectsV2): keys in byte order, filtered by prefix, grouped by a
//! delimiter into common prefixes, paged by `start_after` / `max_keys`. A listing reads each
//! object's header (no key needed) and skips files that do not parse or are not where
//! their key says.

use super::ObjectError;
use super::bucket::BucketPaths;
use super::info::ObjectSummary;
use super::reader::read_header_from;
use super::service::ObjectService;
use crate::crypto::{hex, sha256};
use serde::{Deserialize, Serialize};
use std::fs::File;

/// A listing request (ListObjectsV2).
#[derive(Debug, Clone)]
pub struct ListObjects {
    pub prefix: String,
    /// Group keys by the part after the prefix up to this (e.g. `/`) into CommonPrefixes.
    pub delimiter: Option<String>,
    /// Start after this key (or the continuation token a truncated listing returned).
    pub start_after: Option<String>,
    /// At most this many keys and common prefixes (S3's default 1000).
    pub max_keys: usize,
}

impl Default for ListObjects {
    fn default() -> Self {
        ListObjects {
            prefix: String::new(),
            delimiter: None,
            start_after: None,
            max_keys: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    pub prefix: String,
}

/// A listing (ListObjectsV2's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListObjectsResult {
    pub name: String,
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub key_count: usize,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_continuation_token: Option<String>,
    pub contents: Vec<ObjectSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

/// One page of a listing.
#[derive(Default)]
struct Page {
    contents: Vec<ObjectSummary>,
    prefixes: Vec<CommonPrefix>,
    truncated: bool,
    /// The last key or common prefix on the page.
    last: Option<String>,
}

impl ListObjects {
    /// Whether `key` comes at or before `start_after` (or inside the common prefix that
    /// `start_after` names).
    fn skips(&self, key: &str, delim: Option<&str>) -> bool {
        self.start_after.as_deref().is_some_and(|s| {
            key <= s || (delim.is_some_and(|d| s.ends_with(d)) && key.starts_with(s))
        })
    }

    /// The page of `all` (sorted by key, every key under the prefix) this request asks for.
    fn page(&self, all: Vec<ObjectSummary>) -> Page {
        let delim = self.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut page = Page::default();
        for o in all {
            if self.skips(&o.key, delim) {
                continue;
            }
            let group = delim.and_then(|d| {
                o.key[self.prefix.len()..]
                    .find(d)
                    .map(|i| o.key[..self.prefix.len() + i + d.len()].to_string())
            });
            if let Some(g) = &group
                && page.prefixes.last().is_some_and(|p| &p.prefix == g)
            {
                continue;
            }
            if page.contents.len() + page.prefixes.len() >= self.max_keys {
                page.truncated = true;
                break;
            }
            match group {
                Some(g) => {
                    page.last = Some(g.clone());
                    page.prefixes.push(CommonPrefix { prefix: g });
                }
                None => {
                    page.last = Some(o.key.clone());
                    page.contents.push(o);
                }
            }
        }
        page
    }
}

impl ObjectService {
    /// List objects (ListObjectsV2): keys in byte order, filtered by prefix, grouped by a
    /// delimiter, paged by `start_after` / `max_keys`. Reads each object's header; files
    /// that do not parse or are not where their key says are skipped.
    pub fn list_objects(
        &self,
        bucket: &str,
        req: &ListObjects,
    ) -> Result<ListObjectsResult, ObjectError> {
        let p = self.existing(bucket)?.0;
        let mut all = self.summaries(&p, bucket, &req.prefix)?;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        let page = req.page(all);
        Ok(ListObjectsResult {
            name: bucket.to_string(),
            prefix: req.prefix.clone(),
            delimiter: req.delimiter.clone(),
            max_keys: req.max_keys,
            key_count: page.contents.len() + page.prefixes.len(),
            is_truncated: page.truncated,
            next_continuation_token: if page.truncated { page.last } else { None },
            contents: page.contents,
            common_prefixes: page.prefixes,
        })
    }

    /// Every object of the bucket whose key starts with `prefix`, unsorted.
    fn summaries(
        &self,
        p: &BucketPaths,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectSummary>, ObjectError> {
        let mut all = Vec::new();
        for path in self.object_files(p)? {
            let Ok(f) = File::open(&path) else { continue };
            let Ok((h, _)) = read_header_from(&f) else {
                continue;
            };
            if h.record.bucket != bucket
                || !h.record.key.starts_with(prefix)
                || path.file_name().and_then(|n| n.to_str())
                    != Some(&hex(&sha256(h.record.key.as_bytes())))
            {
                continue;
            }
            all.push(ObjectSummary::of(&h));
        }
        Ok(all)
    }
}
