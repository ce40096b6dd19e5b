//! The command line: `kmsfs init`, `kmsfs kms <verb>` (AWS CLI verbs and flags, JSON
//! output by default), `kmsfs audit show|verify`, `kmsfs credentials` (SigV4 access keys), volumes, snapshots, `kmsfs bucket|object`,
//! `kmsfs mount|mount-bucket|umount` and `kmsfs encrypt-file|decrypt-file` (envelope
//! messages). Each command parses its arguments, calls the service, and prints the result;
//! failures print as `kmsfs: <what failed>: <why>` and exit with the codes in
//! `error::exit`. Only [`main`] is offered to the rest of the crate's users.

mod args;
mod audit_cmd;
mod aws_shorthand;
mod completions_cmd;
mod config_cmd;
mod credentials_cmd;
mod ec2_cmd;
mod ec2_snapshot_cmd;
mod ec2_tags_cmd;
mod envelope_cmd;
mod error;
mod grant_cmd;
mod help;
mod iam_cmd;
mod input_json;
mod kms_asym_cmd;
mod kms_cmd;
mod kms_import_cmd;
mod kms_mrk_cmd;
mod mount_cmd;
mod mount_helper;
mod object_cmd;
mod output;
mod paginate;
mod s3_cmd;
mod s3api_cmd;
mod secretsmanager_cmd;
mod serve_cmd;
mod session;
mod snapshot_cmd;
mod ssm_cmd;
mod sts_cmd;
mod volume_cmd;

use crate::home::{Home, InitOptions};
use crate::kms::{Kms, RootKeySource};
use clap::{Parser, Subcommand};
use error::{CliError, OrFail, exit, failed};
use session::Ctx;
use std::path::PathBuf;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Json,
    Text,
    Table,
    Yaml,
    YamlStream,
}

