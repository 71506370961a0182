#!/usr/bin/env bash
# Independent check of the transparency log: starts a throw-away Kawal server, feeds it a few
# hundred STIX objects over TAXII (several requests, one TLP:RED, one deletion), then runs
# scripts/log_verify.py, a verifier written from the C2SP and RFC 9162 specifications with
# the Python standard library and `cryptography` only, against the live server:
# verifier key and key ID, the checkpoint's Ed25519 signature, every leaf from the entry
# bundles, the root, every tile, inclusion and consistency proofs, objects against their
# leaves, and data tampered with in memory, which must be rejected.
#
# Usage: scripts/log_verify.sh [--build]
#   --build     run `cargo build -p kawal` even when the binary exists
# Environment:
#   KAWAL_BIN                use this binary instead of $ROOT/target/debug/kawal
#   KAWAL_LOG_VERIFY_KEEP=1  keep the temporary data directory and server log
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-log-verify"
# The verifier needs Ed25519 from `cryptography` and nothing else; bump deliberately.
PY_REQUIREMENTS=(cryptography==46.0.3)

log() { printf '[log-verify] %s\n' "$*" >&2; }
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"

force_build=0
for arg in "$@"; do
    case "$arg" in
        --build) force_build=1 ;;
        -h | --help)
            sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            log "unknown argument: $arg"
            exit 2
            ;;
    esac
done

T0="$(date +%s%N)"
# The server is on the loopback interface; never route to it through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# ---- Python environment -------------------------------------------------------------------
ensure_venv "$VENV" log-verify "${PY_REQUIREMENTS[@]}"
PY="$VENV/bin/python"
VERIFY=("$PY" "$ROOT/scripts/log_verify.py")

# Every check's PASS/FAIL line ends up here; the last line sums them up.
passed=0
count_passed() { passed=$((passed + $(grep -c '^PASS' <<<"$1" || true))); }

# The algorithms first, offline, against reference values that are not this project's.
selftest="$("${VERIFY[@]}" --self-test)" || {
    printf '%s\n' "$selftest"
    exit 1
}
printf '%s\n' "$selftest"
count_passed "$selftest"

# ---- The binary -------------------------------------------------------------------------
locate_kawal "$ROOT" "$force_build"

# ---- A fresh instance -------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kawal-log-verify.XXXXXX")"
DATA="$WORK/data"
SERVER_PID=""

cleanup() {
    local rc=$?
    stop_server "$SERVER_PID"
    if [[ $rc -ne 0 && -s "$WORK/server.err" ]]; then
        log "last lines of the server log:"
        tail -n 20 "$WORK/server.err" >&2 || true
    fi
    if [[ "${KAWAL_LOG_VERIFY_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Checkpoints every 200 ms instead of every second, so waiting for one is short.
cat >"$WORK/kawal.toml" <<'EOF'
checkpoint_interval_ms = 200
EOF

admin() { "$KAWAL" admin --data "$DATA" "$@" 2>>"$WORK/admin.err"; }
log "setting up an organisation, a sharing group, a collection and a token in $DATA"
admin org add Alpha --country MY >/dev/null
admin org add Beta --country KH >/dev/null
admin group add verifiers --orgs Alpha,Beta >/dev/null
COLLECTION="$(admin collection add 'Log verification' --group verifiers --default-tlp amber)"
TOKEN="$(admin token add --org Alpha --role analyst)"

log "starting kawal serve"
# Created here: a background command's redirections happen in the child, maybe after the
# first read below.
: >"$WORK/server.out"
: >"$WORK/server.err"
"$KAWAL" serve --data "$DATA" --config "$WORK/kawal.toml" --listen 127.0.0.1:0 \
    >"$WORK/server.out" 2>"$WORK/server.err" &
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
# The key the operator saw at start-up is the one pinned: the served key must be it.
# shellcheck disable=SC2016 # the backquotes are the server's, not the shell's
KEY="$(sed -n 's|^transparency log `.*`, verifier key \([^ ]*\)$|\1|p' "$WORK/server.out" | head -n1)"
[[ -n "$KEY" ]] || {
    log "the server did not print its verifier key"
    exit 1
}
log "server at $BASE (pid $SERVER_PID), log key $KEY"

# ---- Content -----------------------------------------------------------------------------
"$PY" "$ROOT/scripts/log_verify_feed.py" --url "$BASE" --collection "$COLLECTION" \
    --token "$TOKEN" --work "$WORK"
# FIRST, RED, SECOND (JSON_FILE:LEAF), DELETED (JSON_FILE), EARLY (a checkpoint note), SIZE.
# shellcheck disable=SC1091
source "$WORK/feed.env"

# ---- The verifier ------------------------------------------------------------------------
log "verifying the log at $BASE"
"${VERIFY[@]}" "$BASE" --key "$KEY" --previous-checkpoint "$EARLY" --collection "$COLLECTION" \
    --object "$FIRST" --object "$RED" --object "$SECOND" --deleted "$DELETED" --tamper-check \
    | tee "$WORK/verify.out"
count_passed "$(cat "$WORK/verify.out")"

# ---- The verifier must say no ------------------------------------------------------------
# End to end, through the same command line: an object altered by one byte, and a pinned key
# that is not the log's. Each run must fail.
expect_failure() {
    local what="$1"
    shift
    if "${VERIFY[@]}" "$@" >"$WORK/negative.out" 2>&1; then
        cat "$WORK/negative.out" >&2
        log "FAIL: the verifier accepted $what"
        exit 1
    fi
    passed=$((passed + 1))
    echo "PASS  the verifier rejects $what: $(grep -m1 -A1 '^FAIL' "$WORK/negative.out" | tail -n1 | sed 's/^ *//')"
}
red_file="${RED%:*}"
sed '0,/Scanner\|Loader\|Technique/s//Tampered/' "$red_file" >"$WORK/altered.json"
cmp -s "$red_file" "$WORK/altered.json" && {
    log "could not alter $red_file"
    exit 1
}
expect_failure "an object altered by one word" "$BASE" --key "$KEY" --samples 0 --object "$WORK/altered.json:${RED##*:}"
other_key="$("$PY" - "$KEY" <<'EOF'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
name = sys.argv[1].split("+")[0]
pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4].hex()
print(name + "+" + kid + "+" + base64.b64encode(b"\x01" + pub).decode())
EOF
)"
expect_failure "a pinned key that is not the log's" "$BASE" --key "$other_key" --samples 0

elapsed_ms=$((($(date +%s%N) - T0) / 1000000))
log "done in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"
# Any failure has exited non-zero above; reaching here means every check passed.
echo "log-verify: $passed passed, 0 failed"
