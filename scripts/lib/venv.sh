# Sourced by the scripts in scripts/ (run from the repository's root): `ensure_venv EXTRAS` makes
# .venv with $PYTHON (default python3) when it is missing and installs the project into it, editable,
# with those extras (comma-separated: test, embedded). pip's output is kept in a temporary file and
# shown only when the install fails. The install is skipped while .venv already holds the project
# with those extras and pyproject.toml has not changed since.

ensure_venv() {
    local extras=$1 python=${PYTHON:-python3} log stamp want
    stamp=.venv/.notifier-installed
    want="$extras $(cksum <pyproject.toml)"
    if [ -x .venv/bin/python ] && [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
        return 0
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/notifier-install.XXXXXX")
    if [ ! -x .venv/bin/python ]; then
        echo "setting up .venv (the first time takes a minute) …" >&2
        if ! { "$python" -m venv .venv && .venv/bin/python -m pip install --upgrade pip; } >"$log" 2>&1; then
            rm -rf .venv  # the next run starts afresh
            _venv_failed "$log" "making .venv with $python failed"
        fi
    fi
    if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".[$extras]" >"$log" 2>&1; then
        _venv_failed "$log" "installing the project into .venv failed"
    fi
    rm -f "$log"
    echo "$want" >>"$stamp"
}

_venv_failed() {
    cat "$1" >&2
    rm -f "$1"
    echo "$(basename "$0"): $2 (pip's output above)" >&2
    exit 1
}
