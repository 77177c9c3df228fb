"""Sending one delivery (an RQ job on settings.NST_WEBHOOK_QUEUE, which the platform's "webhooks"
process empties: a slow or dead receiver holds up no style worker and no page).

    deliver(pk)   one try: the guard, a POST with the Standard Webhooks headers, the outcome on
                  the row; a failure schedules the next try after settings.NST_WEBHOOK_RETRY_SECONDS
                  [n] (6 tries over about an hour by default), then gives up.

A try connects to the address the guard checked, with the URL's host as the TLS name and Host
header, waits at most NST_WEBHOOK_TIMEOUT_SECONDS to connect and as long for the answer's status
line, reads no body, and follows no redirect: any 2xx is delivered, anything else is a failure.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import django_rq
import urllib3
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from api.models import DeliveryState, WebhookDelivery, WebhookSecret
from api.webhooks import guard, signing

logger = logging.getLogger(__name__)

USER_AGENT = "nstsite-webhooks/1"
ENDED = (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.REFUSED)


def secret_for(user_id: int) -> str:
    """The user's signing secret, made on first use."""
    row, _ = WebhookSecret.objects.get_or_create(user_id=user_id, defaults={"secret": signing.new_secret()})
    return row.secret


def queue():
    return django_rq.get_queue(settings.NST_WEBHOOK_QUEUE)


def enqueue(pk: int, delay_seconds: float = 0) -> None:
    """Queue a try of delivery `pk` (now, or after a delay: the webhooks worker's scheduler)."""
    try:
        if delay_seconds > 0:
            queue().enqueue_in(timedelta(seconds=delay_seconds), deliver, pk, result_ttl=0, failure_ttl=86400)
        else:
            queue().enqueue(deliver, pk, result_ttl=0, failure_ttl=86400)
    except RedisError:
        logger.warning("Webhook delivery %s could not be queued", pk, exc_info=True)
        WebhookDelivery.objects.filter(pk=pk).update(error="Could not be queued (the queue was unreachable).")


def _post(target: guard.Target, headers: dict[str, str], body: bytes) -> int:
    """POST body to target; the answer's status. Raises urllib3's errors."""
    timeout = urllib3.Timeout(connect=settings.NST_WEBHOOK_TIMEOUT_SECONDS, read=settings.NST_WEBHOOK_TIMEOUT_SECONDS)
    options = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, cert_reqs="CERT_REQUIRED", **options)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    headers = {**headers, "Host": host if target.port == default_port else f"{host}:{target.port}"}
    try:
        response = pool.urlopen("POST", target.path, body=body, headers=headers, redirect=False,
                                retries=False, preload_content=False, assert_same_host=False)
        status = response.status
        response.release_conn()
        return status
    finally:
        pool.close()


def _outcome(status: int | None, error: str) -> str:
    if status is not None and 200 <= status < 300:
        return ""
    if status is not None and 300 <= status < 400:
        return f"The receiver answered {status}, a redirect; redirects are not followed."
    if status is not None:
        return f"The receiver answered {status}."
    return error


def deliver(pk: int) -> str:
    """One try of delivery `pk` (see the module notes); its state afterwards."""
    row = WebhookDelivery.objects.select_related("webhook__job").filter(pk=pk).first()
    if row is None or row.state in ENDED:
        return "gone" if row is None else row.state
    hook, owner_id = row.webhook, row.webhook.job.owner_id
    body = json.dumps(row.payload, separators=(",", ":")).encode()
    status, error = None, ""
    try:
        target = guard.resolve(hook.url)
    except guard.Refused as exc:
        _record(row, DeliveryState.REFUSED, None, str(exc), None)
        return row.state
    except guard.Unresolved as exc:
        error = str(exc)
    else:
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": row.message_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": signing.sign(secret_for(owner_id), row.message_id, timestamp, body)}
        try:
            status = _post(target, headers, body)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = f"No answer: {type(exc).__name__}."[:300]
    problem = _outcome(status, error)
    if not problem:
        _record(row, DeliveryState.DELIVERED, status, "", None)
        return row.state
    delays = settings.NST_WEBHOOK_RETRY_SECONDS
    if row.attempts >= len(delays):  # this was the last try
        _record(row, DeliveryState.FAILED, status, problem, None)
        return row.state
    delay = delays[row.attempts]
    _record(row, DeliveryState.RETRYING, status, problem, timezone.now() + timedelta(seconds=delay))
    enqueue(row.pk, delay)
    return row.state


def _record(row: WebhookDelivery, state: str, status: int | None, error: str, next_at) -> None:
    row.state, row.response_status, row.error, row.next_attempt_at = state, status, error[:300], next_at
    row.attempts += 1
    row.last_attempt_at = timezone.now()
    row.save(update_fields=["state", "response_status", "error", "next_attempt_at", "attempts", "last_attempt_at"])
