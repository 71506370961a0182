#!/usr/bin/env bash
# TAXII 2.1 ingest-and-read benchmark: Kawal against the OASIS reference server medallion
# (memory backend), measured in the same run on the same machine with the same client.
#
# For each size N: start a fresh server on a free loopback port, POST N STIX 2.1 indicators
# in envelopes of 1,000 (--concurrency POSTs in flight, default 4: a producer pushing a large
# feed; 1 gives one request at a time), page through them all with limit=1000 following `next`, read the
# server's peak RSS (VmHWM), stop it. Kawal first, then medallion, whose phases are stopped
# after --peer-timeout seconds each. Prints a markdown section and writes it into
# docs/benchmarks.md (unless --no-doc).
#
# Usage: bench/taxii.sh [--sizes 10000,100000,1000000] [--peer-timeout SECONDS]
#                       [--concurrency N] [--quiet-wait SECONDS] [--no-medallion] [--no-doc]
# Before each phase the client waits (at most --quiet-wait seconds, default 900; 0 = never)
# until the machine is nearly idle, and it records the CPU that other processes used during
# each phase, since on a shared machine a concurrent build would skew the figures.
# Environment: KAWAL_BIN overrides the server binary ($ROOT/target/release/kawal, built with
# `cargo build --release -p kawal` when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES=10000
PEER_TIMEOUT=600
QUIET_WAIT=900
MEDALLION=1
DOC=1
CONCURRENCY=4
ARGS="$*"

