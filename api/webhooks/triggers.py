"""A job's events become deliveries: receivers of the engine's job signals (engine.signals), which
run where the job changed (a worker, or the request that cancelled it). Each writes a
WebhookDelivery row and queues its first try once the change is committed: one query for a job
without a webhook, and no network call here."""

from __future__ import annotations

import uuid
from functools import partial

from django.db import transaction

from api.models import JobWebhook, WebhookDelivery
from api.webhooks import delivery
from api.webhooks.events import payload
from engine import signals


def on_job_event(sender, job, event: str, group: int | None = None, **kwargs) -> None:
    hook = JobWebhook.objects.filter(job_id=job.pk).first()
    if hook is None or event not in hook.events:
        return
    row = WebhookDelivery.objects.create(webhook=hook, message_id=f"msg_{uuid.uuid4().hex}", event=event,
                                         payload=payload(job, event, group))
    transaction.on_commit(partial(delivery.enqueue, row.pk))


SIGNALS = {"started": signals.job_started, "epoch": signals.job_group_done, "succeeded": signals.job_succeeded,
           "failed": signals.job_failed, "cancelled": signals.job_cancelled}


def connect() -> None:
    for event, signal in SIGNALS.items():
        signal.connect(partial(on_job_event, event=event), weak=False, dispatch_uid=f"api.webhooks.{event}")


def attach(jobs, url: str, events: list[str]) -> None:
    """Give each of a submission's new jobs the webhook (in the submission's transaction)."""
    JobWebhook.objects.bulk_create([JobWebhook(job=job, url=url, events=list(events)) for job in jobs])
