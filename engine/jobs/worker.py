"""The RQ worker that runs style jobs: RQ's SimpleWorker (no fork per job, so TensorFlow and the
models load once per process), made crash-safe.

    python manage.py rqworker --worker-class engine.jobs.worker.StyleWorker high default scores

Why a subclass of RQ's worker rather than a heartbeat key and a reaper of our own: RQ already has
the pieces. Every running job has an entry in its queue's StartedJobRegistry whose score is the
moment it counts as abandoned; each worker's maintenance pass (`clean_registries`) calls the
failure callback of every entry whose moment has passed and then, if the job has retries left,
puts that same RQ job back on its queue (one id, one queue entry), else fails it. What the
SimpleWorker lacks is the heartbeat: it sets the score once, to the job timeout (6 h) + 60 s, and
never renews it while it runs a job in its own main thread, and it cleans the registries every
10 minutes. So a killed worker's job stayed "running" for six hours. This class adds:

1. A lease per job (`JobLease`): a small thread renews the job's registry entry (and the worker's
   own key, which would otherwise also expire under a long job) every NST_WORKER_HEARTBEAT_SECONDS,
   each time for NST_WORKER_LEASE_SECONDS. A worker killed with SIGKILL stops renewing, and the
   entry lapses a lease after the last renewal.
2. Maintenance every NST_WORKER_MAINTENANCE_SECONDS (RQ: 10 min), and a dequeue wait no longer than
   that, so an idle worker notices a lapsed lease within about lease + maintenance interval. The
   failure callback (engine.tasks.on_rq_failure) then moves the row back to "queued" and RQ's retry
   (engine.jobs.queue enqueues every job with Retry(max=NST_JOB_MAX_RECOVERIES)) puts it at the front of
   its queue; the next worker resumes it from its last checkpoint. A job that has used up its
   recoveries (one that kills every worker, e.g. out of memory) is failed with a message.
3. SIGTERM (docker stop, scripts/run's Ctrl-C): instead of RQ's warm shutdown, which waits for the
   job to finish (for a classic job, many minutes), the engine stops before its next step, the task
   saves a checkpoint, puts the row back to "queued" and returns RQ's Retry, and the worker exits.
   A second SIGTERM (or SIGINT) is RQ's cold shutdown; SIGKILL is (1).
4. Redis outages: the lease thread, the end-of-job bookkeeping and the idle loop ride out a Redis
   that is down (connection refused) and carry on when it is back; the engine never waits for Redis.
   A Redis that hangs (timeouts) makes RQ's loop exit; the process supervisor starts the worker again.

Never run twice at once. A job is recovered only once its lease has lapsed: after SIGKILL nothing
of the old worker is left to run it. A worker that is alive but could not renew (Redis unreachable
for most of a lease, the process frozen) must not go on either, so the lease fences its holder:
`JobLease.valid()` turns False, for good, `fence_after` = lease - 2 heartbeats after the start of
the last renewal that reached Redis; the task checks it before every engine step and before it
writes the result, and then abandons the job without another write. The registry entry it leaves
lapses at the earliest `lease` seconds after that renewal started, i.e. 2 heartbeats after the
fence: the old holder has stopped (within one engine step) before anyone may recover the job.
That holds while one engine step is shorter than 2 heartbeats and the machines' clocks agree to
within a few seconds (NTP). Beyond that, a row moves queued -> running only once
(StyleJob.start() is a conditional UPDATE), so two workers that dequeue the same job never both
run it, and a recovery reuses the job's own RQ entry (RQ's retry) instead of adding a second one.

Never lost. A job whose worker died is back on its queue (row "queued") or failed with a message:
the lease makes the death visible within minutes, and the callback decides which. A job that RQ
has no trace of at all (an enqueue lost between the commit and Redis, a job popped by a worker
that died before registering it, Redis restarted without its data) is put back by a sweep of the
active rows against Redis in the same maintenance pass (engine.jobs.service.recover_orphans).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import JobStatus
from rq.logutils import setup_loghandlers
from rq.registry import clean_registries
from rq.utils import now
from rq.worker import SimpleWorker

from engine.jobs import service as jobs
from engine.jobs import worker_info
from engine.jobs.stopping import StopReason
from engine.storage import retention

if TYPE_CHECKING:
    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue

logger = logging.getLogger(__name__)

# One worker per process (RQ's model): the signal handler and the task meet here.
_shutdown_requested = threading.Event()
_current_lease: JobLease | None = None

# Move a job id to the front of its queue only if it is still waiting there: a worker that has
# already popped it must not see it pushed again.
_TO_FRONT = """
if redis.call('LREM', KEYS[1], 0, ARGV[1]) > 0 then
    redis.call('LPUSH', KEYS[1], ARGV[1])
    return 1
end
return 0
"""


def stop_reason() -> StopReason | None:
    """Why the job running in this process must stop before its next engine step (SHUTDOWN,
    LEASE_LOST), or None while it may go on. A lost lease wins: then the job may already be
    someone else's, and even a checkpoint must not be written."""
    lease = _current_lease
    if lease is not None and not lease.valid():
        return StopReason.LEASE_LOST
    if _shutdown_requested.is_set():
        return StopReason.SHUTDOWN
    return None


