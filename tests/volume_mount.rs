//! Volumes through real FUSE mounts, driven by the `kmsfs` binary: round trips across
//! remounts and processes, no plaintext on disk, fio with verification, an fsx-style
//! differential run, stress-ng, kill -9 of the mount daemon, and key-state failures.

mod common;
use common::cli::{kmsfs, run_ok};
use common::mount::*;
use common::pattern::{pattern_seeded as pattern, xorshift};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::process::Command;

fn sha(data: &[u8]) -> String {
    kmsfs::crypto::hex(&kmsfs::crypto::sha256(data))
}

#[test]
fn round_trip_across_remount_and_processes() {
    if !fuse_or_skip("round_trip") {
        return;
    }
    let mut m = Mounted::new("256MiB");
    let sizes = [0usize, 1, 15, 16, 17, 4095, 4096, 4097, 65536 + 3, 3 << 20];
    let mut want = Vec::new();
    std::fs::create_dir_all(m.mnt.join("a/b/c")).unwrap();
    for (i, n) in sizes.iter().enumerate() {
        let p = m.mnt.join(format!("a/b/c/file-{i}.bin"));
        let d = pattern(i as u64, *n);
        std::fs::write(&p, &d).unwrap();
        want.push((p, d));
    }
    std::os::unix::fs::symlink("a/b/c/file-3.bin", m.mnt.join("link")).unwrap();
    std::fs::hard_link(m.mnt.join("a/b/c/file-4.bin"), m.mnt.join("hard")).unwrap();
    let info = run_ok(&m.home, &["volume", "describe", &m.vol]);
    assert_eq!(
        info["MountPoint"],
        m.mnt.canonicalize().unwrap().to_str().unwrap()
    );
    // df sees the volume's size.
    let st = nix::sys::statvfs::statvfs(&m.mnt).unwrap();
    assert_eq!(st.blocks() as u64 * st.fragment_size() as u64, 256 << 20);
    // Another process reads what we wrote.
    let out = Command::new("sha256sum").arg(&want[8].0).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&sha(&want[8].1)));
    m.umount();
    assert!(
        std::fs::read_dir(&m.mnt).unwrap().next().is_none(),
        "unmounted dir is empty"
    );
    m.mount();
    for (p, d) in &want {
        assert_eq!(&std::fs::read(p).unwrap(), d, "{}", p.display());
    }
    assert_eq!(
        std::fs::read_link(m.mnt.join("link"))
            .unwrap()
            .to_str()
            .unwrap(),
        "a/b/c/file-3.bin"
    );
    assert_eq!(std::fs::read(m.mnt.join("link")).unwrap(), want[3].1);
    assert_eq!(std::fs::read(m.mnt.join("hard")).unwrap(), want[4].1);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(m.mnt.join("hard")).unwrap().nlink(), 2);
    // Rename over an existing file, across directories; chmod; utimens; truncate.
    std::fs::rename(
        m.mnt.join("a/b/c/file-5.bin"),
        m.mnt.join("a/file-6-over.bin"),
    )
    .unwrap();
    std::fs::rename(
        m.mnt.join("a/file-6-over.bin"),
        m.mnt.join("a/b/c/file-6.bin"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(m.mnt.join("a/b/c/file-6.bin")).unwrap(),
        want[5].1
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(m.mnt.join("hard"), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(
        std::fs::metadata(m.mnt.join("hard"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(m.mnt.join("a/b/c/file-9.bin"))
        .unwrap();
    f.set_len(1000).unwrap();
    drop(f);
    assert_eq!(
        std::fs::read(m.mnt.join("a/b/c/file-9.bin")).unwrap(),
        want[9].1[..1000]
    );
}

#[test]
fn backing_directory_holds_no_plaintext() {
    if !fuse_or_skip("no_plaintext") {
        return;
    }
    let mut m = Mounted::new("64MiB");
    let marker = b"PLAINTEXT-MARKER-kmsfs-7f3a";
    std::fs::create_dir(m.mnt.join("confidential-folder")).unwrap();
    for i in 0..20 {
        let mut d = Vec::new();
        for _ in 0..(i * 200 + 1) {
            d.extend_from_slice(marker);
        }
        std::fs::write(
            m.mnt
                .join(format!("confidential-folder/confidential-{i}.txt")),
            d,
        )
        .unwrap();
    }
    std::fs::write(m.mnt.join("x".repeat(250)), marker).unwrap();
    m.umount();
    let mut stack = vec![m.backing()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_string();
            assert!(
                !name.contains("confidential") && !name.contains("xxxxxxxx"),
                "name leaked: {name}"
            );
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let b = std::fs::read(&p).unwrap();
                assert!(
                    !b.windows(marker.len()).any(|w| w == marker),
                    "content leaked in {}",
                    p.display()
                );
            }
        }
    }
    assert!(files >= 21);
}

#[test]
fn fio_with_verification() {
    if !fuse_or_skip("fio") || !tool_or_skip("fio", "fio") {
        return;
    }
    let m = Mounted::new("1GiB");
    for (rw, bs) in [
        ("write", "1M"),
        ("randwrite", "4k"),
        ("randwrite", "64k"),
        ("write", "16k"),
    ] {
        let o = Command::new("fio")
            .args([
                "--name=verify",
                &format!("--directory={}", m.mnt.display()),
                &format!("--rw={rw}"),
                &format!("--bs={bs}"),
                "--size=48M",
                "--numjobs=2",
                "--ioengine=psync",
                "--verify=crc32c",
                "--do_verify=1",
                "--verify_fatal=1",
                "--group_reporting",
                "--verify_state_save=0",
            ])
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() && !text.contains("verify: bad"),
            "fio {rw} bs={bs} failed:\n{text}"
        );
        eprintln!("fio {rw} bs={bs}: ok");
    }
}

/// fsx-style: random operations on a file in the mount and on a reference file, compared
/// after each one. Seeds are printed so a failure can be replayed with KMSFS_FSX_SEED.
#[test]
fn fsx_differential() {
    if !fuse_or_skip("fsx") {
        return;
    }
    let seeds: Vec<u64> = match std::env::var("KMSFS_FSX_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => vec![
            0x6b6d_7366_7378,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        ],
    };
    let ops: usize = common::env_or("KMSFS_FSX_OPS", 12_000);
    let m = Mounted::new("256MiB");
    let refdir = tempfile::tempdir().unwrap();
    for seed in seeds {
        eprintln!("fsx: seed {seed}, {ops} operations");
        fsx_run(
            seed,
            ops,
            &m.mnt.join(format!("fsx-{seed}")),
            &refdir.path().join(format!("ref-{seed}")),
        );
    }
}

fn fsx_run(seed: u64, ops: usize, path: &std::path::Path, refp: &std::path::Path) {
    const MAX: u64 = 256 * 1024;
    let open = |p: &std::path::Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(p)
            .unwrap()
    };
    let f = open(path);
    let r = open(refp);
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng = xorshift(rng);
        rng % n.max(1)
    };
    let mut size = 0u64;
    let mut log = Vec::new();
    for i in 0..ops {
        let op = next(100);
        let (desc, fd_file) = if op < 40 {
            let off = next(MAX);
            let len = 1 + next(16 * 1024).min(MAX - off);
            let data = pattern(seed ^ i as u64, len as usize);
            f.write_all_at(&data, off).unwrap();
            r.write_all_at(&data, off).unwrap();
            size = size.max(off + len);
            (format!("write {off}+{len}"), true)
        } else if op < 55 {
            let n = next(MAX);
            f.set_len(n).unwrap();
            r.set_len(n).unwrap();
            size = n;
            (format!("truncate {n}"), true)
        } else if op < 70 && size > 0 {
            // mmap write inside the file.
            let off = next(size);
            let len = 1 + next(8192).min(size - off - 1);
            let data = pattern(seed ^ (i as u64) << 1, len as usize);
            mmap_write(&f, size, off, &data);
            r.write_all_at(&data, off).unwrap();
            (format!("mapwrite {off}+{len}"), true)
        } else if op < 80 && size > 0 {
            let off = next(size);
            let len = 1 + next(8192).min(size - off - 1);
            let got = mmap_read(&f, size, off, len as usize);
            let mut want = vec![0u8; len as usize];
            r.read_exact_at(&mut want, off).unwrap();
            assert_eq!(
                got,
                want,
                "seed {seed} op {i}: mapread {off}+{len} differs; last ops: {:?}",
                &log[log.len().saturating_sub(8)..]
            );
            (format!("mapread {off}+{len}"), false)
        } else if op < 85 {
            // Drop our pages so that the next compare reads through the cipher.
            f.sync_all().unwrap();
            nix::fcntl::posix_fadvise(
                &f,
                0,
                0,
                nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
            )
            .ok();
            ("fsync+dropcache".into(), false)
        } else {
            let off = next(MAX);
            let len = 1 + next(32 * 1024);
            let mut a = vec![0u8; len as usize];
            let mut b = vec![0u8; len as usize];
            let na = read_at(&f, &mut a, off);
            let nb = read_at(&r, &mut b, off);
            assert_eq!(
                (na, &a[..na]),
                (nb, &b[..nb]),
                "seed {seed} op {i}: read {off}+{len} differs; last ops: {:?}",
                &log[log.len().saturating_sub(8)..]
            );
            (format!("read {off}+{len}"), false)
        };
        log.push(desc);
        if fd_file || i % 16 == 0 {
            let fs_len = f.metadata().unwrap().len();
            assert_eq!(
                fs_len,
                size,
                "seed {seed} op {i}: size {fs_len} != {size} after {:?}",
                log.last()
            );
            let mut a = vec![0u8; size as usize];
            let mut b = vec![0u8; size as usize];
            read_at(&f, &mut a, 0);
            read_at(&r, &mut b, 0);
            if a != b {
                let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap();
                panic!(
                    "seed {seed} op {i}: contents differ at byte {at} after {:?}; last ops: {:?}",
                    log.last(),
                    &log[log.len().saturating_sub(8)..]
                );
            }
        }
    }
    // And once more from a cold cache after closing.
    drop(f);
    let mut a = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_end(&mut a)
        .unwrap();
    let mut b = Vec::new();
    let mut rr = r;
    rr.seek(SeekFrom::Start(0)).unwrap();
    rr.read_to_end(&mut b).unwrap();
    assert!(a == b, "seed {seed}: final contents differ");
    let _ = rr.flush();
}

