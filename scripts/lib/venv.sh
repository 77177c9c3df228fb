# Shared by scripts/test and scripts/run (sourced, not executed). Run from the repository root.
#
#   nst_ensure_venv SCRIPT_NAME        .venv exists and holds requirements.txt + requirements-dev.txt
#   nst_check_venv SCRIPT_NAME         .venv is absent or a working virtualenv of this checkout
#   nst_fetch_models SCRIPT_NAME       model files installed into NST_MODEL_DIR (sets nst_mirror)

# Creates .venv if missing; installs the requirements only when they (or the Python version) changed
# since the last install: their hash is kept in .venv/.requirements.sha256.
nst_ensure_venv() {
    local who=$1 python=${PYTHON:-python3}
    nst_check_venv "$who" || return 2
    if [ ! -e .venv ]; then
        echo "$who: creating .venv with $($python --version 2>&1)"
        "$python" -m venv .venv
    fi
    local stamp=.venv/.requirements.sha256 want
    want=$( { cat requirements.txt requirements-dev.txt; .venv/bin/python --version; } | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        echo "$who: installing requirements into .venv"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check \
            -r requirements.txt -r requirements-dev.txt
        echo "$want" > "$stamp"
    fi
}

# A .venv that is there but is not a working virtualenv of this checkout (a link, dangling or into
# another folder; a folder without bin/python; one whose Python belongs elsewhere) is refused in one
# line that says what to do: `python -m venv` would stop at it with "File exists", or worse, the
# scripts would run on a virtualenv they do not own (a committed link once made CI green that way).
nst_check_venv() {
    local who=$1 prefix here
    if [ -L .venv ]; then
        echo "$who: .venv is a link to $(readlink .venv), not a virtualenv of this checkout; remove it (rm .venv) and run me again: I create one here." >&2
        return 2
    fi
    [ -e .venv ] || return 0
    if [ ! -d .venv ] || [ ! -x .venv/bin/python ]; then
        echo "$who: .venv is there but is not a virtualenv (no .venv/bin/python); remove it (rm -rf .venv) and run me again." >&2
        return 2
    fi
    here=$(cd .venv && pwd -P)
    prefix=$(.venv/bin/python -c 'import os, sys; print(os.path.realpath(sys.prefix))' 2>/dev/null) || prefix=""
    if [ "$prefix" != "$here" ]; then
        echo "$who: .venv/bin/python does not run as this checkout's virtualenv (${prefix:-it does not start}); remove it (rm -rf .venv) and run me again." >&2
        return 2
    fi
}

# Installs the model files with `manage.py fetch_models`, copying from the mirror folder
# NST_MODEL_MIRROR (default: ../shared/models when it exists), else downloading them from their
# official URLs. Leaves the absolute mirror path (or "") in $nst_mirror and exports NST_MODEL_MIRROR.
nst_fetch_models() {
    local who=$1
    nst_mirror=${NST_MODEL_MIRROR:-}
    if [ -z "$nst_mirror" ] && [ -d ../shared/models ]; then
        nst_mirror=../shared/models
    fi
    local fetch_args=()
    if [ -n "$nst_mirror" ]; then
        [ -d "$nst_mirror" ] || { echo "$who: NST_MODEL_MIRROR=$nst_mirror is not a folder" >&2; return 2; }
        nst_mirror=$(cd "$nst_mirror" && pwd)
        export NST_MODEL_MIRROR=$nst_mirror
        fetch_args=(--from "$nst_mirror")
    fi
    # fetch_models serves no web request: a throwaway key satisfies the settings when none is set.
    DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-fetch-models-only} \
        .venv/bin/python manage.py fetch_models "${fetch_args[@]}"
}
