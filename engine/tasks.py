"""The RQ task: take a job id, run the engine, turn its callbacks into model updates.

Workers are engine.jobs.worker.StyleWorker, an RQ SimpleWorker (no fork per job): TensorFlow, the VGG
weights and the fast-mode networks load on a worker's first job and stay loaded (engine.nst caches
them per process). Start one with

    python manage.py rqworker --worker-class engine.jobs.worker.StyleWorker high default scores

(settings.RQ already names it, so `python manage.py rqworker high default scores` is the same).
The "scores" queue, taken last, holds `score_result`: the quality scores of a finished picture,
computed when the worker has no user job waiting (engine.runners.scores).

When a run does not end by itself, it is for one of the reasons of engine.jobs.stopping.StopReason,
checked before every engine step: a cancel stops it with a checkpoint kept (cancelled); the
worker's SIGTERM stops it with a checkpoint and puts it back on its queue (queued again, resumed by
the next worker); a lost lease stops it without another write. A worker that died is noticed by
its lapsed lease and its job is put back by on_rq_failure below, a limited number of times
(engine/jobs/worker.py has the whole story). Putting jobs back or failing them goes through the job
service (engine.jobs.service); the row changes through its life-cycle methods (engine.models).

The task is NetBox's JobRunner.handle() (netbox/jobs.py): it loads the job, picks the runner of
its mode (engine.runners: each mode's work units, wording, result and cost) and calls its run()
with the one progress reporter (engine.runners.progress: throttled saves, live events, the stop
check); what follows a run is the same for every mode and stays here. RQ jobs already in Redis
name this module's functions by their dotted paths (engine.jobs.queue): keep them.
"""

from __future__ import annotations

import logging
import os
import socket

from django.db import close_old_connections, connection
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Retry
from rq.timeouts import JobTimeoutException

from engine.jobs import queue, worker
from engine.jobs import service as jobs
from engine.jobs.stopping import StopReason
from engine.live import updates as live
from engine.models import Status, StyleJob
from engine.nst import EngineError, Stopped
from engine.nst import device as nst_device
from engine.nst.device import describe_device
from engine.runners import Runner, runner_for
from engine.runners import scores as job_scores
from engine.runners.progress import Progress

logger = logging.getLogger(__name__)

GENERIC_ERROR = ("Something went wrong on our side while running this job. It has been logged; "
                 "please try again later, or with other images or settings.")
ABANDONED = "abandoned"  # what the task returns when its worker gave the job up (lease lost)
TIMEOUT_ERROR = ("The job ran longer than the time limit and was stopped. Try a smaller size, "
                 "fewer epochs or fewer steps per epoch.")


def run_style_job(job_id: int) -> str | Retry:
    """Run one StyleJob to its end. Returns the final status (RQ keeps it as the job's result).
    Engine errors fail the job with their message; anything else fails it with a generic message
    and is re-raised, so RQ logs the traceback and keeps it in its failed-job registry. Either way
    the worker goes on to the next job."""
    _close_stale_connections()
    job = StyleJob.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("Style job %s no longer exists; nothing to run.", job_id)
        return "missing"
    if not job.start(worker=_worker_name()):
        logger.info("Style job %s is %s; not starting it.", job_id, job.status)
        return job.status
    logger.info("Style job %s started on worker %s", job_id, job.worker)
    queue.record_turn(job)  # its owner has had their turn: others' jobs go first (engine.jobs.turns)
    runner = runner_for(job.mode)
    progress = Progress(job, warm=runner.warm_for(job))
    try:
        _announce_start(job, runner)
        nst_device.reset_peak_rss()  # this job's own peak, in a worker that has run others
        runner.run(job, progress)
    except Stopped as exc:
        handed_back = _stopped(job, progress, exc)
        if handed_back is not None:
            return handed_back
    except EngineError as exc:
        job.fail(str(exc))
    except JobTimeoutException:
        job.fail(TIMEOUT_ERROR)
        raise
    except Exception:
        logger.exception("Style job %s failed", job_id)
        job.fail(GENERIC_ERROR)
        raise
    finally:
        progress.close()
        queue.clear_cancel_flag(job)
        progress.publish_end()
        _close_stale_connections()
    return job.status


def score_result(job_id: int) -> str:
    """The scores queue's task (engine.runners.scores): score a succeeded job's picture from its
    stored files. A job deleted meanwhile, not succeeded or without a result is skipped; nothing
    here raises, so a failed score fails nothing (it is logged). Returns what happened."""
    _close_stale_connections()
    job = StyleJob.objects.filter(pk=job_id, status=Status.SUCCEEDED).exclude(result="").first()
    if job is None:
        logger.info("Style job %s: gone or without a result; nothing to score.", job_id)
        return "skipped"
    try:
        runner = runner_for(job.mode)
    except ValueError:
        logger.warning("Style job %s: no runner for mode %r; not scored.", job_id, job.mode)
        return "skipped"
    scores = job_scores.score_stored(job, runner)
    _close_stale_connections()
    return "scored" if scores is not None else "not scored"


