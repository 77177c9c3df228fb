"""Webhooks (api/webhooks/): a job's events are POSTed to its webhook_url by RQ jobs on a queue of
their own, signed in the Standard Webhooks format with the owner's secret, retried with back-off,
never redirected, and only to addresses the SSRF guard allows (here a receiver on 127.0.0.1, allowed
by NST_WEBHOOK_ALLOWED_HOSTS as the setting says)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time

import django_rq
import pytest
from django.urls import reverse

from api.models import DeliveryState, JobWebhook, WebhookDelivery
from api.webhooks import delivery, guard, signing
from engine.jobs import service as jobs
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def receiver(settings):
    server = WebhookReceiver()
    settings.NST_WEBHOOK_ALLOWED_HOSTS = [server.host]
    yield server
    server.close()


@pytest.fixture
def hooked_job(make_job, rq_redis):
    def make(url: str, events=("started", "epoch", "succeeded", "failed", "cancelled")):
        job = make_job()
        JobWebhook.objects.create(job=job, url=url, events=list(events))
        return job
    return make


def run_webhooks_queue(with_scheduler: bool = False) -> None:
    worker = django_rq.get_worker("webhooks", worker_class="rq.worker.SimpleWorker")
    worker.work(burst=True, with_scheduler=with_scheduler)


def finish(job, image_bytes) -> None:
    assert job.finish(image_png=image_bytes("tubingen.jpg", 32, fmt="PNG"), history=None, device="CPU",
                      network="vgg16", seconds=1.0)


def test_each_event_is_delivered_signed_with_the_owners_secret(receiver, hooked_job, image_bytes, owner,
                                                               django_capture_on_commit_callbacks):
    job = hooked_job(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        assert job.start(worker="test")
        finish(job, image_bytes)
    assert django_rq.get_queue("default").count == 0  # nothing for the style workers
    run_webhooks_queue()
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["job.started", "job.succeeded"]
    secret = delivery.secret_for(owner.pk)
    for got in receiver.received:
        # Standard Webhooks, computed here by hand: HMAC-SHA256 of "id.timestamp.body" with the secret's key.
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert got.headers["webhook-signature"] == expected
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
        assert signing.verify(secret, got.headers, got.body, now=time.time())
        assert not signing.verify(secret, got.headers, got.body + b" ", now=time.time())
    succeeded = json.loads(receiver.received[1].body)["data"]
    assert succeeded["job"] == job.pk and succeeded["result"].endswith(f"/api/v1/jobs/{job.pk}/files/png/")
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == [DeliveryState.DELIVERED] * 2


def test_only_the_events_asked_for_are_sent(receiver, hooked_job, django_capture_on_commit_callbacks):
    job = hooked_job(receiver.url, events=["cancelled"])
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    run_webhooks_queue()
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["job.cancelled"]


def test_a_failed_try_is_made_again_later_with_the_same_id(receiver, hooked_job, settings,
                                                           django_capture_on_commit_callbacks):
    """Each failure schedules the next try after its delay (the webhooks worker's scheduler); the
    delivery keeps its id and body, and is given up after the last delay."""
    settings.NST_WEBHOOK_RETRY_SECONDS = [1, 300, 900]
    receiver.answers = [500, 503]
    job = hooked_job(receiver.url, events=["started"])
    with django_capture_on_commit_callbacks(execute=True):
        job.start(worker="test")
    run_webhooks_queue()
    row = WebhookDelivery.objects.get()
    assert (row.state, row.attempts, row.response_status) == (DeliveryState.RETRYING, 1, 500)
    scheduled = django_rq.get_queue("webhooks").scheduled_job_registry
    assert len(scheduled.get_job_ids()) == 1
    time.sleep(1.2)  # the try is due by now, on any machine: the scheduler moves it to the queue
    run_webhooks_queue(with_scheduler=True)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.response_status) == (DeliveryState.RETRYING, 2, 503)
    when = scheduled.get_scheduled_time(scheduled.get_job_ids()[0]).timestamp()
    assert 290 < when - time.time() < 310  # the second delay
    assert row.error == "The receiver answered 503."
    delivery.deliver(row.pk)  # the third try, at once: delivered
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.DELIVERED, 3)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1


def test_it_gives_up_after_the_last_try(receiver, hooked_job, settings):
    settings.NST_WEBHOOK_RETRY_SECONDS = [10, 60]
    receiver.answers = [500] * 5
    job = hooked_job(receiver.url, events=["started"])
    job.start(worker="test")
    row = WebhookDelivery.objects.get()
    for _ in range(3):
        delivery.deliver(row.pk)
    row.refresh_from_db()
    assert (row.state, row.attempts, len(receiver.received)) == (DeliveryState.FAILED, 3, 3)
    assert delivery.deliver(row.pk) == DeliveryState.FAILED and len(receiver.received) == 3


def test_the_default_schedule_is_at_least_five_tries_over_about_an_hour(settings):
    from django.conf import settings as site

    delays = site.NST_WEBHOOK_RETRY_SECONDS
    assert len(delays) + 1 >= 5 and 45 * 60 <= sum(delays) <= 90 * 60


def test_a_redirect_is_not_followed(receiver, hooked_job):
    receiver.answers = [302]
    job = hooked_job(receiver.url, events=["started"])
    job.start(worker="test")
    row = WebhookDelivery.objects.get()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert [r.path for r in receiver.received] == ["/hook"]
    assert row.state == DeliveryState.RETRYING and "redirects are not followed" in row.error


def test_a_slow_receiver_costs_one_try_of_the_timeout(receiver, hooked_job, settings):
    settings.NST_WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.delay = 5
    job = hooked_job(receiver.url, events=["started"])
    job.start(worker="test")
    started = time.monotonic()
    delivery.deliver(WebhookDelivery.objects.get().pk)
    assert time.monotonic() - started < 4
    row = WebhookDelivery.objects.get()
    assert row.state == DeliveryState.RETRYING and row.error.startswith("No answer")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.5.4", "169.254.169.254",
                                     "100.64.0.1", "::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0"])
def test_a_name_that_resolves_to_a_private_address_is_refused_at_each_try(address, hooked_job, monkeypatch):
    """The guard looks at the addresses after DNS (a public-looking name may point inside), and
    the try is not made: no connection is opened."""
    def resolve(host, port, *args, **kwargs):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(guard.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(delivery, "_post", lambda *a: pytest.fail("a connection was made"))
    job = hooked_job("https://hooks.example.org/in", events=["started"])
    job.start(worker="test")
    row = WebhookDelivery.objects.get()
    assert delivery.deliver(row.pk) == DeliveryState.REFUSED
    row.refresh_from_db()
    assert "public internet addresses" in row.error


def test_the_guard_lets_public_https_through_and_names_the_address_it_checked(monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(guard.socket, "getaddrinfo", resolve)
    target = guard.resolve("https://hooks.example.org/in?x=1")
    assert (target.scheme, target.host, target.port, target.address, target.path) == (
        "https", "hooks.example.org", 443, "93.184.215.14", "/in?x=1")
    with pytest.raises(guard.Refused, match="https"):
        guard.resolve("http://hooks.example.org/in")


def test_the_job_page_shows_its_owner_the_deliveries(receiver, hooked_job, owner_client, other_user, client):
    job = hooked_job(receiver.url, events=["started"])
    job.visibility = "public"
    job.save()
    job.start(worker="test")
    delivery.deliver(WebhookDelivery.objects.get().pk)
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="webhook-log"' in page and "job.started" in page and "Delivered" in page
    client.force_login(other_user)
    assert 'id="webhook-log"' not in client.get(reverse("engine:detail", args=[job.pk])).content.decode()
