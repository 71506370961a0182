#!/usr/bin/env bash
# Monitoring benchmark: Suricata EVE events as NDJSON over HTTP → normalise → match → alert,
# with 100,000 and 1,000,000 active indicators: events/s, p50/p99 event-to-alert latency
# (on /api/alerts/stream) and the server's peak RSS. See bench/detect_bench.py. Prints a
# markdown section and writes it into docs/benchmarks.md (unless --no-doc).
#
# Usage: bench/detect.sh [--indicators 100000,1000000] [--events N] [--batch LINES]
#                        [--concurrency C] [--no-doc]
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
        --indicators|--events|--batch|--concurrency|--hit-every) PASS+=("$1" "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[detect.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

KAWAL="${KAWAL_BIN:-$ROOT/target/release/kawal}"
if [ ! -x "$KAWAL" ]; then
    log "building $KAWAL"
    (cd "$ROOT" && cargo build --release -p kawal)
fi
VENV="$ROOT/.venv-bench"
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import requests' 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet "requests>=2.28,<3"
fi
BUILT="$(date -u -r "$KAWAL" '+%Y-%m-%d %H:%M UTC')"
COMMIT="$(git -C "$ROOT" log -1 --format=%h --before="$BUILT" 2>/dev/null || true)"
DOC_ARGS=()
[ "$DOC" = 1 ] && DOC_ARGS=(--doc "$ROOT/docs/benchmarks.md")
"$VENV/bin/python" "$ROOT/bench/detect_bench.py" --kawal "$KAWAL" \
    --version "kawal $("$KAWAL" --version | awk '{print $2}'), built $BUILT, newest commit before: ${COMMIT:-unknown}" \
    --command "bench/detect.sh${ARGS:+ $ARGS}" "${PASS[@]+"${PASS[@]}"}" "${DOC_ARGS[@]+"${DOC_ARGS[@]}"}"
