"""Everything between a StyleJob row and RQ/Redis: enqueueing after commit, cancelling, the
cheap per-step cancel flag, and the queue position/ETA a queued job shows.

The database is the truth about a job's status; Redis only carries the RQ queue and a
"please stop" flag per job (`nst:cancel:<uuid>`), which the worker polls before every engine
step with one EXISTS (a fraction of a millisecond, against a step of 10 ms or more).
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, Q, When
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Callback, Job, JobStatus, Retry

from .models import Mode, Status, StyleJob

logger = logging.getLogger(__name__)

CANCEL_KEY_TTL = 24 * 3600  # longer than any run; the worker deletes the key when it is done
QUEUE_UNAVAILABLE = ("The job queue cannot be reached right now, so the job was not started. "
                     "Please submit it again in a few minutes.")


def redis_connection() -> Redis:
    """The Redis the queues use (settings.RQ_QUEUES), so tests that move the queues move this too."""
    return django_rq.get_connection("default")


def cancel_key(job: StyleJob) -> str:
    return f"nst:cancel:{job.uuid.hex}"


def queue_for(user) -> str:
    """Staff jobs go to the "high" queue, which workers empty first."""
    return "high" if user.is_staff else "default"


# --- enqueue and cancel -------------------------------------------------------------------------

def enqueue_job(job: StyleJob) -> None:
    """Put the job on its RQ queue. Call it from transaction.on_commit, so a worker never picks up
    a job whose row it cannot see yet. A Redis failure fails the job with a message that says so."""
    from . import events
    from .tasks import on_rq_failure, run_style_job

    try:
        # commit_mode="auto": we are already after the commit; django-rq must not defer again.
        queue = django_rq.get_queue(job.queue, commit_mode="auto")
        queue.enqueue(run_style_job, job.pk, job_id=job.rq_job_id,
                      description=f"style job {job.pk} ({job.mode}, {job.size} px)",
                      on_failure=Callback(on_rq_failure), retry=recovery_retry(),
                      meta={"max_recoveries": settings.NST_JOB_MAX_RECOVERIES})
    except RedisError:
        logger.exception("Could not enqueue style job %s", job.pk)
        job.fail(QUEUE_UNAVAILABLE)
        events.publish_final(job)
        return
    events.publish_queue()  # its own position, and the jobs a "high" one went ahead of


def recovery_retry() -> Retry | None:
    """How often RQ may put a job back on its queue after losing its worker (engine.worker): RQ's
    maintenance pass retries an abandoned job while it has retries left. It is used for lost
    workers only: engine.tasks.on_rq_failure takes the retries away on any other failure. At the
    front of the queue: the job was already running, ahead of those still waiting."""
    recoveries = settings.NST_JOB_MAX_RECOVERIES
    return Retry(max=recoveries, enqueue_at_front=True) if recoveries > 0 else None


def cancel_job(job: StyleJob) -> bool:
    """Cancel a queued or running job: the row first (the truth, and what a worker checks before
    it starts), then the RQ queue entry, then the flag a running engine polls every step.
    False when the job had already finished."""
    from . import events

    was_queued = job.status == Status.QUEUED
    if not job.cancel():
        return False
    events.publish_final(job)  # the job's page and its owner's list, right away
    if was_queued:
        events.publish_queue()  # the jobs behind it moved up
    try:
        connection = redis_connection()
        connection.set(cancel_key(job), 1, ex=CANCEL_KEY_TTL)
        queue = django_rq.get_queue(job.queue, commit_mode="auto")
        if queue.remove(job.rq_job_id):
            # It had not been picked up yet: drop RQ's copy too (a worker would refuse it anyway).
            try:
                Job.fetch(job.rq_job_id, connection=connection).delete(remove_from_queue=False)
            except NoSuchJobError:
                pass
    except RedisError:
        # The row says cancelled: a worker that has not started will not start it, and a running
        # one stops at its next progress report (about a second later).
        logger.warning("Redis unreachable while cancelling style job %s", job.pk, exc_info=True)
    return True


STILL_STOPPING = "This job's last run is still stopping. Try again in a few seconds."
REQUEUE_UNAVAILABLE = ("The job queue cannot be reached right now, so the job was not requeued. "
                       "Try again later.")


class RequeueRefused(Exception):
    """A requeue that would run the job twice at once, or could not reach the queue: the message
    says which, for the person who asked."""


def requeue_job(job: StyleJob, queue_name: str | None = None,
                allowed: tuple[str, ...] = (Status.FAILED, Status.CANCELLED)) -> bool:
    """Put a failed or cancelled job back on a queue (its own, or `queue_name`); the worker resumes
    a classic job from its checkpoint. False when the job is not in an `allowed` state. Raises
    RequeueRefused while a cancelled run has not stopped yet (its worker still holds the RQ job):
    queueing it then could run the job twice at once."""
    job.refresh_from_db(fields=["status"])
    if job.status not in allowed:
        return False
    try:
        connection = redis_connection()
        old = Job.fetch(job.rq_job_id, connection=connection)
    except NoSuchJobError:
        old = None
    except RedisError as exc:
        raise RequeueRefused(REQUEUE_UNAVAILABLE) from exc
    still_running = old is not None and old.get_status(refresh=False) == JobStatus.STARTED
    if still_running and Status.RUNNING not in allowed:
        raise RequeueRefused(STILL_STOPPING)
    if not job.requeue(queue=queue_name, allowed=allowed):
        return False
    try:
        connection.delete(cancel_key(job))
        if old is not None:
            old.delete()  # and from its registries: the id is reused by the new RQ job
    except RedisError:
        logger.warning("Redis unreachable while requeueing style job %s", job.pk, exc_info=True)
    transaction.on_commit(lambda: enqueue_job(job))
    return True


# --- rows that Redis lost ------------------------------------------------------------------------

ORPHAN_KEY = "nst:orphan:{}"   # when a sweep first saw the row orphaned (epoch seconds)
SWEEP_LOCK = "nst:orphan-sweep"


def recover_orphans(*, settle_seconds: float) -> int:
    """Put back on their queues the active jobs that RQ has no trace of, so that none waits
    forever: a queued row that is on no queue (its enqueue was lost: the web process died between
    the commit and the enqueue, a worker died between popping it and registering it, Redis lost
    its last writes) and a running row with no StartedJobRegistry entry (Redis lost it; its worker,
    if alive, fences itself at its next lease renewal, see engine.worker).

    A row counts only once two sweeps at least `settle_seconds` apart have seen it orphaned, and a
    running one only when its progress is that old too: a job between two steps of its normal life
    (committed but not yet enqueued, popped but not yet registered) is never touched. One worker
    sweeps at a time. One query and five Redis round trips, whatever the number of rows (plus the
    work of putting an orphan back); returns how many jobs were put back."""
    connection = redis_connection()
    if not connection.set(SWEEP_LOCK, 1, nx=True, ex=max(60, int(settle_seconds))):
        return 0
    try:
        rows = list(StyleJob.objects.active().only("id", "uuid", "status", "queue", "progress_at"))
        if not rows:
            return 0
        orphans = _orphaned(connection, rows)
        now = timezone.now().timestamp()
        with connection.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.get(ORPHAN_KEY.format(row.uuid.hex))
            first_seen = dict(zip((row.pk for row in rows), pipe.execute(), strict=True))
        recovered, marks = 0, connection.pipeline(transaction=False)
        for row in sorted(rows, key=lambda r: (r.status != Status.RUNNING, r.pk)):  # oldest work first
            key, seen = ORPHAN_KEY.format(row.uuid.hex), first_seen[row.pk]
            if row.pk not in orphans:
                if seen is not None:
                    marks.delete(key)
            elif seen is None:
                marks.set(key, now, ex=24 * 3600)
            elif now - float(seen) >= settle_seconds and (
                    row.status == Status.QUEUED
                    or row.progress_at is None or now - row.progress_at.timestamp() >= settle_seconds):
                marks.delete(key)
                recovered += _put_back(row)
        marks.execute()
        return recovered
    finally:
        connection.delete(SWEEP_LOCK)


def _orphaned(connection: Redis, rows: list[StyleJob]) -> set[int]:
    """The rows RQ has no trace of: neither waiting on their queue nor in a started registry."""
    queues = {row.queue for row in rows}
    with connection.pipeline(transaction=False) as pipe:
        for name in sorted(queues):
            pipe.lrange(django_rq.get_queue(name, commit_mode="auto").key, 0, -1)
            pipe.zrange(django_rq.get_queue(name, commit_mode="auto").started_job_registry.key, 0, -1)
        replies = iter(pipe.execute())
    waiting, started = set(), set()
    for _ in sorted(queues):
        waiting.update(entry.decode() for entry in next(replies))
        started.update(entry.decode().split(":", 1)[0] for entry in next(replies))  # "<job id>:<execution>"
    return {row.pk for row in rows if row.rq_job_id not in waiting and row.rq_job_id not in started}


def _put_back(row: StyleJob) -> int:
    job = StyleJob.objects.get(pk=row.pk)
    if job.status == Status.RUNNING and not job.requeue(allowed=(Status.RUNNING,)):
        return 0
    if job.status != Status.QUEUED:
        return 0
    logger.warning("Style job %s was on no queue (Redis lost it); enqueueing it again.", job.pk)
    try:
        Job.fetch(job.rq_job_id, connection=redis_connection()).delete()  # what is left of the old one
    except NoSuchJobError:
        pass
    enqueue_job(job)
    return 1


# --- priority ------------------------------------------------------------------------------------

def prioritise_job(job: StyleJob, queue_name: str = "high") -> bool:
    """Move a queued job to the end of `queue_name` (workers empty "high" first) and record it on
    the row. False when it is not queued any more, already there, or a worker took it first.

    Redis decides the race with a worker: LREM takes the id off the old queue atomically, so
    either this call or a worker's pop gets it, never both. Only then does the job go onto the
    new queue and the row say so (the worker does not read the column: it is for the queue
    estimates, the admin and a later requeue)."""
    job.refresh_from_db(fields=["status", "queue"])
    if job.status != Status.QUEUED or job.queue == queue_name:
        return False
    old_queue = django_rq.get_queue(job.queue, commit_mode="auto")
    if not old_queue.remove(job.rq_job_id):
        return False
    try:
        rq_job = Job.fetch(job.rq_job_id, connection=old_queue.connection)
        django_rq.get_queue(queue_name, commit_mode="auto").enqueue_job(rq_job)
    except (RedisError, NoSuchJobError):
        logger.exception("Could not move style job %s to %s; putting it back", job.pk, queue_name)
        old_queue.push_job_id(job.rq_job_id, at_front=True)
        return False
    StyleJob.objects.filter(pk=job.pk).update(queue=queue_name)
    job.queue = queue_name
    return True


def cancel_requested(connection: Redis, job: StyleJob) -> bool:
    return bool(connection.exists(cancel_key(job)))


def clear_cancel_flag(job: StyleJob) -> None:
    try:
        redis_connection().delete(cancel_key(job))
    except RedisError:
        pass  # it expires by itself


def worker_count() -> int | None:
    """Workers alive (registered in Redis), or None when Redis cannot be asked."""
    try:
        return Worker.count(connection=redis_connection())
    except RedisError:
        return None


# --- queue position and ETA ---------------------------------------------------------------------

# Fallback costs when no similar job has run yet: seconds per (pixel x step), and a fixed part
# (loading images and networks, writing files). Measured on a 2-core CPU, rounded up.
DEFAULT_SECONDS_PER_PIXEL_STEP = {Mode.CLASSIC: 7e-6, Mode.FAST: 4e-6}
FIXED_SECONDS = 3.0
RECENT_RUNS = 200


def _work(size: int, steps: int) -> float:
    return float(size * size * max(1, steps))


class RunTimeEstimator:
    """Run time of a job from recent successful runs: the median of runs with the same mode,
    size and steps; else the median rate (seconds per pixel-step) of the mode; else a default."""

    def __init__(self, recent: Iterable[tuple[str, int, int, float]]):
        self.exact: dict[tuple, list[float]] = defaultdict(list)
        self.rates: dict[str, list[float]] = defaultdict(list)
        for mode, size, steps, seconds in recent:
            self.exact[(mode, size, steps)].append(seconds)
            self.rates[mode].append(max(0.0, seconds - FIXED_SECONDS) / _work(size, steps))

    @classmethod
    def from_db(cls) -> RunTimeEstimator:
        recent = (StyleJob.objects.filter(status=Status.SUCCEEDED, run_seconds__isnull=False)
                  .order_by("-finished_at")
                  .values_list("mode", "size", "total_steps", "run_seconds")[:RECENT_RUNS])
        return cls(list(recent))

    def estimate(self, mode: str, size: int, steps: int) -> float:
        if self.exact.get((mode, size, steps)):
            return statistics.median(self.exact[(mode, size, steps)])
        rate = (statistics.median(self.rates[mode]) if self.rates.get(mode)
                else DEFAULT_SECONDS_PER_PIXEL_STEP.get(mode, DEFAULT_SECONDS_PER_PIXEL_STEP[Mode.CLASSIC]))
        return FIXED_SECONDS + rate * _work(size, steps)


@dataclass
class QueueEstimate:
    position: int                  # queued jobs a worker takes before this one (0: next)
    workers: int | None            # None: Redis could not be asked
    wait_seconds: float | None     # until it starts; None without workers
    run_seconds: float             # its own expected run time

    @property
    def finish_seconds(self) -> float | None:
        return None if self.wait_seconds is None else self.wait_seconds + self.run_seconds


def jobs_ahead(job: StyleJob):
    """Queued jobs a worker picks before this one: workers empty "high" first, each queue in order."""
    queued = StyleJob.objects.filter(status=Status.QUEUED)
    if job.queue == "high":
        return queued.filter(queue="high", pk__lt=job.pk)
    return queued.filter(Q(queue="high") | Q(pk__lt=job.pk))


def estimate_queue(job: StyleJob) -> QueueEstimate:
    """Position and ETA of a queued job: three queries and one Redis call, whatever the queue length."""
    estimator = RunTimeEstimator.from_db()
    ahead = list(jobs_ahead(job).values("mode", "size", "total_steps").annotate(n=Count("id")).order_by())
    busy = _busy_seconds(estimator)
    waiting = sum(row["n"] * estimator.estimate(row["mode"], row["size"], row["total_steps"])
                  for row in ahead)
    workers = worker_count()
    wait = (busy + waiting) / workers if workers else None
    return QueueEstimate(
        position=sum(row["n"] for row in ahead), workers=workers, wait_seconds=wait,
        run_seconds=estimator.estimate(job.mode, job.size, job.total_steps),
    )


def estimate_queued_jobs(limit: int) -> list[tuple[int, int, QueueEstimate]]:
    """(job pk, owner pk, estimate) for the first `limit` queued jobs, in the order workers take
    them ("high" first, then each queue in order): three queries and one Redis call for all of
    them. engine.events tells their pages when the queue has moved."""
    estimator = RunTimeEstimator.from_db()
    queued = (StyleJob.objects.filter(status=Status.QUEUED)
              .order_by(Case(When(queue="high", then=0), default=1), "pk")
              .values_list("pk", "owner_id", "mode", "size", "total_steps")[:limit])
    busy = _busy_seconds(estimator)
    workers = worker_count()
    out, waiting = [], 0.0
    for position, (pk, owner_id, mode, size, steps) in enumerate(queued):
        run = estimator.estimate(mode, size, steps)
        wait = (busy + waiting) / workers if workers else None
        out.append((pk, owner_id, QueueEstimate(position=position, workers=workers, wait_seconds=wait,
                                                run_seconds=run)))
        waiting += run
    return out


def _busy_seconds(estimator: RunTimeEstimator) -> float:
    """Work left on the running jobs: the engine's ETA where it gave one, else an estimate (one query)."""
    running = StyleJob.objects.filter(status=Status.RUNNING).values_list(
        "mode", "size", "total_steps", "started_at", "eta_seconds")
    now = timezone.now()
    busy = 0.0
    for mode, size, steps, started_at, eta in running:
        if eta is not None:
            busy += eta
        else:
            elapsed = (now - started_at).total_seconds() if started_at else 0.0
            busy += max(0.0, estimator.estimate(mode, size, steps) - elapsed)
    return busy
