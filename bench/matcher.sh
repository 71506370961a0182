#!/usr/bin/env bash
# Matcher benchmarks W1 and W2 (docs/benchmarks.md), with the OASIS reference matcher
# stix2-matcher on the same workload in the same run.
#
#   bench/matcher.sh [--sizes 1000,10000,100000,1000000] [--events 1000000]
#
# Background values for the event stream come from MISP warning lists (pymispwarninglists).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=1000,10000,100000,1000000
EVENTS=1000000
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --events) EVENTS=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
OUT="$ROOT/bench/out/matcher-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
VENV="$ROOT/.venv-bench-matcher"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'stix2-matcher==3.0.0' 'pymispwarninglists==1.6'
fi
"$VENV/bin/python" "$ROOT/bench/matcher_peer.py" benign "$OUT/benign.txt"

cd "$ROOT"
echo "== W1 (divan)"
cargo bench -p kawal-matcher --bench w1 2>/dev/null | tee "$OUT/w1.txt"
echo "== W2"
KAWAL_BENIGN="$OUT/benign.txt" KAWAL_W2_WRITE="$OUT/w2" KAWAL_W2_SIZES="$SIZES" KAWAL_W2_EVENTS="$EVENTS" \
    cargo bench -p kawal-matcher --bench w2 2>/dev/null | tee "$OUT/w2.md"
echo "== stix2-matcher on the same workloads"
"$VENV/bin/python" "$ROOT/bench/matcher_peer.py" peer "$OUT" | tee "$OUT/peer.md"
echo "results in $OUT"
