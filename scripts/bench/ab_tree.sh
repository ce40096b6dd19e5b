#!/usr/bin/env bash
# A/B of two kmsfs binaries on directory-heavy work, beside plain ext4, rounds alternated:
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
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
# The seconds since the last step (in $took), once the mount and the disk under it are synced.
step() { sync -f "$1"; sync -f "$W"; local t1; t1=$(now); took=$(echo "$t1 - $t0" | bc); t0=$t1; }
for r in $(seq "$ROUNDS"); do
    for v in plain before after; do
        m="$W/mnt-$v-$r"
        mkdir -p "$m"
        if [ $v != plain ]; then
            K=$BEFORE
            [ $v = after ] && K=$AFTER
            export KMSFS_HOME="$W/home-$v"
            [ -f "$KMSFS_HOME/config.json" ] || "$K" init >/dev/null
            key=$("$K" kms create-key --query KeyMetadata.KeyId --output text)
            vol=$("$K" volume create --size 8GiB --kms-key-id "$key" --query VolumeId --output text)
            if [ "$TRANSPORT" = uring ]; then
                "$K" mount --fuse-transport uring "$vol" "$m" >/dev/null
            else
                "$K" mount "$vol" "$m" >/dev/null
            fi
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
