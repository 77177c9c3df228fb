# Shared by scripts/test and scripts/run (sourced, not executed). Run from the repository root.
#
#   nst_ensure_venv SCRIPT_NAME        .venv exists and holds requirements.txt + requirements-dev.txt
#   nst_fetch_models SCRIPT_NAME       model files installed into NST_MODEL_DIR (sets nst_mirror)

# Creates .venv if missing; installs the requirements only when they (or the Python version) changed
# since the last install: their hash is kept in .venv/.requirements.sha256.
nst_ensure_venv() {
    local who=$1 python=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
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
