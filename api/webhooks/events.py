"""The events a job's webhook may ask for, and the JSON body each delivery carries (Standard
Webhooks' shape: type, timestamp, data)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from engine.models import StyleJob
from engine.storage.job_files import DOWNLOADS, file_for

EVENTS = {
    "started": "a worker has started it",
    "epoch": "a group of its work is done: an epoch (classic mode) or a chunk of frames (video mode)",
    "succeeded": "its result is stored",
    "failed": "it failed (data.error says why)",
    "cancelled": "it was cancelled",
}
DEFAULT_EVENTS = ("succeeded", "failed", "cancelled")


def site_url(name: str, *args) -> str:
    """An absolute URL of the site as its users reach it (settings.NST_SITE_URL): deliveries are made
    outside any request."""
    return settings.NST_SITE_URL.rstrip("/") + reverse(name, args=args)


def payload(job: StyleJob, event: str, group: int | None = None) -> dict:
    """The body of one delivery: what happened to which job, with its state at that moment."""
    data = {
        "job": job.pk, "status": job.status, "mode": job.mode,
        "url": site_url("api:job", job.pk), "page": site_url("engine:detail", job.pk),
        "progress": {"epoch": job.epoch if group is None else group, "epochs": job.epochs,
                     "step": job.step, "total_steps": job.total_steps},
    }
    if event == "failed":
        data["error"] = job.error
    if event == "succeeded":
        kind = result_kind(job)
        if kind:
            data["result"] = site_url("api:job_file", job.pk, kind)
    return {"type": f"job.{event}", "timestamp": timezone.now().isoformat(), "data": data}


def result_kind(job: StyleJob) -> str:
    """The download kind of the job's result ("png", "mp4"); "" before it has one."""
    return next((kind for kind, d in DOWNLOADS.items() if d.field == "result" and file_for(job, kind)), "")
