# Shared by the benchmark scripts in bench/ (sourced, not run). Each caller defines `log` and ROOT.

# bench_kawal — sets KAWAL to $KAWAL_BIN, or to the release build, building it when missing,
# and KAWAL_VERSION to a description of that binary (version, build time, newest commit).
bench_kawal() {
    KAWAL="${KAWAL_BIN:-$ROOT/target/release/kawal}"
    if [ ! -x "$KAWAL" ]; then
        log "building $KAWAL"
        (cd "$ROOT" && cargo build --release -p kawal)
    fi
    local built commit
    built="$(date -u -r "$KAWAL" '+%Y-%m-%d %H:%M UTC')"
    commit="$(git -C "$ROOT" log -1 --format=%h --before="$built" 2>/dev/null || true)"
    KAWAL_VERSION="kawal $("$KAWAL" --version | awk '{print $2}'), built $built, newest commit before: ${commit:-unknown}"
}

# bench_venv — sets PY to the benchmarks' Python ($ROOT/.venv-bench), with requests installed.
bench_venv() {
    local venv="$ROOT/.venv-bench"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c 'import requests' 2>/dev/null; then
        "$venv/bin/python" -m pip install --quiet "requests>=2.28,<3"
    fi
    PY="$venv/bin/python"
}