fn read_at(f: &std::fs::File, buf: &mut [u8], off: u64) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], off + n as u64).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// A shared mapping of `[0, size)` of `f` with protection `prot`.
///
/// # Safety
/// The caller uses it within bounds and unmaps it.
unsafe fn map(f: &std::fs::File, size: u64, prot: i32) -> *mut libc::c_void {
    use std::os::fd::AsRawFd;
    // SAFETY: a new mapping of an open file; the caller keeps to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size as usize,
            prot,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(
        p,
        libc::MAP_FAILED,
        "mmap: {}",
        std::io::Error::last_os_error()
    );
    p
}

fn mmap_write(f: &std::fs::File, size: u64, off: u64, data: &[u8]) {
    // SAFETY: a shared mapping of [0, size) of an open file, written within bounds, synced, unmapped.
    unsafe {
        let p = map(f, size, libc::PROT_READ | libc::PROT_WRITE);
        std::ptr::copy_nonoverlapping(data.as_ptr(), (p as *mut u8).add(off as usize), data.len());
        assert_eq!(libc::msync(p, size as usize, libc::MS_SYNC), 0);
        libc::munmap(p, size as usize);
    }
}

fn mmap_read(f: &std::fs::File, size: u64, off: u64, len: usize) -> Vec<u8> {
    // SAFETY: a read-only shared mapping of [0, size), read within bounds, unmapped.
    unsafe {
        let p = map(f, size, libc::PROT_READ);
        let v = std::slice::from_raw_parts((p as *const u8).add(off as usize), len).to_vec();
        libc::munmap(p, size as usize);
        v
    }
}

