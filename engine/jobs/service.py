"""The job service: the one way to submit, enqueue, cancel, requeue, prioritise and recover style
jobs. Views, the admin, management commands and the worker call these; each changes the row
through its life-cycle method (engine.models), then RQ/Redis (engine.jobs.queue), then tells the
browsers (engine.live.updates), in that order: the row is the truth, Redis and pages follow it.

    submit() ─► [rows queued] ─on commit─► enqueue() ─► RQ queue ─► worker (engine.tasks)
                  a Submission's jobs: one, or a batch (one active-job slot, its jobs in the batch limit)
    cancel()      row cancelled, RQ entry removed, cancel flag set for a running engine
    requeue()     failed/cancelled row queued again (resumes from its checkpoint), re-enqueued
    prioritise()  a waiting job moved to the high queue
    worker_lost() a job whose worker died: back on its queue (RQ's retry), or failed
    recover_orphans()  active rows RQ has no trace of, enqueued again
"""

from __future__ import annotations

import logging
import time
from functools import partial

from django.core.files.base import ContentFile, File
from django.db import transaction
from redis.exceptions import RedisError

from engine.jobs import queue
from engine.live import updates as live
from engine.models import (
    DEFAULT_QUEUE,
    HIGH_QUEUE,
    Batch,
    Status,
    StyleImage,
    StyleJob,
    UserQuota,
    Visibility,
    params_dict,
)
from engine.studio import quotas, staged_uploads, style_library
from engine.studio.submission import PlannedJob, StyleChoice, Submission

logger = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = ("The job queue cannot be reached right now, so the job was not started. "
                     "Please submit it again in a few minutes.")
STILL_STOPPING = "This job's last run is still stopping. Try again in a few seconds."
REQUEUE_UNAVAILABLE = ("The job queue cannot be reached right now, so the job was not requeued. "
                       "Try again later.")


class RequeueRefused(Exception):
    """A requeue that would run the job twice at once, or could not reach the queue: the message
    says which, for the person who asked."""


def queue_for(user) -> str:
    """Staff jobs go to the high queue, which workers empty first."""
    return HIGH_QUEUE if user.is_staff else DEFAULT_QUEUE


# --- submitting ------------------------------------------------------------------------------------

def submit(owner, submission: Submission, *, limits: UserQuota | None = None) -> list[StyleJob]:
    """Create the jobs of a validated `submission` for `owner` (one, or a batch: a job per content
    file) with their files, and queue each once the transaction commits, in the order given.
    Raises quotas.QuotaExceeded, without creating anything, when the owner already has as many
    active jobs as allowed (a batch takes one slot, and its jobs count against the batch limit). `limits`: the owner's
    quota, when the caller has read it (the admission has)."""
    with transaction.atomic():
        quotas.reserve_active_slot(owner, limits, new_jobs=len(submission.contents))
        made = _create(owner, submission, queue_for(owner), limits)
        # The worker must find the rows: enqueue only once they are committed.
        for job in made:
            transaction.on_commit(partial(enqueue, job))
    staged_uploads.discard(owner, submission.staged_tokens)
    return made


def _create(owner, submission: Submission, queue_name: str, limits: UserQuota | None) -> list[StyleJob]:
    """The rows and files of the submission's jobs, if the owner's storage has room for them once
    written (quotas.reserve_storage, under the row lock reserve_active_slot took). If anything fails
    on the way (a full disk, a database error, the storage quota), the files written so far are
    removed too: the rows roll back with the transaction, files do not."""
    written: list = []
    try:
        with transaction.atomic():
            batch = Batch.objects.create(owner=owner) if submission.is_batch else None
            made = [_create_one(owner, submission, job, queue_name, batch, written) for job in submission.jobs()]
            quotas.reserve_storage(owner, limits, incoming=sum(field_file.size for field_file in written),
                                   leaving=staged_uploads.size_of(owner, submission.staged_tokens))
            return made
    except BaseException:
        for field_file in written:
            field_file.storage.delete(field_file.name)
        raise


