#!/usr/bin/env bash
# Benchmark the KMS endpoint: `kmsfs serve` (release build, audit trail on) against
# moto_server in the same run, with the Rust load client of benches/endpoint.rs (keep-alive
# HTTP/1.1, SigV4 on every request): Encrypt and Decrypt of 32 bytes, 1 and 8 connections,
# ops/s, p50/p99 latency, server CPU per request. Prints the Markdown table and writes it,
# with the date, commit and the machine's load average, into docs/BENCHMARKS.md between the
# `endpoint.sh: begin/end` markers of "KMS endpoint (kmsfs serve vs moto_server)" (the
# section is appended if it has no markers; the text after the end marker is kept).
#
#   bash scripts/bench/endpoint.sh            (NO_DOCS=1: print only)
#
# moto comes from a venv at target/bench-venv (made here: pip install 'moto[server]').
# BENCH_SECS (5), BENCH_WARMUP_SECS (1), BENCH_CONNS (1,8) are passed to the client.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=target/bench-venv
if [ ! -x "$VENV/bin/moto_server" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'moto[server]'
fi
export MOTO_SERVER="$PWD/$VENV/bin/moto_server"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
cargo bench --quiet --no-run --bench endpoint 2>/dev/null
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cargo bench --quiet --bench endpoint >"$OUT"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$OUT"
echo "load average (1, 5, 15 min): $LOAD_BEFORE before, $LOAD_AFTER after" >&2
[ "${NO_DOCS:-}" = 1 ] && exit 0
MOTO_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')
BLOCK=$(mktemp)
trap 'rm -f "$OUT" "$BLOCK"' EXIT
{
    echo "<!-- endpoint.sh: begin (written by scripts/bench/endpoint.sh) -->"
    echo "\`scripts/bench/endpoint.sh\`; run $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo ' (with uncommitted changes)'); $(nproc) cores shared with the load client; moto $MOTO_VERSION."
    echo "Load on the machine (load average over 1, 5, 15 min, which the benchmark itself raises by about 2): $LOAD_BEFORE before the run, $LOAD_AFTER after."
    echo "A Rust client (benches/endpoint.rs) on keep-alive HTTP/1.1 connections, each request SigV4-signed; moto_server"
    echo "answers \`Connection: close\`, so against it every request opens a new connection (its latency includes the connect)."
    echo "32-byte plaintext, symmetric key; ${BENCH_WARMUP_SECS:-1} s warm-up, then ${BENCH_SECS:-5} s measured per case. Server CPU per request: utime+stime"
    echo "of the server process (/proc/PID/stat) over the measured window divided by the requests. The audit trail is on (it always is)."
    echo
    cat "$OUT"
    echo "<!-- endpoint.sh: end -->"
} >"$BLOCK"
python3 - docs/BENCHMARKS.md "$BLOCK" <<'PY'
import sys
doc, block = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
begin, end = "<!-- endpoint.sh: begin", "<!-- endpoint.sh: end -->\n"
i, j = text.find(begin), text.find(end)
if i >= 0 and j > i:
    text = text[:i] + block + text[j + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## KMS endpoint (kmsfs serve vs moto_server)\n\n" + block
open(doc, "w").write(text)
PY
echo "written to docs/BENCHMARKS.md" >&2
