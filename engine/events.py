"""Live job events: what a job's page and its owner's "my jobs" page are told, and how a worker
(or the web process, for queue moves and cancels) tells them.

Two kinds of channel-layer group (Channels' "Using Outside Of Consumers"):

- ``job_<pk>``: the job page's sockets (engine.consumers.JobConsumer). Every event, in full:
  queued (position, ETA), started (worker, device, network), progress (epoch/step, the losses
  since the previous event, ETA, the URL of a new epoch preview), finished (result and download
  URLs), failed (message), cancelled. A socket gets a ``snapshot`` first, built from the database.
- ``jobs_user_<owner pk>``: the owner's "my jobs" sockets (MyJobsConsumer). One compact status
  line per event, so a list of jobs follows all of them over one socket.

Messages carry numbers and URLs, never image bytes; every event has ``sent_at`` (ms since the
epoch, stamped when it is published) so the latency to a browser can be measured.

Publishing is best effort and bounded: a dead or hung Redis must neither stall nor crash a job.
Each publish has PUBLISH_TIMEOUT in all; after a failure, publishing pauses (1 s, then doubling
up to 30 s) so a job spends at most one timeout per pause on a Redis that is gone. Events are
only a view of the database: a page that missed some gets the truth in its next snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse
from redis.exceptions import RedisError

from . import queue
from .models import Mode, Status, StyleJob, job_file_name

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 0.5          # seconds for one publish (all its group sends) before it is dropped
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
QUEUE_UPDATES = 50             # queued jobs told their new position when the queue moves
# Losses of a running job, for the snapshot of a page that opens (or reconnects) mid-run: a Redis
# list per job, one element per progress event (the JSON of that event's loss points). Chosen over
# a file rewritten each epoch because it is complete up to the last event (a file would miss the
# points since the last epoch), costs one RPUSH per event whatever the history's length, and is
# reachable from web and workers on other machines alike. A succeeded job's snapshot reads its
# history file instead, and the list goes; the others' lists expire.
LOSSES_TTL = 2 * 24 * 3600
_PREVIEW_NAME = re.compile(r"preview-e(\d+)\.jpg$")


def job_group(pk: int) -> str:
    return f"job_{pk}"


def user_group(user_pk: int) -> str:
    return f"jobs_user_{user_pk}"


def losses_key(job: StyleJob) -> str:
    return f"nst:losses:{job.uuid.hex}"


# --- building events ----------------------------------------------------------------------------

def loss_point(row) -> list[float]:
    """One step of a LossRow as [step, content, style, tv, total] (compact: up to 10,000 a job)."""
    return [row.step, row.content, row.style, row.tv, row.total]


def preview_file(job: StyleJob, epoch: int) -> str:
    """Storage name of an epoch's preview (as StyleJob.report_progress writes it)."""
    return job_file_name(job, f"preview-e{epoch:02d}.jpg")


def preview_epochs(job: StyleJob) -> list[int]:
    """Epochs whose preview exists: 1 .. the epoch of the latest one. StyleJob.report_progress
    writes each epoch's preview as jobs/<uuid>/preview-eNN.jpg and points `preview` at the newest."""
    match = _PREVIEW_NAME.search(job.preview.name or "")
    return list(range(1, int(match.group(1)) + 1)) if match else []


def preview_url(job: StyleJob, epoch: int) -> str:
    # ?s=<step> keeps a browser from showing an older file of the same epoch (a resumed run).
    return f"{reverse('engine:preview', args=[job.pk, epoch])}?s={job.step}"


def previews(job: StyleJob) -> list[dict]:
    return [{"epoch": n, "url": preview_url(job, n)} for n in preview_epochs(job)]


def job_state(job: StyleJob, kind: str = "state") -> dict:
    """The fields every event about a job starts from."""
    return {
        "event": kind, "job": job.pk, "status": job.status, "status_label": Status(job.status).label,
        "mode": job.mode, "epoch": job.epoch, "epochs": job.epochs, "step": job.step,
        "total_steps": job.total_steps, "progress_percent": job.progress_percent,
    }


def _queue_fields(estimate: queue.QueueEstimate) -> dict:
    return {"position": estimate.position, "workers": estimate.workers,
            "wait_seconds": estimate.wait_seconds, "finish_seconds": estimate.finish_seconds,
            "run_seconds": estimate.run_seconds}


