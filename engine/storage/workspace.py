"""The one boundary between stored job files and files on this machine's disk.

Job files live wherever `STORAGES["default"]` says (local disk, or an S3-compatible bucket: see
nstsite/object_storage.py) and every other module reaches them through Django's storage API
(`storage.open`, `FieldFile.open`, `write_job_file`). Some steps need a real file: PyAV (FFmpeg)
reads and writes paths, a video run keeps its chunks as MP4 files. Such a step takes a `Workspace`:
a temporary folder of this process (under NST_WORK_DIR, else the system's temporary folder) into
which it fetches the stored files it needs and from which it stores what it made. The folder goes
when the step ends, whatever happens, so no job file outlives its step on a worker's disk, and a
worker on another host needs no shared folder: it fetches the same names from the same storage.

    with Workspace("video") as ws:
        source = ws.fetch(job.content.name)          # a copy, whatever the storage
        ...  PyAV reads `source`, writes ws.target("result.mp4") ...
        ws.store(ws.target("result.mp4"), job_file_name(job, "result.mp4"))

tests/test_storage_boundary.py fails if code outside this module (and the web tier's nginx hand-off,
nstsite/webtier/sendfile.py) asks a storage for a local path or reads MEDIA_ROOT for a job file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, default_storage

COPY_BYTES = 1 << 20


class Workspace:
    """A temporary folder for one step that needs real files (see the module notes)."""

    def __init__(self, label: str, storage: Storage | None = None):
        self.storage = storage or default_storage
        work_dir = getattr(settings, "NST_WORK_DIR", None)
        if work_dir is not None:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"nst-{label}-", dir=work_dir))

    def target(self, relative: str) -> Path:
        """Where a file of this step goes in the folder (its parent folders made)."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def fetch(self, name: str, relative: str | None = None) -> Path:
        """A copy of the stored file `name`, at `relative` in the folder (default: its base name).
        FileNotFoundError when it is not stored."""
        target = self.target(relative or Path(name).name)
        with self.storage.open(name, "rb") as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy, COPY_BYTES)
        return target

    def store(self, path: Path, name: str) -> str:
        """Store the file at `path` as `name`, replacing a stored file of that name; the stored name."""
        if self.storage.exists(name):
            self.storage.delete(name)
        with path.open("rb") as fh:
            return self.storage.save(name, File(fh, name=Path(name).name))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
