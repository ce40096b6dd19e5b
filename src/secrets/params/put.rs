//! PutParameter: a new parameter, or a new version of one (`Overwrite`), with AWS's rules
//! for types, tiers and their sizes, allowed patterns, data types, policies, tags and the
//! 100-version cap.

use super::error::ParamError;
use super::record::{Record, Stored, Version};
use super::types::{PutParameterRequest, PutParameterResponse};
use super::{ParameterStore, manage, name, policy, seal};

/// Versions kept per parameter.
pub const MAX_VERSIONS: usize = 100;
/// The largest value of a Standard parameter, and of an Advanced one (bytes).
pub const STANDARD_MAX: usize = 4096;
pub const ADVANCED_MAX: usize = 8192;
/// The default key of SecureStrings.
pub const DEFAULT_KEY: &str = "alias/aws/ssm";
const TYPES: [&str; 3] = ["String", "StringList", "SecureString"];
const DATA_TYPES: [&str; 3] = ["text", "aws:ec2:image", "aws:ssm:integration"];

impl ParameterStore<'_> {
    /// `PutParameter`.
    pub fn put_parameter(
        &self,
        req: PutParameterRequest,
    ) -> Result<PutParameterResponse, ParamError> {
        let arn = self.arn(&req.name);
        self.audited("PutParameter", Some(arn), || self.put(req))
    }

    fn put(&self, req: PutParameterRequest) -> Result<PutParameterResponse, ParamError> {
        check_request(&req)?;
        let overwrite = req.overwrite.unwrap_or(false);
        let store = self.lock()?;
        let existing = self.load(&store, &req.name)?;
        if existing.is_some() && !overwrite {
            return Err(ParamError::AlreadyExists(
                "The parameter already exists. To overwrite this value, set the overwrite option \
                 in the request to true."
                    .into(),
            ));
        }
        let prev = existing.as_ref().map(|r| r.latest()).transpose()?;
        let mut v = self.next_version(&req, prev)?;
        let arn = self.arn(&req.name);
        v.value = match &v.key_id {
            Some(key) => seal::seal(
                self.ctx,
                key,
                &arn,
                v.version,
                v.tier == "Advanced",
                &req.value,
            )?,
            None => Stored::Plain(req.value.expose().to_string()),
        };
        let tier = v.tier.clone();
        let version = v.version;
        let record = match existing {
            Some(mut r) => {
                push_version(&mut r, v)?;
                r
            }
            None => Record {
                name: req.name.clone(),
                tags: req
                    .tags
                    .iter()
                    .flatten()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
                versions: vec![v],
                notified: Vec::new(),
            },
        };
        store.write(&record)?;
        Ok(PutParameterResponse { version, tier })
    }

    /// The new version's settings (its value still unsealed): the request's, else the
    /// previous version's, else AWS's defaults.
    fn next_version(
        &self,
        req: &PutParameterRequest,
        prev: Option<&Version>,
    ) -> Result<Version, ParamError> {
        let kind = req
            .r#type
            .clone()
            .or_else(|| prev.map(|p| p.kind.clone()))
            .unwrap_or_else(|| "String".into());
        let key_id = match kind.as_str() {
            "SecureString" => Some(req.key_id.clone().unwrap_or_else(|| match prev {
                Some(p) if p.kind == "SecureString" => {
                    p.key_id.clone().unwrap_or(DEFAULT_KEY.into())
                }
                _ => DEFAULT_KEY.into(),
            })),
            _ if req.key_id.is_some() => {
                return Err(ParamError::Validation(
                    "KeyId is only valid for parameters of type SecureString.".into(),
                ));
            }
            _ => None,
        };
        let keep = |new: &Option<String>, old: fn(&Version) -> &Option<String>| {
            new.clone().or_else(|| prev.and_then(|p| old(p).clone()))
        };
        let policies = keep(&req.policies, |p| &p.policies);
        if let Some(text) = &req.policies {
            policy::parse(text, self.ctx.now_ms())?;
        }
        let allowed_pattern = keep(&req.allowed_pattern, |p| &p.allowed_pattern);
        let data_type = req
            .data_type
            .clone()
            .or_else(|| prev.map(|p| p.data_type.clone()))
            .unwrap_or_else(|| "text".into());
        check_value(
            req.value.expose(),
            allowed_pattern.as_deref(),
            &data_type,
            &kind,
        )?;
        let tier = tier(
            req.tier.as_deref(),
            prev,
            req.value.expose().len(),
            policies.is_some(),
        )?;
        Ok(Version {
            version: prev.map_or(1, |p| p.version + 1),
            kind,
            value: Stored::Plain(String::new()),
            key_id,
            description: keep(&req.description, |p| &p.description),
            allowed_pattern,
            tier,
            data_type,
            policies,
            labels: Vec::new(),
            modified_ms: self.ctx.now_ms(),
            modified_by: self.ctx.caller.principal().to_string(),
        })
    }
}