def started_event(job: StyleJob) -> dict:
    return {**job_state(job, "started"), "worker": job.worker, "device": job.device, "network": job.network}


def progress_event(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                   losses: list[list[float]], preview_epoch: int | None = None) -> dict:
    event = {**job_state(job, "progress"), "epoch": epoch, "step": step, "eta_seconds": eta_seconds,
             "losses": losses, "preview": None}
    event["progress_percent"] = min(100, round(100 * step / job.total_steps)) if job.total_steps else 0
    if preview_epoch is not None:
        event["preview"] = {"epoch": preview_epoch, "url": preview_url(job, preview_epoch)}
    return event


def final_event(job: StyleJob, losses: list[list[float]] | None = None) -> dict | None:
    """finished / failed / cancelled, from the job's row; None while it is still active."""
    kinds = {Status.SUCCEEDED: "finished", Status.FAILED: "failed", Status.CANCELLED: "cancelled"}
    if job.status not in kinds:
        return None
    event = {**job_state(job, kinds[job.status]), "losses": losses or []}
    event.update(_final_fields(job))
    return event


def _final_fields(job: StyleJob) -> dict:
    from .views import download_links  # views import this module's helpers too

    if job.status == Status.FAILED:
        return {"message": job.error}
    if job.status != Status.SUCCEEDED:
        return {}
    return {
        "result_url": reverse("engine:download", args=[job.pk, "png"]) + "?inline=1",
        "plot_url": reverse("engine:download", args=[job.pk, "plot"]) + "?inline=1" if job.plot else None,
        "downloads": [{"kind": kind, "label": label, "url": reverse("engine:download", args=[job.pk, kind])}
                      for kind, label in download_links(job)],
        "run_seconds": job.run_seconds, "device": job.device, "network": job.network,
    }


def snapshot(job: StyleJob, estimate: queue.QueueEstimate | None = None) -> dict:
    """The whole current state, for a socket that has just connected (and for the page itself):
    what a page that was open all along would know by now."""
    event = {**job_state(job, "snapshot"), "eta_seconds": job.eta_seconds, "worker": job.worker,
             "device": job.device, "network": job.network, "previews": previews(job),
             "losses": losses_so_far(job), "queue": None}
    if job.status == Status.QUEUED:
        event["queue"] = _queue_fields(estimate or queue.estimate_queue(job))
    event.update(_final_fields(job))
    return event


def status_line(event: dict) -> dict:
    """The compact form of an event for the owner's "my jobs" page."""
    keys = ("event", "job", "status", "status_label", "mode", "epoch", "epochs", "step", "total_steps",
            "progress_percent", "sent_at")
    return {k: event[k] for k in keys if k in event}


# --- losses of a running job ----------------------------------------------------------------------

def losses_so_far(job: StyleJob) -> list[list[float]]:
    """Every loss point of the job up to its last event, one per step (a resumed run's repeated
    steps: the newest value). Classic jobs only; [] when none are known (or Redis is down)."""
    if job.mode != Mode.CLASSIC:
        return []
    if job.status == Status.SUCCEEDED and job.history:
        with job.history.open("rb") as fh:
            rows = json.loads(fh.read()).get("rows", [])
        return [[r["step"], r["content"], r["style"], r["tv"], r["total"]] for r in rows]
    try:
        batches = queue.redis_connection().lrange(losses_key(job), 0, -1)
    except RedisError:
        logger.warning("Redis unreachable: no loss history for the snapshot of job %s", job.pk)
        return []
    by_step = {point[0]: point for batch in batches for point in json.loads(batch)}
    return [by_step[step] for step in sorted(by_step)]


def _record_losses(job: StyleJob, losses: list[list[float]]) -> None:
    pipe = queue.redis_connection().pipeline(transaction=False)
    pipe.rpush(losses_key(job), json.dumps(losses))
    pipe.expire(losses_key(job), LOSSES_TTL)
    pipe.execute()


# --- publishing -----------------------------------------------------------------------------------

