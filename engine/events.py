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
Messages go out from one sending thread per process (see "publishing" below), each publish with
PUBLISH_TIMEOUT in all; after a failure, publishing pauses (1 s, then doubling up to 30 s) so a
Redis that is gone costs at most one timeout per pause. Events are only a view of the database: a
page that missed some gets the truth in its next snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse
from redis import asyncio as aioredis
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


# --- publishing -----------------------------------------------------------------------------------
# Not async_to_sync(group_send) per event, the textbook way: that starts a thread, an event loop and
# a Redis connection for every call, and it blocked the engine 9-13 ms per event on this machine
# (bench/bench_live.py). One long-lived event loop per process, in a daemon thread, keeps its Redis
# connections and sends the messages in the order they were published; a worker's engine thread
# only hands them over (microseconds). The events that end something (a job's end, a queue move)
# wait until they are sent, bounded, so a worker in burst mode cannot exit before its last event.

class _Backoff:
    """After a failed publish, skip publishing for a while (doubling), so a dead Redis costs at
    most one PUBLISH_TIMEOUT per pause, not one per event."""

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


PUBLISH_ERRORS = (RedisError, OSError, TimeoutError)
WAIT_TIMEOUT = PUBLISH_TIMEOUT + 1.0   # how long a waiting publish waits for its turn and its send
QUEUE_LIMIT = 1000                     # messages waiting in a process; beyond, new ones are dropped


@dataclass
class _Batch:
    """Messages published together, with the loss points to record first."""
    layer: object
    messages: list[tuple[str, dict]]
    redis_url: str = ""
    losses_key: str = ""
    losses: list[list[float]] = field(default_factory=list)
    sent: Future = field(default_factory=Future)   # True once Redis took them, False if dropped


class _Publisher:
    """The process's sending loop (see above). Everything after submit() runs in its thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[_Batch] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        # Per channel layer object: Channels makes a new one when CHANNEL_LAYERS changes (tests do),
        # and a pause earned against one Redis must not silence another.
        self.backoffs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.redis: dict[str, aioredis.Redis] = {}
        threading.Thread(target=self.loop.run_until_complete, args=(self.sender(),),
                         name="nst-live-events", daemon=True).start()

    def submit(self, batch: _Batch) -> None:
        self.loop.call_soon_threadsafe(self.put, batch)

    def put(self, batch: _Batch) -> None:
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            batch.sent.set_result(False)  # Redis is far behind: pages catch up with their next snapshot

    async def sender(self) -> None:
        while True:
            batch = await self.queue.get()
            try:
                sent = await self.deliver(batch)
            except Exception:  # a bug, not Redis: say so, and keep the loop alive for the next events
                logger.exception("Live job events could not be sent")
                sent = False
            batch.sent.set_result(sent)

    async def deliver(self, batch: _Batch) -> bool:
        if not batch.messages:
            return True  # flush(): everything before it has been dealt with
        backoff = self.backoffs.setdefault(batch.layer, _Backoff())
        if not backoff.ready():
            return False
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await _send_now(batch, self.redis)
        except PUBLISH_ERRORS as exc:
            pause = backoff.failed()
            log = logger.warning if backoff.failures == 1 else logger.debug
            log("Could not publish live job events (%s: %s); pausing them for %.0f s.",
                type(exc).__name__, exc or "timed out", pause)
            return False
        backoff.succeeded()
        return True


async def _send_now(batch: _Batch, clients: dict) -> None:
    # The losses go into the job's list before the event goes out: a page that connects in between
    # finds them in its snapshot (and drops the event's copy), rather than missing them.
    if batch.losses:
        client = clients.get(batch.redis_url) or clients.setdefault(
            batch.redis_url, aioredis.Redis.from_url(batch.redis_url, socket_connect_timeout=PUBLISH_TIMEOUT))
        pipe = client.pipeline(transaction=False)
        pipe.rpush(batch.losses_key, json.dumps(batch.losses))
        pipe.expire(batch.losses_key, LOSSES_TTL)
        await pipe.execute()
    await _group_send_all(batch.layer, batch.messages)


async def _group_send_all(layer, messages: Iterable[tuple[str, dict]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _get_publisher() -> _Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():  # a forked child has no such thread
            _publisher = _Publisher()
        return _publisher


def flush(timeout: float = WAIT_TIMEOUT) -> bool:
    """Wait until everything this process published so far has been sent (or dropped)."""
    batch = _Batch(layer=None, messages=[])
    _get_publisher().submit(batch)
    try:
        return batch.sent.result(timeout=timeout)
    except FutureTimeout:
        return False


def _messages(job_pk: int, owner_pk: int, event: dict) -> list[tuple[str, dict]]:
    """The event for the job's page, and its status line for the owner's "my jobs" page."""
    return [(job_group(job_pk), {"type": "job.event", "event": event}),
            (user_group(owner_pk), {"type": "job.event", "event": status_line(event)})]


def _submit(messages: list[tuple[str, dict]], *, job: StyleJob | None = None,
            losses: list[list[float]] | None = None, wait: bool = False) -> bool:
    """Hand messages (and `job`'s new loss points) to the sending loop. With wait, True once Redis
    took them (False if it did not within WAIT_TIMEOUT); without, True once they are queued."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return False
    now = time.time() * 1000  # when the worker published: the latency clock starts here
    for _, message in messages:
        message["event"]["sent_at"] = now
    batch = _Batch(layer, messages)
    if job is not None and losses:
        batch.redis_url, batch.losses_key, batch.losses = settings.REDIS_URL, losses_key(job), losses
    _get_publisher().submit(batch)
    if not wait:
        return True
    try:
        return batch.sent.result(timeout=WAIT_TIMEOUT)
    except FutureTimeout:
        return False


def _publish(job: StyleJob, event: dict, losses: list[list[float]] | None = None, wait: bool = False) -> bool:
    return _submit(_messages(job.pk, job.owner_id, event), job=job, losses=losses, wait=wait)


def publish_started(job: StyleJob) -> bool:
    return _publish(job, started_event(job))


def publish_progress(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                     losses: list[list[float]], preview_epoch: int | None = None) -> bool:
    """Queued for sending; returns at once (the engine's thread does not wait for Redis)."""
    event = progress_event(job, epoch=epoch, step=step, eta_seconds=eta_seconds, losses=losses,
                           preview_epoch=preview_epoch)
    return _publish(job, event, losses)


def publish_final(job: StyleJob, losses: list[list[float]] | None = None) -> bool:
    """The job's end (finished, failed or cancelled), as its row says now; nothing while active.
    Waits until it is sent (at most WAIT_TIMEOUT)."""
    event = final_event(job, losses)
    if event is None:
        return False
    ok = _publish(job, event, losses, wait=True)
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
    return len(estimates) if _submit(messages, wait=True) else 0
