"""Live job events: what a job's page and its owner's lists are told. Pure builders: each takes a
job (and what the caller has gathered: losses, a queue estimate, the rendered fragments) and
returns a dict; engine.live.updates gathers, renders (engine.live.job_page) and publishes them, engine.live.consumers
sends the snapshot.

Two kinds of channel-layer group (Channels' "Using Outside Of Consumers"):

- ``job_<pk>``: the job page's sockets (engine.live.consumers.JobConsumer). Every event: queued,
  started, progress (epoch/step, the losses since the previous event, ETA, a new epoch preview),
  finished, failed (message), cancelled. A socket gets a ``snapshot`` first, built from the
  database. Each message carries the event's numbers and the page's fragments that changed
  (engine.live.job_page.render: {"all": ..., "owner": ..., "staff": ..., "public": ...}); the consumer
  sends a socket the numbers with its audience's fragments as one string, ``html``.
- ``jobs_user_<owner pk>``: the owner's "my jobs" and batch pages' sockets (MyJobsConsumer). One
  compact status line per event, with the job's entry in those lists as ``html``, so a list of jobs
  follows all of them over one socket.

Control messages (ACCESS_CHANGED to ``job_<pk>``, SESSION_ENDED to ``session_<hash>``, the group of
the sockets of one log-in session) make the consumers check again who may watch, or close.

Messages carry numbers, URLs and markup, never image bytes, and never where a job runs: the worker
and device are in the fragments of those who may see them only. Loss points are engine.nst.history's
POINT_FIELDS lists. Every published event has ``sent_at`` (ms since the epoch, stamped when it is
published) so the latency to a browser can be measured.
"""

from __future__ import annotations

import hashlib

from engine.costs.estimates import QueueEstimate
from engine.live.job_page import ProgressState, preview_url, previews
from engine.models import Status, StyleJob

FINAL_EVENTS = {Status.SUCCEEDED: "finished", Status.FAILED: "failed", Status.CANCELLED: "cancelled"}
STATUS_LINE_KEYS = ("event", "job", "status", "status_label", "mode", "epoch", "epochs", "step", "total_steps",
                    "progress_percent", "sent_at")


def job_group(pk: int) -> str:
    return f"job_{pk}"


def user_group(user_pk: int) -> str:
    return f"jobs_user_{user_pk}"


def session_group(session_key: str) -> str:
    """The sockets opened with one log-in session (closed when it logs out). Named by a hash: the
    session key itself is a credential."""
    return "session_" + hashlib.sha256(session_key.encode()).hexdigest()[:40]


# Control messages to the consumers (no event for the browser): who may watch a job changed (it
# was published or made private), a session logged out.
ACCESS_CHANGED = {"type": "job.access"}
SESSION_ENDED = {"type": "session.ended"}


def job_state(job: StyleJob, kind: str = "state") -> dict:
    """The fields every event about a job starts from."""
    return {
        "event": kind, "job": job.pk, "status": job.status, "status_label": Status(job.status).label,
        "mode": job.mode, "epoch": job.epoch, "epochs": job.epochs, "step": job.step,
        "total_steps": job.total_steps, "progress_percent": job.progress_percent,
    }


def queue_fields(estimate: QueueEstimate) -> dict:
    return {"position": estimate.position, "workers": estimate.workers,
            "wait_seconds": estimate.wait_seconds, "finish_seconds": estimate.finish_seconds,
            "run_seconds": estimate.run_seconds}


def queued_event(job: StyleJob, estimate: QueueEstimate) -> dict:
    """A queued job's new place in the queue (it moved: a job entered, started or left)."""
    return {**job_state(job, "queued"), "queue": queue_fields(estimate)}


def started_event(job: StyleJob) -> dict:
    return job_state(job, "started")


def progress_state(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                   fps: float | None = None) -> ProgressState:
    """The worker's numbers of a progress event (newer than the job's row)."""
    return ProgressState(mode=job.mode, status=job.status, epoch=epoch, epochs=job.epochs, step=step,
                         total_steps=job.total_steps, eta_seconds=eta_seconds, fps=fps)


def progress_event(job: StyleJob, progress: ProgressState, *, losses: list[list[float]],
                   preview_epoch: int | None = None) -> dict:
    """`progress.fps`: a video job's frames per second (its steps are frames); None for the others."""
    event = {**job_state(job, "progress"), "epoch": progress.epoch, "step": progress.step,
             "eta_seconds": progress.eta_seconds, "progress_percent": progress.progress_percent,
             "losses": losses, "preview": None}
    if progress.fps is not None:
        event["fps"] = round(progress.fps, 2)
    if preview_epoch is not None:
        event["preview"] = {"epoch": preview_epoch, "url": preview_url(job, preview_epoch)}
    return event


def final_event(job: StyleJob, losses: list[list[float]] | None = None, *, stopping: bool = False) -> dict | None:
    """finished / failed / cancelled, from the job's row; None while it is still active. A running
    job's cancel is told twice: at once with stopping=True (its worker has not stopped yet, so the
    row's step is not where it stops), then by the worker with the step it stopped after (or, when
    the engine had already done its last step, as finished: the result is kept)."""
    if job.status not in FINAL_EVENTS:
        return None
    event = {**job_state(job, FINAL_EVENTS[job.status]), "losses": losses or []}
    if job.status == Status.FAILED:
        event["message"] = job.error  # also for the browser's notification (static/js/notify.js)
    if job.status == Status.CANCELLED:
        event["stopping"] = stopping
    return event


def snapshot(job: StyleJob, *, losses: list[list[float]], estimate: QueueEstimate | None) -> dict:
    """The whole current state, for a socket that has just connected: what a page that was open
    all along would know by now. `estimate` is for a queued job."""
    event = {**job_state(job, "snapshot"), "eta_seconds": job.eta_seconds, "previews": previews(job),
             "losses": losses, "queue": queue_fields(estimate) if estimate is not None else None}
    if job.status == Status.FAILED:
        event["message"] = job.error
    return event


def status_line(event: dict) -> dict:
    """The compact form of an event for the owner's "my jobs" page."""
    return {k: event[k] for k in STATUS_LINE_KEYS if k in event}


def messages_for(job_pk: int, owner_pk: int, event: dict, fragments: dict[str, str],
                 list_entry: str) -> list[tuple[str, dict]]:
    """The channel-layer messages of one event: for the job's page, the event with the fragments of
    each audience (engine.live.job_page.render); for the owner's lists, its status line with the job's
    entry in them."""
    return [(job_group(job_pk), {"type": "job.event", "event": event, "fragments": fragments}),
            (user_group(owner_pk), {"type": "job.event", "event": {**status_line(event), "html": list_entry}})]
