#!/usr/bin/env bash
# Transparency-log benchmark: the log's overhead on TAXII ingest (log on vs
# `transparency_log = false`), leaves appended per second, the time from a POST's
# acknowledgement to a signed checkpoint covering it (p50/p95), inclusion-proof latency and
# storage per leaf. Each phase runs the release binary on a fresh data directory; see
# bench/tlog_bench.py for what each phase does. Prints a markdown section and writes it into
# docs/benchmarks.md (unless --no-doc).
#
# Usage: bench/tlog.sh [--size N] [--rounds R] [--concurrency C] [--no-doc]
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
        --size|--rounds|--concurrency|--posts|--proofs) PASS+=("$1" "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[tlog.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_kawal
bench_venv
DOC_ARGS=()
[ "$DOC" = 1 ] && DOC_ARGS=(--doc "$ROOT/docs/benchmarks.md")
"$PY" "$ROOT/bench/tlog_bench.py" --kawal "$KAWAL" --version "$KAWAL_VERSION" \
    --command "bench/tlog.sh${ARGS:+ $ARGS}" "${PASS[@]+"${PASS[@]}"}" "${DOC_ARGS[@]+"${DOC_ARGS[@]}"}"
