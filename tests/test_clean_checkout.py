"""A clone sets itself up: nothing tracked leans on one developer's machine (issue 19).

A `.venv` link to a worktree folder was once committed. On the machine that made it the link worked,
so `.ci/run` passed there on a "fresh clone" that used a virtualenv from outside the clone; every
other clone stopped at `python -m venv` with "File exists". These tests read git's own record of
the tree (not the working folder, where the set-up has already made these paths by now).
"""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYMLINK_MODE = "120000"


def git(*args: str, cwd: Path = REPO) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        pytest.fail("git is not installed: these tests read what the repository tracks.", pytrace=False)
    if done.returncode not in (0, 1):  # check-ignore answers 1 for "not ignored"
        pytest.fail(f"git {' '.join(args)} failed: {done.stderr.strip()}", pytrace=False)
    return done.stdout


def setup_paths() -> list[str]:
    """What the README's set-up creates (scripts/lib/setup-paths, also read by .ci/run)."""
    lines = (REPO / "scripts/lib/setup-paths").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def tracked_links() -> dict[str, str]:
    """{path: target} of every symlink git tracks."""
    links = {}
    for line in git("ls-files", "-s", "-z").split("\0"):
        if line.startswith(SYMLINK_MODE + " "):
            meta, path = line.split("\t", 1)
            links[path] = git("cat-file", "-p", meta.split()[1])
    return links


def leaves_repository(path: str, target: str) -> bool:
    """Whether a link at `path` (relative to the root) to `target` points out of the repository."""
    if posixpath.isabs(target):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return resolved == ".." or resolved.startswith("../")


def test_the_leaving_rule_tells_links_out_of_the_repository_from_links_within_it():
    assert leaves_repository(".venv", "/work/wt-merge/.venv")
    assert leaves_repository("docs/x", "../../shared/images")
    assert leaves_repository("a", "..")
    assert not leaves_repository("docs/logo.png", "../static/logo.png")
    assert not leaves_repository("static/a/b", "../c/d")


def test_no_tracked_link_points_outside_the_repository():
    outside = {path: target for path, target in tracked_links().items() if leaves_repository(path, target)}
    assert not outside, f"tracked links out of the repository (a fresh clone breaks on them): {outside}"


def test_nothing_the_set_up_creates_is_tracked():
    paths = setup_paths()
    assert {".venv", "var", "media", "models", "staticfiles"} <= set(paths)
    tracked = git("ls-files", "--", *paths).split()
    assert not tracked, f"tracked, but the set-up creates them (git rm -r --cached them): {tracked}"


def test_git_ignores_what_the_set_up_creates_whether_folder_or_link(tmp_path: Path):
    """`.venv/` in .gitignore ignores a folder but not a link of that name: that is how the link got
    committed. Asked in an empty repository, where nothing exists, git treats each name as a file
    or link, the case a trailing-slash pattern misses."""
    git("init", "-q", str(tmp_path))
    (tmp_path / ".gitignore").write_text((REPO / ".gitignore").read_text())
    not_ignored = [path for path in setup_paths() if not ignored(path, tmp_path)]
    assert not not_ignored, f".gitignore does not ignore these as links: {not_ignored}"


def ignored(path: str, cwd: Path) -> bool:
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=cwd, capture_output=True)
    return done.returncode == 0
