#!/usr/bin/env bash
# TAXII 2.1 conformance run: starts a throw-away Kawal server, drives every TAXII endpoint
# and filter through the reference Python client (taxii2-client), then exports each
# collection and validates every exported object with the OASIS STIX 2.1 validator.
#
# Usage: scripts/conformance.sh [--build]
#   --build                  run `cargo build -p kawal` even when the binary exists
# Environment:
#   KAWAL_BIN                 use this binary instead of $ROOT/target/debug/kawal
#   KAWAL_CONFORMANCE_KEEP=1  keep the temporary data directory and server log
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-conformance"
# Versions known to work together; bump deliberately, the checks rely on their behaviour.
PY_REQUIREMENTS=(taxii2-client==2.3.0 stix2==3.0.2 stix2-validator==3.3.2)

log() { printf '[conformance] %s\n' "$*" >&2; }
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"

force_build=0
for arg in "$@"; do
    case "$arg" in
        --build) force_build=1 ;;
        -h | --help)
            sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            log "unknown argument: $arg"
            exit 2
            ;;
    esac
done

KAWAL_CONFORMANCE_T0="$(date +%s.%N)"
export KAWAL_CONFORMANCE_T0
# The server is on the loopback interface; never route to it through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# ---- Python environment -------------------------------------------------------------------
ensure_venv "$VENV" conformance "${PY_REQUIREMENTS[@]}"

# ---- The binary -------------------------------------------------------------------------
locate_kawal "$ROOT" "$force_build"

# ---- A fresh instance -------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kawal-conformance.XXXXXX")"
DATA="$WORK/data"
SERVER_PID=""

cleanup() {
    local rc=$?
    stop_server "$SERVER_PID"
    if [[ $rc -ne 0 && -s "$WORK/server.err" ]]; then
        log "last lines of the server log:"
        tail -n 20 "$WORK/server.err" >&2 || true
    fi
    if [[ "${KAWAL_CONFORMANCE_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

admin() { "$KAWAL" admin --data "$DATA" "$@" 2>>"$WORK/admin.err"; }
# `org add` prints "NAME<TAB>IDENTITY_ID"; keep the identity id.
org() { admin org add "$@" | cut -f2; }

log "setting up organisations, sharing groups, collections and tokens in $DATA"
ALPHA_IDENTITY="$(org Alpha --country MY)"
BETA_IDENTITY="$(org Beta --country KH)"
DELTA_IDENTITY="$(org Delta --country TH)"
GAMMA_IDENTITY="$(org Gamma --country SG)"
admin group add trusted --orgs Alpha,Beta,Delta >/dev/null
admin group add outsiders --orgs Gamma >/dev/null

COL_MAIN="$(admin collection add 'Conformance main' --group trusted --description 'Objects, versions, filters, TLP')"
COL_PAGING="$(admin collection add 'Conformance paging' --group trusted)"
COL_ALPHA_ONLY="$(admin collection add 'Conformance alpha writes' --group trusted --writers Alpha)"
COL_PUBLIC="$(admin collection add 'Conformance public' --group trusted --public --default-tlp green)"
COL_PROBE="$(admin collection add 'Conformance validation probe' --group trusted)"
COL_GAMMA="$(admin collection add 'Outsiders only' --group outsiders)"

TOKEN_ALPHA="$(admin token add --org Alpha --role analyst)"
TOKEN_BETA="$(admin token add --org Beta --role analyst)"
TOKEN_BETA_READER="$(admin token add --org Beta --role reader)"
TOKEN_DELTA="$(admin token add --org Delta --role analyst)"
TOKEN_GAMMA="$(admin token add --org Gamma --role analyst)"
TOKEN_REVOKED="$(admin token add --org Alpha --role reader)"

log "starting kawal serve"
: >"$WORK/server.out"  # exists before the server writes, so the reader below never races it
"$KAWAL" serve --data "$DATA" --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
BASE=""
for _ in $(seq 100); do
    BASE="$(sed -n 's|^kawal listening on \(http://[^ ]*\).*|\1|p' "$WORK/server.out" | head -n1)"
    [[ -n "$BASE" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || {
        log "the server exited before listening"
        exit 1
    }
    sleep 0.1
done
[[ -n "$BASE" ]] || {
    log "the server did not report its address within 10 s"
    exit 1
}
log "server at $BASE (pid $SERVER_PID)"

# Revoked while the server runs: the server must refuse it from then on.
admin token revoke "${TOKEN_REVOKED%%:*}" >/dev/null

cat >"$WORK/config.json" <<EOF
{
  "base_url": "$BASE",
  "kawal": "$KAWAL",
  "data": "$DATA",
  "work": "$WORK",
  "identities": {"Alpha": "$ALPHA_IDENTITY", "Beta": "$BETA_IDENTITY",
                 "Delta": "$DELTA_IDENTITY", "Gamma": "$GAMMA_IDENTITY"},
  "collections": {"main": "$COL_MAIN", "paging": "$COL_PAGING", "alpha_only": "$COL_ALPHA_ONLY",
                  "public": "$COL_PUBLIC", "probe": "$COL_PROBE", "gamma": "$COL_GAMMA"},
  "tokens": {"alpha": "$TOKEN_ALPHA", "beta": "$TOKEN_BETA", "beta_reader": "$TOKEN_BETA_READER",
             "delta": "$TOKEN_DELTA", "gamma": "$TOKEN_GAMMA", "revoked": "$TOKEN_REVOKED"}
}
EOF

# Its last line is the summary, "conformance: N passed, N failed"; its status is ours.
"$VENV/bin/python" "$ROOT/scripts/taxii_conformance.py" --config "$WORK/config.json"
