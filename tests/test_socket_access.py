"""Websockets re-check who may watch (issue 14, finding 8: a socket was authorised once, at connect,
and kept receiving a job's events after the owner made the job private, or after the watcher
logged out). Through the whole ASGI stack (origin check, session auth, routing) on the real Redis
channel layer, with the real views making the change."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from engine.live import consumers
from engine.live import updates as live
from engine.models import StyleJob, Visibility
from engine.nst import images
from tests.web_client import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def job_path(job) -> str:
    return f"/ws/jobs/{job.pk}/"


def logged_in(user) -> tuple[Client, bytes]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


async def opened(path: str, cookie_header: bytes | None = None):
    comm = communicator(path, cookie_header)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    snapshot = await comm.receive_json_from(timeout=5)
    assert snapshot["event"] == "snapshot"
    return comm, snapshot


async def closed_with(comm) -> int:
    message = await comm.receive_output(timeout=10)
    while message["type"] == "websocket.send":  # events sent before the change may come first
        message = await comm.receive_output(timeout=10)
    assert message["type"] == "websocket.close", message
    return message["code"]


def running_public_job(make_job) -> StyleJob:
    job = make_job(visibility=Visibility.PUBLIC)
    assert job.start(worker="gpu-box-7.internal")
    assert job.record_placement(device="NVIDIA A100-SXM4-80GB", network="vgg16")
    return job


@pytest.mark.asyncio
async def test_watchers_are_closed_when_the_owner_makes_the_job_private(make_job, owner, other_user, rq_redis):
    job = await sync_to_async(running_public_job)(make_job)
    owner_client, owner_cookie = await sync_to_async(logged_in)(owner)
    _, other_cookie = await sync_to_async(logged_in)(other_user)
    anonymous, _ = await opened(job_path(job))
    other, _ = await opened(job_path(job), other_cookie)
    mine, _ = await opened(job_path(job), owner_cookie)

    response = await sync_to_async(owner_client.post)(reverse("engine:publish", args=[job.pk]), {"publish": "0"})
    assert response.status_code == 302
    assert await closed_with(anonymous) == consumers.CLOSE_NOT_FOUND
    assert await closed_with(other) == consumers.CLOSE_NOT_FOUND
    # The owner's page goes on receiving the job's events.
    await sync_to_async(live.publish_progress)(job, epoch=1, step=3, eta_seconds=1.0, losses=[])
    event = await mine.receive_json_from(timeout=10)
    assert event["event"] == "progress" and event["step"] == 3
    await mine.disconnect()


@pytest.mark.asyncio
async def test_a_socket_closes_when_its_session_logs_out(make_job, other_user, owner, rq_redis):
    job = await sync_to_async(running_public_job)(make_job)
    client, cookie_header = await sync_to_async(logged_in)(other_user)
    comm, _ = await opened(job_path(job), cookie_header)
    mine_client, mine_cookie = await sync_to_async(logged_in)(owner)
    my_list = communicator("/ws/jobs/", mine_cookie)
    assert (await my_list.connect(timeout=5))[0]
    await my_list.receive_json_from(timeout=5)

    await sync_to_async(client.post)(reverse("logout"))
    assert await closed_with(comm) == consumers.CLOSE_SESSION_ENDED
    await sync_to_async(mine_client.post)(reverse("logout"))
    assert await closed_with(my_list) == consumers.CLOSE_SESSION_ENDED
    # Reconnecting with the old cookie is a visitor without an account now: a public job only.
    again, _ = await opened(job_path(job), cookie_header)
    await again.disconnect()


@pytest.mark.asyncio
async def test_only_those_who_manage_the_job_are_told_where_it_runs(make_job, owner, other_user, rq_redis,
                                                                   load_test_image):
    """Where it runs is in the run table's fragment of those who may see it, and nowhere in anything
    sent to others: numbers, fragments, any of them (the whole message is searched)."""
    job = await sync_to_async(running_public_job)(make_job)
    _, owner_cookie = await sync_to_async(logged_in)(owner)
    _, other_cookie = await sync_to_async(logged_in)(other_user)
    mine, snap = await opened(job_path(job), owner_cookie)
    assert 'id="run-device">NVIDIA A100-SXM4-80GB<' in snap["html"]
    assert 'id="run-worker">gpu-box-7.internal<' in snap["html"]
    theirs, snap = await opened(job_path(job), other_cookie)
    assert "A100" not in json.dumps(snap) and "gpu-box-7" not in json.dumps(snap)
    assert 'id="run-network">vgg16<' in snap["html"] and 'id="run-table"' in snap["html"]
    await sync_to_async(live.publish_started)(job)
    event = await mine.receive_json_from(timeout=10)
    assert event["event"] == "started" and 'id="run-device">NVIDIA A100-SXM4-80GB<' in event["html"]
    event = await theirs.receive_json_from(timeout=10)
    assert event["event"] == "started" and 'id="run-table"' in event["html"]
    assert "A100" not in json.dumps(event) and "gpu-box-7" not in json.dumps(event)
    png = images.encode_png(images.to_uint8(load_test_image("tubingen.jpg", 32)))
    await sync_to_async(job.finish)(image_png=png, history=None, device="NVIDIA A100-SXM4-80GB",
                                    network="vgg16", seconds=2.0)
    await sync_to_async(live.publish_final)(job)
    assert "gpu-box-7" in json.dumps(await mine.receive_json_from(timeout=10))
    event = await theirs.receive_json_from(timeout=10)
    assert event["event"] == "finished" and 'id="result-image"' in event["html"]
    assert "A100" not in json.dumps(event) and "gpu-box-7" not in json.dumps(event)
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_page_on_another_port_or_scheme_of_the_site_cannot_open_a_socket(owner, rq_redis):
    """Issue 24, finding 10: the Origin must be the site's own, scheme and port included (the
    handshake reached http://localhost, as tests/web_client.py's communicator says)."""
    _, cookie_header = await sync_to_async(logged_in)(owner)
    for origin in (b"http://localhost:9999", b"https://localhost", b"http://localhost:1234", b"http://127.0.0.1"):
        comm = communicator("/ws/jobs/", cookie_header, origin=origin)
        connected, _ = await comm.connect()
        assert not connected, origin
    comm = communicator("/ws/jobs/", cookie_header)
    connected, _ = await comm.connect()
    assert connected
    await comm.disconnect()


