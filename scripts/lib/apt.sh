# Shared by scripts/run, scripts/test and .ci/run (sourced, not executed): Debian packages, installed
# only when missing.
#
#   nst_apt_install WHO PACKAGE...     apt-get install the packages (quietly; sudo unless root)
#   nst_need_python_venv WHO           python3 with venv + ensurepip (python3-venv on Debian)
#   nst_have_nginx                     nginx is installed (Debian puts it in /usr/sbin, which a normal
#                                      user's PATH lacks)

nst_apt_install() {
    local who=$1; shift
    [ $# -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || {
        echo "$who: need $* and apt-get is not available; install them by hand" >&2; return 2; }
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "$who: installing $* (apt-get)"
    # Update the package lists once per process, and only when something is missing.
    if [ -z "${_nst_apt_updated:-}" ]; then
        DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
        _nst_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

nst_need_python_venv() {
    local who=$1
    command -v python3 >/dev/null 2>&1 || nst_apt_install "$who" python3
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && return 0
    nst_apt_install "$who" python3-venv
    # Debian also names the venv package after the exact version (python3.11-venv, ...).
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || \
        nst_apt_install "$who" "python3.$(python3 -c 'import sys; print(sys.version_info[1])')-venv"
}

nst_have_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ -n "${NST_NGINX:-}" ]
}
