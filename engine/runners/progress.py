"""The one progress reporter of a run, whatever its mode: a runner says what it has done (a unit,
a group's end with its preview and checkpoint) and this turns it into database rows, live events
and the stop signal, each at its own pace.

What reaches the database while a job runs: progress at most every PROGRESS_INTERVAL and at the end
of every group (with a small preview JPEG and the engine's checkpoint), never a query per unit.
What reaches the browsers (engine.live.updates, over the channel layer): progress at most every
EVENT_INTERVAL and at every group's end (with the loss points since the previous event, when the
mode has losses, and the URL of the new preview), then the end. A mode whose groups are long (a
video's chunk of 48 frames takes a minute at 1920 px) also hands over the latest unit's image: it
goes out as the preview of the group in progress at most every PREVIEW_INTERVAL. Publishing is
bounded and never raises on a Redis failure (engine.live.publisher).

The time left goes through `EtaSmoother` before it is saved or published: the runners' raw figures
jump as a run goes (classic's mean step time before its first epoch ends underestimates the finer
levels' steps; a video's frames/s settles after a few frames), and a page that went 38 s -> 18 s ->
27 s told the user nothing. It never shows more than a third above what it showed last.

The stop check the engine makes before every unit is one Redis EXISTS (engine.jobs.queue's cancel
flag), plus a flag set when a progress save finds the row no longer running (a cancel that could
not reach Redis), plus the worker's own reason (engine.jobs.worker.stop_reason: shutdown, lease lost).
"""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry

from engine.jobs import queue, worker
from engine.jobs.stopping import StopReason
from engine.live import updates as live
from engine.models import Status, StyleJob, announce
from engine.nst import Stopped, images
from engine.nst import device as nst_device
from engine.signals import job_group_done

PROGRESS_INTERVAL = 1.0   # seconds between progress saves within a group
EVENT_INTERVAL = 0.2      # seconds between live progress events within a group (at most ~5/s)
# A page gets the latest unit's image at least this often when the runner hands them over (a
# video: a chunk of 48 frames takes about 4 s at 480 px but a minute or more at 1920 px on 2 cores).
PREVIEW_INTERVAL = 4.0
REDIS_RETRY_SECONDS = 2.0  # the stop check's pause after Redis failed to answer
PREVIEW_SIDE = 384        # previews are for watching, not keeping
PREVIEW_QUALITY = 80


MAX_ETA_RISE = 4 / 3      # the time left shown never rises more than a third above the last one shown
ETA_BLEND = 0.3           # how far each new figure moves the one shown (the rest: the last one, counted down)