@pytest.mark.asyncio
async def test_a_password_change_elsewhere_closes_the_old_sessions_sockets(make_job, owner, rq_redis, monkeypatch):
    """Issue 24, finding 7: after a password change in another session, the old session's socket
    went on receiving a new job's events. Django's own check (the session's auth hash) now runs
    before an event is delivered; here at every event (RECHECK_SECONDS 0)."""
    from engine.live import signed_in
    from tests.web_client import PASSWORD

    monkeypatch.setattr(signed_in, "RECHECK_SECONDS", 0.0)
    job = await sync_to_async(running_public_job)(make_job)
    _, old_cookie = await sync_to_async(logged_in)(owner)
    old_page, _ = await opened(job_path(job), old_cookie)
    old_list = communicator("/ws/jobs/", old_cookie)
    assert (await old_list.connect(timeout=5))[0]
    await old_list.receive_json_from(timeout=5)
    current_client, current_cookie = await sync_to_async(logged_in)(owner)
    response = await sync_to_async(current_client.post)(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "another-Long-passphrase-7",
        "new_password2": "another-Long-passphrase-7"})
    assert response.status_code == 302
    current_page, _ = await opened(job_path(job), current_cookie)  # the session that changed it stays in

    new_job = await sync_to_async(make_job)()
    await sync_to_async(live.publish_final)(new_job)   # a new job's event, to the owner's list
    await sync_to_async(live.publish_progress)(job, epoch=1, step=4, eta_seconds=1.0, losses=[])
    assert await closed_with(old_list) == consumers.CLOSE_SESSION_ENDED
    assert await closed_with(old_page) == consumers.CLOSE_SESSION_ENDED
    event = await current_page.receive_json_from(timeout=10)
    assert event["event"] == "progress" and event["step"] == 4
    await current_page.disconnect()
    # The old cookie opens a visitor's socket now (channels' handshake runs the same check).
    again, snapshot = await opened(job_path(job), old_cookie)
    assert "gpu-box-7" not in json.dumps(snapshot)  # where it runs: for its owner only
    await again.disconnect()


@pytest.mark.asyncio
async def test_the_session_is_checked_again_at_most_every_recheck_interval(make_job, owner, rq_redis, monkeypatch):
    """Cheap: with an hour between checks, a run's events cost no query for the session; with none,
    one check per event."""
    from engine.live import signed_in

    checks = []

    def counted(scope):
        checks.append(scope["user"].pk)
        return True

    monkeypatch.setattr(consumers, "_session_still_valid", database_sync_to_async(counted))
    job = await sync_to_async(running_public_job)(make_job)
    _, cookie_header = await sync_to_async(logged_in)(owner)
    page, _ = await opened(job_path(job), cookie_header)
    for delay, expected in ((3600.0, 0), (0.0, 3)):
        monkeypatch.setattr(signed_in, "RECHECK_SECONDS", delay)
        checks.clear()
        for step in range(3):
            await sync_to_async(live.publish_progress)(job, epoch=1, step=step, eta_seconds=1.0, losses=[])
            assert (await page.receive_json_from(timeout=10))["step"] == step
        assert len(checks) == expected, delay
    await page.disconnect()
