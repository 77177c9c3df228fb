"""Copy a site's local media folder into the storage the settings now name (the S3 bucket of
NST_STORAGE=s3), so that a running site can move its job files off the local disk (README, "More
than one machine"):

    NST_STORAGE=s3 AWS_...=... python manage.py copy_media_to_storage --dry-run   # what would be copied
    NST_STORAGE=s3 AWS_...=... python manage.py copy_media_to_storage             # copy (again: the rest)

Every file keeps its name (jobs/<uuid>/result.png...), so the rows' file fields point at the copies
as they are. Idempotent and resumable: a file already stored with the same size is skipped, one
missing or of another size is copied, and each copy's size is checked in the storage afterwards (a
mismatch is reported and the command exits 1; run it again). The local files are left alone: remove
the folder once the site runs on the bucket. Reads the local folder by path: one of the named places
that may (tests/test_storage_boundary.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from engine.storage.folders import walk


class Command(BaseCommand):
    help = "Copy the local media folder into the configured storage (the S3 bucket): idempotent, resumable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", type=Path, default=None, metavar="DIR",
                            help=f"The local media folder (default: MEDIA_ROOT, {settings.MEDIA_ROOT}).")
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be copied.")

    def handle(self, *args, source: Path | None, dry_run: bool, **options) -> None:
        source = (source or Path(settings.MEDIA_ROOT)).resolve()
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder.")
        if isinstance(default_storage, FileSystemStorage) and Path(default_storage.location).resolve() == source:
            raise CommandError("The storage is this very folder: set NST_STORAGE=s3 and the bucket's settings "
                               "(README, \"More than one machine\") before copying.")
        local = _local_files(source)
        stored = _stored_sizes(local)
        todo = {name: size for name, size in local.items() if stored.get(name) != size}
        kept = len(local) - len(todo)
        for name, size in sorted(todo.items()):
            self.stdout.write(f"{'would copy' if dry_run else 'copying'} {name} ({filesizeformat(size)})")
            if not dry_run:
                _copy(source, name)
        if dry_run:
            self.stdout.write(f"Would copy {len(todo)} files ({filesizeformat(sum(todo.values()))}); "
                              f"{kept} already stored.")
            return
        after = _stored_sizes(todo)
        wrong = [name for name, size in todo.items() if after.get(name) != size]
        for name in wrong:
            self.stderr.write(f"{name}: stored with another size than {filesizeformat(todo[name])}")
        self.stdout.write(f"Copied {len(todo) - len(wrong)} files ({filesizeformat(sum(todo.values()))}); "
                          f"{kept} already stored; {len(wrong)} failed.")
        if wrong:
            raise SystemExit(1)


def _local_files(source: Path) -> dict[str, int]:
    """{storage name: size} of every file under `source`."""
    found = {}
    for folder, _, files in os.walk(source):
        for filename in files:
            path = Path(folder) / filename
            found[path.relative_to(source).as_posix()] = path.stat().st_size
    return found


def _stored_sizes(names) -> dict[str, int]:
    """{storage name: size} of what the storage holds of `names`: one listing per top folder (jobs/,
    staged/...), a look-up for a file at the top."""
    sizes = {f.name: f.size for top in {n.split("/", 1)[0] for n in names if "/" in n} for f in walk(top)}
    sizes.update({n: default_storage.size(n) for n in names if "/" not in n and default_storage.exists(n)})
    return sizes


def _copy(source: Path, name: str) -> None:
    if default_storage.exists(name):
        default_storage.delete(name)  # another size: a copy cut short, or a file that changed since
    with (source / name).open("rb") as fh:
        saved = default_storage.save(name, File(fh, name=Path(name).name))
    if saved != name:
        raise CommandError(f"{name} was stored as {saved}: the storage renamed it.")
