#!/usr/bin/env bash
# Differential test of `kawal pattern check` and `kawal pattern match` against the OASIS
# stix2-patterns validator and stix2-matcher: generated patterns (valid and mutated) and
# generated observations, from a fixed seed. Disagreements that docs/patterns.md lists as
# divergences are counted apart; any other fails the run. See scripts/pattern_differential.py.
#
# Usage: scripts/pattern_differential.sh [--build] [ARGS...]
#   --build     run `cargo build -p kawal` even when the binary exists
#   ARGS        passed to pattern_differential.py (--patterns N, --seed S, --keep DIR, -v)
# Environment:
#   KAWAL_BIN   use this binary instead of $ROOT/target/debug/kawal
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-differential"
# The behaviours docs/patterns.md describes are these versions'; bump deliberately.
PY_REQUIREMENTS=(stix2-patterns==2.1.2 stix2-matcher==3.0.0 antlr4-python3-runtime==4.13.2)

log() { printf '[differential] %s\n' "$*" >&2; }
# shellcheck source=lib/common.sh
source "$ROOT/scripts/lib/common.sh"

force_build=0
args=()
for arg in "$@"; do
    case "$arg" in
        --build) force_build=1 ;;
        -h | --help)
            sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) args+=("$arg") ;;
    esac
done

# ---- Python environment -------------------------------------------------------------------
ensure_venv "$VENV" differential "${PY_REQUIREMENTS[@]}"

# ---- The binary -------------------------------------------------------------------------
locate_kawal "$ROOT" "$force_build"

# Its last line is the summary, "pattern differential: N passed, N failed"; its status is ours.
"$VENV/bin/python" "$ROOT/scripts/pattern_differential.py" --kawal "$KAWAL" ${args[@]+"${args[@]}"}
