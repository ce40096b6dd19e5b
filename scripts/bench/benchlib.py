"""What the benchmark reports share: raw rows, medians with their spread, ratios, the machine,
and a marked section of docs/BENCHMARKS.md replaced in place.

Raw results are JSON lines {"fs", "job", "value", "unit"}, one per measurement (every round).
"""
import collections, json, os, platform, statistics


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


def backing(path):
    """The file system under PATH as "TYPE (OPTIONS) on DEVICE", from /proc/mounts: the one
    every timing's writes and deletes end on (`discard` there makes every delete wait for
    the device)."""
    best = None
    try:
        real = os.path.realpath(path)
        for line in open("/proc/mounts"):
            dev, mnt, typ, opts = line.split()[:4]
            mnt = mnt.replace("\\040", " ")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and (not best or len(mnt) > len(best[1])):
                best = (dev, mnt, typ, opts)
    except OSError:
        return "unknown"
    return f"{best[2]} ({best[3]}) on {best[0]}" if best else "unknown"


def of_rounds(n):
    return f"{n} round" + ("" if str(n) == "1" else "s")


def load(path):
    """-> (rows, by[(job, fs)] = [values], unit[job])"""
    rows = [json.loads(l) for l in open(path) if l.strip()]
    by, unit = collections.defaultdict(list), {}
    for r in rows:
        by[(r["job"], r["fs"])].append(r["value"])
        unit[r["job"]] = r["unit"]
    return rows, by, unit


def medians(by):
    return {k: statistics.median(v) for k, v in by.items() if v}


def num(x):
    """Seconds and rates alike: 3 significant digits below 100, whole numbers above."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(values, fmt=num):
    """The median, and under it the spread over the rounds (min-max); "-" when none."""
    if not values:
        return "-"
    return f"{fmt(statistics.median(values))}<br><sub>{fmt(min(values))}-{fmt(max(values))}</sub>"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def put_section(path, name, heading, block):
    """Replace the text between `<!-- NAME: begin` and `<!-- NAME: end -->` in PATH with
    BLOCK (markers included); with no markers, append `## HEADING` and the block."""
    begin = f"<!-- {name}: begin (written by scripts/bench/{name.split()[0]}) -->\n"
    end = f"<!-- {name}: end -->\n"
    try:
        text = open(path).read()
    except FileNotFoundError:
        text = ""
    new = begin + block.rstrip("\n") + "\n" + end
    i, j = text.find(f"<!-- {name}: begin"), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + new + text[j + len(end):]
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + f"## {heading}\n\n" + new
    open(path, "w").write(text)


def raw_block(rows):
    return ["Raw results (every round):", "", "```"] + [json.dumps(r) for r in rows] + ["```"]
