//! GetParameter, GetParameters (selectors `name:version`, `name:label`), GetParametersByPath,
//! GetParameterHistory, and `/aws/reference/secretsmanager/<id>` through a
//! [`SecretReference`](super::SecretReference). A SecureString read without decryption
//! shows the base64 of its ciphertext, as AWS does.

use super::error::ParamError;
use super::filter::{self, BY_PATH_KEYS};
use super::name::{self, SECRETS_REFERENCE_PREFIX, Selector};
use super::record::{Record, Version};
use super::types::*;
use super::{ParameterStore, policy, seal};
use crate::timefmt::epoch_secs;

/// Names per GetParameters request.
pub const MAX_NAMES: usize = 10;

impl ParameterStore<'_> {
    /// `GetParameter`.
    pub fn get_parameter(
        &self,
        req: GetParameterRequest,
    ) -> Result<GetParameterResponse, ParamError> {
        let bare = name::split_selector(&req.name).map(|(n, _)| n.to_string());
        let arn = bare.ok().map(|n| self.arn(&name::name_of(&n)));
        self.audited("GetParameter", arn, || {
            let decrypt = req.with_decryption.unwrap_or(false);
            let store = self.lock()?;
            let p = self.get_one(&store, &req.name, decrypt)?;
            p.ok_or_else(|| ParamError::NotFound(format!("Parameter {} not found.", req.name)))
                .map(|parameter| GetParameterResponse { parameter })
        })
    }

    /// `GetParameters`: the ones found, and the names not found (or without such a version).
    pub fn get_parameters(
        &self,
        req: GetParametersRequest,
    ) -> Result<GetParametersResponse, ParamError> {
        self.audited("GetParameters", None, || {
            if req.names.is_empty() || req.names.len() > MAX_NAMES {
                return Err(ParamError::Validation(format!(
                    "1 validation error detected: Value at 'names' failed to satisfy constraint: \
                     Member must have length between 1 and {MAX_NAMES}"
                )));
            }
            let decrypt = req.with_decryption.unwrap_or(false);
            let store = self.lock()?;
            let mut out = GetParametersResponse::default();
            for n in &req.names {
                match self.get_one(&store, n, decrypt) {
                    Ok(Some(p)) => out.parameters.push(p),
                    Ok(None) | Err(ParamError::VersionNotFound(_)) => {
                        out.invalid_parameters.push(n.clone())
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    /// One name (with its selector), `None` when there is no such parameter.
    fn get_one(
        &self,
        store: &super::record::Store,
        full: &str,
        decrypt: bool,
    ) -> Result<Option<Parameter>, ParamError> {
        let (n, sel) = name::split_selector(full)?;
        if let Some(id) = n.strip_prefix(SECRETS_REFERENCE_PREFIX) {
            return self.reference(n, id, &sel, decrypt).map(Some);
        }
        let n = name::name_of(n);
        let Some(r) = self.load(store, &n)? else {
            return Ok(None);
        };
        let v = select(&r, &sel)?;
        self.view(&r, v, decrypt, sel.shown()).map(Some)
    }

    /// A secret of Secrets Manager, as a SecureString parameter.
    fn reference(
        &self,
        full: &str,
        id: &str,
        sel: &Selector,
        decrypt: bool,
    ) -> Result<Parameter, ParamError> {
        if !decrypt {
            return Err(ParamError::Validation(
                "WithDecryption flag must be True for retrieving a Secret Manager secret.".into(),
            ));
        }
        let secrets = self.secrets.ok_or_else(|| {
            ParamError::NotFound(format!(
                "Parameter {full} not found: Secrets Manager is not available here."
            ))
        })?;
        let (version, label) = match sel {
            Selector::Latest => (None, None),
            Selector::Version(v) => (Some(v.to_string()), None),
            Selector::Label(l) if looks_like_version_id(l) => (Some(l.clone()), None),
            Selector::Label(l) => (None, Some(l.clone())),
        };
        let s = secrets.get_secret_for_ssm(id, version.as_deref(), label.as_deref(), decrypt)?;
        let source = serde_json::json!({
            "ARN": s.arn,
            "Name": s.name,
            "VersionId": s.version_id,
            "VersionStages": s.stages,
            "CreatedDate": epoch_secs(s.created_ms),
        });
        Ok(Parameter {
            name: full.to_string(),
            r#type: "SecureString".into(),
            value: s.value,
            version: 0,
            selector: sel.shown(),
            source_result: Some(source.to_string()),
            last_modified_date: epoch_secs(s.created_ms),
            arn: s.arn,
            data_type: "text".into(),
        })
    }

    /// Version `v` of `r` as a `Parameter` (decrypted if asked).
    fn view(
        &self,
        r: &Record,
        v: &Version,
        decrypt: bool,
        selector: Option<String>,
    ) -> Result<Parameter, ParamError> {
        Ok(Parameter {
            name: r.name.clone(),
            r#type: v.kind.clone(),
            value: self.value(r, v, decrypt)?,
            version: v.version,
            selector,
            source_result: None,
            last_modified_date: epoch_secs(v.modified_ms),
            arn: self.arn(&r.name),
            data_type: v.data_type.clone(),
        })
    }

    fn value(&self, r: &Record, v: &Version, decrypt: bool) -> Result<ParamValue, ParamError> {
        match (&v.key_id, decrypt) {
            (Some(key), true) => seal::open(self.ctx, key, &self.arn(&r.name), v.version, &v.value),
            _ => Ok(seal::shown(&v.value)),
        }
    }

    /// `GetParametersByPath`.
    pub fn get_parameters_by_path(
        &self,
        req: GetParametersByPathRequest,
    ) -> Result<GetParametersByPathResponse, ParamError> {
        self.audited("GetParametersByPath", None, || {
            name::check_path(&req.path)?;
            let filters = filter::check(
                req.parameter_filters.as_deref().unwrap_or_default(),
                BY_PATH_KEYS,
                false,
            )?;
            let size = filter::page_size(req.max_results, 10)?;
            let recursive = req.recursive.unwrap_or(false);
            let decrypt = req.with_decryption.unwrap_or(false);
            let store = self.lock()?;
            let mut found = Vec::new();
            for r in self.load_all(&store)? {
                if !name::in_path(&r.name, &req.path, recursive) {
                    continue;
                }
                if !filters
                    .iter()
                    .filter(|f| f.key() != "Label")
                    .all(|f| f.matches(&r))
                {
                    continue;
                }
                let label = filters.iter().find(|f| f.key() == "Label");
                let picked = match label {
                    Some(f) => labelled(&r, f.values()),
                    None => r.latest().ok().map(|v| (v, None)),
                };
                if let Some((v, sel)) = picked {
                    let v = v.clone();
                    found.push((r, v, sel));
                }
            }
            let (page, next_token) = filter::page(
                found,
                |(r, _, _)| r.name.clone(),
                req.next_token.as_deref(),
                size,
            )?;
            let parameters = page
                .iter()
                .map(|(r, v, sel)| self.view(r, v, decrypt, sel.clone()))
                .collect::<Result<_, _>>()?;
            Ok(GetParametersByPathResponse {
                parameters,
                next_token,
            })
        })
    }

    /// `GetParameterHistory`: every version, oldest first.
    pub fn get_parameter_history(
        &self,
        req: GetParameterHistoryRequest,
    ) -> Result<GetParameterHistoryResponse, ParamError> {
        let n = name::name_of(&req.name);
        self.audited("GetParameterHistory", Some(self.arn(&n)), || {
            let size = filter::page_size(req.max_results, 50)?;
            let decrypt = req.with_decryption.unwrap_or(false);
            let store = self.lock()?;
            let r = self.load(&store, &n)?.ok_or_else(|| {
                ParamError::NotFound(format!("Parameter {} not found.", req.name))
            })?;
            let versions: Vec<&Version> = r.versions.iter().collect();
            let key = |v: &&Version| format!("{:020}", v.version);
            let (page, next_token) = filter::page(versions, key, req.next_token.as_deref(), size)?;
            let parameters = page
                .into_iter()
                .map(|v| self.history_entry(&r, v, decrypt))
                .collect::<Result<_, _>>()?;
            Ok(GetParameterHistoryResponse {
                parameters,
                next_token,
            })
        })
    }

    fn history_entry(
        &self,
        r: &Record,
        v: &Version,
        decrypt: bool,
    ) -> Result<ParameterHistory, ParamError> {
        Ok(ParameterHistory {
            name: r.name.clone(),
            r#type: v.kind.clone(),
            key_id: v.key_id.clone(),
            last_modified_date: epoch_secs(v.modified_ms),
            last_modified_user: v.modified_by.clone(),
            description: v.description.clone(),
            value: self.value(r, v, decrypt)?,
            allowed_pattern: v.allowed_pattern.clone(),
            version: v.version,
            labels: v.labels.clone(),
            tier: v.tier.clone(),
            policies: policy::inline(r, v.version, v.policies.as_deref()),
            data_type: v.data_type.clone(),
        })
    }
}

/// The version a selector names.
pub fn select<'r>(r: &'r Record, sel: &Selector) -> Result<&'r Version, ParamError> {
    let found = match sel {
        Selector::Latest => return r.latest(),
        Selector::Version(n) => r.versions.iter().find(|v| v.version == *n),
        Selector::Label(l) => r.versions.iter().find(|v| v.labels.contains(l)),
    };
    found.ok_or_else(|| {
        let what = sel.shown().unwrap_or_default();
        ParamError::VersionNotFound(format!(
            "Systems Manager could not find version {} of {}. Verify the version and try again.",
            what.trim_start_matches(':'),
            r.name
        ))
    })
}

/// The version of `r` with one of `labels`, and its selector.
fn labelled<'r>(r: &'r Record, labels: &[String]) -> Option<(&'r Version, Option<String>)> {
    labels.iter().find_map(|l| {
        r.versions
            .iter()
            .find(|v| v.labels.contains(l))
            .map(|v| (v, Some(format!(":{l}"))))
    })
}

/// A Secrets Manager version id (a UUID, 32-64 characters of hex and dashes).
fn looks_like_version_id(s: &str) -> bool {
    (32..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}