def before_step(job_id: int, step: int) -> None:
    """Called by the task before every engine step (after step `step` - 1), in the worker's main
    thread: hands over to the hook of the worker that holds the current lease, if any."""
    lease = _current_lease
    if lease is not None:
        lease.worker.before_step(job_id, step)


class JobLease:
    """This worker's claim on the job it runs: the job's StartedJobRegistry entry, renewed by a
    daemon thread every `interval` seconds for `ttl` seconds. Only the thread talks to Redis; the
    engine asks `valid()`, a clock comparison, before every step."""

    def __init__(self, worker: StyleWorker, job: Job, execution: Execution, *, interval: float, ttl: int):
        self.worker, self.job, self.execution = worker, job, execution
        self.interval, self.ttl = interval, ttl
        self.fence_after = ttl - 2 * interval
        self._renewed = time.monotonic()  # prepare_execution has just written the first entry
        self._lost = False
        self._failing_since: float | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease {job.id}", daemon=True)

    @property
    def job_id(self) -> str:
        return self.job.id

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No more renewals (the job has ended). The lease stays valid until it would lapse."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 5)

    def valid(self) -> bool:
        with self._lock:
            if not self._lost and time.monotonic() - self._renewed >= self.fence_after:
                self._lost = True
                logger.warning("Job %s: lease not renewed for %.0f s; this worker stops working on it.",
                               self.job_id, time.monotonic() - self._renewed)
            return not self._lost

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            if not self.renew():
                return

    def renew(self) -> bool:
        """One renewal; False once the lease is lost (no renewal may follow then)."""
        if not self.valid():
            return False
        started = time.monotonic()  # the entry's new score is computed after this moment
        registry = self.job.started_job_registry
        try:
            with self.worker.connection.pipeline() as pipe:
                self.worker.heartbeat(self.ttl, pipeline=pipe)
                self.execution.heartbeat(registry, self.ttl, pipeline=pipe)  # ZADD XX: never re-adds
                pipe.zscore(registry.key, self.execution.composite_key)
                still_there = pipe.execute()[-1] is not None
        except RedisError as exc:
            if self._failing_since is None:
                self._failing_since = started
                logger.warning("Job %s: cannot renew its lease (%s); retrying every %s s.",
                               self.job_id, exc, self.interval)
            return True
        if self._failing_since is not None:
            logger.info("Job %s: lease renewed again after %.0f s.", self.job_id,
                        started - self._failing_since)
            self._failing_since = None
        with self._lock:
            if not still_there:  # someone has declared this worker dead and recovered the job
                if not self._lost:
                    logger.warning("Job %s: its lease was taken away; this worker stops working on it.",
                                   self.job_id)
                self._lost = True
            elif not self._lost:
                self._renewed = max(self._renewed, started)
            return not self._lost


