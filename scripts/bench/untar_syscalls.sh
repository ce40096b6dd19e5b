#!/usr/bin/env bash
# What each of tar's system calls costs when it unpacks an archive into each file system:
# `perf trace -s` of `tar -xf TAR` (as root: owners, modes and times restored), the mean µs
# per call of the calls that make, fill and close the files, beside plain ext4 and the
# peers, rounds alternated. Where fuse_requests.sh shows the FUSE requests, this shows
# which call of the caller waits for them (with the writeback cache, a new file's data
# goes to the daemon inside tar's `utimensat`, just before the times' SETATTR).
#   scripts/bench/untar_syscalls.sh TAR KMSFS_BIN [ROUNDS]   (FSS="plain kmsfs securefs")
# TAR: e.g. the fs/ directory of the Linux 6.1 source, 2,175 entries:
#   tar -xf /usr/src/linux-source-6.1.tar.xz linux-source-6.1/fs && tar -cf fs.tar linux-source-6.1/fs
# Prints one line per round and file system. Run as root (perf trace, chown).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 TAR KMSFS_BIN [ROUNDS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "untar_syscalls.sh: run as root (perf trace)" >&2; exit 2; }
TARF=$(realpath "$1") K=$(realpath "$2") ROUNDS=${3:-3} FSS=${FSS:-plain kmsfs securefs}
command -v perf >/dev/null || { echo "untar_syscalls.sh: needs perf (apt linux-perf)" >&2; exit 2; }
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
peers_start untarsc "$FSS"
cat "$TARF" >/dev/null
CALLS="openat write utimensat fchown fchmod close"
echo "round fs: $CALLS (mean µs per call), total s"
for r in $(seq "$ROUNDS"); do
    order=$FSS
    [ $((r % 2)) = 0 ] && order=$(echo "$FSS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for fs in $order; do
        m=$W/mnt-$fs-$r b=$W/back-$fs-$r
        mkdir -p "$m" "$b"
        peer_mount "$fs" "$m" "$b"
        t0=$(now)
        perf trace -s -o "$W/trace" -- tar -xf "$TARF" -C "$m"
        t1=$(now)
        # perf trace -s: "syscall calls errors total min avg max stddev" (ms).
        printf '%s %s: ' "$r" "$fs"
        for c in $CALLS; do
            awk -v c="$c" '$1 == c { printf "%.1f ", $4 / $2 * 1000; f = 1 } END { if (!f) printf "- " }' "$W/trace"
        done
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
        # Nothing is removed before the end: on an ext4 without a journal, creates right
        # after many removals scan the freed inodes (`recently_deleted`), whoever removed them.
        peer_umount "$fs" "$m"
    done
done
