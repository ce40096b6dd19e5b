#!/usr/bin/env bash
# Count the FUSE requests the kernel sends per file, by operation, for a small metadata
# workload (the shape of fio.sh's metadata job) on kmsfs and securefs, and print them as a
# table (requests per file, per phase and opcode).
#
#   sudo bash scripts/bench/fuse_requests.sh [files]     (root: it uses the kernel's tracing)
#
# The counts come from the kernel's `fuse:fuse_request_send` tracepoint (Linux 6.18+), in a
# tracing instance of its own, filtered to the mount's connection, so any FUSE file system
# is counted the same way. FORGET and BATCH_FORGET do not pass that tracepoint (the kernel
# queues them apart): they are not in the table. Phases, as fio.sh runs them in one process:
#   create  open(O_CREAT|O_WRONLY), write 100 bytes, close    (f0 .. fN-1 in one directory)
#   stat    stat each file
#   list    listdir of the directory
#   unlink  unlink each file, then rmdir the directory
# and on a tree (TREE, default /usr/include; TREE= skips it), per entry of the tree:
#   copy    cp -a of the tree into the mount
#   rmrf    rm -rf of it, after the page cache, dentries and inodes were dropped
# FSS="kmsfs" picks a subset; KMSFS=path/to/kmsfs picks the binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
TREE=${TREE-/usr/include}
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
echo 16384 > "$I/buffer_size_kb"

mountfs() { # name -> mounts $W/mnt-name
    local m="$W/mnt-$1" b="$W/back-$1"
    mkdir -p "$m" "$b"
    case $1 in
    kmsfs)
        export KMSFS_HOME="$W/kmsfs-home"
        "$KMSFS" init >/dev/null
        local key vol
        key=$("$KMSFS" kms create-key --query KeyMetadata.KeyId --output text)
        vol=$("$KMSFS" volume create --size 8GiB --kms-key-id "$key" --query VolumeId --output text)
        "$KMSFS" mount "$vol" "$m" >/dev/null ;;
    securefs)
        securefs create --pass "$PW" "$b" >/dev/null
        securefs mount -b --pass "$PW" --log "$W/securefs.log" "$b" "$m" >/dev/null
        for _ in $(seq 50); do mountpoint -q "$m" && break; sleep 0.1; done ;;
    esac
}

umountfs() {
    case $1 in
    kmsfs) "$KMSFS" umount "$W/mnt-$1" >/dev/null ;;
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
    [ "$p" = rmrf ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
    echo 0 > "$I/events/fuse/fuse_request_send/enable"
    echo > "$I/trace"
    echo 1 > "$I/events/fuse/fuse_request_send/enable"
    case $p in
    copy) cp -a "$TREE" "$d" ;;
    rmrf) rm -rf "$d" ;;
    *) workload "$d" "$p" ;;
    esac
    echo 0 > "$I/events/fuse/fuse_request_send/enable"
    grep -o 'opcode [0-9]* ([A-Z_0-9]*)' "$I/trace" | awk -v fs="$fs" -v p="$p" \
        '{ gsub(/[()]/, "", $3); sub(/^FUSE_/, "", $3); c[$3]++ } END { for (k in c) print fs, p, k, c[k] }'
    if grep -q 'LOST EVENTS' "$I/trace"; then echo "fuse_requests.sh: trace lost events" >&2; exit 1; fi
}

workload() { # dir phase: the metadata job's phase
    python3 - "$1" "$N" "$2" <<'PY'
import os, sys
d, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
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
PY
}

RES="$W/counts"
: > "$RES"
for fs in $FSS; do
    mountfs "$fs"
    m="$W/mnt-$fs"
    echo "connection == $(conn "$m")" > "$I/events/fuse/fuse_request_send/filter"
    for p in create stat list unlink; do phase "$fs" "$m/meta" "$p" >> "$RES"; done
    if [ -n "$TREE" ]; then for p in copy rmrf; do phase "$fs" "$m/tree" "$p" >> "$RES"; done; fi
    umountfs "$fs"
done

ENTRIES=0
[ -n "$TREE" ] && ENTRIES=$(find "$TREE" | wc -l)
python3 - "$RES" "$N" "$ENTRIES" "$TREE" <<'PY'
import collections, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
n, entries, tree = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fss = list(dict.fromkeys(r[0] for r in rows))
by = collections.defaultdict(int)
for fs, p, op, c in rows:
    by[(p, op, fs)] += int(c)
print(f"FUSE requests per file ({n} files; copy and rmrf: per entry of {tree}, {entries} entries;"
      " FORGETs not counted)")
print(f"| phase | request | " + " | ".join(fss) + " |")
print("|---|---|" + "---:|" * len(fss))
def table(phases, per):
    for p in phases:
        ops = sorted({op for (q, op, _) in by if q == p})
        for op in ops:
            print(f"| {p} | {op} | " + " | ".join(f"{by[(p, op, fs)] / per:.3f}" for fs in fss) + " |")
        tot = [sum(v for (q, _, f), v in by.items() if q == p and f == fs) / per for fs in fss]
        print(f"| {p} | **all** | " + " | ".join(f"**{t:.3f}**" for t in tot) + " |")
    tot = [sum(v for (q, _, f), v in by.items() if q in phases and f == fs) / per for fs in fss]
    print(f"| **total** | | " + " | ".join(f"**{t:.3f}**" for t in tot) + " |")
table(["create", "stat", "list", "unlink"], n)
if entries:
    table(["copy", "rmrf"], entries)
PY
