#!/usr/bin/env bash
# Web console benchmark: server time per page (p50/p95 from the `Server-Timing` header) over an
# exchange seeded with N objects through TAXII — dashboard, object page, alerts, the indicator
# editor, and explore searches (no query, a word, a rare word, facets, a created range, all of
# them with a second page) — and how long the search indexer takes to catch up after ingest.
# Each size runs on a fresh data directory and server; see bench/console_bench.py. Prints a
# markdown section and writes it into docs/benchmarks.md (unless --no-doc).
#
# Usage: bench/console.sh [--sizes 10000,100000] [--requests 200] [--keep] [--no-doc]
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
        --keep) PASS+=("$1"); shift ;;
        --sizes|--requests) PASS+=("$1" "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[console.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_kawal
bench_venv
DOC_ARGS=()
[ "$DOC" = 1 ] && DOC_ARGS=(--doc "$ROOT/docs/benchmarks.md")
"$PY" "$ROOT/bench/console_bench.py" --kawal "$KAWAL" --version "$KAWAL_VERSION" \
    --command "bench/console.sh${ARGS:+ $ARGS}" "${PASS[@]+"${PASS[@]}"}" "${DOC_ARGS[@]+"${DOC_ARGS[@]}"}"
