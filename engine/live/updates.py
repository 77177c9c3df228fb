"""Telling browsers about jobs: gathers what an event needs (the losses so far, a queue estimate),
builds it (engine.live.events), renders the parts of the job's page that changed (engine.live.job_page: once
per audience, here, where the job's row is at hand, rather than once per watching socket) and hands
it to the process's sending thread (engine.live.publisher).

Called by the worker's task (started, progress, the end), by the job service (a job queued,
cancelled or moved) and by the socket consumers (a snapshot on connect).

A running job's loss points (classic mode's: the others have none) also go to a Redis list
(`nst:losses:<uuid>`), one element per progress event, for the snapshot of a page that opens (or
reconnects) mid-run. Chosen over a file rewritten each epoch because it is complete up to the last
event (a file would miss the points since the last epoch), costs one RPUSH per event whatever the
history's length, and is reachable from web and workers on other machines alike. A succeeded job's
snapshot reads its history file instead, and the list goes; the others' lists expire.
"""

from __future__ import annotations

import json
import logging
import time

from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from engine.costs.estimates import estimate_queue, estimate_queued_jobs
from engine.jobs import queue
from engine.live import events, job_page, publisher
from engine.models import Status, StyleJob
from engine.nst import LossHistory

logger = logging.getLogger(__name__)

QUEUE_UPDATES = 50             # queued jobs told their new position when the queue moves
LOSSES_TTL = 2 * 24 * 3600


def losses_key(job: StyleJob) -> str:
    return f"nst:losses:{job.uuid.hex}"


def losses_so_far(job: StyleJob) -> list[list[float]]:
    """Every loss point of the job up to its last event, one per step (a resumed run's repeated
    steps: the newest value); [] when none are known (a mode without losses, or Redis is down). A
    succeeded job's are in its history file when it has any (its loss plot is drawn from them)."""
    if job.status == Status.SUCCEEDED:
        if not (job.plot and job.history):
            return []
        with job.history.open("rb") as fh:
            return LossHistory.from_dict(json.loads(fh.read())).points()
    try:
        batches = queue.redis_connection().lrange(losses_key(job), 0, -1)
    except RedisError:
        logger.warning("Redis unreachable: no loss history for the snapshot of job %s", job.pk)
        return []
    by_step = {point[0]: point for batch in batches for point in json.loads(batch)}
    return [by_step[step] for step in sorted(by_step)]


def snapshot(job: StyleJob, audience: str) -> dict:
    """The job's whole current state (engine.live.events.snapshot) with what it needs gathered, and the
    whole page's state partials as `audience` sees them (``html``; forms with
    engine.live.job_page.CSRF_PLACEHOLDER for their token)."""
    estimate = estimate_queue(job) if job.status == Status.QUEUED else None
    event = events.snapshot(job, losses=losses_so_far(job), estimate=estimate)
    fragments = job_page.render(job, job_page.EVERYTHING, (audience,), estimate=estimate)
    event["html"] = job_page.for_audience(fragments, audience)
    return event


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


def _publish(job: StyleJob, event: dict, parts: tuple[str, ...], *, losses: list[list[float]] | None = None,
             wait: bool = False, progress: job_page.ProgressState | None = None, **render_kwargs) -> bool:
    fragments = job_page.render(job, parts, progress=progress, **render_kwargs)
    messages = events.messages_for(job.pk, job.owner_id, event, fragments, job_page.list_entry(job, progress))
    return _submit(messages, job=job, losses=losses, wait=wait)


def publish_started(job: StyleJob) -> bool:
    return _publish(job, events.started_event(job), job_page.STARTED)


def publish_progress(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                     losses: list[list[float]], preview_epoch: int | None = None, fps: float | None = None) -> bool:
    """Queued for sending; returns at once (the engine's thread does not wait for Redis)."""
    progress = events.progress_state(job, epoch=epoch, step=step, eta_seconds=eta_seconds, fps=fps)
    event = events.progress_event(job, progress, losses=losses, preview_epoch=preview_epoch)
    parts = job_page.PROGRESS if preview_epoch is None else job_page.NEW_PREVIEW
    return _publish(job, event, parts, losses=losses, progress=progress)


def publish_final(job: StyleJob, losses: list[list[float]] | None = None, *, stopping: bool = False) -> bool:
    """The job's end (finished, failed or cancelled), as its row says now; nothing while active.
    stopping: a running job's cancel, before its worker has stopped (engine.live.events.final_event).
    Waits until it is sent (at most publisher.WAIT_TIMEOUT)."""
    # The row as it is now, not the caller's copy: the owner may have published the job, or made it
    # share its originals, while it ran, and the page's end must say what a reload would.
    job = StyleJob.objects.select_related("owner").filter(pk=job.pk).first()
    event = events.final_event(job, losses, stopping=stopping) if job is not None else None
    if event is None:
        return False
    ok = _publish(job, event, job_page.EVERYTHING, losses=losses, wait=True, stopping=stopping)
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
    queued = StyleJob.objects.in_bulk([pk for pk, _, _ in estimates])  # one query for all their fragments
    messages = []
    for pk, _, estimate in estimates:
        job = queued.get(pk)
        if job is None:  # deleted in between
            continue
        fragments = job_page.render(job, job_page.QUEUED, estimate=estimate)
        messages += events.messages_for(pk, job.owner_id, events.queued_event(job, estimate), fragments,
                                        job_page.list_entry(job))
    return len(estimates) if _submit(messages, wait=True) else 0


# --- access ----------------------------------------------------------------------------------------

def _control(group: str, message: dict) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    return publisher.submit(publisher.Batch(layer, [(group, dict(message))]), wait=True)


def publish_access_changed(job_pk: int) -> bool:
    """Who may watch the job changed (gallery.publishing: published or made private): every socket
    on its page checks again, and those no longer allowed are closed (engine.live.consumers)."""
    return _control(events.job_group(job_pk), events.ACCESS_CHANGED)


def close_session_sockets(sender, request, user, **kwargs) -> None:
    """django.contrib.auth's user_logged_out receiver: the sockets opened with this session close
    (a page then reconnects as whoever it is now, and is told only what they may see)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _control(events.session_group(session_key), events.SESSION_ENDED)
