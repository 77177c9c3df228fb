"""The RQ task: take a job id, run the engine, turn its callbacks into model updates.

Workers are engine.worker.StyleWorker, an RQ SimpleWorker (no fork per job): TensorFlow, the VGG
weights and the fast-mode networks load on a worker's first job and stay loaded (engine.nst caches
them per process). Start one with

    python manage.py rqworker --worker-class engine.worker.StyleWorker high default

(settings.RQ already names it, so `python manage.py rqworker high default` is the same).

When a run does not end by itself, it is for one of the reasons of engine.stopping.StopReason,
checked before every engine step: a cancel stops it with a checkpoint kept (cancelled); the
worker's SIGTERM stops it with a checkpoint and puts it back on its queue (queued again, resumed by
the next worker); a lost lease stops it without another write. A worker that died is noticed by
its lapsed lease and its job is put back by on_rq_failure below, a limited number of times
(engine/worker.py has the whole story). Putting jobs back or failing them goes through the job
service (engine.jobs); the row changes through its life-cycle methods (engine.models).

What reaches the database while a classic job runs: progress at most once a second and at every
epoch (with a small preview JPEG and the engine's checkpoint), never a query per step. The cancel
check the engine makes before every step is one Redis EXISTS, plus a flag set when a progress
update finds the row no longer running (a cancel that could not reach Redis).

What reaches the browsers (engine.live, over the channel layer): started, then progress at most
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
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Retry
from rq.timeouts import JobTimeoutException

from engine.nst import (
    Checkpoint,
    EngineError,
    EpochReport,
    LossHistory,
    ParameterError,
    StepReport,
    Stopped,
    images,
    stylize_classic,
)
from engine.nst import device as nst_device
from engine.nst.device import describe_device
from engine.nst.fast import NETWORK as FAST_NETWORK
from engine.nst.fast import get_fast_stylizer
from engine.nst.fast_hub import HUB_NETWORK, get_stylizer
from engine.nst.video import VideoCheckpoint, VideoResult, clear_work, stylize_video

from . import jobs, live, queue, worker
from .job_files import VIDEO_RESULT, job_file_name, local_path, video_work_dir
from .models import Mode, Status, StyleJob
from .stopping import StopReason

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0   # seconds between progress saves within an epoch
EVENT_INTERVAL = 0.2      # seconds between live progress events within an epoch (at most ~5/s)
REDIS_RETRY_SECONDS = 2.0  # the cancel check's pause after Redis failed to answer
PREVIEW_SIDE = 384        # previews are for watching, not keeping
PREVIEW_QUALITY = 80
# A video job's page gets its latest frame at least this often, not only once a chunk (a chunk of
# 48 frames takes about 4 s at 480 px but a minute or more at 1920 px on a 2-core CPU).
VIDEO_PREVIEW_SECONDS = 4.0
# A style image is used at the content's size (classic) or 256 px (fast's predictor); never below
# the predictor's size, so a small job still sees the painting's texture.
MIN_STYLE_SIDE = 256
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
    run = _Run(job)
    try:
        _announce_start(job)
        run.execute()
    except Stopped as exc:
        handed_back = run.stopped(exc)
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
        run.redis.close()
        queue.clear_cancel_flag(job)
        run.publish_end()
        _close_stale_connections()
    return job.status


def _network_name(job: StyleJob) -> str:
    if job.mode == Mode.CLASSIC:
        return job.params.get("network", "")
    if job.mode == Mode.VIDEO:
        return VideoResult.network
    return HUB_NETWORK if job.params.get("fast_network") == HUB_NETWORK else FAST_NETWORK


def _announce_start(job: StyleJob) -> None:
    """Device and network are known as soon as a worker has the job: stored now, not only with
    the result, so the job page (and a socket's snapshot) shows them during the run; then the
    job's page and the pages of the jobs still queued (they moved up) are told."""
    job.record_placement(device=describe_device(), network=_network_name(job))
    live.publish_started(job)
    live.publish_queue()


def on_rq_failure(rq_job, connection, exc_type, exc_value, tb) -> None:
    """RQ's failure callback (set by engine.queue.enqueue), which decides whether RQ may retry
    the job. The task marks the failures it sees itself; this catches those it cannot:

    - a worker that died mid-job (killed, out of memory): RQ reports AbandonedJobError once the
      job's lease has lapsed (engine.worker), from another worker's maintenance pass;
    - a worker's cold shutdown (a second SIGTERM/SIGINT) raising SystemExit in the middle of the job.

    Such a job goes back to "queued", keeping its checkpoint, and RQ's retry puts the same RQ job at
    the front of its queue, while it has retries left (NST_JOB_MAX_RECOVERIES); then it fails with
    a message (engine.jobs.worker_lost). For anything else, or a job that is no longer active, RQ
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
        runs = rq_job.meta.get("max_recoveries", 0) + 1  # set by engine.queue.enqueue
        logger.warning("Style job %s: its worker %s was lost, %s runs in all; failing it.", job.pk,
                       rq_job.worker_name or "?", runs)
        jobs.fail(job, jobs.worker_lost_error(runs))
    else:
        jobs.fail(job, GENERIC_ERROR)


# The (mode, network, fast init) of the jobs this worker process has run: their networks are loaded.
_NETWORKS_RUN: set[tuple[str, str, bool]] = set()


class _Run:
    """One execution of a job: loads its inputs, calls the engine, reports back."""

    def __init__(self, job: StyleJob):
        self.job = job
        self.redis = _fail_fast_redis()
        self.redis_retry_at = 0.0  # after a Redis error, the cancel check leaves Redis alone until then
        self.started = time.monotonic()
        self.last_saved = self.started
        self.epoch = self.step = 0
        self.resumed_from = 0  # the step a checkpoint let this run start after
        # A worker's first job of a network also loads it (and, the first of all, TensorFlow):
        # its time is not what such a job costs, and the estimates do not learn from it.
        network = (job.mode, _network_name(job), job.params.get("init") == "fast")
        self.warm = network in _NETWORKS_RUN
        _NETWORKS_RUN.add(network)
        # Set when the job's cancel flag is seen, or a progress update finds the row no longer
        # running; with the worker's own reason (engine.worker.stop_reason) it makes stop_reason().
        self.cancelled = False
        # Live events: loss points not yet published, when the last event went out, and the
        # engine's ETA at the last epoch (counted down between epochs).
        self.pending_losses: list[list[float]] = []
        self.last_published = self.started
        self.epoch_eta: tuple[float, float] | None = None  # (eta_seconds, monotonic time it was given)
        self.frames_per_second: float | None = None  # video jobs: this run's rate so far
        self.last_preview = self.started  # video jobs: when the page last got a frame
        self.chunk_frames = 0  # video jobs: frames per chunk (run_video sets it)

    def execute(self) -> None:
        job, params = self.job, self.job.engine_params()
        nst_device.reset_peak_rss()  # this job's own peak, in a worker that has run others
        if job.mode == Mode.VIDEO:
            self.run_video(params)
            return
        content, styles, style_keys = self.load_images(params.size)
        model_dir = settings.NST_MODEL_DIR
        if job.mode == Mode.FAST:
            stylizer = get_stylizer(params, model_dir, settings.NST_FAST_HUB_HANDLE)
            result = stylizer.stylize(content, styles, params, style_keys=style_keys)
            seconds = ", ".join(f"{name} {value:.2f} s" for name, value in result.seconds.items())
            history = LossHistory(events=[f"Fast mode, one forward pass: {seconds}."])
        else:
            result = self.run_classic(content, styles, params, model_dir, style_keys)
            history = result.history
        if worker.stop_reason() == StopReason.LEASE_LOST:  # the result may no longer be ours to write
            raise Stopped("The worker lost its lease on the job.")
        png = images.encode_png(result.image)
        job.finish(image_png=png, history=history, device=result.device, network=result.network,
                   seconds=time.monotonic() - self.started, measurements=self.measurements(result))

    def measurements(self, result) -> dict:
        """What this run cost, for the estimates (engine.cost_model): the peak memory, the result's
        size, and (classic) the steps and seconds of each scale of the plan."""
        levels: list[list[float]] = []  # [scale, steps, seconds]
        previous = level_start = 0.0
        for row in result.history.rows if self.job.mode == Mode.CLASSIC else []:
            if not levels or levels[-1][0] != row.scale:
                levels.append([row.scale, 0, 0.0])
                level_start = previous
            levels[-1][1] += 1
            levels[-1][2] = round(row.seconds - level_start, 4)
            previous = row.seconds
        return {"peak_bytes": nst_device.peak_rss(), "dims": list(result.image.shape[:2]),
                "precision": getattr(result, "precision", "float32"), "levels": levels,
                "resumed": self.resumed_from > 0, "warm": self.warm}

    def run_classic(self, content, styles, params, model_dir, style_keys=None):
        """From the job's checkpoint when it has one (a requeued or recovered job), else from the
        start. A checkpoint that cannot be used (unreadable, other engine version) costs the steps
        it held, never the job."""
        resume = self.checkpoint()
        kwargs = dict(model_dir=model_dir, on_step=self.on_step, on_epoch=self.on_epoch,
                      should_stop=self.should_stop, style_keys=style_keys)
        if resume is not None:
            self.step = self.resumed_from = resume.step  # where the engine goes on from
            try:
                return stylize_classic(content, styles, params, resume_from=resume, **kwargs)
            except ParameterError as exc:
                if self.step != resume.step:  # it failed later than the restore: a real error
                    raise
                self.step = self.resumed_from = 0
                logger.warning("Style job %s: checkpoint not usable (%s); starting again.", self.job.pk, exc)
        return stylize_classic(content, styles, params, **kwargs)

    def run_video(self, params) -> None:
        """A clip, frame by frame (engine.nst.video), in chunks under the job's folder: a resumed run
        (requeued, handed back, recovered from a dead worker) goes on after the last whole chunk."""
        job = self.job
        styles, _ = self.load_styles(params.size)
        work, out = video_work_dir(job), local_path(job_file_name(job, VIDEO_RESULT))
        kwargs = dict(stylizer=get_fast_stylizer(settings.NST_MODEL_DIR), work_dir=work, out=out,
                      on_frame=self.on_frame, on_chunk=self.on_chunk, should_stop=self.should_stop)
        source = local_path(job.content.name)
        self.chunk_frames = params.chunk_frames
        resume = self.checkpoint()
        try:
            self.step, self.epoch = (resume.frames, resume.chunks) if resume else (0, 0)
            result = stylize_video(source, styles, params, resume_from=resume, **kwargs)
        except ParameterError as exc:
            if resume is None or self.step != resume.frames:  # not the checkpoint: a real error
                raise
            logger.warning("Style job %s: video checkpoint not usable (%s); starting again.", job.pk, exc)
            self.step = 0
            clear_work(work)
            result = stylize_video(source, styles, params, **kwargs)
        if worker.stop_reason() == StopReason.LEASE_LOST:
            raise Stopped("The worker lost its lease on the job.")
        seconds = ", ".join(f"{name} {value:.2f} s" for name, value in result.seconds.items())
        history = LossHistory(events=[*result.events, f"Timings: {seconds}."])
        poster = images.encode_jpeg(result.poster, quality=85)
        if job.finish(result_name=job_file_name(job, VIDEO_RESULT), poster_jpeg=poster, history=history,
                      device=result.device, network=result.network, seconds=time.monotonic() - self.started):
            clear_work(work)

    def checkpoint(self) -> Checkpoint | VideoCheckpoint | None:
        if self.job.mode == Mode.FAST or not self.job.checkpoint:
            return None
        kind = VideoCheckpoint if self.job.mode == Mode.VIDEO else Checkpoint
        try:
            with self.job.checkpoint.open("rb") as fh:
                checkpoint = kind.from_bytes(fh.read())
        except (OSError, ParameterError) as exc:
            logger.warning("Style job %s: cannot read its checkpoint (%s); starting again.", self.job.pk, exc)
            return None
        logger.info("Style job %s resumes at step %s", self.job.pk, checkpoint.step)
        return checkpoint

    def load_images(self, size: int):
        """The content at the job's size, the styles, and the names under which the engine may
        cache what it computes from them (engine.nst's style_keys): a library painting's, with the
        side it is loaded at, so its style vector (fast mode) and its Gram targets (classic mode,
        per scale) are computed once per worker and size. Fast mode's predictor only ever sees
        a 256x256 image, so a library painting is loaded at one size there, whatever the job's."""
        with self.job.content.open("rb") as fh:
            content = images.load_array(fh, size)
        return (content, *self.load_styles(size))

    def load_styles(self, size: int) -> tuple[list, list[str | None]]:
        """The job's style images for a result of `size` px, and their cache names (see load_images)."""
        side = MIN_STYLE_SIDE if self.job.mode == Mode.FAST else max(size, MIN_STYLE_SIDE)
        styles, keys = [], []
        for style in self.job.styles.select_related("library_style"):
            library = style.library_style
            with style.image.open("rb") as fh:
                styles.append(images.load_array(fh, side if library else max(size, MIN_STYLE_SIDE)))
            keys.append(f"{library.cache_key}@{side}" if library else None)
        return styles, keys

    # --- engine callbacks -----------------------------------------------------------------------

    def stop_reason(self) -> StopReason | None:
        """The one stop signal: a lost lease first (nothing more may be written), then a cancel
        (the row says so, whatever else happens), then the worker's shutdown."""
        reason = worker.stop_reason()
        if reason == StopReason.LEASE_LOST:
            return reason
        return StopReason.CANCELLED if self.cancelled else reason

    def should_stop(self) -> bool:
        """The engine's check before every step: one Redis EXISTS (skipped for a while after a
        Redis error: the DB check in the next progress update still stops a cancelled run)."""
        worker.before_step(self.job.pk, self.step + 1)
        if not self.cancelled and time.monotonic() >= self.redis_retry_at:
            try:
                self.cancelled = queue.cancel_requested(self.redis, self.job)
            except RedisError:
                self.redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        return self.stop_reason() is not None

    def on_step(self, report: StepReport) -> None:
        self.epoch, self.step = report.epoch, report.step
        self.pending_losses.append(report.row.point())
        now = time.monotonic()
        if now - self.last_saved >= PROGRESS_INTERVAL:
            self.save_progress(epoch=report.epoch, step=report.step, eta_seconds=self.eta(report, now))
        # An epoch's last step is published by on_epoch, right after, with its preview.
        epoch_end = report.step % (report.total_steps // report.epochs) == 0
        if not epoch_end and not self.cancelled and now - self.last_published >= EVENT_INTERVAL:
            self.publish_progress(eta_seconds=self.eta(report, now))

    @staticmethod
    def preview_jpeg(image) -> bytes:
        return images.encode_jpeg(image, quality=PREVIEW_QUALITY, max_side=PREVIEW_SIDE)

    def on_epoch(self, report: EpochReport) -> None:
        self.save_progress(epoch=report.epoch, step=report.step, eta_seconds=report.eta_seconds,
                           preview=self.preview_jpeg(report.image), checkpoint=report.checkpoint().to_bytes())
        self.epoch_eta = (report.eta_seconds, time.monotonic())
        if not self.cancelled:  # the preview file exists now: its URL can go out
            self.publish_progress(eta_seconds=report.eta_seconds, preview_epoch=report.epoch)

    def on_frame(self, report) -> None:
        """A video frame done: progress saved at most every PROGRESS_INTERVAL, published at most every
        EVENT_INTERVAL (frames done of total, frames per second, ETA), and the frame itself as a
        preview when the page has had none for VIDEO_PREVIEW_SECONDS. No DB query per frame."""
        self.step = report.frame
        self.frames_per_second = report.fps
        now = time.monotonic()
        chunk_end = report.frame % self.chunk_frames == 0 or report.frame == report.frames
        if now - self.last_preview >= VIDEO_PREVIEW_SECONDS and not chunk_end:
            # Between chunks: the frame goes out as the preview of the chunk in progress.
            self.last_preview = now
            self.save_progress(epoch=self.epoch, step=report.frame, eta_seconds=report.eta_seconds,
                               preview=self.preview_jpeg(report.image), preview_epoch=self.epoch + 1)
            if not self.cancelled:
                self.publish_progress(eta_seconds=report.eta_seconds, preview_epoch=self.epoch + 1)
            return
        if now - self.last_saved >= PROGRESS_INTERVAL:
            self.save_progress(epoch=self.epoch, step=report.frame, eta_seconds=report.eta_seconds)
        if not self.cancelled and now - self.last_published >= EVENT_INTERVAL:
            self.publish_progress(eta_seconds=report.eta_seconds)

    def on_chunk(self, report) -> None:
        """A chunk is whole: its checkpoint and a preview of its last frame go to the row, the preview
        to the page."""
        self.epoch = report.chunk
        self.last_preview = time.monotonic()
        self.save_progress(epoch=report.chunk, step=report.checkpoint.frames, eta_seconds=self.job.eta_seconds,
                           preview=self.preview_jpeg(report.image), checkpoint=report.checkpoint.to_bytes())
        if not self.cancelled:
            self.publish_progress(eta_seconds=self.job.eta_seconds, preview_epoch=report.chunk)

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
        live.publish_progress(self.job, epoch=self.epoch, step=self.step, eta_seconds=eta_seconds,
                              losses=losses, preview_epoch=preview_epoch, fps=self.frames_per_second)

    def publish_end(self) -> None:
        """The job's final event (whatever ended it), with any loss points not yet published; or,
        for a job handed back to its queue (its worker is shutting down), its place in the queue."""
        losses, self.pending_losses = self.pending_losses, []
        if self.job.status == Status.QUEUED:
            live.publish_queue()
            return
        live.publish_final(self.job, losses)

    def save_progress(self, **kwargs) -> None:
        self.last_saved = time.monotonic()
        if not self.job.report_progress(**kwargs):
            self.cancelled = True

    def stopped(self, exc: Stopped) -> Retry | str | None:
        """The engine stopped before a step; act on why. A lost lease: write nothing, the job may be
        someone else's now (returns ABANDONED). A shutdown: hand the job back to its queue with the
        checkpoint (returns RQ's Retry). A cancel: keep the checkpoint for a later requeue."""
        reason = self.stop_reason() or StopReason.CANCELLED  # no reason left: a cancel flag set by hand
        checkpoint = exc.checkpoint
        step = checkpoint.step if checkpoint is not None else self.step
        if reason == StopReason.LEASE_LOST:
            logger.warning("Style job %s: abandoned after step %s (lease lost)", self.job.pk, self.step)
            return ABANDONED
        data = checkpoint.to_bytes() if checkpoint is not None else None
        if reason == StopReason.SHUTDOWN and jobs.hand_back(
                self.job, epoch=self.epoch or self.job.epoch, step=step, checkpoint=data):
            logger.info("Style job %s: back on its queue after step %s (worker shutting down)", self.job.pk, step)
            current = get_current_job()
            # Retry.max counts the job's earlier hand-backs too: this one must always be allowed.
            return Retry(max=(current.number_of_retries or 0) + 1 if current is not None else 1)
        self.job.cancel()  # already cancelled by whoever asked; this is for a flag set by hand
        self.job.record_stop(epoch=self.epoch, step=step, checkpoint=data)
        logger.info("Style job %s cancelled after step %s", self.job.pk, step)
        return None


def _fail_fast_redis() -> Redis:
    """A client for the per-step cancel check that gives up quickly when Redis does not answer (a
    network partition, a frozen server): the queue's client waits up to its socket timeout (a
    StyleWorker sets 40 s) and retries, which would hold up every engine step. A refused
    connection (Redis down) fails at once either way."""
    return Redis.from_url(settings.RQ_QUEUES["default"]["URL"], retry=RedisRetry(NoBackoff(), 0),
                          socket_connect_timeout=1, socket_timeout=2)


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