class EtaSmoother:
    """The time left as the job page shows it: each new figure from the runner moves the shown one
    (counted down since it was shown) by ETA_BLEND of the difference, and the result never rises
    more than MAX_ETA_RISE times the figure shown last. A group's end (an epoch, a chunk: the
    runner's considered figure) moves it all the way, within the same bound."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.shown: tuple[float, float] | None = None  # (seconds left, clock) as last shown

    def __call__(self, raw: float | None, *, considered: bool = False) -> float | None:
        if raw is None:
            return None
        now = self.clock()
        if self.shown is None:
            eta = raw
        else:
            shown, at = self.shown
            counted_down = max(0.0, shown - (now - at))
            eta = raw if considered else counted_down + ETA_BLEND * (raw - counted_down)
            eta = min(eta, shown * MAX_ETA_RISE)
        eta = max(0.0, eta)
        self.shown = (eta, now)
        return eta


def preview_jpeg(image: np.ndarray) -> bytes:
    return images.encode_jpeg(image, quality=PREVIEW_QUALITY, max_side=PREVIEW_SIDE)


class Progress:
    """Where one run of a job is (`unit` of its total, in `group`), and everything it reports."""

    def __init__(self, job: StyleJob, *, warm: bool = True):
        self.job = job
        self.warm = warm          # not this worker's first job of its network (see Runner.warm_for)
        self.redis = _fail_fast_redis()
        self.redis_retry_at = 0.0  # after a Redis error, the stop check leaves Redis alone until then
        self.started = time.monotonic()
        self.last_saved = self.last_published = self.last_preview = self.started
        self.group = self.unit = 0
        self.resumed_from = 0      # the unit a checkpoint let this run start after
        # Set when the job's cancel flag is seen, or a progress save finds the row no longer running.
        self.cancelled = False
        self.pending_losses: list[list[float]] = []  # loss points not yet published
        self.group_eta: tuple[float, float] | None = None  # (eta, monotonic time) at the last group's end
        self.rate: float | None = None  # units per second, for modes that measure it (video's frames/s)
        self.smooth_eta = EtaSmoother()

    # --- what the runner reports ------------------------------------------------------------------

    def resume_at(self, unit: int, group: int = 0) -> None:
        """The run goes on from a checkpoint after `unit` (0: it starts again from the beginning)."""
        self.unit = self.resumed_from = unit
        self.group = group

    def unit_done(self, unit: int, *, eta_seconds: float | None, group: int | None = None,
                  loss: list[float] | None = None, rate: float | None = None,
                  image: np.ndarray | None = None, group_end: bool = False) -> None:
        """A unit done (a step, a frame): saved at most every PROGRESS_INTERVAL, published at most
        every EVENT_INTERVAL; `image` (when the runner offers it) goes out as the preview of the
        group in progress at most every PREVIEW_INTERVAL. A group's last unit is published by
        group_done, right after, with its preview."""
        self.unit = unit
        self.group = self.group if group is None else group
        if loss is not None:
            self.pending_losses.append(loss)
        if rate is not None:
            self.rate = rate
        eta_seconds = self.smooth_eta(eta_seconds)
        now = time.monotonic()
        if image is not None and not group_end and now - self.last_preview >= PREVIEW_INTERVAL:
            self.last_preview = now
            self._save(eta_seconds=eta_seconds, preview=preview_jpeg(image), preview_group=self.group + 1)
            self._publish(eta_seconds=eta_seconds, preview_group=self.group + 1)
            return
        if now - self.last_saved >= PROGRESS_INTERVAL:
            self._save(eta_seconds=eta_seconds)
        if not group_end and now - self.last_published >= EVENT_INTERVAL:
            self._publish(eta_seconds=eta_seconds)

    def group_done(self, group: int, unit: int, *, image: np.ndarray, checkpoint: bytes | None,
                   eta_seconds: float | None = None) -> None:
        """A group is whole (an epoch, a chunk): its checkpoint and preview go to the row, the
        preview to the page. `eta_seconds` None: the last one saved stands."""
        self.group, self.unit = group, unit
        eta_seconds = self.job.eta_seconds if eta_seconds is None else self.smooth_eta(eta_seconds, considered=True)
        self.last_preview = time.monotonic()
        self._save(eta_seconds=eta_seconds, preview=preview_jpeg(image), checkpoint=checkpoint)
        self.group_eta = (eta_seconds, time.monotonic()) if eta_seconds is not None else None
        self._publish(eta_seconds=eta_seconds, preview_group=group)
        if not self.cancelled:
            announce(job_group_done, self.job, group=group)

    def eta(self, elapsed: float, unit: int, total: int) -> float | None:
        """The estimate given at the last group's end, counted down; before the first, the mean
        unit time so far times the units left (rough: classic's coarse-to-fine steps get slower)."""
        if self.group_eta is not None:
            eta, given_at = self.group_eta
            return max(0.0, eta - (time.monotonic() - given_at))
        if elapsed <= 0 or unit <= 0:
            return None
        return elapsed / unit * (total - unit)

    def ensure_still_ours(self) -> None:
        """Before the result is written: a worker that lost its lease may no longer write it."""
        if worker.stop_reason() == StopReason.LEASE_LOST:
            raise Stopped("The worker lost its lease on the job.")

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def measurements(self, **facts) -> dict:
        """What this run cost, for the estimates (engine.costs.cost_model): the worker's peak memory,
        whether it resumed and whether its network was loaded already, and the runner's `facts`."""
        return {"peak_bytes": nst_device.peak_rss(), **facts, "resumed": self.resumed_from > 0, "warm": self.warm}

    # --- the stop signal ---------------------------------------------------------------------------

    def stop_reason(self) -> StopReason | None:
        """A lost lease first (nothing more may be written), then a cancel (the row says so,
        whatever else happens), then the worker's shutdown."""
        reason = worker.stop_reason()
        if reason == StopReason.LEASE_LOST:
            return reason
        return StopReason.CANCELLED if self.cancelled else reason

    def should_stop(self) -> bool:
        """The engine's check before every unit: one Redis EXISTS (skipped for a while after a Redis
        error: the database check of the next progress save still stops a cancelled run)."""
        worker.before_step(self.job.pk, self.unit + 1)
        if not self.cancelled and time.monotonic() >= self.redis_retry_at:
            try:
                self.cancelled = queue.cancel_requested(self.redis, self.job)
            except RedisError:
                self.redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
        return self.stop_reason() is not None

    # --- the end -----------------------------------------------------------------------------------

    def publish_end(self) -> None:
        """The job's final event (whatever ended it), with any loss points not yet published; or,
        for a job handed back to its queue (its worker is shutting down), its place in the queue."""
        losses, self.pending_losses = self.pending_losses, []
        if self.job.status == Status.QUEUED:
            live.publish_queue()
            return
        live.publish_final(self.job, losses)

    def close(self) -> None:
        self.redis.close()

    # --- the row and the page ----------------------------------------------------------------------

    def _save(self, *, eta_seconds: float | None, preview: bytes | None = None, checkpoint: bytes | None = None,
              preview_group: int | None = None) -> None:
        self.last_saved = time.monotonic()
        if not self.job.report_progress(epoch=self.group, step=self.unit, eta_seconds=eta_seconds, preview=preview,
                                        checkpoint=checkpoint, preview_epoch=preview_group):
            self.cancelled = True

    def _publish(self, *, eta_seconds: float | None, preview_group: int | None = None) -> None:
        if self.cancelled:  # its final event follows once the engine has stopped
            return
        self.last_published = time.monotonic()
        losses, self.pending_losses = self.pending_losses, []
        live.publish_progress(self.job, epoch=self.group, step=self.unit, eta_seconds=eta_seconds, losses=losses,
                              preview_epoch=preview_group, fps=self.rate)


def _fail_fast_redis() -> Redis:
    """A client for the per-unit stop check that gives up quickly when Redis does not answer (a
    network partition, a frozen server): the queue's client waits up to its socket timeout (a
    StyleWorker sets 40 s) and retries, which would hold up every engine step. A refused
    connection (Redis down) fails at once either way."""
    return Redis.from_url(settings.RQ_QUEUES["default"]["URL"], retry=RedisRetry(NoBackoff(), 0),
                          socket_connect_timeout=1, socket_timeout=2)
