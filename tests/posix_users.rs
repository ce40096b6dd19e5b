//! Differential POSIX tests with two users (issue 15 §2) on an `--allow-other` mount: files
//! owned by root or by user A (nobody) acted on by A or by user B (a second unprivileged uid
//! with a group of its own), on a plain directory of the backing file system and on a mounted
//! volume. Each case must give the same outcome (success or the same errno) and leave the same
//! modes, owners and mtime/ctime changes: setgid dropped by chmod outside the file's group,
//! EPERM for chmod/chown/explicit times by a non-owner, utimensat `UTIME_NOW` needing write
//! permission, EACCES in directories the user cannot write, the sticky bit, truncate without
//! write permission, and writes and truncates clearing setuid/setgid. The users act from a
//! thread with their own credentials (`common::posix::as_user`).

mod common;
use common::mount::{Mounted, fuse_or_skip, root_or_skip};
use common::posix::*;
use libc::{O_CREAT, O_WRONLY, UTIME_NOW, UTIME_OMIT};
use std::path::Path;

/// User A (nobody) and its group.
const A: u32 = 65534;
/// User B, not in A's group nor root's.
const B: u32 = 65533;

/// One case: a scenario and the user who acts (as `uid:uid`; root sets up).
struct Case {
    user: u32,
    s: Scenario,
}

/// The cases, one a row: `name: setup, acting user, |dir| act, [watched paths];`.
macro_rules! cases {
    ($($name:literal: $setup:expr, $user:expr, |$d:ident| $act:expr, [$($w:literal),*];)*) => {
        vec![$(Case {
            user: $user,
            s: Scenario { name: $name, setup: $setup, act: |$d| $act, watch: &[$($w),*] },
        },)*]
    };
}

/// A file `f` owned by `uid`:`gid` with `mode`.
fn owned(d: &Path, uid: u32, gid: u32, mode: u32) {
    let f = d.join("f");
    file(&f, b"0123456789");
    // The owner first: a chown by root drops setuid/setgid.
    give(&f, uid, gid);
    set_mode(&f, mode);
}

/// A directory `a` owned by A (0755) holding A's file `a/x`.
fn a_dir(d: &Path) {
    let a = d.join("a");
    file(&a.join("x"), b"x");
    give(&a.join("x"), A, A);
    give(&a, A, A);
}

/// A sticky directory `t` (1777, root's) holding `t/x` of user `owner`.
fn sticky(d: &Path, owner: u32) {
    let t = d.join("t");
    file(&t.join("x"), b"x");
    give(&t.join("x"), owner, owner);
    set_mode(&t, 0o1777);
}

