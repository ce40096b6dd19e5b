#!/usr/bin/env bash
# A/B of two kmsfs binaries on directory-heavy work, beside plain ext4, rounds alternated
# (plain first, then the two binaries, which of them first switching from round to round):
# 2,000 directories made by os.makedirs, `tar -xf` of the Linux 6.1 source, and `rm -rf`
# of both, each step to the end of a `sync -f` of the mount and of the disk under it.
#   scripts/bench/ab_tree.sh BEFORE_BIN AFTER_BIN [ROUNDS]   (TRANSPORT=uring for io_uring)
# Prints one line per round and file system: seconds per step. Run as root (drops caches).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BIN AFTER_BIN [ROUNDS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "ab_tree.sh: run as root (it drops the page cache)" >&2; exit 2; }
BEFORE=$(realpath "$1") AFTER=$(realpath "$2") ROUNDS=${3:-3} TRANSPORT=${TRANSPORT:-dev}
XZ=/usr/src/linux-source-6.1.tar.xz
if [ ! -f $XZ ]; then
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-source-6.1 >/dev/null
fi
W=$(mktemp -d /var/tmp/kmsfs-ab.XXXX)
trap 'for d in "$W"/mnt-*; do umount -l "$d" 2>/dev/null || true; done; rm -rf "$W"' EXIT
TAR="$W/linux.tar"
xz -dc -T0 $XZ > "$TAR"
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
now() { date +%s.%N; }
# The seconds since the last step (in $took), once the mount and the disk under it are synced.
step() { sync -f "$1"; sync -f "$W"; local t1; t1=$(now); took=$(echo "$t1 - $t0" | bc); t0=$t1; }
for r in $(seq "$ROUNDS"); do
    # Which binary goes first alternates, so that neither always runs after the other.
    order="plain before after"
    [ $((r % 2)) = 0 ] && order="plain after before"
    for v in $order; do
        m="$W/mnt-$v-$r"
        mkdir -p "$m"
        if [ $v != plain ]; then
            K=$BEFORE
            [ $v = after ] && K=$AFTER
            export KMSFS_HOME="$W/home-$v"
            [ -f "$KMSFS_HOME/config.json" ] || "$K" init >/dev/null
            kmsfs_mount "$m" "$TRANSPORT"
        fi
        drop
        t0=$(now)
        python3 -c 'import os, sys
for i in range(40):
    for j in range(50):
        os.makedirs(f"{sys.argv[1]}/m/{i}/{j}")' "$m"
        step "$m"; a=$took
        tar -xf "$TAR" -C "$m"
        step "$m"; b=$took
        rm -rf "${m:?}"/*
        step "$m"; c=$took
        echo "round $r $v: mkdir-2000 $a s, untar $b s, rm-rf $c s"
        [ $v = plain ] || "$K" umount "$m" >/dev/null
    done
done
