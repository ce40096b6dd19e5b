//! `kmsfs ssm <verb>`: Parameter Store with the AWS CLI's verbs and flags (`put-parameter
//! --name /a --value v --type SecureString`, `get-parameter --with-decryption`, ...), JSON
//! output in AWS's field names, over [`crate::secrets::params::ParameterStore`]; plus
//! `events` (the policies' events) and `run-due-policies` (the policy sweep).

use super::error::CliError;
use super::paginate::{self, one_page};
use super::session::Session;
use crate::secrets::Service;
use crate::secrets::params::*;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum SsmCommand {
    /// Create a parameter, or a new version of one (--overwrite).
    PutParameter(PutArgs),
    /// Read one parameter (a SecureString's plaintext with --with-decryption).
    GetParameter {
        /// The name, maybe with a selector (`/a:3`, `/a:prod`), or its ARN.
        #[arg(long)]
        name: String,
        /// Return SecureString values decrypted (else their ciphertext, base64).
        #[arg(long)]
        with_decryption: bool,
    },
    /// Read up to 10 parameters; names not found come back in InvalidParameters.
    GetParameters {
        /// The parameters' names (up to 10).
        #[arg(long, num_args = 1.., required = true)]
        names: Vec<String>,
        /// Return SecureString values decrypted (else their ciphertext, base64).
        #[arg(long)]
        with_decryption: bool,
    },
    /// Read the parameters under a path (one level, or every level with --recursive).
    GetParametersByPath {
        /// The path: a name prefix that starts with /.
        #[arg(long)]
        path: String,
        /// Every level below the path, not just the first.
        #[arg(long)]
        recursive: bool,
        /// Key=Type,Option=Equals,Values=SecureString (repeatable) or JSON.
        #[arg(long, num_args = 1..)]
        parameter_filters: Vec<String>,
        /// Return SecureString values decrypted (else their ciphertext, base64).
        #[arg(long)]
        with_decryption: bool,
        /// Items per page.
        #[arg(long)]
        max_results: Option<i64>,
        /// NextToken from the previous page.
        #[arg(long)]
        next_token: Option<String>,
        #[command(flatten)]
        pages: super::paginate::PageArgs,
    },
    /// Every version of a parameter, oldest first, with its labels and policies.
    GetParameterHistory {
        /// The parameter's name (or ARN).
        #[arg(long)]
        name: String,
        /// Return SecureString values decrypted (else their ciphertext, base64).
        #[arg(long)]
        with_decryption: bool,
        /// Items per page.
        #[arg(long)]
        max_results: Option<i64>,
        /// NextToken from the previous page.
        #[arg(long)]
        next_token: Option<String>,
        #[command(flatten)]
        pages: super::paginate::PageArgs,
    },
    /// Attach labels to a version (a label moves from any other version).
    LabelParameterVersion(LabelArgs),
    /// Remove labels from a version.
    UnlabelParameterVersion(LabelArgs),
    /// Delete a parameter and all its versions.
    DeleteParameter {
        /// The parameter's name (or ARN).
        #[arg(long)]
        name: String,
    },
    /// Delete up to 10 parameters; names not found come back in InvalidParameters.
    DeleteParameters {
        /// The parameters' names (up to 10).
        #[arg(long, num_args = 1.., required = true)]
        names: Vec<String>,
    },
    /// List parameters' metadata (never their values), filtered and paginated.
    DescribeParameters {
        /// Key=Name,Values=a,b (repeatable) or JSON (the older filters).
        #[arg(long, num_args = 1..)]
        filters: Vec<String>,
        /// Key=Path,Option=Recursive,Values=/a (repeatable) or JSON.
        #[arg(long, num_args = 1..)]
        parameter_filters: Vec<String>,
        /// Items per page.
        #[arg(long)]
        max_results: Option<i64>,
        /// NextToken from the previous page.
        #[arg(long)]
        next_token: Option<String>,
        #[command(flatten)]
        pages: super::paginate::PageArgs,
    },
    /// Tag a parameter (ResourceType Parameter).
    AddTagsToResource {
        /// The resource type: Parameter.
        #[arg(long)]
        resource_type: String,
        /// The parameter's name.
        #[arg(long)]
        resource_id: String,
        /// Key=k,Value=v (repeatable) or JSON.
        #[arg(long, num_args = 1.., required = true)]
        tags: Vec<String>,
    },
    /// A parameter's tags.
    ListTagsForResource {
        /// The resource type: Parameter.
        #[arg(long)]
        resource_type: String,
        /// The parameter's name.
        #[arg(long)]
        resource_id: String,
    },
    /// Remove tags from a parameter.
    RemoveTagsFromResource {
        /// The resource type: Parameter.
        #[arg(long)]
        resource_type: String,
        /// The parameter's name.
        #[arg(long)]
        resource_id: String,
        /// The tag keys to remove.
        #[arg(long, num_args = 1.., required = true)]
        tag_keys: Vec<String>,
    },
    /// The events parameter policies recorded (ExpirationNotification, NoChangeNotification,
    /// Expiration), oldest first.
    Events {
        /// The parameter's name (or ARN).
        #[arg(long)]
        name: Option<String>,
        /// Only events at or after this time (RFC 3339, or epoch seconds).
        #[arg(long)]
        since: Option<String>,
    },
    /// Run the policies due now (expirations delete, notifications record events).
    RunDuePolicies,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PutArgs {
    /// The parameter's name (or ARN).
    #[arg(long)]
    name: String,
    /// The value (`file://PATH` reads it from a file).
    #[arg(long)]
    value: String,
    /// String, StringList or SecureString.
    #[arg(long = "type")]
    kind: Option<String>,
    /// A SecureString's KMS key (id, ARN or alias; default alias/aws/ssm).
    #[arg(long)]
    key_id: Option<String>,
    /// Replace an existing parameter's value (a new version).
    #[arg(long)]
    overwrite: bool,
    #[arg(long)]
    description: Option<String>,
    /// Standard, Advanced or Intelligent-Tiering.
    #[arg(long)]
    tier: Option<String>,
    /// A regular expression the value must match.
    #[arg(long)]
    allowed_pattern: Option<String>,
    /// text, aws:ec2:image or aws:ssm:integration.
    #[arg(long)]
    data_type: Option<String>,
    /// The policies' JSON array (`file://PATH` reads it from a file).
    #[arg(long)]
    policies: Option<String>,
    /// Key=k,Value=v (repeatable) or JSON.
    #[arg(long, num_args = 1..)]
    tags: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LabelArgs {
    /// The parameter's name (or ARN).
    #[arg(long)]
    name: String,
    /// The version to (un)label (default the latest).
    #[arg(long)]
    parameter_version: Option<u64>,
    /// The labels.
    #[arg(long, num_args = 1.., required = true)]
    labels: Vec<String>,
}

pub(super) fn run(s: &Session, cmd: &SsmCommand) -> Result<(), CliError> {
    let ctx = s.ctx(Service::ParameterStore)?;
    // `/aws/reference/secretsmanager/<id>` names read through Secrets Manager.
    let sm = crate::secrets::reference::ManagerReference::new(s.ctx(Service::SecretsManager)?);
    let ps = ParameterStore::new(&ctx, Some(&sm));
    use SsmCommand as C;
    match cmd {
        C::PutParameter(a) => s.reply(ps.put_parameter(put_request(s, a)?)),
        C::GetParameter {
            name,
            with_decryption,
        } => s.reply(ps.get_parameter(GetParameterRequest {
            name: name.clone(),
            with_decryption: Some(*with_decryption),
        })),
        C::GetParameters {
            names,
            with_decryption,
        } => s.reply(ps.get_parameters(GetParametersRequest {
            names: names.clone(),
            with_decryption: Some(*with_decryption),
        })),
        C::GetParametersByPath {
            path,
            recursive,
            parameter_filters,
            with_decryption,
            max_results,
            next_token,
            pages,
        } => {
            let parameter_filters = string_filters(s, parameter_filters)?;
            let raw = one_page(max_results, next_token);
            let v = paginate::pages(s.what, pages, raw, |n, t| {
                ps.get_parameters_by_path(GetParametersByPathRequest {
                    path: path.clone(),
                    recursive: Some(*recursive),
                    parameter_filters: parameter_filters.clone(),
                    with_decryption: Some(*with_decryption),
                    max_results: n.map(i64::from),
                    next_token: t,
                })
            })?;
            s.out.print(&v)
        }
        C::GetParameterHistory {
            name,
            with_decryption,
            max_results,
            next_token,
            pages,
        } => {
            let raw = one_page(max_results, next_token);
            let v = paginate::pages(s.what, pages, raw, |n, t| {
                ps.get_parameter_history(GetParameterHistoryRequest {
                    name: name.clone(),
                    with_decryption: Some(*with_decryption),
                    max_results: n.map(i64::from),
                    next_token: t,
                })
            })?;
            s.out.print(&v)
        }
        C::LabelParameterVersion(a) => s.reply(ps.label_parameter_version(label_request(a))),
        C::UnlabelParameterVersion(a) => s.reply(ps.unlabel_parameter_version(label_request(a))),
        C::DeleteParameter { name } => {
            s.reply(ps.delete_parameter(NameRequest { name: name.clone() }))
        }
        C::DeleteParameters { names } => s.reply(ps.delete_parameters(DeleteParametersRequest {
            names: names.clone(),
        })),
        _ => run_more(s, &ps, cmd),
    }
}

fn run_more(s: &Session, ps: &ParameterStore, cmd: &SsmCommand) -> Result<(), CliError> {
    use SsmCommand as C;
    match cmd {
        C::DescribeParameters {
            filters,
            parameter_filters,
            max_results,
            next_token,
            pages,
        } => {
            let filters = (!filters.is_empty())
                .then(|| parse_list::<ParametersFilter>(s, filters))
                .transpose()?;
            let parameter_filters = string_filters(s, parameter_filters)?;
            let raw = one_page(max_results, next_token);
            let v = paginate::pages(s.what, pages, raw, |n, t| {
                ps.describe_parameters(DescribeParametersRequest {
                    filters: filters.clone(),
                    parameter_filters: parameter_filters.clone(),
                    max_results: n.map(i64::from),
                    next_token: t,
                    shared: None,
                })
            })?;
            s.out.print(&v)
        }
        C::AddTagsToResource {
            resource_type,
            resource_id,
            tags,
        } => s.reply(ps.add_tags_to_resource(AddTagsToResourceRequest {
            resource_type: resource_type.clone(),
            resource_id: resource_id.clone(),
            tags: parse_list(s, tags)?,
        })),
        C::ListTagsForResource {
            resource_type,
            resource_id,
        } => s.reply(ps.list_tags_for_resource(ListTagsForResourceRequest {
            resource_type: resource_type.clone(),
            resource_id: resource_id.clone(),
        })),
        C::RemoveTagsFromResource {
            resource_type,
            resource_id,
            tag_keys,
        } => s.reply(ps.remove_tags_from_resource(RemoveTagsFromResourceRequest {
            resource_type: resource_type.clone(),
            resource_id: resource_id.clone(),
            tag_keys: tag_keys.clone(),
        })),
        C::Events { name, since } => {
            let since = since.as_deref().map(|t| parse_time(s, t)).transpose()?;
            let events = ps.events(name.as_deref(), since);
            s.reply(events.map(|e| serde_json::json!({ "Events": e })))
        }
        C::RunDuePolicies => s.reply(ps.run_due_policies()),
        _ => Err(CliError::usage(s.what, "unknown ssm verb")),
    }
}

fn put_request(s: &Session, a: &PutArgs) -> Result<PutParameterRequest, CliError> {
    Ok(PutParameterRequest {
        name: a.name.clone(),
        description: a.description.clone(),
        value: ParamValue::new(file_or_literal(s, &a.value)?),
        r#type: a.kind.clone(),
        key_id: a.key_id.clone(),
        overwrite: a.overwrite.then_some(true),
        allowed_pattern: a.allowed_pattern.clone(),
        tags: (!a.tags.is_empty())
            .then(|| parse_list(s, &a.tags))
            .transpose()?,
        tier: a.tier.clone(),
        policies: a
            .policies
            .as_deref()
            .map(|p| file_or_literal(s, p))
            .transpose()?,
        data_type: a.data_type.clone(),
    })
}

fn label_request(a: &LabelArgs) -> LabelParameterVersionRequest {
    LabelParameterVersionRequest {
        name: a.name.clone(),
        parameter_version: a.parameter_version,
        labels: a.labels.clone(),
    }
}

/// `file://PATH` read, or the literal.
fn file_or_literal(s: &Session, v: &str) -> Result<String, CliError> {
    match v.strip_prefix("file://") {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| CliError::usage(s.what, format!("{p}: {e}")))
        }
        None => Ok(v.to_string()),
    }
}

