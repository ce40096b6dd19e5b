#!/usr/bin/env bash
# Time kmsfs snapshots of a ~1.4 GB volume beside `cp -r` and restic on the same backing tree,
# several rounds, and write the medians (spread over rounds, ratios to `cp -r`) into
# docs/BENCHMARKS.md, section "Snapshots beside cp -r and restic (issue 20)".
#
#   sudo bash scripts/bench/snapshot.sh [rounds]      (root: it drops the page cache; default 3)
#
# Each round, in a fresh kmsfs home (KMSFS_HOME in the work directory) under a new key: a
# volume is mounted, the Linux 6.1 source is untarred into it (83,731 entries, 1.36 GB; from
# `apt install linux-source-6.1`, decompressed once outside the mount) and it is unmounted.
# Its backing tree (`volumes/<id>/data` in the home: the ciphertext the volume stores) is
# what `cp -r` and restic copy. Then, each timing after `drop_caches` and ending with a
# `sync -f` of the work directory's file system (home, store, copies and repository all
# live there), so the page cache hides no write:
#   first        `kmsfs snapshot create` of the unmounted volume | `restic backup` of the
#                backing tree into a new repository | `cp -r` of the backing tree to a new
#                directory (order alternated between rounds);
#   (change)     through a new mount, one regular file in 100 gets a line appended (untimed);
#   incremental  `kmsfs snapshot create` again | `restic backup` again (the order alternated);
#   copy-new-key `kmsfs snapshot copy` of the first snapshot under a second key (every block
#                re-encrypted under a new DEK);
#   restore      `kmsfs volume create --snapshot-id` of the first snapshot | `restic restore`
#                of the first backup into a new directory.
# The bytes each snapshot and backup adds are kept beside the times. With fewer than 3 rounds
# the report goes to the work directory instead of docs/ (OUT=docs forces it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
ROUNDS=${1:-3}
[ "$(id -u)" = 0 ] || { echo "snapshot.sh: run as root (it drops the page cache)" >&2; exit 2; }
XZ=/usr/src/linux-source-6.1.tar.xz
if [ ! -f $XZ ] || ! command -v restic >/dev/null || ! command -v fusermount3 >/dev/null; then
    apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-source-6.1 restic fuse3 >/dev/null
fi
cargo build --release --quiet
K="$PWD/target/release/kmsfs"
W=$(mktemp -d /var/tmp/kmsfs-snapbench.XXXX)
RES="$W/results.jsonl"
TAR="$W/linux-source-6.1.tar"
M="$W/mnt"
export RESTIC_PASSWORD=bench-password-1234 RESTIC_CACHE_DIR="$W/restic-cache"
# Everything large goes at exit; results.jsonl (and a partial run's report) stay.
trap 'mountpoint -q "$M" && { "$K" umount "$M" || umount -l "$M"; }; rm -rf "$TAR" "$W"/round-* "$RESTIC_CACHE_DIR"' EXIT
mkdir -p "$M"
xz -dc -T0 "$XZ" > "$TAR"

# The id (first word) and BytesAdded (second) of a snapshot create or copy.
snap_fields() { "$K" "$@" --query '[SnapshotId,BytesAdded]' --output text; }

# restic's JSON summary line -> data_added (bytes written to the repository).
restic_added() { python3 -c 'import json,sys
print([json.loads(l) for l in sys.stdin if "\"summary\"" in l][-1]["data_added"])'; }

one_round() { # round
    local r=$1 R="$W/round-$1"
    export KMSFS_HOME="$R/home"
    mkdir -p "$R"
    "$K" init >/dev/null
    local key key2 vol data snap1 added out
    key=$("$K" kms create-key --query KeyMetadata.KeyId --output text)
    key2=$("$K" kms create-key --query KeyMetadata.KeyId --output text)
    vol=$("$K" volume create --size 8GiB --kms-key-id "$key" --query VolumeId --output text)
    data="$KMSFS_HOME/volumes/$vol/data"
    [ -d "$data" ] || { echo "snapshot.sh: no backing tree at $data" >&2; exit 1; }
    "$K" mount "$vol" "$M" >/dev/null
    tar -xf "$TAR" -C "$M"
    "$K" umount "$M" >/dev/null
    restic -r "$R/restic" init >/dev/null
    if [ "$r" = 1 ]; then
        row tree bytes "$(du -sb "$data" | cut -f1)" bytes
        row tree files "$(find "$data" -type f | wc -l)" files
    fi

    local order=(kmsfs restic cp) t op
    [ $((r % 2)) = 0 ] && order=(cp restic kmsfs)
    [ $((r % 3)) = 0 ] && order=(restic cp kmsfs)
    echo "round $r: ${order[*]}" >&2
    for op in "${order[@]}"; do
        drop; t=$(now)
        case $op in
        kmsfs) out=$(snap_fields snapshot create "$vol"); read -r snap1 added <<< "$out" ;;
        restic) added=$(restic -r "$R/restic" backup --json "$data" | restic_added) ;;
        cp) cp -r "$data" "$R/cp"; added=$(du -sb "$R/cp" | cut -f1) ;;
        esac
        flush "$W"
        secs "$op" first "$t"
        row "$op" first-added "$added" bytes
    done

    # The small change: one regular file in 100 rewritten through the mount (its size, mtime
    # and backing file change), untimed.
    "$K" mount "$vol" "$M" >/dev/null
    find "$M" -type f | awk 'NR % 100 == 0' | while read -r f; do echo kmsfs-bench >> "$f"; done
    [ "$r" = 1 ] && row tree changed "$(find "$M" -type f | awk 'NR % 100 == 0' | wc -l)" files
    "$K" umount "$M" >/dev/null

    for op in "${order[@]}"; do
        [ "$op" = cp ] && continue
        drop; t=$(now)
        case $op in
        kmsfs) out=$(snap_fields snapshot create "$vol"); read -r _ added <<< "$out" ;;
        restic) added=$(restic -r "$R/restic" backup --json "$data" | restic_added) ;;
        esac
        flush "$W"
        secs "$op" incremental "$t"
        row "$op" incremental-added "$added" bytes
    done
    drop; t=$(now)
    out=$(snap_fields snapshot copy "$snap1" --kms-key-id "$key2" --encrypted)
    flush "$W"
    secs kmsfs copy-new-key "$t"
    read -r _ added <<< "$out"
    row kmsfs copy-new-key-added "$added" bytes

    drop; t=$(now)
    "$K" volume create --snapshot-id "$snap1" --query VolumeId --output text >/dev/null
    flush "$W"
    secs kmsfs restore "$t"

    drop; t=$(now)
    # The first backup (the oldest snapshot), as kmsfs restores the first snapshot.
    restic -r "$R/restic" restore "$(restic -r "$R/restic" snapshots --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" --target "$R/restored" >/dev/null
    flush "$W"
    secs restic restore "$t"
}

# Each round's trees go before the next round (untimed; deletes are slow where the file
# system is mounted with `discard`); the last round's go at exit, after the report.
for r in $(seq 1 "$ROUNDS"); do
    one_round "$r"
    [ "$r" = "$ROUNDS" ] || rm -rf "$W/round-$r"
done

OUT=${OUT:-}
[ -n "$OUT" ] || { [ "$ROUNDS" -ge 3 ] && OUT=docs || OUT=$W; }
python3 scripts/bench/snapshot_report.py "$RES" "$ROUNDS" "$(nproc)" "$OUT"
echo "results: $RES; report: $OUT/BENCHMARKS.md" >&2
