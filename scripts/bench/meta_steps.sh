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
if [[ " $FSS " == *" securefs "* ]] && ! command -v securefs >/dev/null; then
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq securefs fuse3 >/dev/null
fi
W=$(mktemp -d /var/tmp/kmsfs-meta.XXXX)
PW=bench-password-1234
trap 'for d in "$W"/mnt-*; do fusermount3 -u "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true; done; rm -rf "$W"' EXIT
export KMSFS_HOME=$W/home
"$K" init >/dev/null
for r in $(seq "$ROUNDS"); do
    for fs in $FSS; do
        m=$W/mnt-$fs b=$W/back-$fs-$r
        mkdir -p "$m" "$b"
        case $fs in
        plain) ;;
        kmsfs | kmsfs-uring) kmsfs_mount "$m" "$([ "$fs" = kmsfs-uring ] && echo uring)" ;;
        securefs)
            securefs create --pass "$PW" "$b" >/dev/null
            securefs mount -b --pass "$PW" --log "$W/securefs.log" "$b" "$m" >/dev/null ;;
        esac
        drop
        python3 scripts/bench/meta_job.py "$fs" "$m" --round "$r"
        case $fs in
        plain) rm -rf "${m:?}"/* ;;
        kmsfs*) "$K" umount "$m" >/dev/null ;;
        *) fusermount3 -u "$m"; sleep 1 ;;
        esac
        rm -rf "$b"
    done
done
