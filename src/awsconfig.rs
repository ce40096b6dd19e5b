//! The AWS shared configuration and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`) and the standard environment variables, read as botocore reads them,
//! for clients of AWS endpoints (the remote KMS client): which access key, region, endpoint
//! URL and CA bundle a profile gives.
//!
//! The files are Python `configparser` files (`[section]`, `key = value` or `key: value`,
//! whole-line `#`/`;` comments, indented continuation lines, keys case-insensitive, a
//! duplicate section or key an error) with botocore's one extension: a key whose value is
//! only indented `k = v` lines is a nested section (`kms =\n  endpoint_url = ...` under
//! `[services NAME]`). In the config file a profile is `[default]` or `[profile NAME]`; in
//! the credentials file `[NAME]`.
//!
//! Precedence, as botocore: with `--profile NAME` the profile's own credentials (the
//! environment's access key is not used); without it the `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` environment, else the profile named by
//! `AWS_PROFILE` (or `default`). The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's
//! `region`. The endpoint of service `svc`: `AWS_ENDPOINT_URL_<SVC>`, `AWS_ENDPOINT_URL`, the
//! profile's `[services]` entry for `svc`, the profile's `endpoint_url` (the last three not
//! when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). The CA bundle: `AWS_CA_BUNDLE`, the
//! profile's `ca_bundle`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A section: its keys (lowercase) and values; nested sections as [`Value::Nested`].
pub type Section = BTreeMap<String, Value>;

/// A value of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Nested(BTreeMap<String, String>),
}

impl Value {
    fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            Value::Nested(_) => None,
        }
    }
}

/// Why the files or the profile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("{path}, line {line}: {why}")]
    Parse {
        path: String,
        line: usize,
        why: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the profile '{0}' is not in the AWS config or credentials file (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE; `kmsfs credentials export --profile NAME` prints one)"
    )]
    NoSuchProfile(String),
    #[error(
        "the profile '{profile}' names the services section '{services}', which does not exist"
    )]
    NoSuchServices { profile: String, services: String },
}

/// Parse one file's text (`path` only names it in errors).
pub fn parse(text: &str, path: &str) -> Result<BTreeMap<String, Section>, AwsConfigError> {
    let err = |line: usize, why: &str| AwsConfigError::Parse {
        path: path.to_string(),
        line,
        why: why.to_string(),
    };
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    // (section, key, continuation lines) of the value being read.
    let mut cur: Option<String> = None;
    let mut open: Option<(String, Vec<String>)> = None;
    let close = |sections: &mut BTreeMap<String, Section>,
                 cur: &Option<String>,
                 open: &mut Option<(String, Vec<String>)>,
                 line: usize| {
        if let (Some(s), Some((key, lines))) = (cur, open.take()) {
            let v = value_of(lines).map_err(|why| err(line, &why))?;
            sections.get_mut(s).expect("open section").insert(key, v);
        }
        Ok::<_, AwsConfigError>(())
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        let indented = line.starts_with([' ', '\t']);
        let body = line.trim_start();
        if body.is_empty() || body.starts_with(['#', ';']) {
            continue;
        }
        if let (true, Some((_, lines))) = (indented, open.as_mut()) {
            lines.push(body.to_string());
            continue;
        }
        close(&mut sections, &cur, &mut open, n)?;
        if let Some(name) = body.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| err(n, "a section header must end with ']'"))?
                .trim();
            if sections.insert(name.to_string(), Section::new()).is_some() {
                return Err(err(n, &format!("the section [{name}] appears twice")));
            }
            cur = Some(name.to_string());
            continue;
        }
        let Some(section) = &cur else {
            return Err(err(n, "a key before the first [section]"));
        };
        let at = body
            .find(['=', ':'])
            .ok_or_else(|| err(n, "expected 'key = value'"))?;
        let key = body[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(err(n, "a key name is empty"));
        }
        if sections[section].contains_key(&key) || open.as_ref().is_some_and(|o| o.0 == key) {
            return Err(err(
                n,
                &format!("the key '{key}' appears twice in [{section}]"),
            ));
        }
        open = Some((key, vec![body[at + 1..].trim().to_string()]));
    }
    close(&mut sections, &cur, &mut open, text.lines().count())?;
    Ok(sections)
}