#[test]
fn stress_ng_filesystem_job() {
    if !fuse_or_skip("stress-ng") || !tool_or_skip("stress-ng", "stress-ng") {
        return;
    }
    let m = Mounted::new("1GiB");
    let o = Command::new("stress-ng")
        .args([
            "--temp-path",
            m.mnt.to_str().unwrap(),
            "--rename",
            "1",
            "--dentry",
            "1",
            "--dir",
            "1",
            "--link",
            "1",
            "--chmod",
            "1",
            "--flock",
            "1",
            "--hdd",
            "1",
            "--hdd-bytes",
            "32M",
            "--timeout",
            "15s",
            "--metrics-brief",
            "--verify",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stress-ng failed:\n{text}");
    assert!(
        !text.contains("fail:") || text.contains("0 failed"),
        "{text}"
    );
}

#[test]
fn kill_9_of_the_daemon_keeps_what_was_fsynced() {
    if !fuse_or_skip("crash") {
        return;
    }
    let mut m = Mounted::new("512MiB");
    let pid = m.daemon_pid();
    let mnt = m.mnt.clone();
    let writer = std::thread::spawn(move || {
        let mut synced = Vec::new();
        for i in 0..100_000u64 {
            let data = pattern(i, 1000 + (i as usize * 37) % 20000);
            // Ten files to a new directory: its id is fsynced after MKDIR's reply, before
            // any fsync of a file in it; then FSYNCDIR.
            let d = mnt.join(format!("d{}", i / 10));
            let r = (|| -> std::io::Result<()> {
                if i % 10 == 0 {
                    std::fs::create_dir(&d)?;
                }
                let mut f = std::fs::File::create(d.join(format!("f{i}")))?;
                f.write_all(&data)?;
                f.sync_all()?;
                std::fs::File::open(&d)?.sync_all()
            })();
            if r.is_err() {
                break;
            }
            synced.push((i, data));
        }
        synced
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let synced = writer.join().unwrap();
    assert!(
        synced.len() > 20,
        "only {} files written before the kill",
        synced.len()
    );
    // The dead mount is detached; the volume mounts again without repair.
    nix::mount::umount2(&m.mnt, nix::mount::MntFlags::MNT_DETACH).unwrap();
    m.mounted = false;
    m.mount();
    for (i, data) in &synced {
        assert_eq!(
            &std::fs::read(m.mnt.join(format!("d{}/f{i}", i / 10))).unwrap(),
            data,
            "file f{i} lost or damaged"
        );
    }
    eprintln!("crash: {} fsynced files intact after kill -9", synced.len());
}

#[test]
fn mount_refused_when_the_key_is_unusable() {
    if !fuse_or_skip("key_state") {
        return;
    }
    let mut m = Mounted::new("64MiB");
    std::fs::write(m.mnt.join("data"), b"kept").unwrap();
    let key = run_ok(&m.home, &["volume", "describe", &m.vol])["KmsKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    // Disabling the key while mounted does not break the mount.
    run_ok(&m.home, &["kms", "disable-key", "--key-id", &key]);
    std::fs::write(m.mnt.join("more"), b"still writable").unwrap();
    m.umount();
    let o = kmsfs(&m.home, &["mount", &m.vol, m.mnt.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains(&key) && err.contains("is disabled"), "{err}");
    assert!(!kmsfs::mount::is_mount_point(&m.mnt));
    run_ok(&m.home, &["kms", "enable-key", "--key-id", &key]);
    m.mount();
    assert_eq!(
        std::fs::read(m.mnt.join("more")).unwrap(),
        b"still writable"
    );
}

#[test]
fn real_tools_work_on_the_mount() {
    if !fuse_or_skip("tools") {
        return;
    }
    let m = Mounted::new("512MiB");
    let src = env!("CARGO_MANIFEST_DIR");
    let sh = |cmd: &str| {
        let o = Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(&m.mnt)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{cmd}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    sh(&format!(
        "tar -C {src} -cf - src tests Cargo.toml | tar -xf - && diff -r {src}/src src"
    ));
    if tool_or_skip("tools", "git") {
        sh(
            "git init -q repo && cd repo && cp -r ../src . && git add -A && git -c user.email=t@t -c user.name=t commit -qm x && git fsck --full 2>&1 && git log --oneline | wc -l",
        );
    }
    if tool_or_skip("tools", "rsync") {
        sh(&format!(
            "rsync -a {src}/src/ rsynced/ && diff -r {src}/src rsynced"
        ));
    }
    if tool_or_skip("tools", "sqlite3") {
        let out = sh(
            "sqlite3 db.sqlite 'create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<20000) insert into t select x, randomblob(100) from c; pragma integrity_check; select count(*) from t;'",
        );
        assert!(out.contains("ok") && out.contains("20000"), "{out}");
    }
}

/// As root, character and block devices are made as ext4 makes them (type and rdev kept,
/// in the backing tree too); the mount is `nodev`, so opening one is refused. FIFOs and
/// sockets work.
#[test]
fn device_nodes_fifos_and_sockets() {
    let test = "device_nodes_fifos_and_sockets";
    if !fuse_or_skip(test) || !root_or_skip(test) {
        return;
    }
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut m = Mounted::new("64MiB");
    let (chr, blk) = (m.mnt.join("null"), m.mnt.join("loop200"));
    let rw = Mode::from_bits_truncate(0o666);
    mknod(&chr, SFlag::S_IFCHR, rw, makedev(1, 3)).expect("mknod of a character device");
    mknod(&blk, SFlag::S_IFBLK, rw, makedev(7, 200)).expect("mknod of a block device");
    let check = |m: &Mounted| {
        let (c, b) = (chr.metadata().unwrap(), blk.metadata().unwrap());
        assert!(c.file_type().is_char_device(), "{c:?}");
        assert!(b.file_type().is_block_device(), "{b:?}");
        assert_eq!((c.rdev(), b.rdev()), (makedev(1, 3), makedev(7, 200)));
        for p in [&chr, &blk] {
            let e = std::fs::File::open(p).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{}: {e}", p.display());
        }
        let kinds: Vec<_> = std::fs::read_dir(m.backing())
            .unwrap()
            .map(|e| e.unwrap().file_type().unwrap())
            .filter(|t| t.is_char_device() || t.is_block_device())
            .collect();
        assert_eq!(
            kinds.len(),
            2,
            "the backing tree holds the two device nodes"
        );
    };
    check(&m);
    m.umount();
    m.mount();
    check(&m);
    // A FIFO carries bytes between a writer and a reader.
    let fifo = m.mnt.join("fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let w = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, b"through the fifo").unwrap())
    };
    assert_eq!(std::fs::read(&fifo).unwrap(), b"through the fifo");
    w.join().unwrap();
    // A Unix socket bound in the mount accepts a connection.
    let sock = m.mnt.join("sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    assert!(sock.metadata().unwrap().file_type().is_socket());
    let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    c.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    l.accept().unwrap().0.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

/// Missing names are cached by the kernel as negative entries (`volume::fuse::negative`):
/// whatever is made later under such a name, in any way, is seen at once, and a name
/// removed is missing at once. An open file whose other link goes keeps its times, and
/// closing it reports no error (the kernel's flush of an unlinked inode's times succeeds).
#[test]
fn negative_entries_never_hide_what_is_made() {
    let test = "negative_entries_never_hide_what_is_made";
    if !fuse_or_skip(test) {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let m = Mounted::new("64MiB");
    let missing = |p: &std::path::Path| {
        let e = std::fs::symlink_metadata(p).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{}", p.display());
    };
    let p = |n: &str| m.mnt.join(n);
    std::fs::write(p("src"), b"source").unwrap();
    for n in ["file", "dir", "link", "hard", "renamed", "node"] {
        missing(&p(n));
        missing(&p(n)); // answered from the kernel's negative entry
    }
    std::fs::write(p("file"), b"made").unwrap();
    std::fs::create_dir(p("dir")).unwrap();
    std::os::unix::fs::symlink("file", p("link")).unwrap();
    std::fs::hard_link(p("src"), p("hard")).unwrap();
    std::fs::write(p("tmp"), b"moved").unwrap();
    std::fs::rename(p("tmp"), p("renamed")).unwrap();
    nix::unistd::mkfifo(&p("node"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert_eq!(std::fs::read(p("file")).unwrap(), b"made");
    assert!(p("dir").is_dir());
    assert_eq!(std::fs::read(p("link")).unwrap(), b"made");
    assert_eq!(std::fs::metadata(p("hard")).unwrap().nlink(), 2);
    assert_eq!(std::fs::read(p("renamed")).unwrap(), b"moved");
    missing(&p("tmp"));
    assert!(p("node").symlink_metadata().is_ok());
    let names: std::collections::BTreeSet<String> = std::fs::read_dir(&m.mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for n in ["file", "dir", "link", "hard", "renamed", "node", "src"] {
        assert!(names.contains(n), "{n} listed: {names:?}");
    }
    // Removed names are missing at once, and can be made again.
    std::fs::remove_file(p("file")).unwrap();
    std::fs::remove_dir(p("dir")).unwrap();
    missing(&p("file"));
    missing(&p("dir"));
    std::fs::write(p("file"), b"again").unwrap();
    assert_eq!(std::fs::read(p("file")).unwrap(), b"again");
    // A file written, then unlinked while open: its times stay readable through the open
    // file, and closing it succeeds (the kernel's times flush after the unlink).
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(p("open"))
        .unwrap();
    f.write_all(b"open and unlinked").unwrap();
    std::fs::remove_file(p("open")).unwrap();
    assert_eq!(f.metadata().unwrap().nlink(), 0);
    f.sync_all().unwrap();
    // One name of a hard-linked pair goes: the other keeps working, and its fsync and close
    // report no error.
    std::fs::remove_file(p("hard")).unwrap();
    let g = std::fs::OpenOptions::new()
        .write(true)
        .open(p("src"))
        .unwrap();
    g.sync_all().unwrap();
    drop(g);
    drop(f);
    assert_eq!(std::fs::read(p("src")).unwrap(), b"source");
}

/// A directory larger than one READDIR reply's share of the listing (4096 entries, see
/// `volume::fuse::REPLY_ENTRIES`) lists whole, each name once, with and without attributes.
#[test]
fn a_large_directory_lists_whole() {
    let test = "a_large_directory_lists_whole";
    if !fuse_or_skip(test) {
        return;
    }
    let m = Mounted::new("64MiB");
    let d = m.mnt.join("big");
    std::fs::create_dir(&d).unwrap();
    let n = 5000;
    for i in 0..n {
        std::fs::File::create(d.join(format!("entry-{i}"))).unwrap();
    }
    let listed = |attrs: bool| {
        let mut names = Vec::new();
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if attrs {
                assert!(e.metadata().unwrap().is_file());
            }
            names.push(e.file_name().into_string().unwrap());
        }
        names.sort();
        names
    };
    let mut want: Vec<String> = (0..n).map(|i| format!("entry-{i}")).collect();
    want.sort();
    assert_eq!(listed(false), want);
    assert_eq!(listed(true), want);
    let ls = Command::new("ls").arg("-l").arg(&d).output().unwrap();
    assert!(ls.status.success());
    assert_eq!(String::from_utf8_lossy(&ls.stdout).lines().count(), n + 1);
}

/// With the writeback cache the kernel keeps a file's mtime and every WRITE moves the backing
/// file's; what the daemon puts back must be the kernel's time even when WRITEs run side by
/// side and race the kernel's SETATTR of the times, which background writeback sends while
/// WRITEs are in flight (seen as a restored snapshot whose 300 MiB file was 0.4 ms newer
/// than the mount had shown). One write(2) of a whole existing file makes the kernel send many
/// WRITEs of whole blocks, which the daemon runs side by side.
#[test]
fn mtimes_survive_parallel_writes_and_remount() {
    if !fuse_or_skip("mtimes_survive_parallel_writes") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let mut m = Mounted::new("1GiB");
    let mtime = |p: &std::path::Path| {
        let md = std::fs::metadata(p).unwrap();
        (md.mtime(), md.mtime_nsec())
    };
    let mut want = Vec::new();
    for round in 0..4u64 {
        let p = m.mnt.join(format!("big-{round}"));
        std::fs::write(&p, pattern(round, 128 << 20)).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.sync_all().unwrap();
        f.write_all_at(&pattern(round + 10, 128 << 20), 0).unwrap();
        f.sync_all().unwrap();
        drop(f);
        want.push((p.clone(), mtime(&p)));
    }
    m.umount();
    m.mount();
    for (p, t) in &want {
        assert_eq!(
            &mtime(p),
            t,
            "{}: the mtime moved across the remount",
            p.display()
        );
    }
}