while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES="$2"; shift 2 ;;
        --sizes=*) SIZES="${1#*=}"; shift ;;
        --peer-timeout) PEER_TIMEOUT="$2"; shift 2 ;;
        --peer-timeout=*) PEER_TIMEOUT="${1#*=}"; shift ;;
        --quiet-wait) QUIET_WAIT="$2"; shift 2 ;;
        --quiet-wait=*) QUIET_WAIT="${1#*=}"; shift ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --concurrency=*) CONCURRENCY="${1#*=}"; shift ;;
        --no-medallion) MEDALLION=0; shift ;;
        --no-doc) DOC=0; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[taxii.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- the server binary -------------------------------------------------------------------
KAWAL="${KAWAL_BIN:-$ROOT/target/release/kawal}"
if [ ! -x "$KAWAL" ]; then
    log "building $KAWAL"
    (cd "$ROOT" && cargo build --release -p kawal)
fi

# --- the client and medallion, in their own virtualenv ------------------------------------
VENV="$ROOT/.venv-bench"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import medallion, requests' 2>/dev/null; then
    log "installing medallion and requests into $VENV"
    "$PY" -m pip install --quiet "medallion==3.0.0" "requests>=2.28,<3"
fi
DRIVER=("$PY" "$ROOT/bench/taxii_bench.py")

# --- bookkeeping ----------------------------------------------------------------------------
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/out/taxii-$STAMP"
RESULTS="$OUT/results"
mkdir -p "$RESULTS"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stops a server we started: peak RSS first, then TERM, then KILL if it lingers.
stop_server() {
    local pid="$1" rss_file="$2"
    awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" >"$rss_file" 2>/dev/null || echo 0 >"$rss_file"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

wait_http() { # url, pid
    for _ in $(seq 300); do
        kill -0 "$2" 2>/dev/null || { log "server $2 exited during start-up"; return 1; }
        if curl -s -o /dev/null -w '%{http_code}' "$1" | grep -qE '^(200|401|403|406)$'; then
            return 0
        fi
        sleep 0.1
    done
    log "no answer from $1"
    return 1
}

# --- Kawal ------------------------------------------------------------------------------------
run_kawal() {
    local n="$1" data="$OUT/kawal-data-$n" port
    port="$(free_port)"
    "$KAWAL" admin --data "$data" org add "Bench CERT" --country NL >/dev/null 2>"$OUT/kawal-$n.admin.log"
    "$KAWAL" admin --data "$data" group add bench --orgs "Bench CERT" >/dev/null 2>>"$OUT/kawal-$n.admin.log"
    local collection token
    collection="$("$KAWAL" admin --data "$data" collection add "Bench indicators" --group bench 2>>"$OUT/kawal-$n.admin.log")"
    token="$("$KAWAL" admin --data "$data" token add --org "Bench CERT" --role analyst 2>>"$OUT/kawal-$n.admin.log")"
    RUST_LOG=warn "$KAWAL" serve --data "$data" --listen "127.0.0.1:$port" >"$OUT/kawal-$n.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/taxii2/" "$pid"
    log "kawal pid $pid on port $port, N=$n"
    "${DRIVER[@]}" run --server kawal --size "$n" --auth "bearer:$token" --concurrency "$CONCURRENCY" \
        --url "http://127.0.0.1:$port/kawal/collections/$collection/objects/" \
        --pid "$pid" --quiet-wait "$QUIET_WAIT" --out "$RESULTS/kawal-$n.json"
    stop_server "$pid" "$RESULTS/kawal-$n.rss"
    log "kawal N=$n peak RSS $(cat "$RESULTS/kawal-$n.rss") kB; data dir $(du -sh "$data" | cut -f1)"
    rm -rf "$data"
}

# --- medallion --------------------------------------------------------------------------------
run_medallion() {
    local n="$1" dir="$OUT/medallion-$n" port password collection
    port="$(free_port)"
    password="$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
    collection="$("$PY" -c 'import uuid; print(uuid.uuid4())')"
    mkdir -p "$dir"
    "${DRIVER[@]}" medallion-config --dir "$dir" --port "$port" --collection "$collection" \
        --user bench --password "$password" --session-timeout "$((PEER_TIMEOUT + 60))"
    "$VENV/bin/medallion" --host 127.0.0.1 --port "$port" "$dir/medallion-config.json" \
        >"$OUT/medallion-$n.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/taxii2/" "$pid"
    log "medallion pid $pid on port $port, N=$n, phases stopped after ${PEER_TIMEOUT}s"
    "${DRIVER[@]}" run --server medallion --size "$n" --auth "basic:bench:$password" --concurrency "$CONCURRENCY" \
        --timeout "$PEER_TIMEOUT" \
        --url "http://127.0.0.1:$port/bench/collections/$collection/objects/" \
        --pid "$pid" --quiet-wait "$QUIET_WAIT" --out "$RESULTS/medallion-$n.json"
    stop_server "$pid" "$RESULTS/medallion-$n.rss"
    log "medallion N=$n peak RSS $(cat "$RESULTS/medallion-$n.rss") kB"
}

# --- the client's own ceiling -------------------------------------------------------------
run_ceiling() {
    local port
    port="$(free_port)"
    "${DRIVER[@]}" sink --port "$port" >"$OUT/sink.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/" "$pid"
    "${DRIVER[@]}" ceiling --url "http://127.0.0.1:$port/objects/" --size 100000 --concurrency "$CONCURRENCY" \
        --quiet-wait "$QUIET_WAIT" --out "$RESULTS/ceiling.json"
    stop_server "$pid" "$OUT/sink.rss"
}

log "results in $OUT"
run_ceiling
IFS=',' read -r -a SIZE_LIST <<<"$SIZES"
for n in "${SIZE_LIST[@]}"; do
    n="${n//_/}"
    run_kawal "$n"
    if [ "$MEDALLION" = 1 ]; then
        run_medallion "$n"
    fi
done

# The binary does not say which commit it was built from; name the newest commit older than it.
BUILT="$(date -u -r "$KAWAL" '+%Y-%m-%d %H:%M:%S UTC')"
COMMIT="$(git -C "$(dirname "$KAWAL")" log -1 --first-parent --format=%h --before="$BUILT" 2>/dev/null || true)"
VERSIONS="kawal $("$KAWAL" --version | awk '{print $2}') (binary built $BUILT; newest commit before that: ${COMMIT:-unknown}), medallion $("$PY" -c 'import medallion; print(medallion.__version__)'), requests $("$PY" -c 'import requests; print(requests.__version__)')"
REPORT=("${DRIVER[@]}" report --results "$RESULTS" --date "$(date -u '+%Y-%m-%d %H:%M UTC')"
    --command "bench/taxii.sh${ARGS:+ $ARGS}" --versions "$VERSIONS" --peer-timeout "$PEER_TIMEOUT" --quiet-wait "$QUIET_WAIT")
if [ "$DOC" = 1 ]; then
    mkdir -p "$ROOT/docs"
    REPORT+=(--doc "$ROOT/docs/benchmarks.md")
fi
"${REPORT[@]}"