class _Backoff:
    """After a failed publish, skip publishing for a while (doubling), so a dead Redis costs a job
    at most one PUBLISH_TIMEOUT per pause, not one per event."""

    def __init__(self) -> None:
        self.failures, self.until = 0, 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.until

    def failed(self) -> float:
        self.failures += 1
        pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
        self.until = time.monotonic() + pause
        return pause

    def succeeded(self) -> None:
        if self.failures:
            logger.info("Live job events reach Redis again.")
        self.failures, self.until = 0, 0.0


# Per channel layer object: Channels makes a new one when CHANNEL_LAYERS changes (tests do), and
# a pause earned against one Redis must not silence another.
_backoffs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PUBLISH_ERRORS = (RedisError, OSError, TimeoutError)


def _messages(job_pk: int, owner_pk: int, event: dict) -> list[tuple[str, dict]]:
    """The event for the job's page, and its status line for the owner's "my jobs" page."""
    return [(job_group(job_pk), {"type": "job.event", "event": event}),
            (user_group(owner_pk), {"type": "job.event", "event": status_line(event)})]


def _send(messages: list[tuple[str, dict]], job: StyleJob | None = None,
          losses: list[list[float]] | None = None) -> bool:
    """Record `job`'s new loss points, then send all messages (one event loop, one connection,
    PUBLISH_TIMEOUT in all). True when Redis took them; False (logged) when it did not."""
    layer = get_channel_layer()
    if layer is None:
        return False
    backoff = _backoffs.setdefault(layer, _Backoff())
    if not backoff.ready():
        return False
    try:
        if job is not None and losses:
            _record_losses(job, losses)
        now = time.time() * 1000
        for _, message in messages:
            message["event"]["sent_at"] = now
        _run_to_completion(_group_send_all, layer, messages)
    except PUBLISH_ERRORS as exc:
        pause = backoff.failed()
        log = logger.warning if backoff.failures == 1 else logger.debug
        log("Could not publish live job events (%s: %s); pausing them for %.0f s.",
            type(exc).__name__, exc, pause)
        return False
    backoff.succeeded()
    return True


def _publish(job: StyleJob, event: dict, losses: list[list[float]] | None = None) -> bool:
    return _send(_messages(job.pk, job.owner_id, event), job, losses)


def _run_to_completion(coroutine_function, *args) -> None:
    """async_to_sync, which runs the coroutine on an event loop of its own in another thread; but
    AsyncToSync refuses a thread that runs an event loop itself (e.g. a test driving a browser with
    Playwright's sync API while a worker runs in-process), so such a thread gets the same by hand."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(coroutine_function)(*args)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine_function(*args)).result()


async def _group_send_all(layer, messages: Iterable[tuple[str, dict]]) -> None:
    async with asyncio.timeout(PUBLISH_TIMEOUT):
        for group, message in messages:
            await layer.group_send(group, message)


def publish_started(job: StyleJob) -> bool:
    return _publish(job, started_event(job))


def publish_progress(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                     losses: list[list[float]], preview_epoch: int | None = None) -> bool:
    event = progress_event(job, epoch=epoch, step=step, eta_seconds=eta_seconds, losses=losses,
                           preview_epoch=preview_epoch)
    return _publish(job, event, losses)


def publish_final(job: StyleJob, losses: list[list[float]] | None = None) -> bool:
    """The job's end (finished, failed or cancelled), as its row says now; nothing while active."""
    event = final_event(job, losses)
    if event is None:
        return False
    ok = _publish(job, event, losses)
    if ok and job.status == Status.SUCCEEDED:
        try:
            queue.redis_connection().delete(losses_key(job))  # the history file has them all now
        except RedisError:
            pass  # it expires
    return ok


def publish_queue() -> int:
    """The queue moved (a job entered, started or was cancelled): tell the first QUEUE_UPDATES
    queued jobs their position and ETA, in one publish. Returns how many were told."""
    try:
        estimates = queue.estimate_queued_jobs(QUEUE_UPDATES)
    except RedisError:
        return 0
    messages = []
    for pk, owner_pk, estimate in estimates:
        event = {"event": "queued", "job": pk, "status": Status.QUEUED, "status_label": Status.QUEUED.label,
                 "queue": _queue_fields(estimate)}
        messages += _messages(pk, owner_pk, event)
    return len(estimates) if messages and _send(messages) else 0
