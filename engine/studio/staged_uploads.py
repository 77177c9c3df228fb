"""Uploads kept for a user after a server-side error, so they need not choose the files again.

When the submission form comes back with an error (a value out of range, the quota, a full disk),
the images it had already checked and re-encoded are staged: written to
staged/<user id>/<token>.png in the media storage, with <token>.json beside it (the field, the
original file name, the image's size), and the form shown again carries the token in a hidden
field (`<field>_staged`, engine.studio.forms). A later submission without a new file in that field takes
the staged one, without decoding it again (it is our own re-encoded PNG).

- A token only ever names a file in the requesting user's own folder: another user's token is not
  found there (and a token is 128 random bits, checked against TOKEN before it is used in a path).
- Staged files expire after TTL_SECONDS. Staging sweeps the expired ones of every user (a listing
  of staged/, which only holds the users of the last TTL_SECONDS), so does the periodic retention
  pass (engine.storage.retention), and a job created from staged files deletes them.
- They count in their user's storage quota (engine.studio.quotas.storage_use; issue 24, finding 6:
  five refused POSTs left 241 MB there while "My jobs" showed 12.5 of 500 MB).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

FOLDER = "staged"
TTL_SECONDS = 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Staged:
    token: str
    field: str
    name: str                 # the file name the user chose, for the page
    size: tuple[int, int]     # width, height of the stored image

    def content(self, user) -> ContentFile:
        with default_storage.open(_path(user, self.token, "png"), "rb") as fh:
            return ContentFile(fh.read(), name=f"{self.field}.png")


def user_folder(user) -> str:
    """The user's kept uploads' folder (they count in the user's storage quota: engine.studio.quotas)."""
    return f"{FOLDER}/{int(user.pk)}"


def _path(user, token: str, suffix: str) -> str:
    return f"{user_folder(user)}/{token}.{suffix}"


def stage(user, field: str, content: ContentFile, *, name: str, size: tuple[int, int]) -> Staged:
    """Keep a checked image of `user` for TTL_SECONDS; returns what the form needs to name it."""
    purge_expired()
    token = secrets.token_urlsafe(16)
    content.seek(0)
    default_storage.save(_path(user, token, "png"), ContentFile(content.read()))
    meta = {"field": field, "name": name[:200], "size": list(size), "at": time.time()}
    default_storage.save(_path(user, token, "json"), ContentFile(json.dumps(meta).encode()))
    return Staged(token, field, meta["name"], size)


def load(user, token: str, field: str) -> Staged | None:
    """The user's staged image `token` for `field`; None when it is not theirs, not for that
    field, or expired."""
    if not user.is_authenticated or not TOKEN.match(token or ""):
        return None
    try:
        with default_storage.open(_path(user, token, "json"), "rb") as fh:
            meta = json.loads(fh.read())
    except (FileNotFoundError, ValueError):
        return None
    if meta.get("field") != field or time.time() - meta.get("at", 0) > TTL_SECONDS:
        return None
    if not default_storage.exists(_path(user, token, "png")):
        return None
    return Staged(token, field, str(meta.get("name", "")), tuple(meta.get("size", (0, 0))))


def open_image(user, token: str):
    """The staged PNG of the user (for its preview on the form); FileNotFoundError if there is none."""
    if not TOKEN.match(token or ""):
        raise FileNotFoundError(token)
    return default_storage.open(_path(user, token, "png"), "rb")


def size_of(user, tokens) -> int:
    """The bytes the user's staged files `tokens` take (a submission that uses them is about to
    delete them: they do not count twice against its quota)."""
    total = 0
    for token in tokens:
        for suffix in ("png", "json"):
            try:
                total += default_storage.size(_path(user, token, suffix)) if TOKEN.match(token or "") else 0
            except FileNotFoundError:
                pass
    return total


def discard(user, tokens) -> None:
    """Delete the user's staged files `tokens` (a job was created from them)."""
    for token in tokens:
        if TOKEN.match(token or ""):
            for suffix in ("png", "json"):
                default_storage.delete(_path(user, token, suffix))


def purge_expired(now: float | None = None) -> int:
    """Delete every user's staged files older than TTL_SECONDS; returns how many images went."""
    now = time.time() if now is None else now
    try:
        users, _ = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    removed = 0
    for user_dir in users:
        folder = f"{FOLDER}/{user_dir}"
        _, files = default_storage.listdir(folder)
        for name in files:
            path = f"{folder}/{name}"
            try:
                age = now - default_storage.get_modified_time(path).timestamp()
            except FileNotFoundError:
                continue  # removed meanwhile (the same sweep in another request)
            if age > TTL_SECONDS:
                default_storage.delete(path)
                removed += name.endswith(".png")
        if not default_storage.listdir(folder)[1]:
            default_storage.delete(folder)
    return removed
