"""RQ and Redis plumbing for style jobs: the queues (kept in fair turns between users:
engine.jobs.turns), the per-job cancel flag, RQ's own records of a job, and the orphan sweep's
marks. No decisions live here: engine.jobs.service (the job service) decides when to enqueue,
cancel, requeue, move or recover a job, and calls these.

The database is the truth about a job's status; Redis only carries the RQ queues and a "please
stop" flag per job (`nst:cancel:<uuid>`), which the worker polls before every engine step with one
EXISTS (a fraction of a millisecond, against a step of 10 ms or more).

The tasks are named by their dotted paths, so nothing here imports the module that runs jobs
(engine.tasks imports this one).

Besides the style jobs' queues, the "scores" queue (SCORE_QUEUE) holds the quality scoring of
finished pictures (engine.runners.scores): no row, no owner, no turns, no cancel flag, no recovery.
The orphan sweep and RQ's failure callback know only style jobs (rows), so they never see these.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import django_rq
from django.conf import settings
from django_rq.queues import DjangoRQ
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Callback, Job, JobStatus, Retry
from rq.queue import Queue

from engine.jobs import turns
from engine.models import DEFAULT_QUEUE, HIGH_QUEUE, SCORE_QUEUE, StyleJob

logger = logging.getLogger(__name__)

TASK = "engine.tasks.run_style_job"            # run_style_job(job_pk)
FAILURE_CALLBACK = "engine.tasks.on_rq_failure"
SCORE_TASK = "engine.tasks.score_result"      # score_result(job_pk)
SCORE_FAILURE_TTL = 7 * 24 * 3600  # a failed scoring stays in RQ's failed registry for staff a week
CANCEL_KEY_TTL = 24 * 3600  # longer than any run; the worker deletes the key when it is done
ORPHAN_KEY = "nst:orphan:{}"   # when a sweep first saw the row orphaned (epoch seconds)
ORPHAN_MARK_TTL = 24 * 3600
SWEEP_LOCK = "nst:orphan-sweep"


def redis_connection() -> Redis:
    """The Redis the queues use (settings.RQ_QUEUES), so tests that move the queues move this too."""
    return django_rq.get_connection("default")


def rq_queue(name: str) -> Queue:
    # commit_mode="auto": callers are already after the commit; django-rq must not defer again.
    return django_rq.get_queue(name, commit_mode="auto")


# --- putting a job on a queue ----------------------------------------------------------------------

def enqueue(job: StyleJob) -> None:
    """Put the job on its RQ queue at its owner's turn (engine.jobs.turns), with RQ's retry reserved
    for lost workers (recovery_retry). Raises RedisError when Redis cannot be reached."""
    queue = rq_queue(job.queue)
    with queue.connection.pipeline() as pipe:  # one transaction: the owner is there when it is placed
        pipe.multi()
        turns.write_owner(pipe, queue.job_class.key_for(job.rq_job_id), job.owner_id)
        queue.enqueue(
            TASK, job.pk, job_id=job.rq_job_id, description=f"style job {job.pk} ({job.mode}, {job.size} px)",
            on_failure=Callback(FAILURE_CALLBACK), retry=recovery_retry(),
            meta={"max_recoveries": settings.NST_JOB_MAX_RECOVERIES}, pipeline=pipe)
        pipe.execute()


def enqueue_score(job: StyleJob) -> None:
    """Put the scoring of a succeeded job at the tail of the scores queue, which workers take
    only when the style jobs' queues are empty (engine.models.WORKER_QUEUES). First come, first
    scored: django-rq's plain queue appends (RPUSH), where the workers' FairQueue would read the
    whole list for an owner's turn that a score does not have (with no owner it appends too, only
    in O(length)). Raises RedisError."""
    queue = django_rq.get_queue(SCORE_QUEUE, commit_mode="auto", queue_class=DjangoRQ)
    queue.enqueue(SCORE_TASK, job.pk, job_id=f"score-{job.uuid.hex}", result_ttl=0, failure_ttl=SCORE_FAILURE_TTL,
                  description=f"quality scores of style job {job.pk}")


def recovery_retry() -> Retry | None:
    """How often RQ may put a job back on its queue after losing its worker (engine.jobs.worker): RQ's
    maintenance pass retries an abandoned job while it has retries left. It is used for lost
    workers only: engine.tasks.on_rq_failure takes the retries away on any other failure. At the
    front of the queue: the job was already running, ahead of those still waiting."""
    recoveries = settings.NST_JOB_MAX_RECOVERIES
    return Retry(max=recoveries, enqueue_at_front=True) if recoveries > 0 else None


def remove_waiting(job: StyleJob) -> bool:
    """Take a job that no worker has picked up yet off its queue, with RQ's copy of it. False
    when it was not waiting there (a worker has it, or it was never enqueued)."""
    if not rq_queue(job.queue).remove(job.rq_job_id):
        return False
    delete_rq_job(job)
    return True


def move_waiting(job: StyleJob, to_queue: str) -> bool:
    """Move a waiting job to `to_queue`, at its owner's turn there. Redis decides the race with a worker: LREM
    takes the id off the old queue atomically, so either this call or a worker's pop gets it,
    never both. False when it was not waiting (or could not be moved: then it is put back)."""
    old_queue = rq_queue(job.queue)
    if not old_queue.remove(job.rq_job_id):
        return False
    try:
        rq_queue(to_queue).enqueue_job(Job.fetch(job.rq_job_id, connection=old_queue.connection))
    except (RedisError, NoSuchJobError):
        logger.exception("Could not move style job %s to %s; putting it back", job.pk, to_queue)
        old_queue.push_job_id(job.rq_job_id, at_front=True)
        return False
    return True


# --- the order of the waiting jobs (engine.jobs.turns) -------------------------------------------------

def waiting_order() -> list[str]:
    """The RQ ids of the waiting jobs, in the order workers take them: the high queue, then the
    default one, each in turn order. One round trip; raises RedisError."""
    return turns.waiting_ids(redis_connection(), [rq_queue(HIGH_QUEUE), rq_queue(DEFAULT_QUEUE)])


def place_for_new_job(owner_id: int, queue_name: str) -> int:
    """How many jobs of `queue_name` a job of `owner_id` submitted now would wait behind (the
    jobs of the high queue not counted). Raises RedisError."""
    return turns.place_for(redis_connection(), rq_queue(queue_name), owner_id)


def record_turn(job: StyleJob) -> None:
    """The job has started: its owner had their turn (engine.jobs.turns). Best effort: without
    Redis the order of the next insertions is a little less fair, nothing more."""
    try:
        turns.record_turn(redis_connection(), job.queue, job.owner_id)
    except RedisError:
        logger.warning("Redis unreachable; style job %s's turn not recorded", job.pk)


# --- RQ's record of a job ------------------------------------------------------------------------------

def fetch_rq_job(job: StyleJob, connection: Redis | None = None) -> Job | None:
    """RQ's job for this row, or None when RQ has none. Raises RedisError."""
    try:
        return Job.fetch(job.rq_job_id, connection=connection or redis_connection())
    except NoSuchJobError:
        return None