class StyleWorker(SimpleWorker):
    """SimpleWorker + job leases, frequent maintenance, SIGTERM that hands the job back, and a
    Redis outage ridden out rather than fatal. See the module docstring."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", settings.NST_WORKER_MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
        self.heartbeat_interval = settings.NST_WORKER_HEARTBEAT_SECONDS
        self.lease_seconds = settings.NST_WORKER_LEASE_SECONDS
        self.lease: JobLease | None = None
        _shutdown_requested.clear()

    def bootstrap(self, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT,
                  log_format=DEFAULT_LOGGING_FORMAT) -> None:
        super().bootstrap(logging_level, date_format, log_format)
        # The engine's lines (a job resumed at step N, a lost worker's job put back) beside RQ's.
        setup_loghandlers(logging_level, date_format, log_format, name="engine")

    @property
    def dequeue_timeout(self) -> int:
        # RQ runs maintenance between waits for a job: wait no longer than its interval.
        return max(1, min(self.worker_ttl - 15, self.maintenance_interval))

    def get_heartbeat_ttl(self, job: Job) -> int:
        # The registry entry's first score (prepare_execution); the lease renews it from then on.
        return self.lease_seconds

    def before_step(self, job_id: int, step: int) -> None:
        """Called by the task before every engine step, in the worker's main thread. Does nothing
        here; a subclass may observe or hold a run at a known step (the crash tests' harness,
        tests/harness.py)."""

    # --- a job's lease ---------------------------------------------------------------------------

    def prepare_execution(self, job: Job) -> Execution:
        global _current_lease
        execution = super().prepare_execution(job)
        self.lease = _current_lease = JobLease(self, job, execution, interval=self.heartbeat_interval,
                                               ttl=self.lease_seconds)
        self.lease.start()
        return execution

    def execute_job(self, job: Job, queue: Queue) -> None:
        global _current_lease
        try:
            super().execute_job(job, queue)
        finally:
            if self.lease is not None:
                self.lease.stop()
            self.lease = _current_lease = None

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """The task has returned or raised: stop renewing (what is left is RQ's bookkeeping)."""
        if self.lease is not None:
            self.lease.stop()
        try:
            super().handle_execution_ended(job, queue, heartbeat_ttl)
        except RedisError:
            logger.warning("Job %s ended while Redis was unreachable.", job.id)

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry) -> None:
        self._settle(super().handle_job_success, job=job, queue=queue,
                     started_job_registry=started_job_registry)

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry=None, exc_string="") -> None:
        self._settle(super().handle_job_failure, job=job, queue=queue,
                     started_job_registry=started_job_registry, exc_string=exc_string)

    def handle_job_retry(self, job: Job, queue: Queue, retry, started_job_registry, execution) -> None:
        """The task handed its job back (SIGTERM): RQ queues it at the back; it was running, so put
        it at the front, as a recovered job is."""
        if self._settle(super().handle_job_retry, job=job, queue=queue, retry=retry,
                        started_job_registry=started_job_registry, execution=execution):
            if job.get_status(refresh=False) == JobStatus.QUEUED:
                try:
                    self.connection.eval(_TO_FRONT, 1, queue.key, job.id)
                except RedisError:
                    pass  # it is on its queue, only not at the front

    def _settle(self, bookkeeping, **kwargs) -> bool:
        """Run RQ's end-of-job bookkeeping for the job this worker holds, waiting out a Redis outage
        while the lease is still valid. With the lease gone, write nothing: the registry entry
        lapses and the maintenance pass settles the job. True when the bookkeeping was done."""
        job, lease = kwargs["job"], self.lease
        if lease is None or lease.job_id != job.id:
            bookkeeping(**kwargs)  # not the job we run (e.g. maintenance on another's job)
            return True
        delay = 0.5
        while lease.valid():
            try:
                bookkeeping(**kwargs)
                return True
            except (RedisConnectionError, RedisTimeoutError) as exc:
                logger.warning("Job %s: cannot record its end in Redis yet (%s).", job.id, exc)
                time.sleep(delay)
                delay = min(2 * delay, 5.0)
        logger.warning("Job %s: lease lapsed; left for the maintenance pass to settle.", job.id)
        self.execution = None
        try:
            self.set_current_job_id(None)
        except RedisError:
            pass
        return False

    # --- maintenance -----------------------------------------------------------------------------

    def clean_registries(self) -> None:
        """RQ's clean_registries, with the per-queue lock released even when a failure callback
        raises (e.g. the database is down): RQ would keep it for 15 minutes, and no worker would
        notice an abandoned job meanwhile. The entry whose callback failed is kept and retried."""
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                try:
                    clean_registries(queue, self._exc_handlers)
                    worker_registration.clean_worker_registry(queue)
                    queue.intermediate_queue.cleanup(self, queue)
                finally:
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
            # Jobs RQ has no trace of at all (lost enqueues, Redis data loss): see recover_orphans.
            jobs.recover_orphans(settle_seconds=self.lease_seconds)
            # What the disk need not keep, once per period whichever worker comes first.
            retention.run_due()
        except RedisConnectionError as exc:
            logger.warning("Worker %s: maintenance skipped, Redis unreachable (%s).", self.name, exc)
            self.last_cleaned_at = now()
        except Exception:
            # A worker must outlive a failed maintenance pass; the next one tries again.
            logger.exception("Worker %s: maintenance failed; trying again in %s s.", self.name,
                             self.maintenance_interval)
            self.last_cleaned_at = now()

    # --- SIGTERM ---------------------------------------------------------------------------------

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        _shutdown_requested.set()
        if self.lease is not None:
            logger.info("Worker %s: job %s will save a checkpoint and go back to its queue.",
                        self.name, self.lease.job_id)

    def set_shutdown_requested_date(self) -> None:
        # Runs inside the SIGTERM handler, i.e. in the middle of the engine: it must not raise.
        try:
            super().set_shutdown_requested_date()
        except RedisError:
            pass

    # --- a Redis outage: the calls RQ's loop makes outside its own retry ------------------------

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        try:
            with self.connection.pipeline() as pipe:
                super().heartbeat(timeout, pipeline=pipe)
                # A Redis that lost its data (restarted without its append-only file) lost this
                # worker's registration too: write it again, so the worker counts as alive.
                pipe.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, pipe)
                worker_info.publish(pipe, worker_info.describe(self.name))  # for the form's estimates
                pipe.execute()
        except RedisConnectionError:
            logger.warning("Worker %s: Redis unreachable; waiting for it.", self.name)

    def set_state(self, state: str, pipeline=None) -> None:
        if pipeline is not None:
            return super().set_state(state, pipeline=pipeline)
        try:
            super().set_state(state)
        except RedisConnectionError:
            self._state = state

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except RedisConnectionError:
            pass  # the dequeue that follows waits for Redis, with back-off

    def teardown(self) -> None:
        try:
            worker_info.forget(self.connection, self.name)
            super().teardown()
        except RedisError:
            logger.warning("Worker %s: could not register its death in Redis; its key expires.", self.name)
