#!/usr/bin/env python3
"""Write the snapshot section of docs/BENCHMARKS.md from snapshot.sh's raw results.

    python3 scripts/bench/snapshot_report.py RESULTS.jsonl ROUNDS CORES OUTDIR [DATE]

Rows: {"fs": kmsfs|restic|cp, "job": first|incremental|copy-new-key|restore, "unit": "s"},
the bytes each added ({"job": "<step>-added", "unit": "bytes"}), and the tree's size
({"fs": "tree", "job": bytes|files|changed}). The section sits between the `snapshot.sh`
markers (appended when missing); the rest of the file is kept.
"""
import datetime, os, sys

from benchlib import backing, cell, load, machine, of_rounds, medians, put_section, ratio, raw_block

STEPS = {
    "first": "Full copy of the tree: kmsfs's first snapshot; restic's first backup (new "
             "repository); `cp -r` of the backing tree to a new directory.",
    "incremental": "After one regular file in 100 got a line appended through the mount: the "
                   "volume's next snapshot; restic's next backup.",
    "copy-new-key": "`kmsfs snapshot copy` of the first snapshot under another KMS key: a new "
                    "DEK, every block re-encrypted.",
    "restore": "The first snapshot made a new volume (`kmsfs volume create --snapshot-id`, same "
               "key); restic's first backup restored to a new directory.",
}
SIDES = ["kmsfs", "restic", "cp"]
NAMES = {"kmsfs": "kmsfs", "restic": "restic", "cp": "`cp -r`"}


def gb(x):
    return f"{x / 1e9:.2f} GB" if x >= 1e8 else f"{x / 1e6:.1f} MB"


def main():
    res, rounds, cores, outdir = sys.argv[1:5]
    date = sys.argv[5] if len(sys.argv) > 5 else str(datetime.date.today())
    rows, by, _ = load(res)
    med = medians(by)
    floor = med.get(("first", "cp"))
    size = med.get(("bytes", "tree"))
    tree = (f"{gb(size)} in {med.get(('files', 'tree'), 0):,.0f} backing files, "
            f"{med.get(('changed', 'tree'), 0):,.0f} of them changed" if size else "")
    out = [f"`scripts/bench/snapshot.sh`, {of_rounds(rounds)} (a fresh home and volume each; the "
           f"order of kmsfs, restic and `cp -r` alternated); run {date} on {machine(cores)}; "
           f"work directory on {backing(res)}. "
           f"The tree: the Linux 6.1 source untarred into a kmsfs volume ({tree}); kmsfs "
           "snapshots the unmounted volume, restic and `cp -r` copy its backing tree (the "
           "ciphertext). Caches dropped before each step; each time ends with a `sync -f`. "
           "Seconds: lower is better. Each cell: the median, under it the spread over the "
           "rounds (min-max) and the bytes it added (median). Ratios of medians to the first "
           "`cp -r` (the floor of a full copy).", "",
           "| step | " + " | ".join(NAMES[s] for s in SIDES) + " | kmsfs / `cp -r` | restic / `cp -r` |",
           "|---|" + "---|" * (len(SIDES) + 2)]
    steps = [s for s in STEPS if any(r["job"] == s for r in rows)]
    for step in steps:
        cells = []
        for side in SIDES:
            c = cell(by.get((step, side), []))
            added = med.get((f"{step}-added", side))
            if added is not None:
                c += f"<br><sub>+{gb(added)}</sub>"
            cells.append(c)
        out.append(f"| {step} | " + " | ".join(cells)
                   + f" | {ratio(med.get((step, 'kmsfs')), floor)} | {ratio(med.get((step, 'restic')), floor)} |")
    out += ["", "| step | what it times |", "|---|---|"] + [f"| {s} | {STEPS[s]} |" for s in steps]
    out += [""] + raw_block(rows)
    put_section(os.path.join(outdir, "BENCHMARKS.md"), "snapshot.sh",
                "Snapshots beside cp -r and restic (issue 20)", "\n".join(out))
    print("\n".join(out[:4 + len(steps)]))


if __name__ == "__main__":
    main()
