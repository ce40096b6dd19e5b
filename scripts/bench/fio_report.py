#!/usr/bin/env python3
"""Write the fio section of docs/BENCHMARKS.md and its chart from fio.sh's raw results.

    python3 scripts/bench/fio_report.py RESULTS.jsonl ROUNDS CORES OUTDIR [DATE]

RESULTS.jsonl holds one {"fs","job","value","unit"} object per line (every round). The data
and metadata jobs go to the top of BENCHMARKS.md, up to its first `## ` heading; the kernel
tree job (untar, ls -lR, rm -rf) to its own section between `fio.sh tree` markers; the other
sections (the endpoint, authorization, signing and snapshot benchmarks) are kept as they are.
A section is written only when the results hold its jobs. The tables show medians with the
spread over rounds (min-max); the chart names the date and machine, and uses a log scale where
a job's values span more than 20x.
"""
import datetime, os, sys

from benchlib import backing, cell, load, machine, of_rounds, medians, put_section, ratio, raw_block

JOBS = {
    "seq-write": "1 GiB written sequentially in 1 MiB blocks (psync, buffered: through the page cache), "
                 "timed to the end of the closing fsync (`end_fsync=1`): the data is on disk.",
    "seq-read-cold": "That file read sequentially in 1 MiB blocks after `drop_caches`: every byte "
                     "comes from the disk and is decrypted.",
    "seq-read-warm": "Read again at once (new open, `invalidate=0`): served from the page cache "
                     "where the file system keeps it there (kmsfs, plain).",
    "rand-read-miss": "4 KiB random reads by 2 jobs over two 512 MiB halves, 100,000 each, after "
                      "`drop_caches` and `invalidate=1`: each read misses the cache.",
    "rand-write": "4 KiB random writes by 2 jobs over the 1 GiB file for 20 s, buffered and not "
                  "fsynced (what the writeback cache absorbs).",
    "metadata": "10,000 files of 100 bytes created (open, write, close), stat'ed, listed and "
                "removed in one directory by one Python process, caches dropped first: files/s "
                "over the whole cycle.",
}
FSS = ["plain", "passthrough", "kmsfs", "kmsfs-uring", "kmsfs-dev", "kmsfs-noxattr", "gocryptfs", "cryfs", "securefs"]
COLORS = {"plain": "#888", "passthrough": "#bbb", "kmsfs": "#2a7", "kmsfs-uring": "#7c9", "kmsfs-dev": "#396", "kmsfs-noxattr": "#5b8", "gocryptfs": "#47c", "cryfs": "#c74", "securefs": "#a5a"}


TREE = {
    "untar": "`tar -xf` of the Linux 6.1 source (`apt install linux-source-6.1`, decompressed once "
             "to a plain .tar outside the mounts; 83,731 entries, 1.36 GB) into the mount, caches "
             "dropped first, timed to the end of a `sync -f` of the mount and of the file system "
             "under it: the tree is on disk.",
    "ls-lR-cold": "`ls -lR` of that tree to /dev/null after `drop_caches` (the FUSE mounts forget "
                  "their inodes, the backing file system its own): every entry listed and stat'ed.",
    "rm-rf": "`rm -rf` of the tree (its metadata warm from the listing), timed to the end of the "
             "same two syncs.",
}


def main():
    res, rounds, cores, outdir = sys.argv[1:5]
    date = sys.argv[5] if len(sys.argv) > 5 else str(datetime.date.today())
    rows, by, unit = load(res)
    host = machine(cores)
    path = os.path.join(outdir, "BENCHMARKS.md")
    if any(j in unit for j in JOBS):
        data_section(rows, by, unit, rounds, date, host, path, outdir)
    if any(j in unit for j in TREE):
        tree_section(rows, by, rounds, date, f"{host}; work directory on {backing(res)}", path)