fn cases() -> Vec<Case> {
    cases! {
        "chmod by the owner outside the file's group clears setgid": |d| owned(d, A, 0, 0o644), A, |d| chmod(&d.join("f"), 0o2755), ["f"];
        "chmod by the owner in the file's group keeps setgid": |d| owned(d, A, A, 0o644), A, |d| chmod(&d.join("f"), 0o2755), ["f"];
        "chmod by a non-owner": |d| owned(d, A, A, 0o666), B, |d| chmod(&d.join("f"), 0o600), ["f"];
        "chown by a non-owner": |d| owned(d, A, A, 0o666), B, |d| chown(&d.join("f"), B, B), ["f"];
        "chown by the owner to another user": |d| owned(d, A, A, 0o644), A, |d| chown(&d.join("f"), B, u32::MAX), ["f"];
        "chgrp by the owner to its own group": |d| owned(d, A, 0, 0o644), A, |d| chown(&d.join("f"), u32::MAX, A), ["f"];
        "chgrp by the owner to a group it is not in": |d| owned(d, A, A, 0o644), A, |d| chown(&d.join("f"), u32::MAX, B), ["f"];
        "utimensat UTIME_NOW by another user with write permission": |d| owned(d, A, A, 0o666), B, |d| utimes(&d.join("f"), ts(0, UTIME_NOW), ts(0, UTIME_NOW)), ["f"];
        "utimensat UTIME_NOW by another user without write permission": |d| owned(d, A, A, 0o644), B, |d| utimes(&d.join("f"), ts(0, UTIME_NOW), ts(0, UTIME_NOW)), ["f"];
        "utimensat UTIME_NOW by the owner without write permission": |d| owned(d, A, A, 0o444), A, |d| utimes(&d.join("f"), ts(0, UTIME_NOW), ts(0, UTIME_NOW)), ["f"];
        "utimensat explicit times by a non-owner with write permission": |d| owned(d, A, A, 0o666), B, |d| utimes(&d.join("f"), ts(1_000_000_000, 0), ts(1_000_000_000, 0)), ["f"];
        "utimensat explicit times by the owner": |d| owned(d, A, A, 0o444), A, |d| utimes(&d.join("f"), ts(1_000_000_000, 0), ts(1_000_000_000, 0)), ["f"];
        "utimensat UTIME_OMIT both by a non-owner": |d| owned(d, A, A, 0o644), B, |d| utimes(&d.join("f"), ts(0, UTIME_OMIT), ts(0, UTIME_OMIT)), ["f"];
        "create in a directory the user cannot write": a_dir, B, |d| open(&d.join("a/f"), O_CREAT | O_WRONLY), ["a"];
        "unlink in a directory the user cannot write": a_dir, B, |d| unlink(&d.join("a/x")), ["a", "a/x"];
        "rename in a directory the user cannot write": a_dir, B, |d| rename2(&d.join("a/x"), &d.join("a/y"), 0), ["a", "a/x", "a/y"];
        "mkdir in a directory the user cannot write": a_dir, B, |d| mkdir(&d.join("a/b")), ["a", "a/b"];
        "unlink another user's file in a sticky directory": |d| sticky(d, A), B, |d| unlink(&d.join("t/x")), ["t", "t/x"];
        "rename another user's file in a sticky directory": |d| sticky(d, A), B, |d| rename2(&d.join("t/x"), &d.join("t/y"), 0), ["t", "t/x", "t/y"];
        "rename over another user's file in a sticky directory": |d| { sticky(d, A); file(&d.join("t/y"), b"y"); give(&d.join("t/y"), B, B) }, B, |d| rename2(&d.join("t/y"), &d.join("t/x"), 0), ["t", "t/x", "t/y"];
        "unlink one's own file in a sticky directory": |d| sticky(d, B), B, |d| unlink(&d.join("t/x")), ["t", "t/x"];
        "truncate without write permission": |d| owned(d, A, A, 0o644), B, |d| truncate(&d.join("f"), 3), ["f"];
        "open for writing without write permission": |d| owned(d, A, A, 0o644), B, |d| open(&d.join("f"), O_WRONLY), ["f"];
        "truncate by a non-owner with write permission clears setuid and setgid": |d| owned(d, A, A, 0o6777), B, |d| truncate(&d.join("f"), 3), ["f"];
        "write by a non-owner clears setuid and setgid": |d| owned(d, A, A, 0o6777), B, |d| write(&d.join("f"), b"x", false), ["f"];
        "write by the owner clears setuid": |d| owned(d, A, A, 0o4755), A, |d| write(&d.join("f"), b"x", false), ["f"];
        "write of a setgid file without group-execute by a user outside its group": |d| owned(d, A, A, 0o2666), B, |d| write(&d.join("f"), b"x", false), ["f"];
        "write of a setgid file without group-execute by a user in its group": |d| owned(d, A, A, 0o2666), A, |d| write(&d.join("f"), b"x", false), ["f"];
        "truncate of a setgid file without group-execute by a user outside its group": |d| owned(d, A, A, 0o2666), B, |d| truncate(&d.join("f"), 3), ["f"];
        "truncate of a setgid file without group-execute by a user in its group": |d| owned(d, A, A, 0o2666), A, |d| truncate(&d.join("f"), 3), ["f"];
    }
}

#[test]
fn two_users_see_the_backing_file_systems_rules() {
    let test = "two_users_see_the_backing_file_systems_rules";
    if !fuse_or_skip(test) || !root_or_skip(test) {
        return;
    }
    let m = Mounted::with_options("256MiB", &["--allow-other"]);
    let top = m.dir.path();
    set_mode(top, 0o755);
    let plain = top.join("plain");
    dir(&plain);
    let all = cases();
    let mut differences = Vec::new();
    let mut chmod_by_b = None;
    for (i, c) in all.iter().enumerate() {
        let act = |act: &(dyn Fn() -> Outcome + Sync)| as_user(c.user, c.user, act);
        let want = run_as(&plain, i, &c.s, act);
        let got = run_as(&m.mnt, i, &c.s, act);
        if c.s.name == "chmod by a non-owner" {
            chmod_by_b = Some(want.0);
        }
        if want != got {
            differences.push(format!(
                "{} (as {}):\n  backing fs: {want:?}\n  kmsfs:      {got:?}",
                c.s.name, c.user
            ));
        }
    }
    // The users really acted unprivileged: B's chmod of A's file is EPERM.
    assert_eq!(chmod_by_b, Some(Err(libc::EPERM)));
    assert!(
        differences.is_empty(),
        "{} of {} two-user cases differ from the backing file system:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n")
    );
}
