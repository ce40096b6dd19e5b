//! `kmsfs config kms-quota`: the KMS's request quotas (`kms::quota`). `aws` applies AWS's
//! default figures, `FAMILY=N ...` sets families one by one (N requests per second, `0`
//! unlimited), `off` turns quotas off, `show` (or no word) prints the setting. Needs the
//! home only, not its keys: the setting is read by each process when it opens the KMS.

use super::error::{CliError, OrFail};
use super::session::Ctx;
use crate::home::Home;
use crate::kms::quota::QuotaSettings;

/// `kmsfs config <verb>`: the EBS settings (`volume_cmd.rs`) and the KMS's quotas.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConfigCommand {
    #[command(flatten)]
    Ebs(super::volume_cmd::ConfigCommand),
    /// The KMS's request quotas (off by default): show, off, aws, FAMILY=N ...
    KmsQuota(KmsQuotaArgs),
}

/// `kmsfs config kms-quota` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct KmsQuotaArgs {
    /// `show` (the default), `off`, `aws` (AWS's default figures) and/or `FAMILY=N`
    /// (requests per second; 0 = unlimited). Families: `symmetric` (Encrypt, Decrypt,
    /// ReEncrypt, GenerateDataKey*, GenerateMac, VerifyMac, GenerateRandom),
    /// `GenerateDataKeyPair`, and each management operation by its name (`DescribeKey`,
    /// `CreateKey`, ...).
    #[arg(value_name = "SETTING")]
    pub settings: Vec<String>,
}

const WHAT: &str = "config kms-quota failed";

/// Run `kmsfs config kms-quota`.
pub(super) fn run(ctx: &Ctx, a: &KmsQuotaArgs) -> Result<(), CliError> {
    let home = Home::open(&ctx.root).or_fail(WHAT)?;
    let dir = home.kms_dir();
    let words: Vec<&str> = a.settings.iter().map(String::as_str).collect();
    let shown = match words.as_slice() {
        [] | ["show"] => QuotaSettings::load(&dir).or_fail(WHAT)?,
        // Not read first: `off` also clears a damaged setting.
        ["off"] => {
            QuotaSettings::turn_off(&dir).or_fail(WHAT)?;
            None
        }
        _ => {
            let current = QuotaSettings::load(&dir).or_fail(WHAT)?;
            let mut s = current.unwrap_or_else(QuotaSettings::unlimited);
            for w in &words {
                if matches!(*w, "show" | "off") {
                    let why = format!("'{w}' stands alone");
                    return Err(CliError::usage(WHAT, why));
                }
                s.apply(w).or_fail(WHAT)?;
            }
            s.save(&dir).or_fail(WHAT)?;
            Some(s)
        }
    };
    ctx.out
        .print(&describe(shown.as_ref(), &home.config().region))
}

/// The setting as printed: `Enabled`, and each family's rate in the home's region
/// (`null`: unlimited).
fn describe(s: Option<&QuotaSettings>, region: &str) -> serde_json::Value {
    let Some(s) = s else {
        return serde_json::json!({ "Enabled": false });
    };
    let rates: serde_json::Map<String, serde_json::Value> = s
        .table(region)
        .into_iter()
        .map(|(f, r)| (f.to_string(), serde_json::json!(r)))
        .collect();
    serde_json::json!({
        "Enabled": true,
        "Region": region,
        "Base": s.base,
        "RequestsPerSecond": rates,
    })
}