fn string_filters(
    s: &Session,
    items: &[String],
) -> Result<Option<Vec<ParameterStringFilter>>, CliError> {
    (!items.is_empty())
        .then(|| parse_list(s, items))
        .transpose()
}

/// A list of structures from the AWS CLI's shorthand (`Key=a,Values=b,c`, one item per
/// argument) or JSON (an array, or one object per argument).
fn parse_list<T: serde::de::DeserializeOwned>(
    s: &Session,
    items: &[String],
) -> Result<Vec<T>, CliError> {
    let bad = |e: serde_json::Error| CliError::usage(s.what, format!("cannot read {items:?}: {e}"));
    if let [one] = items
        && one.trim_start().starts_with('[')
    {
        return serde_json::from_str(one).map_err(bad);
    }
    items
        .iter()
        .map(|i| {
            let v = if i.trim_start().starts_with('{') {
                serde_json::from_str(i).map_err(bad)?
            } else {
                shorthand(i)
            };
            serde_json::from_value(v).map_err(bad)
        })
        .collect()
}

/// `Key=Type,Option=Equals,Values=a,b` as JSON (`Values` and `TagKeys` are lists).
pub(crate) fn shorthand(item: &str) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    let mut last: Option<String> = None;
    for piece in item.split(',') {
        match piece.split_once('=') {
            Some((k, v)) => {
                let value = if k == "Values" {
                    serde_json::json!([v])
                } else {
                    serde_json::json!(v)
                };
                map.insert(k.to_string(), value);
                last = Some(k.to_string());
            }
            None => {
                if let Some(serde_json::Value::Array(a)) =
                    last.as_ref().and_then(|k| map.get_mut(k))
                {
                    a.push(serde_json::json!(piece));
                }
            }
        }
    }
    serde_json::Value::Object(map)
}

/// RFC 3339 or epoch seconds, in Unix ms.
fn parse_time(s: &Session, t: &str) -> Result<i64, CliError> {
    if let Ok(secs) = t.parse::<f64>() {
        return Ok((secs * 1000.0) as i64);
    }
    policy::parse_timestamp(t).ok_or_else(|| {
        CliError::usage(
            s.what,
            format!("--since {t:?}: use RFC 3339 or epoch seconds"),
        )
    })
}
