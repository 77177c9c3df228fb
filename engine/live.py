"""Telling browsers about jobs: gathers what an event needs (the losses so far, a queue estimate),
builds it (engine.events) and hands it to the process's sending thread (engine.publisher).

Called by the worker's task (started, progress, the end), by the job service (a job queued,
cancelled or moved) and by the socket consumers (a snapshot on connect).

A running classic job's loss points also go to a Redis list (`nst:losses:<uuid>`), one element per
progress event, for the snapshot of a page that opens (or reconnects) mid-run. Chosen over a file
rewritten each epoch because it is complete up to the last event (a file would miss the points
since the last epoch), costs one RPUSH per event whatever the history's length, and is reachable
from web and workers on other machines alike. A succeeded job's snapshot reads its history file
instead, and the list goes; the others' lists expire.
"""

from __future__ import annotations

import json
import logging
import time

from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from engine.nst import LossHistory

from . import events, publisher, queue
from .estimates import estimate_queue, estimate_queued_jobs
from .models import Mode, Status, StyleJob

logger = logging.getLogger(__name__)

QUEUE_UPDATES = 50             # queued jobs told their new position when the queue moves
LOSSES_TTL = 2 * 24 * 3600


def losses_key(job: StyleJob) -> str:
    return f"nst:losses:{job.uuid.hex}"


def losses_so_far(job: StyleJob) -> list[list[float]]:
    """Every loss point of the job up to its last event, one per step (a resumed run's repeated
    steps: the newest value). Classic jobs only; [] when none are known (or Redis is down)."""
    if job.mode != Mode.CLASSIC:
        return []
    if job.status == Status.SUCCEEDED and job.history:
        with job.history.open("rb") as fh:
            return LossHistory.from_dict(json.loads(fh.read())).points()
    try:
        batches = queue.redis_connection().lrange(losses_key(job), 0, -1)
    except RedisError:
        logger.warning("Redis unreachable: no loss history for the snapshot of job %s", job.pk)
        return []
    by_step = {point[0]: point for batch in batches for point in json.loads(batch)}
    return [by_step[step] for step in sorted(by_step)]


def snapshot(job: StyleJob) -> dict:
    """The job's whole current state (engine.events.snapshot) with what it needs gathered."""
    estimate = estimate_queue(job) if job.status == Status.QUEUED else None
    return events.snapshot(job, losses=losses_so_far(job), estimate=estimate)


# --- publishing ------------------------------------------------------------------------------------

def _submit(messages: list[tuple[str, dict]], *, job: StyleJob | None = None,
            losses: list[list[float]] | None = None, wait: bool = False) -> bool:
    """Hand messages (and `job`'s new loss points) to the sending thread; see publisher.submit."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return False
    now = time.time() * 1000  # when it was published: the latency clock starts here
    for _, message in messages:
        message["event"]["sent_at"] = now
    batch = publisher.Batch(layer, messages)
    if job is not None and losses:
        batch.redis_url, batch.list_key, batch.list_ttl, batch.items = (
            settings.REDIS_URL, losses_key(job), LOSSES_TTL, losses)
    return publisher.submit(batch, wait=wait)


def _publish(job: StyleJob, event: dict, losses: list[list[float]] | None = None, wait: bool = False) -> bool:
    return _submit(events.messages_for(job.pk, job.owner_id, event), job=job, losses=losses, wait=wait)


def publish_started(job: StyleJob) -> bool:
    return _publish(job, events.started_event(job))


def publish_progress(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                     losses: list[list[float]], preview_epoch: int | None = None, fps: float | None = None) -> bool:
    """Queued for sending; returns at once (the engine's thread does not wait for Redis)."""
    event = events.progress_event(job, epoch=epoch, step=step, eta_seconds=eta_seconds, losses=losses,
                                  preview_epoch=preview_epoch, fps=fps)
    return _publish(job, event, losses)


def publish_final(job: StyleJob, losses: list[list[float]] | None = None, *, stopping: bool = False) -> bool:
    """The job's end (finished, failed or cancelled), as its row says now; nothing while active.
    stopping: a running job's cancel, before its worker has stopped (engine.events.final_event).
    Waits until it is sent (at most publisher.WAIT_TIMEOUT)."""
    event = events.final_event(job, losses, stopping=stopping)
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
        estimates = estimate_queued_jobs(QUEUE_UPDATES)
    except RedisError:
        return 0
    messages = []
    for pk, owner_pk, estimate in estimates:
        messages += events.messages_for(pk, owner_pk, events.queued_event(pk, estimate))
    return len(estimates) if _submit(messages, wait=True) else 0


# --- access ----------------------------------------------------------------------------------------

def _control(group: str, message: dict) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    return publisher.submit(publisher.Batch(layer, [(group, dict(message))]), wait=True)


def publish_access_changed(job_pk: int) -> bool:
    """Who may watch the job changed (gallery.publishing: published or made private): every socket
    on its page checks again, and those no longer allowed are closed (engine.consumers)."""
    return _control(events.job_group(job_pk), events.ACCESS_CHANGED)


def close_session_sockets(sender, request, user, **kwargs) -> None:
    """django.contrib.auth's user_logged_out receiver: the sockets opened with this session close
    (a page then reconnects as whoever it is now, and is told only what they may see)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _control(events.session_group(session_key), events.SESSION_ENDED)