/// The request's own limits.
fn check_request(req: &PutParameterRequest) -> Result<(), ParamError> {
    name::check_name(&req.name)?;
    if req.value.expose().is_empty() {
        return Err(ParamError::Validation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
                .into(),
        ));
    }
    if let Some(t) = req.r#type.as_deref().filter(|t| !TYPES.contains(t)) {
        return Err(ParamError::Validation(format!(
            "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: \
             Member must satisfy enum value set: [SecureString, StringList, String]"
        )));
    }
    if req
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(ParamError::Validation(
            "Description: at most 1024 characters.".into(),
        ));
    }
    if req
        .allowed_pattern
        .as_ref()
        .is_some_and(|p| p.chars().count() > 1024)
    {
        return Err(ParamError::Validation(
            "AllowedPattern: at most 1024 characters.".into(),
        ));
    }
    if let Some(d) = req.data_type.as_deref().filter(|d| !DATA_TYPES.contains(d)) {
        return Err(ParamError::Validation(format!(
            "The following data type is not supported: {d} (Data type names are all lowercase.)"
        )));
    }
    if req.tags.is_some() && req.overwrite == Some(true) {
        return Err(ParamError::Validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter \
             with tags, please remove overwrite flag. To update tags for an existing parameter, \
             please use AddTagsToResource or RemoveTagsFromResource."
                .into(),
        ));
    }
    if let Some(tags) = &req.tags {
        manage::check_tags(tags, tags.len())?;
    }
    Ok(())
}

/// The value against the allowed pattern (the whole value must match) and the data type.
fn check_value(
    value: &str,
    pattern: Option<&str>,
    data_type: &str,
    kind: &str,
) -> Result<(), ParamError> {
    if let Some(p) = pattern {
        let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
            ParamError::InvalidAllowedPattern(format!(
                "The allowed pattern {p:?} is not valid: {e}"
            ))
        })?;
        if !re.is_match(value) {
            return Err(ParamError::PatternMismatch(format!(
                "Parameter value, cannot be validated against allowedPattern: {p}"
            )));
        }
    }
    if data_type != "text" && kind != "String" {
        return Err(ParamError::Validation(format!(
            "The data type {data_type} is only supported for parameters of type String."
        )));
    }
    if data_type == "aws:ec2:image" {
        let hex = value.strip_prefix("ami-").unwrap_or("");
        let ok = matches!(hex.len(), 8 | 17)
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(ParamError::Validation(
                "Parameter value is not a valid AMI ID (ami-xxxxxxxx or ami-xxxxxxxxxxxxxxxxx)."
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The tier of the new version: Standard (values up to 4 KB, no policies), Advanced (up
/// to 8 KB), Intelligent-Tiering (Advanced only when needed); never Advanced -> Standard.
fn tier(
    asked: Option<&str>,
    prev: Option<&Version>,
    len: usize,
    policies: bool,
) -> Result<String, ParamError> {
    let was_advanced = prev.is_some_and(|p| p.tier == "Advanced");
    let tier = match asked {
        None if was_advanced => "Advanced",
        None | Some("Standard") => "Standard",
        Some("Advanced") => "Advanced",
        Some("Intelligent-Tiering") if was_advanced || len > STANDARD_MAX || policies => "Advanced",
        Some("Intelligent-Tiering") => "Standard",
        Some(t) => {
            return Err(ParamError::Validation(format!(
                "1 validation error detected: Value '{t}' at 'tier' failed to satisfy constraint: \
                 Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]"
            )));
        }
    };
    if tier == "Standard" && was_advanced {
        return Err(ParamError::Validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter \
             from the advanced-parameter tier to the standard-parameter tier. If necessary, you \
             can delete the advanced parameter and recreate it as a standard parameter."
                .into(),
        ));
    }
    let max = if tier == "Advanced" {
        ADVANCED_MAX
    } else {
        STANDARD_MAX
    };
    if len > max {
        return Err(ParamError::Validation(format!(
            "{tier} tier parameters support a maximum parameter value of {max} characters. \
             To create a larger parameter value, upgrade the parameter to use the \
             advanced-parameter tier."
        )));
    }
    if tier == "Standard" && policies {
        return Err(ParamError::Validation(
            "Parameter policies are supported only for the advanced-parameter tier.".into(),
        ));
    }
    Ok(tier.to_string())
}

/// Add `v` as the newest version, dropping the oldest beyond 100 (refused if it has a label).
fn push_version(r: &mut Record, v: Version) -> Result<(), ParamError> {
    if r.versions.len() >= MAX_VERSIONS {
        let oldest = &r.versions[0];
        if !oldest.labels.is_empty() {
            return Err(ParamError::MaxVersionLimitExceeded(format!(
                "You attempted to create a new version of {} by calling the PutParameter API \
                 with the overwrite flag. Version {}, the oldest version, can't be deleted \
                 because it has a label associated with it. Move the label to another version \
                 of the parameter, and try again.",
                r.name, oldest.version
            )));
        }
        r.versions.remove(0);
    }
    r.versions.push(v);
    Ok(())
}