def _create_one(owner, submission: Submission, planned: PlannedJob, queue_name: str, batch: Batch | None,
                written: list) -> StyleJob:
    content, runner, params = planned
    units = runner.work_units(params, content.frames)
    job = StyleJob(
        owner=owner, mode=runner.mode, params=params_dict(params), size=params.size, batch=batch,
        visibility=Visibility.PUBLIC if submission.publish else Visibility.PRIVATE, queue=queue_name,
        epochs=units.groups, total_steps=units.units, share_originals=submission.share_originals,
        content_name=content.name[:200],
        notify_email=submission.notify_email and bool(owner.email), embed_settings=submission.embed_settings,
        remix_of=submission.remix_of,
    )
    job.content.save(content.stored_name, content.file, save=False)
    written.append(job.content)
    job.save()
    for choice in submission.styles:
        # A remixed work's copy of a painting retired since still credits the painting.
        painting = choice.library or (choice.source.library_style if choice.source is not None else None)
        style = StyleImage(job=job, position=choice.slot, weight=choice.weight, library_style=painting)
        style.image.save(f"style-{choice.slot}.png", _style_file(choice), save=False)
        written.append(style.image)
        style.save()
    return job


def _style_file(choice: StyleChoice) -> File:
    """A slot's image for a new job: a copy of a library painting, a copy of a remixed job's style
    image (the new job must not lose its input when the other one is deleted), or the upload."""
    if choice.library is not None:
        return style_library.job_copy(choice.library)
    if choice.source is not None:
        with choice.source.image.open("rb") as fh:
            return ContentFile(fh.read(), name=f"style_{choice.slot}.png")
    return choice.image


def enqueue(job: StyleJob) -> None:
    """Put a committed queued job on its RQ queue (call it from transaction.on_commit). If Redis
    cannot be reached, the job fails with a message that says so."""
    try:
        queue.enqueue(job)
    except RedisError:
        logger.exception("Could not enqueue style job %s", job.pk)
        fail(job, QUEUE_UNAVAILABLE)
        return
    live.publish_queue()  # its own position, and the jobs a high one went ahead of


def fail(job: StyleJob, message: str) -> bool:
    """queued/running -> failed with a message for the user, and its pages told."""
    if not job.fail(message):
        return False
    live.publish_final(job)
    return True


# --- cancelling and requeueing ----------------------------------------------------------------------

def cancel(job: StyleJob) -> bool:
    """Cancel a queued or running job: the row first (the truth, and what a worker checks before
    it starts), then the RQ queue entry, then the flag a running engine polls every step.
    False when the job had already ended."""
    was_queued = job.status == Status.QUEUED
    if not job.cancel():
        return False
    # The job's page and its owner's list, right away; a running job's worker tells them again
    # once it has stopped, with the step it stopped after (or its result, if it had finished).
    live.publish_final(job, stopping=not was_queued)
    if was_queued:
        live.publish_queue()  # the jobs behind it moved up
    try:
        queue.set_cancel_flag(job)
        queue.remove_waiting(job)
    except RedisError:
        # The row says cancelled: a worker that has not started will not start it, and a running
        # one stops at its next progress report (about a second later).
        logger.warning("Redis unreachable while cancelling style job %s", job.pk, exc_info=True)
    return True


def requeue(job: StyleJob, queue_name: str | None = None,
            allowed: tuple[str, ...] = (Status.FAILED, Status.CANCELLED)) -> bool:
    """Put a failed or cancelled job back on a queue (its own, or `queue_name`); the worker resumes
    a classic job from its checkpoint. False when the job is not in an `allowed` state. Raises
    RequeueRefused while a cancelled run has not stopped yet (its worker still holds the RQ job):
    queueing it then could run the job twice at once."""
    job.refresh_from_db(fields=["status"])
    if job.status not in allowed:
        return False
    try:
        still_running = queue.held_by_worker(job)
    except RedisError as exc:
        raise RequeueRefused(REQUEUE_UNAVAILABLE) from exc
    if still_running and Status.RUNNING not in allowed:
        raise RequeueRefused(STILL_STOPPING)
    if not job.requeue(queue=queue_name, allowed=allowed):
        return False
    try:
        queue.clear_cancel_flag(job)
        queue.delete_rq_job(job)  # and from its registries: the id is reused by the new RQ job
    except RedisError:
        logger.warning("Redis unreachable while requeueing style job %s", job.pk, exc_info=True)
    transaction.on_commit(partial(enqueue, job))
    return True


