# Shell helpers shared by the bench scripts (sourced; the ones that write rows set RES first;
# peers_start sets $W and $PW, which peer_mount, peer_umount and peer_cleanup use with $K).
# shellcheck shell=bash

# Write back every dirty page, then drop the page cache, dentries and inodes (root).
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# The start of a timing, in nanoseconds.
now() { date +%s%N; }

# fs job start-ns: append one row {fs, job, value: seconds since start, unit: "s"} to $RES.
secs() {
    local end
    end=$(now)
    printf '{"fs": "%s", "job": "%s", "value": %s, "unit": "s"}\n' "$1" "$2" \
        "$(awk -v a="$3" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" >> "$RES"
}

# fs job value unit: append a row that is not a timing (sizes, counts).
row() { printf '{"fs": "%s", "job": "%s", "value": %s, "unit": "%s"}\n' "$@" >> "$RES"; }

# sync -f of each PATH (syncfs: the file system it is on), without stopping the run when the
# file system reports a writeback error: syncfs writes everything back first, then reports
# errors recorded since, so the timing holds; the error is named on stderr. (kmsfs today
# reports ENOENT after any unlink: the kernel's times SETATTR for the unlinked inode fails.)
flush() {
    local p
    for p in "$@"; do
        sync -f "$p" 2>/dev/null || echo "    sync -f $p: the file system reported an error (kept going)" >&2
    done
}

# kmsfs mountpoint [variant]: a new volume under a new KMS key of $KMSFS_HOME, mounted at
# mountpoint with binary $K, over the default transport (auto: io_uring where the kernel
# offers it); variant uring: over FUSE over io_uring or no mount; dev: over /dev/fuse;
# noxattr: with `--no-xattr` (extended attributes off, as securefs on Linux has none).
kmsfs_mount() {
    local key vol flags=()
    key=$("$K" kms create-key --query KeyMetadata.KeyId --output text)
    vol=$("$K" volume create --size 8GiB --kms-key-id "$key" --query VolumeId --output text)
    case ${2:-} in
    uring) flags=(--fuse-transport uring) ;;
    dev) flags=(--fuse-transport dev) ;;
    noxattr) flags=(--no-xattr) ;;
    esac
    "$K" mount "${flags[@]}" "$vol" "$1" >/dev/null
}

# fss: install securefs (with fuse3) when the list of file systems names it and it is missing.
need_securefs() {
    if [[ " $1 " == *" securefs "* ]] && ! command -v securefs >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq securefs fuse3 >/dev/null
    fi
}

# name fss: the start of a script that mounts the file systems fss (peer_mount) with binary
# $K: securefs installed if named, a work directory W=/var/tmp/kmsfs-name.XXXX removed at
# exit with whatever is still mounted under it, securefs's password PW, and a new kmsfs home.
peers_start() {
    need_securefs "$2"
    W=$(mktemp -d "/var/tmp/kmsfs-$1.XXXX")
    PW=bench-password-1234
    trap peer_cleanup EXIT
    export KMSFS_HOME=$W/home
    "$K" init >/dev/null
}

# fs mountpoint backing: mount one of plain (nothing to mount), kmsfs, kmsfs-uring,
# kmsfs-dev, kmsfs-noxattr (kmsfs_mount), securefs (a new repository in backing, password $PW, its log
# in $W) or passthrough: the FUSE floor, an unencrypted FUSE file system that passes each
# request on to backing, libfuse's example/passthrough_hp.cc (its reference for speed:
# writeback cache, multi-threaded) at the path $PASSTHROUGH_HP. No package has it, so it is
# neither installed nor built here (build it from libfuse's source). It tells what FUSE
# itself costs on the machine. It holds a descriptor for every inode the kernel knows, so a
# tree must have fewer entries than the hard limit of open files (`ulimit -Hn`).
peer_mount() {
    case $1 in
    plain) ;;
    passthrough)
        [ -x "${PASSTHROUGH_HP:-}" ] || { echo "passthrough: set PASSTHROUGH_HP to libfuse's passthrough_hp" >&2; return 2; }
        (ulimit -n "$(ulimit -Hn)" && exec "$PASSTHROUGH_HP" --foreground "$3" "$2") > "$W/passthrough.log" 2>&1 &
        local i
        for i in $(seq 100); do mountpoint -q "$2" && return 0; sleep 0.1; done
        echo "passthrough_hp did not mount $2 (see $W/passthrough.log)" >&2; return 1 ;;
    kmsfs | kmsfs-uring | kmsfs-dev | kmsfs-noxattr) kmsfs_mount "$2" "${1#kmsfs-}" ;;
    securefs)
        securefs create --pass "$PW" "$3" >/dev/null
        securefs mount -b --pass "$PW" --log "$W/securefs.log" "$3" "$2" >/dev/null ;;
    esac
}

# fs mountpoint: unmount what peer_mount mounted (plain: nothing).
peer_umount() {
    case $1 in
    plain) ;;
    kmsfs*) "$K" umount "$2" >/dev/null ;;
    *) fusermount3 -u "$2"; sleep 1 ;;
    esac
}

# At exit: unmount every $W/mnt-* left mounted, then remove $W (`trap peer_cleanup EXIT`).
peer_cleanup() {
    local d
    for d in "$W"/mnt-*; do
        fusermount3 -u "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
    done
    rm -rf "$W"
}
