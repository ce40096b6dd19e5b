//! The AWS CLI's `--cli-input-json` and `--generate-cli-skeleton` for every verb. Both work
//! on the command line before it is parsed: `--generate-cli-skeleton` prints the verb's
//! parameters as a JSON object (the AWS CLI's names, PascalCase) with empty values;
//! `--cli-input-json JSON|file://PATH` turns the object's members into the verb's flags
//! (`"KeyId": "k"` is `--key-id k`, `true` a bare flag, a list repeated values, an object
//! its JSON text), flags given on the command line winning, as in the AWS CLI.

use clap::{ArgAction, Command};
use serde_json::{Map, Value};
use std::ffi::OsString;

/// What the pre-parse found.
pub(crate) enum Input {
    /// Run this command line.
    Run(Vec<OsString>),
    /// Print this skeleton and stop.
    Skeleton(String),
}

/// Apply `--cli-input-json` and `--generate-cli-skeleton` to `argv` (program name first).
pub(crate) fn apply(cmd: &Command, argv: Vec<OsString>) -> Result<Input, String> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut input = None;
    let mut skeleton = false;
    let mut rest: Vec<OsString> = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &args[i];
        if a == "--generate-cli-skeleton" {
            skeleton = true;
        } else if a == "--cli-input-json" {
            input = Some(
                args.get(i + 1)
                    .ok_or("--cli-input-json needs a value")?
                    .clone(),
            );
            i += 1;
        } else if let Some(v) = a.strip_prefix("--cli-input-json=") {
            input = Some(v.to_string());
        } else {
            rest.push(argv[i].clone());
        }
        i += 1;
    }
    if !skeleton && input.is_none() {
        return Ok(Input::Run(argv));
    }
    let leaf =
        leaf(cmd, &args[1..]).ok_or("--cli-input-json and --generate-cli-skeleton need a verb")?;
    if skeleton {
        return Ok(Input::Skeleton(skeleton_of(leaf)));
    }
    let text = input.unwrap_or_default();
    let text = match text.strip_prefix("file://") {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("--cli-input-json {text}: {e}"))?
        }
        None => text,
    };
    let obj: Map<String, Value> = match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => m,
        _ => return Err("--cli-input-json is not a JSON object".into()),
    };
    let given: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a))
        .collect();
    for (k, v) in obj {
        let long = xform_name(&k);
        let Some(arg) = leaf
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
        else {
            return Err(format!(
                "Parameter validation failed: Unknown parameter in input: \"{k}\", must be one of: {}",
                names(leaf).join(", ")
            ));
        };
        if given.contains(&long.as_str()) {
            continue;
        }
        let flag = format!("--{long}");
        let bare = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        match v {
            Value::Bool(true) if bare => rest.push(flag.into()),
            Value::Bool(false) if bare => {}
            Value::Null => {}
            Value::Array(items) => {
                rest.push(flag.into());
                rest.extend(items.iter().map(|x| OsString::from(scalar(x))));
            }
            v => rest.extend([OsString::from(flag), OsString::from(scalar(&v))]),
        }
    }
    Ok(Input::Run(rest))
}

/// A value as a flag's text: strings as they are, anything else as JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The verb `args` names (global flags and their values skipped).
fn leaf<'a>(cmd: &'a Command, args: &[String]) -> Option<&'a Command> {
    let mut c = cmd;
    let mut descended = false;
    for a in args {
        if c.get_subcommands().next().is_none() {
            break;
        }
        if let Some(sub) = c.find_subcommand(a) {
            c = sub;
            descended = true;
        }
    }
    (descended && c.get_subcommands().next().is_none()).then_some(c)
}

/// The verb's parameters, PascalCase, with empty values of their kinds.
fn skeleton_of(leaf: &Command) -> String {
    let mut m = Map::new();
    for a in leaf
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
    {
        let Some(long) = a.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let v = match a.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => Value::Bool(false),
            ArgAction::Append => Value::Array(vec![Value::String(String::new())]),
            _ if a.get_num_args().is_some_and(|n| n.max_values() > 1) => {
                Value::Array(vec![Value::String(String::new())])
            }
            _ => Value::String(String::new()),
        };
        m.insert(pascal(long), v);
    }
    serde_json::to_string_pretty(&Value::Object(m)).expect("a JSON object serializes")
}

fn names(leaf: &Command) -> Vec<String> {
    leaf.get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .filter(|l| !["help", "version"].contains(l))
        .map(pascal)
        .collect()
}

/// `key-id` -> `KeyId`.
fn pascal(long: &str) -> String {
    long.split('-')
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

/// botocore's `xform_name` with `-`: `KeyId` -> `key-id`, `SSEKMSKeyId` -> `ssekms-key-id`.
fn xform_name(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, ch) in c.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| c[j]);
        let next = c.get(i + 1);
        let boundary = ch.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary {
            out.push('-');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(argv: &[&str]) -> Result<Vec<String>, String> {
        let cmd = super::super::help::command();
        match apply(&cmd, argv.iter().map(OsString::from).collect())? {
            Input::Run(a) => Ok(a.iter().map(|a| a.to_string_lossy().into_owned()).collect()),
            Input::Skeleton(s) => Ok(vec![s]),
        }
    }

    #[test]
    fn names_convert_as_botocore() {
        assert_eq!(xform_name("KeyId"), "key-id");
        assert_eq!(xform_name("SSEKMSKeyId"), "ssekms-key-id");
        assert_eq!(xform_name("EncryptionContext"), "encryption-context");
        assert_eq!(xform_name("GrantTokens"), "grant-tokens");
        assert_eq!(pascal("key-id"), "KeyId");
    }

    #[test]
    fn input_json_becomes_flags_and_the_command_line_wins() {
        let a = run(&[
            "kmsfs",
            "kms",
            "create-key",
            "--cli-input-json",
            r#"{"Description":"d","KeyUsage":"SIGN_VERIFY","MultiRegion":true}"#,
        ])
        .unwrap();
        assert_eq!(
            a,
            [
                "kmsfs",
                "kms",
                "create-key",
                "--description",
                "d",
                "--key-usage",
                "SIGN_VERIFY",
                "--multi-region"
            ]
        );
        let a = run(&[
            "kmsfs",
            "kms",
            "create-key",
            "--description",
            "cli",
            "--cli-input-json",
            r#"{"Description":"json"}"#,
        ])
        .unwrap();
        assert_eq!(a, ["kmsfs", "kms", "create-key", "--description", "cli"]);
        let e = run(&[
            "kmsfs",
            "kms",
            "create-key",
            "--cli-input-json",
            r#"{"Nope":1}"#,
        ])
        .unwrap_err();
        assert!(e.contains("Unknown parameter in input: \"Nope\""), "{e}");
        assert!(run(&["kmsfs", "kms", "create-key", "--cli-input-json", "[1]"]).is_err());
        assert!(run(&["kmsfs", "--cli-input-json", "{}"]).is_err());
    }

    #[test]
    fn skeletons_list_the_parameters() {
        let s = run(&["kmsfs", "kms", "encrypt", "--generate-cli-skeleton"])
            .unwrap()
            .remove(0);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert!(
            v.get("KeyId").is_some() && v.get("Plaintext").is_some(),
            "{s}"
        );
        assert!(v.get("Help").is_none() && v.get("Home").is_none());
    }
}
