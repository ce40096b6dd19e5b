#!/usr/bin/env bash
# Count the FUSE requests the kernel sends per file, by operation, for a small metadata
# workload (the shape of fio.sh's metadata job) on kmsfs and securefs, and print them as a
# table (requests per file, per phase and opcode, with the mean time each took from the
# kernel's send to the daemon's answer), then where each phase's time went: inside requests
# (the daemon's share) and between them (the caller and the kernel, wake-ups included).
#
#   sudo bash scripts/bench/fuse_requests.sh [files]     (root: it uses the kernel's tracing)
#
# The counts come from the kernel's `fuse:fuse_request_send` tracepoint (Linux 6.18+), the
# times from it and `fuse:fuse_request_end` (matched by request id), in a tracing instance
# of its own, filtered to the mount's connection, so any FUSE file system is counted the
# same way. FORGET and BATCH_FORGET do not pass that tracepoint (the kernel
# queues them apart): they are not in the table. Phases, as fio.sh runs them in one process:
#   create  open(O_CREAT|O_WRONLY), write 100 bytes, close    (f0 .. fN-1 in one directory)
#   stat    stat each file
#   list    listdir of the directory
#   unlink  unlink each file, then rmdir the directory
# and on a tree (TREE, default /usr/include; TREE= skips it), per entry of the tree:
#   copy    cp -a of the tree into the mount
#   rmrf    rm -rf of it, after the page cache, dentries and inodes were dropped
# and on an archive (TAR, a tar file; none by default), per entry of the archive:
#   untar   tar -xf of it into the mount (as root: owners, modes and times restored)
# FSS="kmsfs" picks a subset (kmsfs-noxattr: kmsfs mounted with --no-xattr); KMSFS=path/to/kmsfs
# picks the binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
N=${1:-1000}
TREE=${TREE-/usr/include}
TAR=${TAR-}
FSS=${FSS:-kmsfs securefs}
[ "$(id -u)" = 0 ] || { echo "fuse_requests.sh: run as root (kernel tracing)" >&2; exit 2; }
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
[ -d $T/events/fuse/fuse_request_send ] || {
    echo "fuse_requests.sh: this kernel has no fuse:fuse_request_send tracepoint" >&2; exit 2; }
if [[ " $FSS " == *" securefs "* ]] && ! command -v securefs >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq securefs >/dev/null
fi
if [ -z "${KMSFS:-}" ]; then cargo build --release --quiet; KMSFS="$PWD/target/release/kmsfs"; fi
K=$KMSFS
W=$(mktemp -d /var/tmp/kmsfs-fusereq.XXXX)
I=$T/instances/kmsfs-fusereq-$$
PW=bench-password-1234
cleanup() {
    for d in "$W"/mnt-*; do fusermount3 -u "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; done
    [ -d "$I" ] && rmdir "$I"
    rm -rf "$W"
}
trap cleanup EXIT
mkdir "$I"
echo 65536 > "$I/buffer_size_kb"

mountfs() { # name -> mounts $W/mnt-name
    local m="$W/mnt-$1" b="$W/back-$1"
    mkdir -p "$m" "$b"
    case $1 in
    kmsfs | kmsfs-noxattr)
        export KMSFS_HOME="$W/kmsfs-home"
        [ -f "$KMSFS_HOME/config.json" ] || "$K" init >/dev/null
        kmsfs_mount "$m" "${1#kmsfs-}" ;;
    securefs)
        securefs create --pass "$PW" "$b" >/dev/null
        securefs mount -b --pass "$PW" --log "$W/securefs.log" "$b" "$m" >/dev/null
        for _ in $(seq 50); do mountpoint -q "$m" && break; sleep 0.1; done ;;
    esac
}

umountfs() {
    case $1 in
    kmsfs*) "$K" umount "$W/mnt-$1" >/dev/null ;;
    *) fusermount3 -u "$W/mnt-$1" ;;
    esac
}

# The kernel's dev_t of the FUSE connection mounted at $1 (major << 20 | minor).
conn() {
    local mm
    mm=$(awk -v m="$1" '$5 == m { print $3 }' /proc/self/mountinfo | tail -1)
    echo $(( (${mm%%:*} << 20) | ${mm##*:} ))
}

phase() { # fs dir phase -> the phase run alone, its requests counted
    local fs=$1 d=$2 p=$3
    # rmrf starts cold. Before a phase that creates files the caches are dropped too: ext4
    # skips inodes freed in the last minutes while their inode-table block is cached
    # (`recently_deleted`), which made one file system's creates pay for the last one's
    # deletes (as fio.sh does before its metadata job).
    case $p in rmrf | create | copy | untar) sync; echo 3 > /proc/sys/vm/drop_caches ;; esac
    local e t0 t1
    for e in send end; do echo 0 > "$I/events/fuse/fuse_request_$e/enable"; done
    echo > "$I/trace"
    for e in send end; do echo 1 > "$I/events/fuse/fuse_request_$e/enable"; done
    # The wall time of the phase's own work (a Python phase times itself: not its start-up).
    t0=$(date +%s%N)
    case $p in
    copy) cp -a "$TREE" "$d" ;;
    rmrf) rm -rf "$d" ;;
    untar) mkdir "$d"; tar -xf "$TAR" -C "$d"; sync -f "$d" ;;
    *) t0=$(workload "$d" "$p") ;;
    esac
    t1=$(date +%s%N)
    case $p in copy | rmrf | untar) ;; *) t1=$t0; t0=0 ;; esac
    for e in send end; do echo 0 > "$I/events/fuse/fuse_request_$e/enable"; done
    if grep -q 'LOST EVENTS' "$I/trace"; then echo "fuse_requests.sh: trace lost events" >&2; exit 1; fi
    # One line per opcode: fs phase OPCODE count microseconds-inside; then fs phase WALL 1 us.
    python3 - "$I/trace" "$fs" "$p" $(( (t1 - t0) / 1000 )) <<'PY'
