//! `kmsfs completions bash|zsh|fish|elvish|powershell` (clap_complete) and `kmsfs man`
//! (clap_mangen): both generated from the same command tree as `--help` (`help.rs`).

use super::error::{CliError, exit};
use super::output::write_stdout;
use clap::Command;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell (e.g. `source <(kmsfs completions bash)`).
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// Write kmsfs.1 and one page per subcommand (kmsfs-kms.1, kmsfs-kms-encrypt.1, ...)
    /// into this directory, instead of printing kmsfs.1 on stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(crate) fn completions(a: &CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = super::help::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "kmsfs", &mut buf);
    write_stdout(&buf).map_err(|e| stdout_failed("completions failed", e))
}

pub(crate) fn man(a: &ManArgs) -> Result<(), CliError> {
    let what = "man failed";
    let cmd = super::help::command();
    match &a.out {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| stdout_failed(what, e))?;
            write_stdout(&buf).map_err(|e| stdout_failed(what, e))
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| write_failed(what, dir, e))?;
            let mut n = 0;
            write_pages(cmd, dir, &mut n).map_err(|e| write_failed(what, dir, e))?;
            eprintln!("kmsfs: wrote {n} man pages in {}", dir.display());
            Ok(())
        }
    }
}

/// `cmd`'s page and, recursively, its subcommands' (clap_mangen's `generate_to` naming).
fn write_pages(cmd: Command, dir: &Path, n: &mut usize) -> std::io::Result<()> {
    let mut cmd = cmd;
    cmd.build();
    write_tree(&cmd, dir, n)
}

fn write_tree(cmd: &Command, dir: &Path, n: &mut usize) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    crate::fsutil::atomic_write(&path, &buf, 0o644)?;
    *n += 1;
    for s in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_tree(s, dir, n)?;
    }
    Ok(())
}

fn stdout_failed(what: &str, e: std::io::Error) -> CliError {
    CliError::new(what, format!("stdout: {e}"), exit::INTERNAL)
}

fn write_failed(what: &str, dir: &Path, e: std::io::Error) -> CliError {
    CliError::usage(what, format!("{}: {e}", dir.display()))
}
