#!/usr/bin/env bash
# Sign/s and Verify/s per asymmetric key spec (and GenerateMac/s, VerifyMac/s per HMAC spec)
# of kmsfs (benches/asym.rs, straight on kmsfs::crypto::asym) beside `openssl speed` for the
# same algorithm, both pinned to one core (`taskset -c $BENCH_CPU`, default 0), run one after
# the other spec by spec, the order alternated between rounds. Issue 17's target: kmsfs within
# 1.5x of OpenSSL for every algorithm. Prints the Markdown table and writes it, with the date,
# commit, OpenSSL version and the machine's load average, into docs/BENCHMARKS.md between the
# `asym.sh: begin/end` markers of "Asymmetric signing (issue 17)" (the section is appended if
# it has no markers; the text after the end marker is kept).
#
#   bash scripts/bench/asym.sh            (NO_DOCS=1: print only)
#
# BENCH_SECS (2): seconds per operation and run (kmsfs: CPU seconds; openssl: `-seconds`, the
# wall clock, divided by its CPU time). BENCH_ROUNDS (2): the best round of each side is kept.
# Both rates are per CPU second (openssl speed's default divisor, user time; kmsfs: user +
# system time of its thread), so the other processes of a shared machine count for neither.
# No secp256k1 and no ML-DSA in OpenSSL 3.0's `speed`: those rows show kmsfs alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-2}
CPU=${BENCH_CPU:-0}
# kmsfs key spec -> `openssl speed` arguments ("-" = none in OpenSSL 3.0's speed).
PAIRS=(
    "RSA_2048 rsa2048" "RSA_3072 rsa3072" "RSA_4096 rsa4096"
    "ECC_NIST_P256 ecdsap256" "ECC_NIST_P384 ecdsap384" "ECC_NIST_P521 ecdsap521"
    "ECC_SECG_P256K1 -" "ECC_NIST_EDWARDS25519 ed25519"
    "ML_DSA_44 -" "ML_DSA_65 -" "ML_DSA_87 -"
    "HMAC_224 -hmac:sha224" "HMAC_256 -hmac:sha256" "HMAC_384 -hmac:sha384" "HMAC_512 -hmac:sha512"
)
BIN=$(cargo bench --no-run --bench asym 2>&1 | sed -n 's/.*Executable.*(\(.*\)).*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "asym.sh: could not build benches/asym.rs" >&2; exit 1; }
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

run_kmsfs() { # spec
    BENCH_SECS=$SECS BENCH_SPECS=$1 taskset -c "$CPU" "$BIN" | sed "s/^/kmsfs /" >>"$RAW"
}
run_openssl() { # spec openssl-args
    [ "$2" = - ] && return 0
    local args=${2//:/ }
    [ "${args#-hmac}" != "$args" ] && args="$args -bytes 16"
    # shellcheck disable=SC2086
    taskset -c "$CPU" openssl speed -mr -seconds "$SECS" $args 2>/dev/null |
        grep '^+F' | sed "s/^/openssl $1 /" >>"$RAW"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    for pair in "${PAIRS[@]}"; do
        # shellcheck disable=SC2086 # split on purpose: "SPEC ARGS"
        set -- $pair
        echo "round $round: $1" >&2
        if [ $((round % 2)) = 1 ]; then run_kmsfs "$1"; run_openssl "$1" "$2"
        else run_openssl "$1" "$2"; run_kmsfs "$1"; fi
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

TABLE=$(python3 - "$RAW" <<'PY'
import sys
best = {}  # (side, spec) -> [sign/s, verify/s, alg]
order = []
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "kmsfs":  # kmsfs asym SPEC ALG sign verify sign_wall verify_wall
        spec, alg, s, v = f[2], f[3], float(f[4]), float(f[5])
    else:  # openssl SPEC +F...
        spec, p = f[1], f[2].split(":")
        alg = ""
        if p[0] in ("+F2", "+F4"):
            s, v = float(p[3]), float(p[4])
        elif p[0] == "+F6":
            s, v = float(p[4]), float(p[5])
        elif p[0] == "+F":  # HMAC: bytes/s of 16-byte messages; no verify in speed
            s, v = float(p[3]) / 16, None
        else:
            continue
    if spec not in order:
        order.append(spec)
    old = best.get((f[0], spec))
    if old is None:
        best[(f[0], spec)] = [s, v, alg]
    else:
        old[0] = max(old[0], s)
        old[1] = None if v is None else max(old[1], v)
num = lambda x: "—" if x is None else f"{x:,.0f}"
def ratio(k, o):
    return "—" if k is None or o is None else f"{k / o:.2f}"
print("| key spec | kmsfs algorithm | kmsfs sign/s | openssl sign/s | kmsfs/openssl | kmsfs verify/s | openssl verify/s | kmsfs/openssl |")
print("|---|---|---|---|---|---|---|---|")
worst = []
for spec in order:
    k = best[("kmsfs", spec)]
    o = best.get(("openssl", spec), [None, None, ""])
    rs, rv = ratio(k[0], o[0]), ratio(k[1], o[1])
    worst += [float(r) for r in (rs, rv) if r != "—"]
    print(f"| {spec} | {k[2]} | {num(k[0])} | {num(o[0])} | {rs} | {num(k[1])} | {num(o[1])} | {rv} |")
print()
print(f"Lowest kmsfs/openssl ratio: {min(worst):.2f} (target: at least {1/1.5:.2f}, i.e. within 1.5x)."
      if worst else "No OpenSSL figures.")
PY
)
echo "$TABLE"
echo "load average (1, 5, 15 min): $LOAD_BEFORE before, $LOAD_AFTER after" >&2
[ "${NO_DOCS:-}" = 1 ] && exit 0
BLOCK=$(mktemp)
trap 'rm -f "$RAW" "$BLOCK"' EXIT
{
    echo "<!-- asym.sh: begin (written by scripts/bench/asym.sh) -->"
    echo "\`scripts/bench/asym.sh\`; run $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches || echo ' (with uncommitted changes)'); $(openssl version | cut -d' ' -f1-2);"
    echo "both pinned to CPU $CPU of $(nproc) ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), spec by spec, the order alternated over $ROUNDS rounds, the best round of each side kept;"
    echo "$SECS s per operation and run; rates per CPU second (openssl: user time; kmsfs: user + system time of its thread)."
    echo "Load average (1, 5, 15 min): $LOAD_BEFORE before the run, $LOAD_AFTER after."
    echo
    echo "$TABLE"
    echo "<!-- asym.sh: end -->"
} >"$BLOCK"
python3 - docs/BENCHMARKS.md "$BLOCK" <<'PY'
import sys
doc, block = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
begin, end = "<!-- asym.sh: begin", "<!-- asym.sh: end -->\n"
i, j = text.find(begin), text.find(end)
if i >= 0 and j > i:
    text = text[:i] + block + text[j + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Asymmetric signing (issue 17)\n\n" + block
open(doc, "w").write(text)
PY
echo "written to docs/BENCHMARKS.md" >&2
