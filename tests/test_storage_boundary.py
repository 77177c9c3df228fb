"""No code opens a job file by local path outside the named boundary (issue 21): job files live
wherever STORAGES["default"] says, possibly a bucket on another machine, so a storage's `.path()`,
a job file's `local_path`, or MEDIA_ROOT used to reach one would work on one machine and break on
two. The boundary:

- engine/storage/workspace.py: temporary copies for what needs real files (PyAV, a video's chunks);
- nstsite/webtier/sendfile.py and proxy.py: nginx's internal location for MEDIA_ROOT (local disk);
- nstsite/settings.py, nstsite/object_storage.py: where the files are, defined;
- engine/management/commands/copy_media_to_storage.py: reads a local media folder to move it into
  the bucket, which is its whole point.

engine/nst (the engine, no Django) takes paths from its callers and is not scanned.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("engine", "gallery", "nstsite")
BOUNDARY = {
    "engine/storage/workspace.py",
    "nstsite/webtier/sendfile.py",
    "nstsite/webtier/proxy.py",
    "nstsite/settings.py",
    "nstsite/object_storage.py",
    "engine/management/commands/copy_media_to_storage.py",
}


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what) of every local-path access to a stored file in `source`: a `.path(...)` call
    (Storage.path) or `.path` attribute of anything but `request` and `os` (FieldFile.path), a
    `local_path`, a `MEDIA_ROOT`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "path":
            owner = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
            if owner not in ("request", "os", "sys"):
                found.append((node.lineno, f"{ast.unparse(node)}"))
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in ("local_path", "MEDIA_ROOT"):
                found.append((node.lineno, name))
        elif isinstance(node, ast.Constant) and node.value == "MEDIA_ROOT":
            found.append((node.lineno, "'MEDIA_ROOT'"))
    return found


def test_no_code_outside_the_boundary_reads_a_job_file_by_local_path() -> None:
    bad = []
    for package in SCANNED:
        for file in sorted((REPO / package).rglob("*.py")):
            relative = file.relative_to(REPO).as_posix()
            if relative in BOUNDARY or relative.startswith(("engine/nst/", "engine/migrations/")):
                continue
            bad += [f"{relative}:{line}: {what}" for line, what in offences(file.read_text())]
    assert not bad, "local paths to job files outside engine/storage/workspace.py:\n" + "\n".join(bad)


def test_the_check_finds_each_way_of_reaching_a_file_by_path() -> None:
    """The scan itself: each of these is found, and what is not about a stored file is not."""
    caught = offences("""
p = default_storage.path(name)
q = job.result.path
r = local_path(job.content.name)
s = settings.MEDIA_ROOT
t = getattr(settings, "MEDIA_ROOT")
""")
    assert sorted(line for line, _ in caught) == [2, 3, 4, 5, 6]
    assert offences("x = request.path\ny = os.path.join('a', 'b')\nsys.path.insert(0, '.')\n") == []
