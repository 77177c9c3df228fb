"""`Idempotency-Key` on job-creating requests: a retry within WINDOW with the same key gets the
jobs the first request made (200) instead of new ones, also when the two arrive together.

The first request claims the key by inserting its row (the unique constraint on (user, key) lets
one insert win, in any database and any number of web processes); it fills in its jobs when they
are made, or deletes the row when the submission was refused (a retry then tries afresh). A
request that finds the key claimed waits for the jobs, up to WAIT_SECONDS, then gets 409 with
Retry-After. The same key with other fields or files is refused (422): it is another request. A
claim left by a process that died mid-request lapses after STALE.

The fingerprint is the SHA-256 of the form fields and of each file's field, name and size (not
their bytes: reading a 500 MB clip only to compare it would cost more than the check is worth).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import IdempotencyKey

WINDOW = timedelta(hours=24)
STALE = timedelta(minutes=10)
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.1
MAX_KEY = 255


class KeyReused(Exception):
    pass


class KeyInUse(Exception):
    pass


@dataclass
class Claim:
    record: IdempotencyKey | None  # None: no key was sent

    def done(self, job_ids: list[int]) -> None:
        if self.record is not None:
            IdempotencyKey.objects.filter(pk=self.record.pk).update(jobs=job_ids)

    def release(self) -> None:
        """The request made nothing: a retry with the key tries afresh."""
        if self.record is not None:
            IdempotencyKey.objects.filter(pk=self.record.pk, jobs=[]).delete()


def fingerprint(fields, files) -> str:
    digest = hashlib.sha256()
    for name in sorted(fields):
        for value in fields.getlist(name):
            digest.update(f"{name}={value}\n".encode())
    for name in sorted(files):
        for upload in files.getlist(name):
            digest.update(f"{name}:{upload.name}:{upload.size}\n".encode())
    return digest.hexdigest()


def claim(user, key: str | None, print_: str) -> Claim | list[int]:
    """Claim(...) to go on and make the jobs, or the ids of the jobs a request with this key made.
    Raises KeyReused, KeyInUse (see the module notes)."""
    if not key:
        return Claim(None)
    now = timezone.now()
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lt=now - WINDOW).delete()
    IdempotencyKey.objects.filter(user=user, key=key, jobs=[], created_at__lt=now - STALE).delete()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return Claim(IdempotencyKey.objects.create(user=user, key=key, fingerprint=print_))
        except IntegrityError:
            pass
        record = IdempotencyKey.objects.filter(user=user, key=key).first()
        if record is not None and record.fingerprint != print_:
            raise KeyReused
        if record is not None and record.jobs:
            return list(record.jobs)
        if time.monotonic() > deadline:
            raise KeyInUse
        time.sleep(POLL_SECONDS)  # the first request is still at it (or has just given the key up)
