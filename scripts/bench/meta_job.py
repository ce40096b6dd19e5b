"""fio.sh's metadata job, in one place for the scripts that run it: 10,000 files of 100 bytes
created (open, write, close), stat'ed, listed and removed in a new directory META under DIR,
by this one process, timed whole and step by step.

  meta_job.py FS DIR                one JSON row {fs, job: metadata, value: files/s} (fio.sh)
  meta_job.py FS DIR --round R      one line: files/s and each step in µs per file (meta_steps.sh)
"""
import json, os, sys, time

N = 10000


def run(d):
    """The job in directory d; the clock at its start and after each step."""
    os.mkdir(d)
    t = [time.perf_counter()]
    for i in range(N):
        fd = os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * 100)
        os.close(fd)
    t.append(time.perf_counter())
    for i in range(N):
        os.stat(f"{d}/f{i}")
    t.append(time.perf_counter())
    assert len(os.listdir(d)) == N
    t.append(time.perf_counter())
    for i in range(N):
        os.unlink(f"{d}/f{i}")
    os.rmdir(d)
    t.append(time.perf_counter())
    return t


def main():
    fs, d = sys.argv[1], os.path.join(sys.argv[2], "meta")
    t = run(d)
    rate = N / (t[-1] - t[0])
    if sys.argv[3:4] == ["--round"]:
        us = [(t[i + 1] - t[i]) / N * 1e6 for i in range(4)]
        print(f"round {sys.argv[4]} {fs}: {rate:.0f} files/s; µs per file: create {us[0]:.1f}, "
              f"stat {us[1]:.1f}, list {us[2]:.1f}, unlink {us[3]:.1f}")
    else:
        print(json.dumps({"fs": fs, "job": "metadata", "value": rate, "unit": "files/s"}))


if __name__ == "__main__":
    main()