/// A value from its first line and its continuation lines: text, or (first line empty,
/// continuation lines `k = v`) a nested section.
fn value_of(mut lines: Vec<String>) -> Result<Value, String> {
    if lines.len() == 1 {
        return Ok(Value::Text(lines.pop().unwrap_or_default()));
    }
    if !lines[0].is_empty() {
        return Ok(Value::Text(lines.join("\n")));
    }
    let mut nested = BTreeMap::new();
    for l in &lines[1..] {
        let at = l
            .find('=')
            .ok_or_else(|| format!("expected 'key = value' in a nested section, got '{l}'"))?;
        nested.insert(
            l[..at].trim().to_ascii_lowercase(),
            l[at + 1..].trim().to_string(),
        );
    }
    Ok(Value::Nested(nested))
}

/// What a client of one AWS service is configured with.
#[derive(Default)]
pub struct ClientSettings {
    /// The profile read (`None`: only the environment was used).
    pub profile: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Zeroizing<String>>,
    pub session_token: Option<Zeroizing<String>>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub ca_bundle: Option<PathBuf>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("profile", &self.profile)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("ca_bundle", &self.ca_bundle)
            .finish_non_exhaustive()
    }
}

/// The settings of a client of `service` (its signing name, e.g. `kms`) with the profile
/// `profile` (`--profile`; `None`: the environment, then `AWS_PROFILE` or `default`), the
/// environment read through `env`.
pub fn resolve(
    service: &str,
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClientSettings, AwsConfigError> {
    let home = env("HOME").unwrap_or_default();
    let file = |var: &str, name: &str| -> Result<BTreeMap<String, Section>, AwsConfigError> {
        let path = env(var).unwrap_or_else(|| format!("{home}/.aws/{name}"));
        read_file(Path::new(&path))
    };
    let config = file("AWS_CONFIG_FILE", "config")?;
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")?;
    let explicit = profile.is_some();
    let name = profile
        .map(str::to_string)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let in_config = config
        .get(&format!("profile {name}"))
        .or_else(|| (name == "default").then(|| config.get("default")).flatten());
    let in_credentials = credentials.get(&name);
    if (explicit || env("AWS_PROFILE").is_some()) && in_config.is_none() && in_credentials.is_none()
    {
        return Err(AwsConfigError::NoSuchProfile(name));
    }
    let get = |key: &str| -> Option<String> {
        [in_credentials, in_config]
            .into_iter()
            .flatten()
            .find_map(|s| s.get(key).and_then(Value::text))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut s = ClientSettings {
        profile: (in_config.is_some() || in_credentials.is_some()).then(|| name.clone()),
        ..ClientSettings::default()
    };
    let from_env = !explicit && env("AWS_ACCESS_KEY_ID").is_some();
    if from_env {
        s.access_key_id = env("AWS_ACCESS_KEY_ID");
        s.secret_access_key = env("AWS_SECRET_ACCESS_KEY").map(Zeroizing::new);
        s.session_token = env("AWS_SESSION_TOKEN").map(Zeroizing::new);
    } else {
        s.access_key_id = get("aws_access_key_id");
        s.secret_access_key = get("aws_secret_access_key").map(Zeroizing::new);
        s.session_token = get("aws_session_token").map(Zeroizing::new);
    }
    s.region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| get("region"));
    s.ca_bundle = env("AWS_CA_BUNDLE")
        .or_else(|| get("ca_bundle"))
        .map(PathBuf::from);
    let var = format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase().replace('-', "_")
    );
    s.endpoint_url = env(&var).or_else(|| env("AWS_ENDPOINT_URL"));
    let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v == "true");
    if s.endpoint_url.is_none() && !ignore {
        s.endpoint_url = configured_endpoint(&config, in_config, &name, service)?
            .or_else(|| get("endpoint_url"));
    }
    Ok(s)
}

/// The `endpoint_url` of `service` in the `[services NAME]` section the profile names.
fn configured_endpoint(
    config: &BTreeMap<String, Section>,
    profile: Option<&Section>,
    name: &str,
    service: &str,
) -> Result<Option<String>, AwsConfigError> {
    let Some(services) = profile
        .and_then(|p| p.get("services"))
        .and_then(Value::text)
    else {
        return Ok(None);
    };
    let section = config.get(&format!("services {services}")).ok_or_else(|| {
        AwsConfigError::NoSuchServices {
            profile: name.to_string(),
            services: services.to_string(),
        }
    })?;
    Ok(match section.get(service) {
        Some(Value::Nested(n)) => n.get("endpoint_url").cloned(),
        _ => None,
    })
}

/// A file's sections; a missing file has none.
fn read_file(path: &Path) -> Result<BTreeMap<String, Section>, AwsConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(AwsConfigError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The process environment, as [`resolve`] takes it (empty values are unset).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
