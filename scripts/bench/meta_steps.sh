#!/usr/bin/env bash
# fio.sh's metadata job (meta_job.py: 10,000 files created with a 100-byte write, stat'ed,
# listed, unlinked) timed step by step, in µs per file, beside plain ext4 and securefs,
# rounds alternated:
#   scripts/bench/meta_steps.sh KMSFS_BIN [ROUNDS] [FSS]   (FSS: plain kmsfs kmsfs-uring securefs)
# Prints one line per round and file system. Run as root (drops the page cache).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 KMSFS_BIN [ROUNDS] [FSS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "meta_steps.sh: run as root (it drops the page cache)" >&2; exit 2; }
K=$(realpath "$1") ROUNDS=${2:-3} FSS=${3:-plain kmsfs securefs}
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
peers_start meta "$FSS"
for r in $(seq "$ROUNDS"); do
    for fs in $FSS; do
        m=$W/mnt-$fs b=$W/back-$fs-$r
        mkdir -p "$m" "$b"
        peer_mount "$fs" "$m" "$b"
        drop
        python3 scripts/bench/meta_job.py "$fs" "$m" --round "$r"
        if [ "$fs" = plain ]; then rm -rf "${m:?}"/*; fi
        peer_umount "$fs" "$m"
        rm -rf "$b"
    done
done
