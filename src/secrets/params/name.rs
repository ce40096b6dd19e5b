//! AWS's rules for parameter names, paths, labels and selectors, and parameters' ARNs.

use super::error::ParamError;

/// The longest name a caller may create (AWS keeps 1037 of the 2048 for itself).
pub const MAX_NAME_LEN: usize = 1011;
/// The deepest hierarchy: `/a/b/.../o` (15 levels).
pub const MAX_LEVELS: usize = 15;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 100;
/// Where Secrets Manager's secrets appear in Parameter Store.
pub const SECRETS_REFERENCE_PREFIX: &str = "/aws/reference/secretsmanager/";

/// Check a name for PutParameter: characters `a-zA-Z0-9_.-/`, at most 1011 of them, a
/// name with `/` fully qualified (`/a/b`) without empty levels, at most 15 levels, not
/// beginning with `aws` or `ssm` (any case, with or without its leading `/`).
pub fn check_name(name: &str) -> Result<(), ParamError> {
    check_chars(name)?;
    if name.len() > MAX_NAME_LEN {
        return Err(ParamError::Validation(format!(
            "Parameter name: {} characters is longer than the maximum of {MAX_NAME_LEN}",
            name.len()
        )));
    }
    let bare = name.trim_start_matches('/').to_ascii_lowercase();
    if bare.starts_with("aws") || bare.starts_with("ssm") {
        return Err(ParamError::Validation(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).".into(),
        ));
    }
    if name.contains('/') {
        if !name.starts_with('/') {
            return Err(ParamError::Validation(
                "Parameter name must be a fully qualified name: a name with \"/\" must begin with \"/\"."
                    .into(),
            ));
        }
        if name.ends_with('/') || name.contains("//") {
            return Err(ParamError::Validation(
                "Parameter name: a hierarchy level can't be empty.".into(),
            ));
        }
        if levels(name) > MAX_LEVELS {
            return Err(ParamError::HierarchyLevelLimitExceeded(format!(
                "A hierarchy can have a maximum of {MAX_LEVELS} levels."
            )));
        }
    }
    Ok(())
}

/// Check the characters of a name or path (and that it is not empty).
fn check_chars(name: &str) -> Result<(), ParamError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return Err(ParamError::Validation(
            "Parameter name: only a mixture of letters, numbers and the symbols . - _ / is allowed."
                .into(),
        ));
    }
    Ok(())
}

/// The number of levels of a hierarchical name.
fn levels(name: &str) -> usize {
    name.trim_start_matches('/').split('/').count()
}

/// Check a path of GetParametersByPath / a Path filter: `/` or `/a/b` (a trailing `/` is
/// allowed), at most 15 levels.
pub fn check_path(path: &str) -> Result<(), ParamError> {
    check_chars(path)?;
    if !path.starts_with('/') || path.contains("//") {
        return Err(ParamError::Validation(format!(
            "The parameter doesn't meet the parameter name requirements. The parameter name must \
             begin with a forward slash \"/\": {path}"
        )));
    }
    if levels(path.trim_end_matches('/')) > MAX_LEVELS {
        return Err(ParamError::HierarchyLevelLimitExceeded(format!(
            "A hierarchy can have a maximum of {MAX_LEVELS} levels."
        )));
    }
    Ok(())
}

/// Is `name` directly in `path` (`recursive`: anywhere below it)?
pub fn in_path(name: &str, path: &str, recursive: bool) -> bool {
    let prefix = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    match name.strip_prefix(&prefix) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

/// Is `label` a valid label: 1-100 letters, digits, `.`, `-`, `_`; not beginning with a
/// digit, `aws` or `ssm` (any case).
pub fn valid_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// What a name's selector asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Latest,
    Version(u64),
    Label(String),
}

impl Selector {
    /// How responses show it (`:3`, `:prod`).
    pub fn shown(&self) -> Option<String> {
        match self {
            Selector::Latest => None,
            Selector::Version(v) => Some(format!(":{v}")),
            Selector::Label(l) => Some(format!(":{l}")),
        }
    }
}

/// Split `name:3` / `name:label` into the name and its selector.
pub fn split_selector(full: &str) -> Result<(&str, Selector), ParamError> {
    // An ARN's colons are not selectors: look after its `:parameter/`.
    let skip = match full.find(":parameter/") {
        Some(i) if full.starts_with("arn:") => i + ":parameter/".len(),
        _ => 0,
    };
    let Some(i) = full[skip..].find(':').map(|i| i + skip) else {
        return Ok((full, Selector::Latest));
    };
    let (name, sel) = (&full[..i], &full[i + 1..]);
    if sel.is_empty() || sel.contains(':') {
        return Err(ParamError::Validation(format!(
            "Invalid parameter selector in {full}: use name:version or name:label"
        )));
    }
    if sel.bytes().all(|b| b.is_ascii_digit()) {
        let v = sel
            .parse()
            .map_err(|_| ParamError::Validation(format!("Invalid parameter version in {full}")))?;
        return Ok((name, Selector::Version(v)));
    }
    Ok((name, Selector::Label(sel.to_string())))
}

/// The ARN of parameter `name`: `arn:PART:ssm:REGION:ACCOUNT:parameter/NAME` (the name
/// without its leading `/`).
pub fn arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    let bare = name.strip_prefix('/').unwrap_or(name);
    format!("arn:{partition}:ssm:{region}:{account}:parameter/{bare}")
}

/// The name a caller gave as a name or an ARN (`ResourceId`, names in requests).
pub fn name_of(id: &str) -> String {
    match id.strip_prefix("arn:") {
        Some(rest) => match rest.split_once(":parameter/") {
            Some((_, n)) if n.contains('/') => format!("/{n}"),
            Some((_, n)) => n.to_string(),
            None => id.to_string(),
        },
        None => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("/a/b-c_d.e").is_ok());
        assert!(check_name("plain").is_ok());
        assert!(check_name("a/b").is_err());
        assert!(check_name("/aws/x").is_err());
        assert!(check_name("SSMfoo").is_err());
        assert!(check_name("/a b").is_err());
        assert!(check_name(&"x".repeat(1012)).is_err());
        let deep: String = (0..16).map(|i| format!("/l{i}")).collect();
        assert!(matches!(
            check_name(&deep),
            Err(ParamError::HierarchyLevelLimitExceeded(_))
        ));
        assert!(in_path("/a/b", "/a", false) && !in_path("/a/b/c", "/a", false));
        assert!(in_path("/a/b/c", "/a/", true) && !in_path("/ab", "/a", true));
        assert!(valid_label("prod") && !valid_label("1x") && !valid_label("AWSx"));
        assert_eq!(split_selector("/a:3").unwrap().1, Selector::Version(3));
        assert_eq!(
            split_selector("arn:aws:ssm:r:1:parameter/a:p").unwrap(),
            ("arn:aws:ssm:r:1:parameter/a", Selector::Label("p".into()))
        );
        assert_eq!(name_of("arn:aws:ssm:r:1:parameter/a/b"), "/a/b");
        assert_eq!(
            arn("aws", "r", "1", "/a/b"),
            "arn:aws:ssm:r:1:parameter/a/b"
        );
    }
}