#[derive(Debug, Parser)]
#[command(
    name = "kmsfs",
    version,
    about = "Local KMS-backed encrypted storage: an embedded AWS KMS, encrypted volumes, SSE buckets"
)]
pub(crate) struct Cli {
    /// The kmsfs home (default: $KMSFS_HOME, else $XDG_DATA_HOME/kmsfs, else ~/.local/share/kmsfs).
    #[arg(long, global = true, env = "KMSFS_HOME", hide_env_values = true)]
    home: Option<PathBuf>,
    /// Output format, as the AWS CLI's: json, text (tab-separated), table (boxed), yaml,
    /// yaml-stream.
    #[arg(long, global = true, value_enum, default_value_t = Format::Json)]
    output: Format,
    /// A JMESPath expression applied to the result, as the AWS CLI's (e.g. `CiphertextBlob`,
    /// `Keys[].KeyId`, `KeyMetadata.[KeyId,Arn]`, `Keys[?contains(KeyId,'x')]`); no match
    /// prints null. Checked before the command acts.
    #[arg(long, global = true)]
    query: Option<String>,
    /// Read the keystore passphrase from this file (else $KMSFS_PASSPHRASE, else a prompt).
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// Reach the KMS at this endpoint (http[s]://HOST:PORT, e.g. a `kmsfs serve` of another
    /// home) for volumes, snapshots, buckets, objects, mounts and envelope files, signing with
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] for AWS_REGION (default
    /// us-east-1); AWS_ENDPOINT_URL_KMS in the environment does the same. `kmsfs kms` and
    /// `kmsfs credentials` always use the home's embedded KMS.
    #[arg(
        long,
        global = true,
        env = "KMSFS_KMS_ENDPOINT",
        hide_env_values = true,
        value_name = "URL"
    )]
    kms_endpoint: Option<String>,
    /// Trust the CA certificates of this PEM file for an https --kms-endpoint (e.g. the
    /// output of `kmsfs serve --print-ca`); else AWS_CA_BUNDLE, else the system's roots.
    #[arg(
        long,
        global = true,
        env = "KMSFS_KMS_CA_BUNDLE",
        hide_env_values = true,
        value_name = "PATH"
    )]
    kms_ca_bundle: Option<PathBuf>,
    /// Sign requests to the KMS endpoint with this AWS profile's access key (from
    /// ~/.aws/credentials and ~/.aws/config, as the AWS CLI reads them, e.g. one printed by
    /// `kmsfs credentials export`); its `endpoint_url`, `region` and `ca_bundle` apply too,
    /// so `--profile NAME` alone selects a remote KMS (not for `kmsfs kms` and `kmsfs
    /// credentials`, which work on the home's own KMS; `credentials export` names the
    /// profile it prints with it).
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// The Region a command acts in, as the AWS CLI's `--region`: each Region of the home
    /// has its own keys and aliases. `kmsfs kms` verbs then take AWS_REGION, else
    /// AWS_DEFAULT_REGION, else the home's Region; other commands the home's. With `init`
    /// and `serve --ephemeral`: the new home's Region (default us-east-1).
    #[arg(long, global = true)]
    region: Option<String>,
    /// `kmsfs kms` verbs: send the request to this KMS endpoint (a `kmsfs serve`, AWS KMS,
    /// an emulator) instead of the home's KMS, signed with AWS_ACCESS_KEY_ID/... or
    /// --profile, as `aws kms --endpoint-url` does. (Volumes, buckets and envelope files
    /// take --kms-endpoint.)
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Accepted for the AWS CLI's sake: kmsfs never pipes its output through a pager.
    #[arg(long, global = true)]
    no_cli_pager: bool,
    /// The verb's parameters as a JSON object (AWS names, e.g. {"KeyId": "..."}, or
    /// file://PATH); flags on the command line win. See --generate-cli-skeleton.
    #[arg(long, global = true, value_name = "JSON")]
    cli_input_json: Option<String>,
    /// Print the verb's parameters as a JSON object for --cli-input-json, and stop.
    #[arg(long, global = true)]
    generate_cli_skeleton: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a home: account id, region, KMS keystore and root key (mode 0600).
    Init {
        /// Derive the root key from a passphrase (Argon2id) instead of a random key file.
        #[arg(long)]
        passphrase: bool,
        /// 12-digit account id (default: random).
        #[arg(long)]
        account_id: Option<String>,
    },
    /// Key Management Service operations (verbs and flags as in `aws kms`) on the home's
    /// embedded KMS (`--kms-endpoint` does not apply: use the AWS CLI against an endpoint).
    Kms(kms_cmd::KmsArgs),
    /// The audit trail of every KMS request.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Access keys for `kmsfs serve` (SigV4): create, add, list, delete.
    #[command(subcommand)]
    Credentials(credentials_cmd::CredentialsCommand),
    /// IAM users, their access keys, roles and inline policies (verbs as in `aws iam`).
    #[command(subcommand)]
    Iam(iam_cmd::IamCommand),
    /// STS: `assume-role` (temporary credentials), `get-caller-identity`.
    #[command(subcommand)]
    Sts(sts_cmd::StsCommand),
    /// The accounts of the home: create, list, delete.
    #[command(subcommand)]
    Account(sts_cmd::AccountCommand),
    /// EBS-style encrypted volumes.
    #[command(subcommand)]
    Volume(volume_cmd::VolumeCommand),
    /// Account settings (encryption by default, default KMS key, KMS request quotas).
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// EBS-style snapshots of volumes: create, list, describe, delete, copy, verify.
    #[command(subcommand)]
    Snapshot(snapshot_cmd::SnapshotCommand),
    /// EBS volumes, snapshots and settings with `aws ec2`'s verbs, flags and output.
    #[command(subcommand)]
    Ec2(ec2_cmd::Ec2Command),
    /// Buckets and objects with `aws s3api`'s verbs, flags and output.
    #[command(subcommand)]
    S3api(s3api_cmd::S3apiCommand),
    /// Whole files and trees with `aws s3`'s verbs: cp, ls, rm, mb, rb.
    #[command(subcommand)]
    S3(s3_cmd::S3Command),
    /// S3-style buckets: create, list, delete, default encryption.
    #[command(subcommand)]
    Bucket(object_cmd::BucketCommand),
    /// S3-style objects with server-side encryption (SSE-S3, SSE-KMS, bucket keys, SSE-C).
    #[command(subcommand)]
    Object(object_cmd::ObjectCommand),
    /// Secrets Manager: secrets with versions, staging labels and rotation, sealed by the KMS.
    #[command(subcommand)]
    Secretsmanager(secretsmanager_cmd::SecretsManagerCommand),
    /// Mount a volume on a directory (in the background unless --foreground).
    Mount(mount_cmd::MountArgs),
    /// Mount a bucket as a directory: keys with `/` are folders, reading is a GET, closing a
    /// written file is a PUT with the bucket's default encryption, rename is copy + delete.
    MountBucket(mount_cmd::MountBucketArgs),
    /// Unmount a mounted volume or bucket and wait for its daemon to finish.
    Umount {
        /// The mount point.
        dir: PathBuf,
    },
    /// Make `mount -t fuse.kmsfs` and `/etc/fstab` lines work: link `mount.kmsfs` and
    /// `mount.fuse.kmsfs` in DIR (default /sbin) to this binary.
    InstallMountHelper {
        /// Where mount(8) looks for helpers.
        #[arg(long, default_value = "/sbin")]
        dir: PathBuf,
    },
    /// Encrypt a file or stream into an envelope message under a KMS key (AWS Encryption
    /// SDK style: a fresh data key per message, wrapped by KMS, bound to the context).
    EncryptFile(envelope_cmd::EncryptFileArgs),
    /// Decrypt an envelope message; the plaintext file appears only if all of it
    /// authenticated.
    DecryptFile(envelope_cmd::DecryptFileArgs),
    /// Serve the KMS as an AWS endpoint (JSON 1.1, SigV4) for boto3, the AWS CLI and the
    /// AWS SDKs: prints one JSON line with the endpoint, then serves until SIGTERM/SIGINT.
    Serve(serve_cmd::ServeArgs),
    /// Parameter Store (AWS Systems Manager): String, StringList and SecureString
    /// parameters, SecureStrings encrypted under the KMS (`aws ssm` verbs and flags).
    #[command(subcommand)]
    Ssm(ssm_cmd::SsmCommand),
    /// Print a shell completion script (e.g. `source <(kmsfs completions bash)`).
    Completions(completions_cmd::CompletionsArgs),
    /// Print the man page kmsfs.1, or write one page per command with --out DIR.
    Man(completions_cmd::ManArgs),
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let (argv, helper) = match mount_helper::argv() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kmsfs: mount failed: {e}");
            return exit::USAGE;
        }
    };
    if let Some(h) = &helper {
        if !h.verbose {
            mount_helper::silence_stdout();
        }
        if h.fake {
            return exit::OK;
        }
    }
    use clap::FromArgMatches;
    let command = help::command();
    let argv = match input_json::apply(&command, argv) {
        Ok(input_json::Input::Run(a)) => a,
        Ok(input_json::Input::Skeleton(s)) => {
            println!("{s}");
            return exit::OK;
        }
        Err(e) => {
            eprintln!("kmsfs: {e}");
            return exit::USAGE;
        }
    };
    let parsed = command
        .try_get_matches_from(argv)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, output::title(&m))));
    let (cli, title) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match run(&cli, &title) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}