def data_section(rows, by, unit, rounds, date, host, path, outdir):
    jobs = [j for j in JOBS if j in unit]
    fss = [f for f in FSS if any(r["fs"] == f and r["job"] in JOBS for r in rows)]
    med = medians(by)
    whole = lambda x: f"{x:,.0f}"
    out = ["# Benchmarks", "",
           f"`scripts/bench/fio.sh`, {of_rounds(rounds)} with the order of the file systems alternated; "
           f"run {date} on {host}. Higher is better. Each cell: the median, and under it the "
           "spread over the rounds (min-max). Ratios of medians: kmsfs / gocryptfs, kmsfs / "
           "securefs and kmsfs / plain (ext4 itself).", "",
           "| job | unit | " + " | ".join(fss) + " | kmsfs/gocryptfs | kmsfs/securefs | kmsfs/plain |",
           "|---|---|" + "---|" * (len(fss) + 3)]
    for j in jobs:
        k = med.get((j, "kmsfs"))
        rat = lambda p: ratio(k, med.get((j, p)))
        out.append(f"| {j} | {unit[j]} | " + " | ".join(cell(by[(j, f)], whole) for f in fss)
                   + f" | {rat('gocryptfs')} | {rat('securefs')} | {rat('plain')} |")
    out += ["", "What each job does (fio, `ioengine=psync`, one 1 GiB file per file system; the page "
            "cache is dropped before each file system, before the cold reads and before the "
            "random reads):", "", "| job | what it measures |", "|---|---|"]
    out += [f"| {j} | {JOBS[j]} |" for j in jobs]
    out += ["", "![chart](benchmarks.png)", ""]
    out += raw_block([r for r in rows if r["job"] in JOBS]) + [""]
    rest = ""
    if os.path.exists(path):
        old = open(path).read()
        i = old.find("\n## ")
        rest = old[i + 1:] if i >= 0 else ""
    open(path, "w").write("\n".join(out) + ("\n" + rest if rest else ""))
    chart(jobs, fss, by, med, unit, f"scripts/bench/fio.sh, {date}, {host}; median and min-max of {of_rounds(rounds)}",
          os.path.join(outdir, "benchmarks.png"))
    print("\n".join(out[:14]))


def tree_section(rows, by, rounds, date, host, path):
    """untar / ls -lR / rm -rf of a kernel tree, seconds (lower is better), ratios to plain."""
    jobs = [j for j in TREE if any(r["job"] == j for r in rows)]
    fss = [f for f in FSS if any(r["fs"] == f and r["job"] in TREE for r in rows)]
    med = medians(by)
    out = [f"`JOBS=tree scripts/bench/fio.sh`, {of_rounds(rounds)} with the order of the file systems "
           f"alternated (the same rounds as the jobs above in a full run); run {date} on {host}. "
           "Seconds: lower is better. Each cell: the median, under it the spread over the rounds "
           "(min-max) and the ratio of medians to plain (ext4 itself). Last columns: kmsfs / peer "
           "(below 1: kmsfs is faster).", "",
           "| step | " + " | ".join(fss) + " | kmsfs/gocryptfs | kmsfs/securefs |",
           "|---|" + "---|" * (len(fss) + 2)]
    for j in jobs:
        cells = []
        for f in fss:
            c = cell(by[(j, f)])
            r = ratio(med.get((j, f)), med.get((j, "plain")))
            if f != "plain" and r != "-":
                c += f"<br><sub>{r} plain</sub>"
            cells.append(c)
        k = med.get((j, "kmsfs"))
        out.append(f"| {j} | " + " | ".join(cells)
                   + f" | {ratio(k, med.get((j, 'gocryptfs')))} | {ratio(k, med.get((j, 'securefs')))} |")
    out += ["", "| step | what it times |", "|---|---|"] + [f"| {j} | {TREE[j]} |" for j in jobs]
    out += [""] + raw_block([r for r in rows if r["job"] in TREE])
    put_section(path, "fio.sh tree", "Kernel tree: untar, ls -lR, rm -rf (issue 20)", "\n".join(out))
    print("\n".join(out[:4 + len(jobs)]))


def chart(jobs, fss, by, med, unit, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(jobs), figsize=(3.2 * len(jobs), 4.0), squeeze=False)
    for ax, j in zip(axes[0], jobs):
        have = [f for f in fss if by[(j, f)]]
        vals = [med[(j, f)] for f in have]
        lo = [med[(j, f)] - min(by[(j, f)]) for f in have]
        hi = [max(by[(j, f)]) - med[(j, f)] for f in have]
        ax.bar(have, vals, color=[COLORS[f] for f in have], yerr=[lo, hi], capsize=3,
               error_kw={"elinewidth": 1})
        if vals and min(vals) > 0 and max(vals) / min(vals) > 20:
            ax.set_yscale("log")
            ax.set_title(f"{j} ({unit[j]}, log scale)", fontsize=9)
        else:
            ax.set_title(f"{j} ({unit[j]})", fontsize=9)
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
