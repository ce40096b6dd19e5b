//! DescribeParameters, LabelParameterVersion / UnlabelParameterVersion,
//! DeleteParameter(s), and the tags (AddTagsToResource, ListTagsForResource,
//! RemoveTagsFromResource).

use super::error::ParamError;
use super::filter::{self, DESCRIBE_KEYS};
use super::name;
use super::record::Record;
use super::types::*;
use super::{ParameterStore, policy};
use crate::timefmt::epoch_secs;

/// Tags per parameter.
pub const MAX_TAGS: usize = 50;
/// Labels per version.
pub const MAX_LABELS: usize = 10;

impl ParameterStore<'_> {
    /// `DescribeParameters`: metadata (never values), filtered, by name, in pages.
    pub fn describe_parameters(
        &self,
        req: DescribeParametersRequest,
    ) -> Result<DescribeParametersResponse, ParamError> {
        self.audited("DescribeParameters", None, || {
            let filters = match (&req.filters, &req.parameter_filters) {
                (Some(_), Some(_)) => {
                    return Err(ParamError::Validation(
                        "You can use either Filters or ParameterFilters in a single request."
                            .into(),
                    ));
                }
                (Some(f), None) => filter::from_legacy(f)?,
                (None, f) => filter::check(f.as_deref().unwrap_or_default(), DESCRIBE_KEYS, true)?,
            };
            let size = filter::page_size(req.max_results, 50)?;
            let store = self.lock()?;
            let found: Vec<Record> = self
                .load_all(&store)?
                .into_iter()
                .filter(|r| filters.iter().all(|f| f.matches(r)))
                .collect();
            let (page, next_token) =
                filter::page(found, |r| r.name.clone(), req.next_token.as_deref(), size)?;
            let parameters = page
                .iter()
                .map(|r| self.metadata(r))
                .collect::<Result<_, _>>()?;
            Ok(DescribeParametersResponse {
                parameters,
                next_token,
            })
        })
    }

    fn metadata(&self, r: &Record) -> Result<ParameterMetadata, ParamError> {
        let v = r.latest()?;
        Ok(ParameterMetadata {
            name: r.name.clone(),
            arn: self.arn(&r.name),
            r#type: v.kind.clone(),
            key_id: v.key_id.clone(),
            last_modified_date: epoch_secs(v.modified_ms),
            last_modified_user: v.modified_by.clone(),
            description: v.description.clone(),
            allowed_pattern: v.allowed_pattern.clone(),
            version: v.version,
            tier: v.tier.clone(),
            policies: policy::inline(r, v.version, v.policies.as_deref()),
            data_type: v.data_type.clone(),
        })
    }

    /// Parameter `n` (by name or ARN) under the lock, for a change.
    fn existing(&self, store: &super::record::Store, n: &str) -> Result<Record, ParamError> {
        self.load(store, &name::name_of(n))?
            .ok_or_else(|| ParamError::NotFound(format!("Parameter {n} not found.")))
    }

    /// `LabelParameterVersion`: move each valid label to the version (latest if none);
    /// invalid labels come back in `InvalidLabels`.
    pub fn label_parameter_version(
        &self,
        req: LabelParameterVersionRequest,
    ) -> Result<LabelParameterVersionResponse, ParamError> {
        let arn = self.arn(&name::name_of(&req.name));
        self.audited("LabelParameterVersion", Some(arn), || {
            check_label_count(&req.labels)?;
            let store = self.lock()?;
            let mut r = self.existing(&store, &req.name)?;
            let version = match req.parameter_version {
                Some(v) => v,
                None => r.latest()?.version,
            };
            let idx = version_index(&r, version)?;
            let (valid, invalid): (Vec<String>, Vec<String>) = req
                .labels
                .iter()
                .cloned()
                .partition(|l| name::valid_label(l));
            let mut labels = r.versions[idx].labels.clone();
            labels.extend(
                valid
                    .iter()
                    .filter(|l| !labels.contains(l))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            if labels.len() > MAX_LABELS {
                return Err(ParamError::LabelLimitExceeded(format!(
                    "A parameter version can have a maximum of {MAX_LABELS} labels. Move one or \
                     more labels to another version and try again."
                )));
            }
            for v in r.versions.iter_mut() {
                v.labels.retain(|l| !valid.contains(l));
            }
            r.versions[idx].labels = labels;
            store.write(&r)?;
            Ok(LabelParameterVersionResponse {
                invalid_labels: invalid,
                parameter_version: version,
            })
        })
    }

    /// `UnlabelParameterVersion`: labels not on the version come back in `InvalidLabels`.
    pub fn unlabel_parameter_version(
        &self,
        req: LabelParameterVersionRequest,
    ) -> Result<UnlabelParameterVersionResponse, ParamError> {
        let arn = self.arn(&name::name_of(&req.name));
        self.audited("UnlabelParameterVersion", Some(arn), || {
            check_label_count(&req.labels)?;
            let version = req
                .parameter_version
                .ok_or_else(|| ParamError::Validation("ParameterVersion is required.".into()))?;
            let store = self.lock()?;
            let mut r = self.existing(&store, &req.name)?;
            let idx = version_index(&r, version)?;
            let (removed, invalid): (Vec<String>, Vec<String>) = req
                .labels
                .iter()
                .cloned()
                .partition(|l| r.versions[idx].labels.contains(l));
            r.versions[idx].labels.retain(|l| !removed.contains(l));
            store.write(&r)?;
            Ok(UnlabelParameterVersionResponse {
                removed_labels: removed,
                invalid_labels: invalid,
            })
        })
    }

    /// `DeleteParameter`.
    pub fn delete_parameter(&self, req: NameRequest) -> Result<Empty, ParamError> {
        let n = name::name_of(&req.name);
        self.audited("DeleteParameter", Some(self.arn(&n)), || {
            let store = self.lock()?;
            self.existing(&store, &req.name)?;
            store.remove(&n)?;
            Ok(Empty {})
        })
    }

    /// `DeleteParameters`: up to 10 names; those not found come back in `InvalidParameters`.
    pub fn delete_parameters(
        &self,
        req: DeleteParametersRequest,
    ) -> Result<DeleteParametersResponse, ParamError> {
        self.audited("DeleteParameters", None, || {
            if req.names.is_empty() || req.names.len() > super::read::MAX_NAMES {
                return Err(ParamError::Validation(
                    "1 validation error detected: Value at 'names' failed to satisfy constraint: \
                     Member must have length between 1 and 10"
                        .into(),
                ));
            }
            let store = self.lock()?;
            let mut out = DeleteParametersResponse::default();
            for n in &req.names {
                let bare = name::name_of(n);
                if self.load(&store, &bare)?.is_some() {
                    store.remove(&bare)?;
                    out.deleted_parameters.push(n.clone());
                } else {
                    out.invalid_parameters.push(n.clone());
                }
            }
            Ok(out)
        })
    }

    /// The parameter a tagging request names (ResourceType must be `Parameter`).
    fn tagged(
        &self,
        store: &super::record::Store,
        kind: &str,
        id: &str,
    ) -> Result<Record, ParamError> {
        if kind != "Parameter" {
            return Err(ParamError::InvalidResourceType(format!(
                "The resource type {kind:?} is not valid here: use Parameter."
            )));
        }
        self.load(store, &name::name_of(id))?.ok_or_else(|| {
            ParamError::InvalidResourceId(format!(
                "The resource ID {id:?} is not valid. Verify the ID and try again."
            ))
        })
    }

    /// `AddTagsToResource`: add or replace tags (at most 50 per parameter).
    pub fn add_tags_to_resource(&self, req: AddTagsToResourceRequest) -> Result<Empty, ParamError> {
        let arn = self.arn(&name::name_of(&req.resource_id));
        self.audited("AddTagsToResource", Some(arn), || {
            let store = self.lock()?;
            let mut r = self.tagged(&store, &req.resource_type, &req.resource_id)?;
            for t in &req.tags {
                r.tags.retain(|(k, _)| *k != t.key);
                r.tags.push((t.key.clone(), t.value.clone()));
            }
            check_tags(&req.tags, r.tags.len())?;
            store.write(&r)?;
            Ok(Empty {})
        })
    }

    /// `RemoveTagsFromResource`.
    pub fn remove_tags_from_resource(
        &self,
        req: RemoveTagsFromResourceRequest,
    ) -> Result<Empty, ParamError> {
        let arn = self.arn(&name::name_of(&req.resource_id));
        self.audited("RemoveTagsFromResource", Some(arn), || {
            let store = self.lock()?;
            let mut r = self.tagged(&store, &req.resource_type, &req.resource_id)?;
            r.tags.retain(|(k, _)| !req.tag_keys.contains(k));
            store.write(&r)?;
            Ok(Empty {})
        })
    }

    /// `ListTagsForResource`.
    pub fn list_tags_for_resource(
        &self,
        req: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ParamError> {
        let arn = self.arn(&name::name_of(&req.resource_id));
        self.audited("ListTagsForResource", Some(arn), || {
            let store = self.lock()?;
            let r = self.tagged(&store, &req.resource_type, &req.resource_id)?;
            let tag_list = r
                .tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect();
            Ok(ListTagsForResourceResponse { tag_list })
        })
    }
}

/// 1 to 10 labels per request.
fn check_label_count(labels: &[String]) -> Result<(), ParamError> {
    if labels.is_empty() || labels.len() > MAX_LABELS {
        return Err(ParamError::Validation(format!(
            "1 validation error detected: Value at 'labels' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_LABELS}"
        )));
    }
    Ok(())
}

fn version_index(r: &Record, version: u64) -> Result<usize, ParamError> {
    r.versions.iter().position(|v| v.version == version).ok_or_else(|| {
        ParamError::VersionNotFound(format!(
            "Systems Manager could not find version {version} of {}. Verify the version and try again.",
            r.name
        ))
    })
}

/// Tags' keys and values as AWS allows them; `total` tags on the parameter at most 50.
pub fn check_tags(tags: &[Tag], total: usize) -> Result<(), ParamError> {
    if total > MAX_TAGS {
        return Err(ParamError::TooManyTags(format!(
            "The Parameter has more than the maximum of {MAX_TAGS} tags."
        )));
    }
    let ok_char = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for t in tags {
        let key_ok = (1..=128).contains(&t.key.chars().count()) && t.key.chars().all(ok_char);
        let value_ok = t.value.chars().count() <= 256 && t.value.chars().all(ok_char);
        if !key_ok || !value_ok || t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ParamError::Validation(format!(
                "The tag {:?} is not valid: keys 1-128 and values 0-256 characters of letters, \
                 digits, spaces and _ . : / = + - @; keys can't begin with aws:",
                t.key
            )));
        }
    }
    Ok(())
}
