#!/usr/bin/env bash
# Monitoring benchmark: Suricata EVE events as NDJSON over HTTP → normalise → match → alert,
# with 100,000 and 1,000,000 active indicators: events/s, p50/p99 event-to-alert latency
# (on /api/alerts/stream) and the server's peak RSS. See bench/detect_bench.py. Prints a
# markdown section and writes it into docs/benchmarks.md (unless --no-doc).
#
# Usage: bench/detect.sh [--indicators 100000,1000000] [--events N] [--batch LINES]
#                        [--concurrency C] [--repeat R] [--no-doc]
# Environment: KAWAL_BIN overrides the server binary ($ROOT/target/release/kawal, built with
# `cargo build --release -p kawal` when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS="$*"
PASS=()
DOC=1
while [ $# -gt 0 ]; do
    case "$1" in
        --no-doc) DOC=0; shift ;;
        --indicators|--events|--batch|--concurrency|--hit-every|--repeat) PASS+=("$1" "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[detect.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_kawal
bench_venv
DOC_ARGS=()
[ "$DOC" = 1 ] && DOC_ARGS=(--doc "$ROOT/docs/benchmarks.md")
"$PY" "$ROOT/bench/detect_bench.py" --kawal "$KAWAL" --version "$KAWAL_VERSION" \
    --command "bench/detect.sh${ARGS:+ $ARGS}" "${PASS[@]+"${PASS[@]}"}" "${DOC_ARGS[@]+"${DOC_ARGS[@]}"}"