def held_by_worker(job: StyleJob, connection: Redis | None = None) -> bool:
    """Does a worker hold the job's RQ job right now (RQ status "started")? Raises RedisError."""
    rq_job = fetch_rq_job(job, connection)
    return rq_job is not None and rq_job.get_status(refresh=False) == JobStatus.STARTED


def delete_rq_job(job: StyleJob, connection: Redis | None = None) -> None:
    """Forget RQ's job for this row (and its registry entries), if there is one."""
    rq_job = fetch_rq_job(job, connection)
    if rq_job is not None:
        rq_job.delete()


def delete_rq_jobs(rq_ids: Iterable[str]) -> None:
    """RQ's records of deleted rows (their finished/failed registries would refer to nothing)."""
    connection = redis_connection()
    for rq_id in rq_ids:
        try:
            Job.fetch(rq_id, connection=connection).delete()
        except NoSuchJobError:
            pass


def worker_count() -> int | None:
    """Workers alive (registered in Redis), or None when Redis cannot be asked."""
    try:
        return Worker.count(connection=redis_connection())
    except RedisError:
        return None


# --- the cancel flag ---------------------------------------------------------------------------------

def cancel_key(job: StyleJob) -> str:
    return f"nst:cancel:{job.uuid.hex}"


def set_cancel_flag(job: StyleJob) -> None:
    """Ask a running engine to stop before its next step. Raises RedisError."""
    redis_connection().set(cancel_key(job), 1, ex=CANCEL_KEY_TTL)


def cancel_requested(connection: Redis, job: StyleJob) -> bool:
    return bool(connection.exists(cancel_key(job)))


def clear_cancel_flag(job: StyleJob) -> None:
    try:
        redis_connection().delete(cancel_key(job))
    except RedisError:
        pass  # it expires by itself


# --- rows that RQ has no trace of (engine.jobs.service.recover_orphans) -------------------------------------

@contextmanager
def sweep_lock(seconds: int) -> Iterator[bool]:
    """One sweeping worker at a time: yields True when this one may sweep."""
    connection = redis_connection()
    acquired = bool(connection.set(SWEEP_LOCK, 1, nx=True, ex=seconds))
    try:
        yield acquired
    finally:
        if acquired:
            connection.delete(SWEEP_LOCK)


def once_per(name: str, seconds: int) -> bool:
    """True for the first caller in each period of `seconds`, among every worker sharing this Redis
    (a key that expires with the period): periodic work done once, whichever worker comes first."""
    return bool(redis_connection().set(f"nst:once-per:{name}", 1, nx=True, ex=max(1, int(seconds))))


def orphaned(rows: list[StyleJob]) -> set[int]:
    """The pks of the rows RQ has no trace of: neither waiting on their queue nor in a started
    registry. Two Redis round trips per queue name, in one pipeline."""
    names = sorted({row.queue for row in rows})
    with redis_connection().pipeline(transaction=False) as pipe:
        for name in names:
            pipe.lrange(rq_queue(name).key, 0, -1)
            pipe.zrange(rq_queue(name).started_job_registry.key, 0, -1)
        replies = iter(pipe.execute())
    waiting, started = set(), set()
    for _ in names:
        waiting.update(entry.decode() for entry in next(replies))
        started.update(entry.decode().split(":", 1)[0] for entry in next(replies))  # "<job id>:<execution>"
    return {row.pk for row in rows if row.rq_job_id not in waiting and row.rq_job_id not in started}


def orphan_first_seen(rows: list[StyleJob]) -> dict[int, float | None]:
    """When a sweep first saw each row orphaned (epoch seconds), None for rows not marked."""
    with redis_connection().pipeline(transaction=False) as pipe:
        for row in rows:
            pipe.get(ORPHAN_KEY.format(row.uuid.hex))
        seen = pipe.execute()
    return {row.pk: (float(value) if value is not None else None) for row, value in zip(rows, seen, strict=True)}


def mark_orphans(*, seen_now: Iterable[StyleJob], forget: Iterable[StyleJob], now: float) -> None:
    with redis_connection().pipeline(transaction=False) as pipe:
        for row in seen_now:
            pipe.set(ORPHAN_KEY.format(row.uuid.hex), now, ex=ORPHAN_MARK_TTL)
        for row in forget:
            pipe.delete(ORPHAN_KEY.format(row.uuid.hex))
        pipe.execute()