def _announce_start(job: StyleJob, runner: Runner) -> None:
    """Device and network are known as soon as a worker has the job: stored now, not only with
    the result, so the job page (and a socket's snapshot) shows them during the run; then the
    job's page and the pages of the jobs still queued (they moved up) are told."""
    job.record_placement(device=describe_device(), network=runner.network_name(job))
    live.publish_started(job)
    live.publish_queue()


def _stopped(job: StyleJob, progress: Progress, exc: Stopped) -> Retry | str | None:
    """The engine stopped before a unit; act on why. A lost lease: write nothing, the job may be
    someone else's now (returns ABANDONED). A shutdown: hand the job back to its queue with the
    checkpoint (returns RQ's Retry). A cancel: keep the checkpoint for a later requeue."""
    reason = progress.stop_reason() or StopReason.CANCELLED  # no reason left: a cancel flag set by hand
    checkpoint = exc.checkpoint
    unit = checkpoint.step if checkpoint is not None else progress.unit
    if reason == StopReason.LEASE_LOST:
        logger.warning("Style job %s: abandoned after step %s (lease lost)", job.pk, progress.unit)
        return ABANDONED
    data = checkpoint.to_bytes() if checkpoint is not None else None
    if reason == StopReason.SHUTDOWN and jobs.hand_back(
            job, epoch=progress.group or job.epoch, step=unit, checkpoint=data):
        logger.info("Style job %s: back on its queue after step %s (worker shutting down)", job.pk, unit)
        current = get_current_job()
        # Retry.max counts the job's earlier hand-backs too: this one must always be allowed.
        return Retry(max=(current.number_of_retries or 0) + 1 if current is not None else 1)
    job.cancel()  # already cancelled by whoever asked; this is for a flag set by hand
    job.record_stop(epoch=progress.group, step=unit, checkpoint=data)
    logger.info("Style job %s cancelled after step %s", job.pk, unit)
    return None


def on_rq_failure(rq_job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback (set by engine.jobs.queue.enqueue), which decides whether RQ may retry
    the job. The task marks the failures it sees itself; this catches those it cannot:

    - a worker that died mid-job (killed, out of memory): RQ reports AbandonedJobError once the
      job's lease has lapsed (engine.jobs.worker), from another worker's maintenance pass;
    - a worker's cold shutdown (a second SIGTERM/SIGINT) raising SystemExit in the middle of the job.

    Such a job goes back to "queued", keeping its checkpoint, and RQ's retry puts the same RQ job at
    the front of its queue, while it has retries left (NST_JOB_MAX_RECOVERIES); then it fails with
    a message (engine.jobs.service.worker_lost). For anything else, or a job that is no longer active, RQ
    must not retry: a retry is for lost workers only. Database errors propagate: RQ then keeps the
    abandoned entry and the next maintenance pass tries again (StyleWorker.clean_registries)."""
    if worker.stop_reason() == StopReason.LEASE_LOST:
        return  # this worker gave the job up: its recovery is the maintenance pass's business
    job = StyleJob.objects.filter(pk=rq_job.args[0]).first() if rq_job.args else None
    lost = issubclass(exc_type, (AbandonedJobError, SystemExit, KeyboardInterrupt))
    if job is None or not job.is_active:
        rq_job.retries_left = 0
        return
    if lost and jobs.worker_lost(job, may_retry=rq_job.should_retry):
        logger.warning("Style job %s: its worker %s was lost; back on queue %s (%s recoveries left).",
                       job.pk, rq_job.worker_name or "?", rq_job.origin, rq_job.retries_left - 1)
        return
    rq_job.retries_left = 0
    job.refresh_from_db()
    if not job.is_active:  # it ended meanwhile
        return
    if lost:
        runs = rq_job.meta.get("max_recoveries", 0) + 1  # set by engine.jobs.queue.enqueue
        logger.warning("Style job %s: its worker %s was lost, %s runs in all; failing it.", job.pk,
                       rq_job.worker_name or "?", runs)
        jobs.fail(job, jobs.worker_lost_error(runs))
    else:
        jobs.fail(job, GENERIC_ERROR)


def _worker_name() -> str:
    current = get_current_job()
    if current is not None and current.worker_name:
        return current.worker_name
    return f"{socket.gethostname()}:{os.getpid()}"


def _close_stale_connections() -> None:
    """A worker lives for days, but Django closes database connections only at the end of a
    request: do it around each job, so a restarted database or CONN_MAX_AGE is honoured. (Inside
    a transaction, as in a test that runs the worker in-process, the connection is left alone.)"""
    if not connection.in_atomic_block:
        close_old_connections()
