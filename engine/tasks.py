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

What reaches the browsers (engine.events, over the channel layer): started, then progress at most
every EVENT_INTERVAL and at every epoch (with the loss points since the previous event and the
URL of the new epoch preview), then the end. Publishing is bounded and never raises on a Redis
failure; docs/benchmarks.md ("Live progress") has its cost per step.
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
    EngineError,
    EpochReport,
    LossHistory,
    StepReport,
    get_fast_stylizer,
    images,
    stylize_classic,
)
from engine.nst.device import describe_device
from engine.nst.fast import NETWORK as FAST_NETWORK

from . import events, queue
from .models import Mode, Status, StyleJob

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0   # seconds between progress saves within an epoch
EVENT_INTERVAL = 0.2      # seconds between live progress events within an epoch (at most ~5/s)
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
        _announce_start(job)
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
        run.publish_end()
        _close_stale_connections()
    return job.status


def _announce_start(job: StyleJob) -> None:
    """Device and network are known as soon as a worker has the job: stored now, not only with
    the result, so the job page (and a socket's snapshot) shows them during the run; then the
    job's page and the pages of the jobs still queued (they moved up) are told."""
    job.device = describe_device()[:200]
    job.network = (job.params.get("network", "") if job.mode == Mode.CLASSIC else FAST_NETWORK)[:64]
    StyleJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(device=job.device, network=job.network)
    events.publish_started(job)
    events.publish_queue()


def on_rq_failure(rq_job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback (set by engine.queue.enqueue_job). The task itself marks the jobs it
    sees fail; this catches the one it cannot: a worker that died mid-job (killed, out of memory),
    which RQ reports when it cleans up the abandoned job. Without it the row would stay "running"."""
    job = StyleJob.objects.filter(pk=rq_job.args[0]).first() if rq_job.args else None
    if job is not None and job.is_active:
        job.fail(WORKER_LOST_ERROR if exc_type is AbandonedJobError else GENERIC_ERROR)
        events.publish_final(job)


class _Run:
    """One execution of a job: loads its inputs, calls the engine, reports back."""

    def __init__(self, job: StyleJob):
        self.job = job
        self.redis = queue.redis_connection()
        self.started = time.monotonic()
        self.last_saved = self.started
        self.epoch = self.step = 0
        self.stop = False  # set when a progress update finds the job no longer running
        # Live events: loss points not yet published, when the last event went out, and the
        # engine's ETA at the last epoch (counted down between epochs).
        self.pending_losses: list[list[float]] = []
        self.last_published = self.started
        self.epoch_eta: tuple[float, float] | None = None  # (eta_seconds, monotonic time it was given)

    def execute(self) -> None:
        job, params = self.job, self.job.engine_params()
        content, styles = self.load_images(params.size)
        model_dir = settings.NST_MODEL_DIR
        if job.mode == Mode.FAST:
            result = get_fast_stylizer(model_dir).stylize(content, styles, params)
            seconds = ", ".join(f"{name} {value:.2f} s" for name, value in result.seconds.items())
            history = LossHistory(events=[f"Fast mode, one forward pass: {seconds}."])
        else:
            result = stylize_classic(content, styles, params, model_dir=model_dir, on_step=self.on_step,
                                     on_epoch=self.on_epoch, should_cancel=self.should_cancel)
            history = result.history
        job.finish(image_png=images.encode_png(result.image), history=history, device=result.device,
                   network=result.network, seconds=time.monotonic() - self.started)

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
        self.pending_losses.append(events.loss_point(report.row))
        now = time.monotonic()
        if now - self.last_saved >= PROGRESS_INTERVAL:
            self.save_progress(epoch=report.epoch, step=report.step, eta_seconds=self.eta(report, now))
        # An epoch's last step is published by on_epoch, right after, with its preview.
        epoch_end = report.step % (report.total_steps // report.epochs) == 0
        if not epoch_end and not self.stop and now - self.last_published >= EVENT_INTERVAL:
            self.publish_progress(eta_seconds=self.eta(report, now))

    def on_epoch(self, report: EpochReport) -> None:
        preview = images.encode_jpeg(report.image, quality=PREVIEW_QUALITY, max_side=PREVIEW_SIDE)
        self.save_progress(epoch=report.epoch, step=report.step, eta_seconds=report.eta_seconds,
                           preview=preview, checkpoint=report.checkpoint().to_bytes())
        self.epoch_eta = (report.eta_seconds, time.monotonic())
        if not self.stop:  # the preview file exists now: its URL can go out
            self.publish_progress(eta_seconds=report.eta_seconds, preview_epoch=report.epoch)

    def eta(self, report: StepReport, now: float) -> float | None:
        """The engine's estimate at the last epoch, counted down; before the first epoch, the
        mean step time so far times the steps left (rough: coarse-to-fine steps get slower)."""
        if self.epoch_eta is not None:
            eta, given_at = self.epoch_eta
            return max(0.0, eta - (now - given_at))
        if report.row.seconds <= 0:
            return None
        return report.row.seconds / report.step * (report.total_steps - report.step)

    def publish_progress(self, *, eta_seconds: float | None, preview_epoch: int | None = None) -> None:
        self.last_published = time.monotonic()
        losses, self.pending_losses = self.pending_losses, []
        events.publish_progress(self.job, epoch=self.epoch, step=self.step, eta_seconds=eta_seconds,
                                losses=losses, preview_epoch=preview_epoch)

    def publish_end(self) -> None:
        """The job's final event (whatever ended it), with any loss points not yet published."""
        losses, self.pending_losses = self.pending_losses, []
        events.publish_final(self.job, losses)

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
