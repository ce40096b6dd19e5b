#!/usr/bin/env python3
"""Write the fio section of docs/BENCHMARKS.md and its chart from fio.sh's raw results.

    python3 scripts/bench/fio_report.py RESULTS.jsonl ROUNDS CORES OUTDIR [DATE]

RESULTS.jsonl holds one {"fs","job","value","unit"} object per line (every round). The
section is the top of BENCHMARKS.md, up to its first `## ` heading; the sections below it
(the endpoint, authorization and signing benchmarks) are kept as they are. The table shows
medians with the spread over rounds (min-max); the chart names the date and machine, and
uses a log scale where a job's values span more than 20x.
"""
import collections, datetime, json, os, platform, statistics, sys

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
FSS = ["plain", "kmsfs", "gocryptfs", "cryfs", "securefs"]
COLORS = {"plain": "#888", "kmsfs": "#2a7", "gocryptfs": "#47c", "cryfs": "#c74", "securefs": "#a5a"}


def machine(cores):
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {cores} cores, Linux {platform.release()}"


def main():
    res, rounds, cores, outdir = sys.argv[1:5]
    date = sys.argv[5] if len(sys.argv) > 5 else str(datetime.date.today())
    rows = [json.loads(l) for l in open(res) if l.strip()]
    by, unit = collections.defaultdict(list), {}
    for r in rows:
        by[(r["job"], r["fs"])].append(r["value"])
        unit[r["job"]] = r["unit"]
    jobs = [j for j in JOBS if j in unit]
    fss = [f for f in FSS if any(r["fs"] == f for r in rows)]
    med = {(j, f): statistics.median(by[(j, f)]) for j in jobs for f in fss if by[(j, f)]}
    host = machine(cores)
    out = ["# Benchmarks", "",
           f"`scripts/bench/fio.sh`, {rounds} rounds with the order of the file systems alternated; "
           f"run {date} on {host}. Higher is better. Each cell: the median, and under it the "
           "spread over the rounds (min-max). Ratios of medians: kmsfs / gocryptfs, kmsfs / "
           "securefs and kmsfs / plain (ext4 itself).", "",
           "| job | unit | " + " | ".join(fss) + " | kmsfs/gocryptfs | kmsfs/securefs | kmsfs/plain |",
           "|---|---|" + "---|" * (len(fss) + 3)]
    for j in jobs:
        cells = []
        for f in fss:
            v = by[(j, f)]
            cells.append(f"{med[(j, f)]:,.0f}<br><sub>{min(v):,.0f}-{max(v):,.0f}</sub>" if v else "-")
        k = med.get((j, "kmsfs"))
        rat = lambda p: f"{k / med[(j, p)]:.2f}x" if k and med.get((j, p)) else "-"
        out.append(f"| {j} | {unit[j]} | " + " | ".join(cells)
                   + f" | {rat('gocryptfs')} | {rat('securefs')} | {rat('plain')} |")
    out += ["", "What each job does (fio, `ioengine=psync`, one 1 GiB file per file system; the page "
            "cache is dropped before each file system, before the cold reads and before the "
            "random reads):", "", "| job | what it measures |", "|---|---|"]
    out += [f"| {j} | {JOBS[j]} |" for j in jobs]
    out += ["", "![chart](benchmarks.png)", "", "Raw results (every round):", "", "```"]
    out += [json.dumps(r) for r in rows] + ["```", ""]
    path = os.path.join(outdir, "BENCHMARKS.md")
    rest = ""
    if os.path.exists(path):
        old = open(path).read()
        i = old.find("\n## ")
        rest = old[i + 1:] if i >= 0 else ""
    open(path, "w").write("\n".join(out) + ("\n" + rest if rest else ""))
    chart(jobs, fss, by, med, unit, f"scripts/bench/fio.sh, {date}, {host}; median and min-max of {rounds} rounds",
          os.path.join(outdir, "benchmarks.png"))
    print("\n".join(out[:14]))


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
