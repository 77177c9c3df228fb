"""Folders of stored files (a job's jobs/<uuid>/, the staged uploads' folders), whatever the storage.

Django's storage API knows files, and a folder only through `listdir`; measuring or removing one
that way costs a request per file on object storage (a HEAD for each size, a DELETE for each file).
An S3 bucket lists a prefix with every object's size and time in one request per thousand objects,
and deletes a thousand in one, so for django-storages' S3Storage these functions ask the bucket
directly; any other storage (local disk) goes through the API, file by file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import Storage, default_storage
from storages.backends.s3 import S3Storage


@dataclass(frozen=True)
class StoredFile:
    name: str            # the storage name ("jobs/<uuid>/result.png")
    size: int            # bytes
    modified: datetime   # aware


def walk(folder: str, storage: Storage | None = None) -> list[StoredFile]:
    """Every file under `folder` (at any depth); [] when there is none."""
    storage = storage or default_storage
    if isinstance(storage, S3Storage):
        return [StoredFile(_storage_name(storage, o.key), o.size, o.last_modified) for o in _objects(storage, folder)]
    try:
        dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    found = [StoredFile(f"{folder}/{name}", storage.size(f"{folder}/{name}"),
                        storage.get_modified_time(f"{folder}/{name}")) for name in files]
    for name in dirs:
        found += walk(f"{folder}/{name}", storage)
    return found


def folder_bytes(folder: str, storage: Storage | None = None) -> int:
    """The size of every file under `folder` (0 when there is no such folder)."""
    return sum(f.size for f in walk(folder, storage))


def newest_change(folder: str, storage: Storage | None = None) -> datetime | None:
    """When a file under `folder` last changed; None for an empty or missing folder."""
    return max((f.modified for f in walk(folder, storage)), default=None)


def delete_folder(folder: str, storage: Storage | None = None) -> None:
    """Every file under `folder`, then (on disk) the folder itself."""
    storage = storage or default_storage
    if isinstance(storage, S3Storage):
        _objects(storage, folder).delete()
        return
    try:
        dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        storage.delete(f"{folder}/{name}")
    for name in dirs:
        delete_folder(f"{folder}/{name}", storage)
    storage.delete(folder)  # FileSystemStorage removes the (now empty) directory


def _objects(storage: S3Storage, folder: str):
    """The bucket's objects under `folder`/ (a boto3 collection: listed in pages of a thousand)."""
    prefix = storage._normalize_name(folder.rstrip("/")) + "/"
    return storage.bucket.objects.filter(Prefix=prefix)


def _storage_name(storage: S3Storage, key: str) -> str:
    location = storage.location.strip("/")
    return key[len(location) + 1:] if location else key