fn run(cli: &Cli, title: &str) -> Result<(), CliError> {
    let ctx = Ctx {
        cli,
        root: Home::locate(cli.home.as_deref()),
        out: output::Printer::new(cli.output, cli.query.clone(), title)?,
    };
    match &cli.command {
        Command::Init {
            passphrase,
            account_id,
        } => init(&ctx, *passphrase, account_id, &cli.region),
        Command::Kms(a) => {
            let what = kms_cmd::failed(&a.command);
            let (url, ca) = (cli.endpoint_url.as_deref(), cli.kms_ca_bundle.as_deref());
            let remote = kms_cmd::endpoint(&what, url, cli.profile.as_deref(), ca)?;
            ctx.session(&what, |s| kms_cmd::run(s, a, remote.clone()))
        }
        Command::Audit(cmd) => audit_cmd::run(&ctx, cmd),
        Command::Credentials(cmd) => ctx.session(&failed("credentials", cmd), |s| {
            credentials_cmd::run(s, cmd, ctx.cli.profile.as_deref())
        }),
        Command::Iam(cmd) => ctx.session(&failed("iam", cmd), |s| iam_cmd::run(s, cmd)),
        Command::Sts(cmd) => ctx.session(&failed("sts", cmd), |s| sts_cmd::sts(s, cmd)),
        Command::Account(cmd) => ctx.session(&failed("account", cmd), |s| sts_cmd::account(s, cmd)),
        Command::Volume(cmd) => ctx.session(&failed("volume", cmd), |s| volume_cmd::volume(s, cmd)),
        Command::Config(config_cmd::ConfigCommand::Ebs(cmd)) => {
            ctx.session("config failed", |s| volume_cmd::config(s, cmd))
        }
        Command::Config(config_cmd::ConfigCommand::KmsQuota(a)) => config_cmd::run(&ctx, a),
        Command::Snapshot(cmd) => {
            ctx.session(&failed("snapshot", cmd), |s| snapshot_cmd::snapshot(s, cmd))
        }
        Command::Ec2(cmd) => ctx.session(&ec2_cmd::failed(cmd), |s| ec2_cmd::run(s, cmd)),
        Command::S3api(cmd) => ctx.session(&failed("s3api", cmd), |s| s3api_cmd::run(s, cmd)),
        Command::S3(cmd) => ctx.session(&failed("s3", cmd), |s| s3_cmd::run(s, cmd)),
        Command::Bucket(cmd) => ctx.session(&failed("bucket", cmd), |s| object_cmd::bucket(s, cmd)),
        Command::Object(cmd) => ctx.session(&failed("object", cmd), |s| object_cmd::object(s, cmd)),
        Command::Secretsmanager(cmd) => ctx.session(&failed("secretsmanager", cmd), |s| {
            secretsmanager_cmd::run(s, cmd)
        }),
        Command::Mount(a) => mount_cmd::run_mount(&ctx, a),
        Command::MountBucket(a) => mount_cmd::run_mount_bucket(&ctx, a),
        Command::Umount { dir } => mount_cmd::run_umount(&ctx, dir),
        Command::InstallMountHelper { dir } => mount_cmd::run_install_helper(&ctx, dir),
        Command::EncryptFile(a) => envelope_cmd::run_encrypt(&ctx, a),
        Command::DecryptFile(a) => envelope_cmd::run_decrypt(&ctx, a),
        Command::Serve(a) => serve_cmd::run(&ctx, a),
        Command::Ssm(cmd) => ctx.session(&failed("ssm", cmd), |s| ssm_cmd::run(s, cmd)),
        Command::Completions(a) => completions_cmd::completions(a),
        Command::Man(a) => completions_cmd::man(a),
    }
}

fn init(
    ctx: &Ctx,
    passphrase: bool,
    account_id: &Option<String>,
    region: &Option<String>,
) -> Result<(), CliError> {
    let pass = if passphrase {
        let file = ctx.cli.passphrase_file.as_deref();
        Some(args::read_passphrase(file, true)?)
    } else {
        None
    };
    let source = match &pass {
        Some(p) => RootKeySource::Passphrase(p.clone()),
        None => RootKeySource::RandomFile,
    };
    let home = Home::init(
        &ctx.root,
        &InitOptions {
            account_id: account_id.clone(),
            region: region.clone(),
        },
    )
    .or_fail("init failed")?;
    Kms::create(&home, source).or_fail("init failed")?;
    let access_key = credentials_cmd::first_access_key(&home, pass).or_fail("init failed")?;
    let c = home.config();
    ctx.out.print(&serde_json::json!({
        "Home": home.root(),
        "AccountId": c.account_id,
        "Region": c.region,
        "RootKey": if passphrase { "passphrase (Argon2id)" } else { "file (kms/root.key, mode 0600)" },
        "AccessKey": access_key,
    }))
}
