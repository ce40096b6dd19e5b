//! The CLI's finish (issue 19): `--query` (JMESPath, checked before the command acts),
//! every `--output` form, `--help` of the top commands, shell completions, man pages, and a
//! closed stdout pipe. Outputs on a fixed home (seeded key ids, a fixed account) are compared
//! with golden files in tests/cli_snapshots/ (times redacted); write them again with
//! `KMSFS_REGEN_SNAPSHOTS=1 cargo test --test cli_output` when an output changes on purpose.

mod common;

use common::cli::{BIN, cmd, fails, init, kmsfs, ok, run_ok, s};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const SEED: &str = r#"
[[keys]]
key_id = "11111111-2222-3333-4444-555555555555"
description = "app key"
aliases = ["alias/app"]
tags = { Project = "demo" }
key_material = ["AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="]

[[keys]]
key_id = "99999999-8888-7777-6666-000000000000"
description = "logs key"
enabled = false
key_material = ["2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40"]
"#;

/// A home with the two seeded keys.
fn fixed_home(dir: &Path) -> PathBuf {
    let home = init(dir);
    let seed = dir.join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    run_ok(&home, &["kms", "seed", s(&seed)]);
    home
}

/// Times (`1796048425.218`) as `<TIME>`.
fn redact(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let starts = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if starts && digits == 10 && b.get(i + digits) == Some(&b'.') {
            let frac = b[i + 11..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            out.push_str("<TIME>");
            i += 11 + frac;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Compare `got` with tests/cli_snapshots/`name` (written first under KMSFS_REGEN_SNAPSHOTS).
fn check(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli_snapshots")
        .join(name);
    if std::env::var("KMSFS_REGEN_SNAPSHOTS").is_ok() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (KMSFS_REGEN_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert_eq!(got, want, "{name} differs from {}", path.display());
}

fn stdout_of(home: &Path, args: &[&str]) -> String {
    let o = kmsfs(home, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    redact(&String::from_utf8(o.stdout).unwrap())
}

#[test]
fn every_output_form_on_a_fixed_home() {
    let d = tempfile::tempdir().unwrap();
    let home = fixed_home(d.path());
    for (name, args) in [
        ("list-keys.json", &["kms", "list-keys"][..]),
        ("list-keys.txt", &["--output", "text", "kms", "list-keys"]),
        (
            "list-keys.table",
            &["--output", "table", "kms", "list-keys"],
        ),
        ("list-keys.yaml", &["--output", "yaml", "kms", "list-keys"]),
        (
            "list-keys.yaml-stream",
            &["--output", "yaml-stream", "kms", "list-keys"],
        ),
        (
            "list-aliases.txt",
            &["--output", "text", "kms", "list-aliases"],
        ),
        (
            "describe-key.txt",
            &[
                "--output",
                "text",
                "kms",
                "describe-key",
                "--key-id",
                "alias/app",
            ],
        ),
        (
            "describe-key.table",
            &[
                "--output",
                "table",
                "kms",
                "describe-key",
                "--key-id",
                "alias/app",
                // Not the time: its width varies, and a table's width follows it.
                "--query",
                "{KeyMetadata: KeyMetadata.{Arn: Arn, KeyId: KeyId, KeyState: KeyState, Description: Description, EncryptionAlgorithms: EncryptionAlgorithms}}",
            ],
        ),
        (
            "describe-key.yaml",
            &[
                "--output",
                "yaml",
                "kms",
                "describe-key",
                "--key-id",
                "alias/app",
            ],
        ),
    ] {
        check(name, &stdout_of(&home, args));
    }
    // No stray `False` line (the `Truncated` of one page).
    let t = stdout_of(&home, &["--output", "text", "kms", "list-keys"]);
    assert!(t.lines().all(|l| l.starts_with("KEYS\t")), "{t}");
}

#[test]
fn jmespath_queries() {
    let d = tempfile::tempdir().unwrap();
    let home = fixed_home(d.path());
    let mut all = String::new();
    for q in [
        "Keys[].KeyId",
        "Keys[0].[KeyId,KeyArn]",
        "Keys[?contains(KeyId,'5555')].KeyArn",
        "length(Keys)",
        "sort_by(Keys,&KeyId)[-1].KeyId",
        "{ids: Keys[].KeyId}",
        "Nope",
    ] {
        for out in ["json", "text"] {
            let got = stdout_of(&home, &["--output", out, "--query", q, "kms", "list-keys"]);
            all.push_str(&format!("$ --output {out} --query {q}\n{got}"));
        }
    }
    let q = "KeyMetadata.[KeyId,KeyState,Description]";
    for id in ["alias/app", "99999999-8888-7777-6666-000000000000"] {
        let got = stdout_of(
            &home,
            &[
                "--output",
                "text",
                "kms",
                "describe-key",
                "--key-id",
                id,
                "--query",
                q,
            ],
        );
        all.push_str(&format!("$ describe-key {id} --query {q}\n{got}"));
    }
    check("queries.txt", &all);
    // No match: `null`, exit 0, as the AWS CLI.
    assert_eq!(
        stdout_of(&home, &["--query", "Nope", "kms", "list-keys"]),
        "null\n"
    );
}

#[test]
fn a_bad_query_fails_before_the_command_acts() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let vol = run_ok(&home, &["volume", "create", "--size", "1MiB"]);
    let vol = vol["VolumeId"].as_str().unwrap();
    let snap = run_ok(&home, &["snapshot", "create", vol]);
    let snap = snap["SnapshotId"].as_str().unwrap();
    let count = |home: &Path| {
        run_ok(home, &["snapshot", "list"])["Snapshots"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&home), 1);
    let e = fails(
        &kmsfs(&home, &["snapshot", "copy", snap, "--query", "[a,b"]),
        2,
        "bad --query",
    );
    assert!(e.contains("JMESPath"), "{e}");
    assert_eq!(
        count(&home),
        1,
        "the copy was made although the query is bad"
    );
    // Nor does a key appear.
    let keys = |home: &Path| {
        run_ok(home, &["kms", "list-keys"])["Keys"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = keys(&home);
    fails(
        &kmsfs(&home, &["kms", "create-key", "--query", "Keys[?"]),
        2,
        "bad --query",
    );
    assert_eq!(keys(&home), before);
}

#[test]
fn help_of_the_top_commands() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    for (name, args) in [
        ("help-kmsfs.txt", &["--help"][..]),
        ("help-kms.txt", &["kms", "--help"]),
        (
            "help-kms-schedule-key-deletion.txt",
            &["kms", "schedule-key-deletion", "--help"],
        ),
        ("help-kms-encrypt.txt", &["kms", "encrypt", "--help"]),
        ("help-volume.txt", &["volume", "--help"]),
        ("help-snapshot.txt", &["snapshot", "--help"]),
        ("help-object.txt", &["object", "--help"]),
    ] {
        check(name, &stdout_of(home, args));
    }
    let h = stdout_of(home, &["kms", "enable-key-rotation", "--help"]);
    assert!(
        h.contains("key id or key ARN") && !h.contains("alias name"),
        "{h}"
    );
}

#[test]
fn completions_load_in_bash() {
    let o = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("source <({BIN} completions bash) && complete -p kmsfs"),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("kmsfs"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for shell in ["zsh", "fish"] {
        let d = tempfile::tempdir().unwrap();
        let text = stdout_of(d.path(), &["completions", shell]);
        assert!(text.contains("schedule-key-deletion"), "{shell}");
    }
}

#[test]
fn man_pages_render() {
    let d = tempfile::tempdir().unwrap();
    let page = stdout_of(d.path(), &["man"]);
    assert!(page.contains(".TH kmsfs"), "{page}");
    let out = d.path().join("man");
    ok(&kmsfs(d.path(), &["man", "--out", s(&out)]));
    for f in [
        "kmsfs.1",
        "kmsfs-kms.1",
        "kmsfs-kms-encrypt.1",
        "kmsfs-volume-create.1",
    ] {
        let p = out.join(f);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(text.contains(".TH"), "{f}");
    }
    // Rendered by man(1) where it is installed.
    match std::process::Command::new("man")
        .arg("-l")
        .arg(out.join("kmsfs-kms-encrypt.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("--key-id"), "{text}");
        }
        Ok(o) => panic!("man -l failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => println!("SKIPPED man -l: man is not installed (the page was checked for .TH)"),
    }
}

#[test]
fn decrypt_file_into_a_closed_pipe_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    let home = init(d.path());
    let key = run_ok(&home, &["kms", "create-key"])["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let plain = d.path().join("big");
    std::fs::write(&plain, vec![b'x'; 8 << 20]).unwrap();
    let msg = d.path().join("big.kmsfs");
    ok(&kmsfs(
        &home,
        &[
            "encrypt-file",
            "--key-id",
            &key,
            "--input",
            s(&plain),
            "--out",
            s(&msg),
        ],
    ));
    // `decrypt-file ... | head -c 10`: the reader goes away after 10 bytes.
    let mut child = cmd(&home, &["decrypt-file", "--input", s(&msg), "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"xxxxxxxxxx");
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.is_empty(), "{}: {err}", o.status);
    // A result printed into a closed pipe too.
    let mut c = cmd(&home, &["kms", "list-keys"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(c.stdout.take());
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn volume_list_text_columns_stay_put_while_one_is_mounted() {
    if !common::mount::fuse_or_skip("volume_list_text_columns") {
        return;
    }
    let m = common::mount::Mounted::new("16MiB");
    // A second volume, not mounted: it has no MountPoint.
    run_ok(&m.home, &["volume", "create", "--size", "16MiB"]);
    let text = stdout_of(&m.home, &["--output", "text", "volume", "list"]);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0].len(), rows[1].len(), "{text}");
    // The same column holds the state of each, whichever is mounted.
    let col = rows[0]
        .iter()
        .position(|c| *c == "in-use" || *c == "available")
        .unwrap();
    let mut states: Vec<&str> = rows.iter().map(|r| r[col]).collect();
    states.sort();
    assert_eq!(states, ["available", "in-use"], "{text}");
}

/// What `--key-id`'s help promises is what the KMS does: an alias is refused by the
/// management verbs whose help says so, and taken by the cryptographic ones.
#[test]
fn key_id_help_tells_the_truth() {
    let d = tempfile::tempdir().unwrap();
    let home = fixed_home(d.path());
    for verb in [
        &["kms", "enable-key-rotation"][..],
        &["kms", "schedule-key-deletion"],
        &["kms", "disable-key"],
        &["kms", "list-grants"],
    ] {
        let help = stdout_of(&home, &[verb, &["--help"]].concat());
        assert!(help.contains("AWS refuses an alias"), "{verb:?}: {help}");
        let args = [verb, &["--key-id", "alias/app"]].concat();
        fails(&kmsfs(&home, &args), 5, "");
    }
    let help = stdout_of(&home, &["kms", "encrypt", "--help"]);
    assert!(help.contains("alias name (alias/...)"), "{help}");
    let args = [
        "kms",
        "encrypt",
        "--key-id",
        "alias/app",
        "--plaintext",
        "x",
    ];
    run_ok(&home, &args);
}
