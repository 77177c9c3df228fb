"""Deleting jobs with their files (the admin's delete action).

All of a job's files live in one folder, jobs/<uuid>/ (uploads, previews, checkpoint, result,
history, plot and the gallery's thumbnails), so the folder goes with the row. A queued or running
job is cancelled first, and its row is deleted only once no worker holds its RQ job any more: a
worker still running it would otherwise write its next preview or checkpoint into a folder that
was just removed, for a row that no longer exists. The cancel reaches the engine before its next
step, so this usually takes well under a second; a job still held after `wait_seconds` is left
(cancelled) for another try.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from redis.exceptions import RedisError

from engine.jobs import queue
from engine.jobs import service as jobs
from engine.models import StyleJob
from engine.storage.folders import delete_folder
from engine.storage.job_files import job_folder

logger = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1


@dataclass
class Deletion:
    deleted: list[int] = field(default_factory=list)         # job ids, rows and files gone
    still_stopping: list[int] = field(default_factory=list)  # cancelled, but a worker still holds them


def delete_jobs(selected: Iterable[StyleJob], wait_seconds: float | None = None) -> Deletion:
    """Cancel the active ones, wait for their workers to let go (STOP_WAIT_SECONDS unless told),
    then delete the rows (one transaction) and, once that has committed, each job's folder."""
    wait_seconds = STOP_WAIT_SECONDS if wait_seconds is None else wait_seconds
    selected = list(selected)
    for job in selected:
        if job.is_active:
            jobs.cancel(job)
    held = _wait_until_released(selected, wait_seconds)
    outcome = Deletion(still_stopping=sorted(job.pk for job in selected if job.pk in held))
    doomed = [job for job in selected if job.pk not in held]
    if not doomed:
        return outcome
    folders = [job_folder(job) for job in doomed]
    rq_ids = [job.rq_job_id for job in doomed]
    with transaction.atomic():
        StyleJob.objects.filter(pk__in=[job.pk for job in doomed]).delete()
        transaction.on_commit(lambda: _remove_leftovers(folders, rq_ids))
    outcome.deleted = sorted(job.pk for job in doomed)
    return outcome


def _wait_until_released(selected: list[StyleJob], wait_seconds: float) -> set[int]:
    """Ids of the jobs a worker still runs (RQ status "started") after waiting up to
    `wait_seconds`. Without Redis we cannot tell: every job that has started counts as held.
    (A worker that has popped a job but not started it yet finds no row and skips it.)"""
    maybe_running = [job for job in selected if job.started_at is not None]
    deadline = time.monotonic() + wait_seconds
    try:
        connection = queue.redis_connection()
        while True:
            held = {job.pk for job in maybe_running if queue.held_by_worker(job, connection)}
            if not held or time.monotonic() >= deadline:
                return held
            time.sleep(POLL_SECONDS)
    except RedisError:
        logger.warning("Redis unreachable while deleting jobs; running ones are kept", exc_info=True)
        return {job.pk for job in maybe_running}


def _remove_leftovers(folders: list[str], rq_ids: list[str]) -> None:
    for folder in folders:
        delete_folder(folder)
    try:
        queue.delete_rq_jobs(rq_ids)
    except RedisError:
        logger.warning("Redis unreachable: RQ entries of deleted jobs stay until they expire", exc_info=True)
