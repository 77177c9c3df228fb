"""Live job events: what a job's page and its owner's "my jobs" page are told. Pure builders: each
takes a job (and what the caller has gathered: losses, a queue estimate) and returns a dict;
engine.live gathers and publishes them, engine.consumers sends the snapshot.

Two kinds of channel-layer group (Channels' "Using Outside Of Consumers"):

- ``job_<pk>``: the job page's sockets (engine.consumers.JobConsumer). Every event, in full:
  queued (position, ETA), started (worker, device, network), progress (epoch/step, the losses
  since the previous event, ETA, the URL of a new epoch preview), finished (result and download
  URLs), failed (message), cancelled. A socket gets a ``snapshot`` first, built from the database.
- ``jobs_user_<owner pk>``: the owner's "my jobs" sockets (MyJobsConsumer). One compact status
  line per event, so a list of jobs follows all of them over one socket.

Control messages (ACCESS_CHANGED to ``job_<pk>``, SESSION_ENDED to ``session_<hash>``, the group of
the sockets of one log-in session) make the consumers check again who may watch, or close.

Messages carry numbers and URLs, never image bytes; loss points are engine.nst.history's
POINT_FIELDS lists. Every published event has ``sent_at`` (ms since the epoch, stamped when it is
published) so the latency to a browser can be measured.
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from .estimates import QueueEstimate
from .job_files import download_links, preview_epochs
from .models import Status, StyleJob, Visibility

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


def queue_fields(estimate: QueueEstimate) -> dict:
    return {"position": estimate.position, "workers": estimate.workers,
            "wait_seconds": estimate.wait_seconds, "finish_seconds": estimate.finish_seconds,
            "run_seconds": estimate.run_seconds}


def queued_event(pk: int, estimate: QueueEstimate) -> dict:
    """A queued job's new place in the queue (it moved: a job entered, started or left)."""
    return {"event": "queued", "job": pk, "status": Status.QUEUED, "status_label": Status.QUEUED.label,
            "queue": queue_fields(estimate)}


def started_event(job: StyleJob) -> dict:
    return {**job_state(job, "started"), "worker": job.worker, "device": job.device, "network": job.network}


def progress_event(job: StyleJob, *, epoch: int, step: int, eta_seconds: float | None,
                   losses: list[list[float]], preview_epoch: int | None = None, fps: float | None = None) -> dict:
    """`fps`: a video job's frames per second (its steps are frames); None for the others."""
    event = {**job_state(job, "progress"), "epoch": epoch, "step": step, "eta_seconds": eta_seconds,
             "losses": losses, "preview": None}
    if fps is not None:
        event["fps"] = round(fps, 2)
    event["progress_percent"] = min(100, round(100 * step / job.total_steps)) if job.total_steps else 0
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
    event = {**job_state(job, FINAL_EVENTS[job.status]), "losses": losses or [], **_final_fields(job)}
    if job.status == Status.CANCELLED:
        event["stopping"] = stopping
    return event


def _artwork_url(job: StyleJob) -> str | None:
    """The gallery page of a succeeded public job (gallery.publishing made it on success)."""
    try:
        artwork = job.artwork  # the gallery's one-to-one relation
    except ObjectDoesNotExist:
        return None
    return reverse("gallery:detail", args=[artwork.pk]) if artwork.published else None


def _final_fields(job: StyleJob) -> dict:
    if job.status == Status.FAILED:
        return {"message": job.error}
    if job.status != Status.SUCCEEDED:
        return {}
    if job.result_is_video:  # the page plays it (static/js/video_job.js); no <img> result
        video = {"video_url": reverse("engine:download", args=[job.pk, "mp4"]) + "?inline=1",
                 "poster_url": reverse("engine:download", args=[job.pk, "poster"]) if job.poster else None}
        return {**video, "result_url": None, "plot_url": None, "downloads": _downloads(job),
                "run_seconds": job.run_seconds, "device": job.device, "network": job.network}
    return {
        "visibility": job.visibility,
        "artwork_url": _artwork_url(job) if job.visibility == Visibility.PUBLIC else None,
        "result_url": reverse("engine:download", args=[job.pk, "png"]) + "?inline=1",
        "plot_url": reverse("engine:download", args=[job.pk, "plot"]) + "?inline=1" if job.plot else None,
        "downloads": _downloads(job),
        "run_seconds": job.run_seconds, "device": job.device, "network": job.network,
    }


def _downloads(job: StyleJob) -> list[dict]:
    return [{"kind": kind, "label": label, "url": reverse("engine:download", args=[job.pk, kind])}
            for kind, label in download_links(job)]


def snapshot(job: StyleJob, *, losses: list[list[float]], estimate: QueueEstimate | None) -> dict:
    """The whole current state, for a socket that has just connected (and for the page itself):
    what a page that was open all along would know by now. `estimate` is for a queued job."""
    event = {**job_state(job, "snapshot"), "eta_seconds": job.eta_seconds, "worker": job.worker,
             "device": job.device, "network": job.network, "previews": previews(job),
             "losses": losses, "queue": queue_fields(estimate) if estimate is not None else None}
    event.update(_final_fields(job))
    return event


# What an event says about where the job runs; only for those who may manage it (engine.models).
PLACEMENT_KEYS = ("worker", "device")


def without_placement(event: dict) -> dict:
    """The event for a watcher who may not see where the job runs."""
    return {k: v for k, v in event.items() if k not in PLACEMENT_KEYS}


def status_line(event: dict) -> dict:
    """The compact form of an event for the owner's "my jobs" page."""
    return {k: event[k] for k in STATUS_LINE_KEYS if k in event}


def messages_for(job_pk: int, owner_pk: int, event: dict) -> list[tuple[str, dict]]:
    """The channel-layer messages of one event: in full for the job's page, its status line for
    the owner's "my jobs" page."""
    return [(job_group(job_pk), {"type": "job.event", "event": event}),
            (user_group(owner_pk), {"type": "job.event", "event": status_line(event)})]
