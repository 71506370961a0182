# Shared by the CI scripts in scripts/ (sourced, not run). Each caller defines `log` first.

# ensure_venv VENV NAME REQUIREMENT... — creates or reuses a venv and installs the pinned
# requirements. A stamp records what was installed, so an unchanged venv costs no registry
# round-trip.
ensure_venv() {
    local venv=$1 name=$2
    shift 2
    local stamp="$venv/.$name-requirements" wanted="$*"
    if [[ ! -x "$venv/bin/python" ]]; then
        log "creating $venv"
        python3 -m venv "$venv" || {
            log "python3 -m venv failed (on Debian: apt-get install python3-venv)"
            exit 1
        }
    fi
    # The venv lives inside the repository; keep it out of git whatever the top-level ignores say.
    [[ -f "$venv/.gitignore" ]] || printf '*\n' >"$venv/.gitignore"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
        log "installing $wanted"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
        printf '%s' "$wanted" >"$stamp"
    fi
}

# locate_kawal ROOT FORCE_BUILD — sets KAWAL to $KAWAL_BIN, or to the debug build of ROOT (in
# $CARGO_TARGET_DIR when set),
# building it when it is missing or FORCE_BUILD is 1.
locate_kawal() {
    local root=$1 force_build=$2
    KAWAL="${KAWAL_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/kawal}"
    if [[ -z "${KAWAL_BIN:-}" && ($force_build == 1 || ! -x "$KAWAL") ]]; then
        log "building kawal (cargo build -p kawal)"
        (cd "$root" && cargo build --quiet -p kawal)
    fi
    [[ -x "$KAWAL" ]] || {
        log "no kawal binary at $KAWAL"
        exit 1
    }
    log "using $KAWAL"
}

# stop_server PID — asks the server to stop, then kills it after five seconds.
stop_server() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
