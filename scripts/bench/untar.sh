#!/usr/bin/env bash
# The untar of a tree beside plain ext4 and the FUSE floor: `tar -xf TAR` into each file
# system (as root: owners, modes and times restored), caches dropped first, timed to the end
# of a `sync -f` of the mount and of the disk under it, rounds alternated; then the median of
# each and its ratio to plain ext4. The floor is `passthrough` (lib.sh: libfuse's
# passthrough_hp, unencrypted, at $PASSTHROUGH_HP): what any FUSE file system pays here.
#   sudo scripts/bench/untar.sh TAR [ROUNDS]      (FSS="plain passthrough kmsfs securefs")
# TAR: fewer entries than `ulimit -Hn` when FSS names passthrough, e.g. seven directories of
# the Linux 6.1 source (14,507 entries):
#   tar -xf /usr/src/linux-source-6.1.tar.xz -C T linux-source-6.1/{include,fs,net,kernel,mm,lib,sound}
#   tar -cf mid.tar -C T linux-source-6.1
# KMSFS=path/to/kmsfs measures that binary (default: a release build of this tree).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 TAR [ROUNDS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "untar.sh: run as root (it drops the page cache)" >&2; exit 2; }
TARF=$(realpath "$1") ROUNDS=${2:-3} FSS=${FSS:-plain passthrough kmsfs securefs}
cd "$(dirname "$0")/../.."
if [[ " $FSS " == *" passthrough "* ]] && [ ! -x "${PASSTHROUGH_HP:-}" ]; then
    echo "untar.sh: PASSTHROUGH_HP is not set: the FUSE floor (passthrough) is left out" >&2
    FSS=$(echo " $FSS " | sed 's/ passthrough / /; s/^ //; s/ $//')
fi
if [ -n "${KMSFS:-}" ]; then K=$(realpath "$KMSFS"); else cargo build --release --quiet; K="$PWD/target/release/kmsfs"; fi
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh
peers_start untar "$FSS"
RES=$W/results.jsonl
read -r -a FS <<< "$FSS"
for r in $(seq "$ROUNDS"); do
    order=("${FS[@]}")
    if [ $((r % 2)) = 0 ]; then mapfile -t order < <(printf "%s\n" "${FS[@]}" | tac); fi
    for fs in "${order[@]}"; do
        m=$W/mnt-$fs-$r b=$W/back-$fs-$r
        mkdir -p "$m" "$b"
        peer_mount "$fs" "$m" "$b"
        drop
        t=$(now)
        tar -xf "$TARF" -C "$m" || echo "    tar -xf into $fs reported errors (above); the timing is kept" >&2
        flush "$m" "$W"
        secs "$fs" untar "$t"
        echo "round $r $fs: $(tail -1 "$RES" | sed 's/.*"value": \([0-9.]*\).*/\1/') s"
        peer_umount "$fs" "$m"
        rm -rf "${b:?}" "${m:?}"
    done
done
python3 - "$RES" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["fs"], []).append(r["value"])
plain = statistics.median(by["plain"]) if "plain" in by else None
print("| fs | untar, s: median (min-max) | / plain |")
print("|---|---|---|")
for fs, v in by.items():
    med = statistics.median(v)
    rat = f"{med / plain:.2f}x" if plain else "-"
    print(f"| {fs} | {med:.2f} ({min(v):.2f}-{max(v):.2f}) | {rat} |")
PY
