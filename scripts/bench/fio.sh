#!/usr/bin/env bash
# Benchmark kmsfs against a plain directory, gocryptfs, CryFS and securefs with one fio job
# set, several rounds with the order alternated, and write the medians (and ratios to
# gocryptfs and to the plain directory) plus a PNG chart into docs/BENCHMARKS.md.
#
#   sudo bash scripts/bench/fio.sh [rounds]      (root: it drops the page cache)
#
# Jobs (ioengine=psync, buffered): seq write 1 GiB bs=1M end_fsync=1; seq read cold (after
# drop_caches) and warm (again at once, new open); random 4k reads that all miss (2 jobs,
# each its own 512 MiB half, random map on, 100,000 reads each, invalidate=1); random 4k
# writes (2 jobs on the 1 GiB file, 20 s); metadata (create, stat, list, delete 10,000 files);
# tree (the shape of gocryptfs's own benchmark: untar the Linux 6.1 source, `ls -lR` it cold,
# `rm -rf` it; seconds, see tree() below; not on the file systems in TREE_SKIP, default cryfs,
# which takes many minutes per round: TREE_SKIP= runs it everywhere).
# kmsfs mounts over its default transport (auto: FUSE over io_uring where the kernel offers
# it). FSS may also name kmsfs-uring (io_uring or no mount), kmsfs-dev (/dev/fuse), kmsfs-noxattr
# (kmsfs mounted with --no-xattr: no extended attributes, as securefs on Linux) and
# passthrough (lib.sh: the FUSE floor, libfuse's passthrough_hp at $PASSTHROUGH_HP).
# JOBS="metadata rand-write" (or JOBS=tree) and FSS="kmsfs securefs" pick a subset for a quick
# look; the report then goes to the work directory instead of docs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
ROUNDS=${1:-3}
JOBS=${JOBS:-all}
FSS=${FSS:-plain kmsfs gocryptfs cryfs securefs}
TREE_SKIP=${TREE_SKIP-cryfs}
want() { [ "$JOBS" = all ] || [[ " $JOBS " == *" $1 "* ]]; }
[ "$(id -u)" = 0 ] || { echo "fio.sh: run as root (it drops the page cache)" >&2; exit 2; }
need=()
for t in fio gocryptfs cryfs securefs fusermount3; do command -v $t >/dev/null || need+=("$t"); done
[ ${#need[@]} -eq 0 ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio gocryptfs cryfs securefs fuse3 >/dev/null; }
XZ=/usr/src/linux-source-6.1.tar.xz
if want tree && [ ! -f $XZ ]; then
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-source-6.1 >/dev/null
fi
python3 -c 'import matplotlib' 2>/dev/null || pip install -q matplotlib >/dev/null
# KMSFS=path/to/kmsfs measures that binary (default: a release build of this tree).
if [ -n "${KMSFS:-}" ]; then K=$(realpath "$KMSFS"); else cargo build --release --quiet; K="$PWD/target/release/kmsfs"; fi
W=$(mktemp -d /var/tmp/kmsfs-bench.XXXX)
RES="$W/results.jsonl"
TAR="$W/linux-source-6.1.tar"
PW=bench-password-1234
trap 'for d in "$W"/mnt-*; do fusermount3 -u "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; done; rm -f "$TAR"' EXIT
# Decompressed once, outside every mount, so that xz is in no timing.
if want tree; then xz -dc -T0 "$XZ" > "$TAR"; fi

setup() { # name -> mounts $W/mnt-name
    local n=$1 m="$W/mnt-$1" b="$W/back-$1-$ROUND"
    mkdir -p "$m" "$b"
    case $n in
    kmsfs | kmsfs-uring | kmsfs-dev | kmsfs-noxattr)
        # kmsfs-uring and kmsfs-dev: the same mount over one transport (io_uring, the
        # /dev/fuse loop), to compare them; kmsfs-noxattr: with --no-xattr.
        export KMSFS_HOME="$W/kmsfs-home"
        [ -f "$KMSFS_HOME/config.json" ] || "$K" init >/dev/null
        peer_mount "$n" "$m" "$b" ;;
    gocryptfs)
        gocryptfs -q -init -extpass "echo $PW" "$b" >/dev/null
        gocryptfs -q -extpass "echo $PW" "$b" "$m" ;;
    cryfs)
        echo "$PW" | CRYFS_FRONTEND=noninteractive CRYFS_NO_UPDATE_CHECK=true cryfs "$b" "$m" >/dev/null 2>&1 ;;
    *) peer_mount "$n" "$m" "$b" ;; # plain, securefs
    esac
}