def prioritise(job: StyleJob, queue_name: str = HIGH_QUEUE) -> bool:
    """Move a queued job to the end of `queue_name` (workers empty the high queue first) and record
    it on the row. False when it is not queued any more, already there, or a worker took it first.
    Raises RedisError when the queue cannot be reached."""
    job.refresh_from_db(fields=["status", "queue"])
    if job.status != Status.QUEUED or job.queue == queue_name:
        return False
    if not queue.move_waiting(job, queue_name):
        return False
    # The worker does not read the column: it is for the queue estimates, the admin and a later requeue.
    job.move_to_queue(queue_name)
    return True


# --- jobs that lost their worker -------------------------------------------------------------------

def worker_lost(job: StyleJob, *, may_retry: bool) -> bool:
    """A worker died running `job` (or was stopped cold). With `may_retry` (RQ has recoveries left)
    the row goes back to "queued" with its checkpoint, for RQ's retry to run it again, and True is
    returned; else (or if it ended meanwhile) False, and the caller fails it or leaves it."""
    if not may_retry:
        return False
    if job.status == Status.QUEUED or job.requeue(allowed=(Status.RUNNING,)):
        live.publish_queue()  # its page (and those behind it) learn it waits again
        return True
    return False


def worker_lost_error(runs: int) -> str:
    times = "once" if runs == 1 else f"{runs} times"
    return (f"The worker running this job stopped unexpectedly {times} (for example, it ran out of memory), "
            "so it was not tried again. Please submit it again, perhaps at a smaller size.")


def recover_orphans(*, settle_seconds: float) -> int:
    """Put back on their queues the active jobs that RQ has no trace of, so that none waits
    forever: a queued row that is on no queue (its enqueue was lost: the web process died between
    the commit and the enqueue, a worker died between popping it and registering it, Redis lost
    its last writes) and a running row with no StartedJobRegistry entry (Redis lost it; its worker,
    if alive, fences itself at its next lease renewal, see engine.jobs.worker).

    A row counts only once two sweeps at least `settle_seconds` apart have seen it orphaned, and a
    running one only when its progress is that old too: a job between two steps of its normal life
    (committed but not yet enqueued, popped but not yet registered) is never touched. One worker
    sweeps at a time. One query and five Redis round trips, whatever the number of rows (plus the
    work of putting an orphan back); returns how many jobs were put back."""
    with queue.sweep_lock(max(60, int(settle_seconds))) as mine:
        if not mine:
            return 0
        rows = list(StyleJob.objects.active().only("id", "uuid", "status", "queue", "progress_at"))
        if not rows:
            return 0
        orphans = queue.orphaned(rows)
        first_seen = queue.orphan_first_seen(rows)
        now = time.time()
        seen_now, forget, recovered = [], [], 0
        for row in sorted(rows, key=lambda r: (r.status != Status.RUNNING, r.pk)):  # oldest work first
            seen = first_seen[row.pk]
            if row.pk not in orphans:
                if seen is not None:
                    forget.append(row)
            elif seen is None:
                seen_now.append(row)
            elif now - seen >= settle_seconds and _settled(row, now, settle_seconds):
                forget.append(row)
                recovered += _put_back(row)
        queue.mark_orphans(seen_now=seen_now, forget=forget, now=now)
        return recovered


def _settled(row: StyleJob, now: float, settle_seconds: float) -> bool:
    return (row.status == Status.QUEUED or row.progress_at is None
            or now - row.progress_at.timestamp() >= settle_seconds)


def _put_back(row: StyleJob) -> int:
    job = StyleJob.objects.get(pk=row.pk)
    if job.status == Status.RUNNING and not job.requeue(allowed=(Status.RUNNING,)):
        return 0
    if job.status != Status.QUEUED:
        return 0
    logger.warning("Style job %s was on no queue (Redis lost it); enqueueing it again.", job.pk)
    queue.delete_rq_job(job)  # what is left of the old one
    enqueue(job)
    return 1


def hand_back(job: StyleJob, *, epoch: int, checkpoint: bytes | None, step: int) -> bool:
    """A running job whose worker is shutting down: running -> queued, with the engine's checkpoint
    (so the next run resumes exactly there). False when the row is no longer running."""
    if checkpoint is not None and not job.report_progress(epoch=epoch, step=step, checkpoint=checkpoint):
        return False
    return job.requeue(allowed=(Status.RUNNING,))