import collections, re, sys
trace, fs, p, wall = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
pat = re.compile(r"(\d+\.\d+): fuse_request_(send|end): connection \d+ req (\d+)(?: opcode \d+ \((\w+)\))?")
sent, count, inside = {}, collections.Counter(), collections.Counter()
for line in open(trace):
    m = pat.search(line)
    if not m:
        continue
    t, kind, req, op = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == "send":
        op = op.removeprefix("FUSE_")
        count[op] += 1
        sent[req] = (t, op)
    elif req in sent:
        t0, op = sent.pop(req)
        inside[op] += t - t0
for op in count:
    print(fs, p, op, count[op], round(inside[op] * 1e6))
print(fs, p, "WALL", 1, wall)
PY
}

workload() { # dir phase: the metadata job's phase; prints the nanoseconds it took
    python3 - "$1" "$N" "$2" <<'PY'
import os, sys, time
d, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.perf_counter_ns()
if p == "create":
    os.mkdir(d)
    for i in range(n):
        fd = os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * 100)
        os.close(fd)
elif p == "stat":
    for i in range(n):
        os.stat(f"{d}/f{i}")
elif p == "list":
    assert len(os.listdir(d)) == n
elif p == "unlink":
    for i in range(n):
        os.unlink(f"{d}/f{i}")
    os.rmdir(d)
print(time.perf_counter_ns() - t)
PY
}

RES="$W/counts"
: > "$RES"
for fs in $FSS; do
    mountfs "$fs"
    m="$W/mnt-$fs"
    for e in send end; do echo "connection == $(conn "$m")" > "$I/events/fuse/fuse_request_$e/filter"; done
    for p in create stat list unlink; do phase "$fs" "$m/meta" "$p" >> "$RES"; done
    if [ -n "$TREE" ]; then for p in copy rmrf; do phase "$fs" "$m/tree" "$p" >> "$RES"; done; fi
    if [ -n "$TAR" ]; then phase "$fs" "$m/untar" untar >> "$RES"; fi
    umountfs "$fs"
done

ENTRIES=0 TAR_ENTRIES=0
[ -n "$TREE" ] && ENTRIES=$(find "$TREE" | wc -l)
[ -n "$TAR" ] && TAR_ENTRIES=$(tar -tf "$TAR" | wc -l)
python3 - "$RES" "$N" "$ENTRIES" "$TREE" "$TAR_ENTRIES" "$TAR" <<'PY'
import collections, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n, entries, tree = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tar_entries, tar = int(sys.argv[5]), sys.argv[6]
fss = list(dict.fromkeys(r[0] for r in rows))
by, us = collections.defaultdict(int), collections.defaultdict(int)
for fs, p, op, c, t in rows:
    by[(p, op, fs)] += int(c)
    us[(p, op, fs)] += int(t)
print(f"FUSE requests per file ({n} files; copy and rmrf: per entry of {tree}, {entries} entries;"
      " FORGETs not counted), and in brackets the mean microseconds from the kernel's send"
      " to the daemon's answer")
print(f"| phase | request | " + " | ".join(fss) + " |")
print("|---|---|" + "---:|" * len(fss))
def cell(p, op, fs, per):
    c = by[(p, op, fs)]
    return f"{c / per:.3f} ({us[(p, op, fs)] / c:.0f} us)" if c else "0"
def total(phases, fs, what):
    return sum(v for (q, op, f), v in what.items() if q in phases and f == fs and op != "WALL")
def table(phases, per):
    for p in phases:
        ops = sorted({op for (q, op, _) in by if q == p and op != "WALL"})
        for op in ops:
            print(f"| {p} | {op} | " + " | ".join(cell(p, op, fs, per) for fs in fss) + " |")
        print(f"| {p} | **all** | " + " | ".join(f"**{total([p], fs, by) / per:.3f}**" for fs in fss) + " |")
    print(f"| **total** | | " + " | ".join(f"**{total(phases, fs, by) / per:.3f}**" for fs in fss) + " |")
def split(phases, per):
    # Requests of one caller run one at a time but for a few asynchronous ones (RELEASE,
    # the writeback's WRITEs), so "between" is wall minus inside, floored at 0.
    for p in phases:
        row = []
        for fs in fss:
            wall, inside = us[(p, "WALL", fs)], total([p], fs, us)
            row.append(f"{wall / per:.0f} = {inside / per:.0f} + {max(wall - inside, 0) / per:.0f}")
        print(f"| {p} | " + " | ".join(row) + " |")
table(["create", "stat", "list", "unlink"], n)
if entries:
    table(["copy", "rmrf"], entries)
if tar_entries:
    print(f"untar: per entry of {tar}, {tar_entries} entries")
    table(["untar"], tar_entries)
print()
print("Microseconds per file: wall = inside requests (the daemon) + between them (the caller and"
      " the kernel, wake-ups included)")
print(f"| phase | " + " | ".join(fss) + " |")
print("|---|" + "---:|" * len(fss))
split(["create", "stat", "list", "unlink"], n)
if entries:
    split(["copy", "rmrf"], entries)
if tar_entries:
    split(["untar"], tar_entries)
PY