teardown() {
    local n=$1 m="$W/mnt-$1"
    if [ "$n" = plain ]; then rm -rf "${m:?}"/*; fi
    peer_umount "$n" "$m"
    rm -rf "$W/back-$n-$ROUND"
}

fiojob() { # fs job args...
    local fs=$1 job=$2; shift 2
    local out
    out=$(fio --output-format=json --name="$job" --ioengine=psync "$@")
    python3 - "$fs" "$job" "$out" >> "$RES" <<'PY'
import json, sys
fs, job, out = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.loads(out[out.index('{'):])
r = j["jobs"][0]
rd, wr = r["read"], r["write"]
if job.startswith("rand"):
    v = rd["iops"] + wr["iops"]
    unit = "IOPS"
else:
    v = (rd["bw_bytes"] + wr["bw_bytes"]) / 1e6
    unit = "MB/s"
print(json.dumps({"fs": fs, "job": job, "value": v, "unit": unit}))
PY
}

metadata() { # fs dir (the job itself: meta_job.py)
    python3 scripts/bench/meta_job.py "$1" "$2" >> "$RES"
}

tree() { # fs dir: the Linux 6.1 source tree (83,731 entries, 1.36 GB) made, listed, removed
    local fs=$1 d="$2/linux" t
    [[ " $TREE_SKIP " == *" $fs "* ]] && return 0
    mkdir "$d"
    drop
    # untar: `tar -xf` of the plain .tar into the mount, then `sync -f` of the mount (its
    # dirty pages, which the writeback cache would otherwise hold, go to the daemon) and of
    # the file system under it (where every backing directory and plain's tree live): the
    # figure ends with the tree on disk.
    # securefs gives directories new inode numbers, so tar's check before it sets a
    # directory's times fails ("Directory renamed before its status could be extracted"):
    # every file is there, the time is kept, and the errors are on stderr.
    t=$(now)
    tar -xf "$TAR" -C "$d" || echo "    tar -xf into $fs reported errors (above); the timing is kept" >&2
    flush "$d" "$W"
    secs "$fs" untar "$t"
    # ls -lR cold: page cache, dentries and inodes dropped (a FUSE mount forgets its inodes,
    # the backing file system its own), then every entry listed and stat'ed.
    drop
    t=$(now)
    ls -lR "$d" > /dev/null
    secs "$fs" ls-lR-cold "$t"
    # rm -rf of the tree (its metadata warm from the listing), then the same two syncs, so
    # that deletes the backing file system defers count too.
    t=$(now)
    rm -rf "$d"
    flush "$2" "$W"
    secs "$fs" rm-rf "$t"
}

run_fs() {
    local fs=$1 m="$W/mnt-$1"
    setup "$fs"
    local f="$m/bench.bin"
    # The previous file system's deletes and dirty pages are written back now, not during
    # this one's end_fsync.
    drop
    if want seq-write || want seq-read-cold || want seq-read-warm || want rand-read-miss || want rand-write; then
        fiojob "$fs" seq-write --filename="$f" --rw=write --bs=1M --size=1G --end_fsync=1
    fi
    drop
    if want seq-read-cold; then fiojob "$fs" seq-read-cold --filename="$f" --rw=read --bs=1M --size=1G; fi
    if want seq-read-warm; then
        fiojob "$fs" seq-read-warm --filename="$f" --rw=read --bs=1M --size=1G --invalidate=0
    fi
    drop
    if want rand-read-miss; then
        fiojob "$fs" rand-read-miss --filename="$f" --rw=randread --bs=4k --size=512M --offset_increment=512M \
            --numjobs=2 --number_ios=100000 --invalidate=1 --group_reporting
    fi
    if want rand-write; then
        fiojob "$fs" rand-write --filename="$f" --rw=randwrite --bs=4k --size=1G --numjobs=2 \
            --runtime=20 --time_based --group_reporting
    fi
    # On every create ext4 skips the inodes freed in the last 30 s, or 330 s while their
    # inode-table block sits dirty in the buffer cache (`recently_deleted`): one file
    # system's 10,000 deletes slowed the next one's creates 2-6x. Writing back and dropping
    # the caches first (the block then is not cached, so nothing counts as recent) gives
    # every file system the same start.
    if want metadata; then drop; metadata "$fs" "$m"; fi
    rm -f "$f"
    if want tree; then tree "$fs" "$m"; fi
    teardown "$fs"
}

read -r -a FS <<< "$FSS"
for r in $(seq 1 "$ROUNDS"); do
    ROUND=$r
    order=("${FS[@]}")
    if [ $((r % 2)) = 0 ]; then mapfile -t order < <(printf "%s\n" "${FS[@]}" | tac); fi
    if [ $((r % 3)) = 0 ]; then order=("${FS[@]:2}" "${FS[@]:0:2}"); fi
    echo "round $r: ${order[*]}" >&2
    for fs in "${order[@]}"; do
        echo "  $fs" >&2
        run_fs "$fs"
    done
done

OUT=docs
[ "$JOBS" = all ] && [ "${#FS[@]}" = 5 ] || OUT=$W
python3 "$(dirname "$0")/fio_report.py" "$RES" "$ROUNDS" "$(nproc)" "$OUT"
