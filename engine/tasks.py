"""The RQ task: take a job id, run the engine, turn its callbacks into model updates.

Workers are RQ SimpleWorkers (no fork per job): TensorFlow, the VGG weights and the fast-mode
networks load on a worker's first job and stay loaded (engine.nst caches them per process).
Start one with

    python manage.py rqworker --worker-class rq.worker.SimpleWorker high default

(settings.RQ already names SimpleWorker, so `python manage.py rqworker high default` is the same).

What reaches the database while a classic job runs: progress at most once a second and at every
epoch (with a small preview JPEG and the engine's checkpoint), never a query per step. The cancel
check the engine makes before every step is one Redis EXISTS, plus a flag set when a progress
update finds the row no longer running (a cancel that could not reach Redis).
"""

from __future__ import annotations

import logging
import os
import socket
import time

from django.conf import settings
from django.db import close_old_connections, connection
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException

from engine.nst import (
    Cancelled,
    Checkpoint,
    EngineError,
    EpochReport,
    LossHistory,
    ParameterError,
    StepReport,
    get_fast_stylizer,
    images,
    stylize_classic,
)

from . import queue
from .models import Mode, StyleJob

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0   # seconds between progress saves within an epoch
PREVIEW_SIDE = 384        # previews are for watching, not keeping
PREVIEW_QUALITY = 80
# A style image is used at the content's size (classic) or 256 px (fast's predictor); never below
# the predictor's size, so a small job still sees the painting's texture.
MIN_STYLE_SIDE = 256
GENERIC_ERROR = ("Something went wrong on our side while running this job. It has been logged; "
                 "please try again later, or with other images or settings.")
WORKER_LOST_ERROR = ("The worker running this job stopped unexpectedly (for example, it ran out of memory). "
                     "Please submit the job again, perhaps at a smaller size.")
TIMEOUT_ERROR = ("The job ran longer than the time limit and was stopped. Try a smaller size, "
                 "fewer epochs or fewer steps per epoch.")


def run_style_job(job_id: int) -> str:
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
    run = _Run(job)
    try:
        run.execute()
    except Cancelled as exc:
        run.stopped(exc)
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
        queue.clear_cancel_flag(job)
        _close_stale_connections()
    return job.status


def on_rq_failure(rq_job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback (set by engine.queue.enqueue_job). The task itself marks the jobs it
    sees fail; this catches the one it cannot: a worker that died mid-job (killed, out of memory),
    which RQ reports when it cleans up the abandoned job. Without it the row would stay "running"."""
    job = StyleJob.objects.filter(pk=rq_job.args[0]).first() if rq_job.args else None
    if job is not None and job.is_active:
        job.fail(WORKER_LOST_ERROR if exc_type is AbandonedJobError else GENERIC_ERROR)


class _Run:
    """One execution of a job: loads its inputs, calls the engine, reports back."""

    def __init__(self, job: StyleJob):
        self.job = job
        self.redis = queue.redis_connection()
        self.started = time.monotonic()
        self.last_saved = self.started
        self.epoch = self.step = 0
        self.stop = False  # set when a progress update finds the job no longer running

    def execute(self) -> None:
        job, params = self.job, self.job.engine_params()
        content, styles = self.load_images(params.size)
        model_dir = settings.NST_MODEL_DIR
        if job.mode == Mode.FAST:
            result = get_fast_stylizer(model_dir).stylize(content, styles, params)
            seconds = ", ".join(f"{name} {value:.2f} s" for name, value in result.seconds.items())
            history = LossHistory(events=[f"Fast mode, one forward pass: {seconds}."])
        else:
            result = self.run_classic(content, styles, params, model_dir)
            history = result.history
        job.finish(image_png=images.encode_png(result.image), history=history, device=result.device,
                   network=result.network, seconds=time.monotonic() - self.started)

    def run_classic(self, content, styles, params, model_dir):
        """From the job's checkpoint when it has one (a requeued or recovered job), else from the
        start. A checkpoint that cannot be used (unreadable, other engine version) costs the steps
        it held, never the job."""
        resume = self.checkpoint()
        kwargs = dict(model_dir=model_dir, on_step=self.on_step, on_epoch=self.on_epoch,
                      should_cancel=self.should_cancel)
        if resume is not None:
            try:
                return stylize_classic(content, styles, params, resume_from=resume, **kwargs)
            except ParameterError as exc:
                if self.step:  # it failed later than the restore: a real error
                    raise
                logger.warning("Style job %s: checkpoint not usable (%s); starting again.", self.job.pk, exc)
        return stylize_classic(content, styles, params, **kwargs)

    def checkpoint(self) -> Checkpoint | None:
        if self.job.mode != Mode.CLASSIC or not self.job.checkpoint:
            return None
        try:
            with self.job.checkpoint.open("rb") as fh:
                checkpoint = Checkpoint.from_bytes(fh.read())
        except (OSError, ParameterError) as exc:
            logger.warning("Style job %s: cannot read its checkpoint (%s); starting again.", self.job.pk, exc)
            return None
        logger.info("Style job %s resumes at step %s", self.job.pk, checkpoint.step)
        return checkpoint

    def load_images(self, size: int):
        with self.job.content.open("rb") as fh:
            content = images.load_array(fh, size)
        styles = []
        for style in self.job.styles.all():
            with style.image.open("rb") as fh:
                styles.append(images.load_array(fh, max(size, MIN_STYLE_SIDE)))
        return content, styles

    # --- engine callbacks -----------------------------------------------------------------------

    def should_cancel(self) -> bool:
        if self.stop:
            return True
        try:
            return queue.cancel_requested(self.redis, self.job)
        except RedisError:
            return False  # the DB check in the next progress update still stops the run

    def on_step(self, report: StepReport) -> None:
        self.epoch, self.step = report.epoch, report.step
        if time.monotonic() - self.last_saved >= PROGRESS_INTERVAL:
            self.save_progress(epoch=report.epoch, step=report.step)

    def on_epoch(self, report: EpochReport) -> None:
        preview = images.encode_jpeg(report.image, quality=PREVIEW_QUALITY, max_side=PREVIEW_SIDE)
        self.save_progress(epoch=report.epoch, step=report.step, eta_seconds=report.eta_seconds,
                           preview=preview, checkpoint=report.checkpoint().to_bytes())

    def save_progress(self, **kwargs) -> None:
        self.last_saved = time.monotonic()
        if not self.job.report_progress(**kwargs):
            self.stop = True

    def stopped(self, exc: Cancelled) -> None:
        """The engine stopped on a cancel: keep its checkpoint so the run can be resumed later."""
        self.job.cancel()  # already cancelled by whoever asked; this is for a flag set by hand
        checkpoint = getattr(exc, "checkpoint", None)
        step = checkpoint.step if checkpoint is not None else self.step
        self.job.record_stop(epoch=self.epoch, step=step,
                             checkpoint=checkpoint.to_bytes() if checkpoint is not None else None)
        logger.info("Style job %s cancelled after step %s", self.job.pk, step)


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
