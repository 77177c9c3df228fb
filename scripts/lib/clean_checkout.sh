# Shared by .ci/run (sourced, not executed). Run from the repository root.
#
#   nst_check_clean_checkout WHO     refuses (exit status 2, one line each) a checkout that leans on
#                                    anything outside itself: a path the set-up creates
#                                    (scripts/lib/setup-paths) that is a link or resolves outside the
#                                    checkout, or a tracked link whose target is absolute or leaves it.

nst_check_clean_checkout() {
    local who=$1 root path target resolved bad=0
    root=$(pwd -P)
    while IFS= read -r path; do
        case $path in '' | '#'*) continue ;; esac
        if [ -L "$path" ]; then
            echo "$who: $path is a link to $(readlink "$path"); the set-up must create it in this checkout. Remove it (rm $path) and run me again." >&2
            bad=1
        elif [ -e "$path" ]; then
            resolved=$(cd "$path" 2>/dev/null && pwd -P || readlink -f "$path")
            case $resolved in
                "$root"/*) ;;
                *) echo "$who: $path resolves to $resolved, outside this checkout; remove it and run me again." >&2; bad=1 ;;
            esac
        fi
    done < scripts/lib/setup-paths
    if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        while IFS= read -r path; do
            target=$(git cat-file -p "HEAD:$path" 2>/dev/null || readlink "$path")
            resolved=$(realpath -m --relative-base="$root" "$(dirname "$path")/$target" 2>/dev/null)
            case $target in
                /*) echo "$who: the tracked link $path points to the absolute path $target" >&2; bad=1 ;;
                *) case $resolved in /*) echo "$who: the tracked link $path -> $target leaves the repository" >&2; bad=1 ;; esac ;;
            esac
        done < <(git ls-files -s | awk '$1 == "120000" {print $4}')
        while IFS= read -r path; do
            echo "$who: $path is tracked by git, but the set-up creates it; remove it from git (git rm -r --cached $path)" >&2
            bad=1
        done < <(grep -v -e '^#' -e '^$' scripts/lib/setup-paths | xargs git ls-files -- | head -5)
    fi
    [ "$bad" -eq 0 ] || return 2
}
