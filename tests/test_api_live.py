"""Live events for programs (api/tickets.py, api/socket_auth.py): a job's websocket opened with a
one-use ticket, or with the token as a subprotocol, without cookies or an Origin; the same
snapshot and events as the page's socket, and the same access rule."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from nstsite.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("media_root", "rq_redis")]


def program_socket(path: str, subprotocols=None) -> WebsocketCommunicator:
    """As a program opens it: no cookie, no Origin header."""
    return WebsocketCommunicator(application, path, headers=[(b"host", b"localhost")], subprotocols=subprotocols)


async def first_message(comm) -> dict:
    connected, subprotocol = await comm.connect(timeout=10)
    assert connected
    message = await comm.receive_output(timeout=10)
    return {"subprotocol": subprotocol, **message}


async def test_a_ticket_opens_the_jobs_socket_once(api_client, make_job):
    job = await sync_to_async(make_job)()
    client = await sync_to_async(api_client)(scope="read")
    answer = await sync_to_async(client.post)(reverse("api:job_ticket", args=[job.pk]))
    assert answer.status_code == 201
    ticket = answer.json()
    assert ticket["url"] == f"ws://testserver/ws/jobs/{job.pk}/?ticket={ticket['ticket']}"
    path = f"/ws/jobs/{job.pk}/?ticket={ticket['ticket']}"
    comm = program_socket(path)
    message = await first_message(comm)
    assert message["type"] == "websocket.send" and '"event": "snapshot"' in message["text"]
    assert f'"job": {job.pk}' in message["text"]
    await comm.disconnect()
    again = program_socket(path)  # used: refused
    assert (await first_message(again))["code"] == 4401
    await again.disconnect()


async def test_a_ticket_is_for_its_job_only(api_client, make_job):
    job, other = await sync_to_async(make_job)(), await sync_to_async(make_job)()
    client = await sync_to_async(api_client)()
    ticket = (await sync_to_async(client.post)(reverse("api:job_ticket", args=[job.pk]))).json()["ticket"]
    comm = program_socket(f"/ws/jobs/{other.pk}/?ticket={ticket}")
    assert (await first_message(comm))["code"] == 4401
    await comm.disconnect()


async def test_the_token_as_a_subprotocol(api_client, make_job, other_user):
    job = await sync_to_async(make_job)()
    client = await sync_to_async(api_client)(scope="read")
    comm = program_socket(f"/ws/jobs/{job.pk}/", subprotocols=["nstsite.v1", f"bearer.{client.plain}"])
    message = await first_message(comm)
    assert message["subprotocol"] == "nstsite.v1" and '"snapshot"' in message["text"]
    await comm.disconnect()
    stranger = await sync_to_async(api_client)(user=other_user)
    comm = program_socket(f"/ws/jobs/{job.pk}/", subprotocols=["nstsite.v1", f"bearer.{stranger.plain}"])
    assert (await first_message(comm))["code"] == 4404  # the page's rule: not theirs to watch
    await comm.disconnect()
    comm = program_socket(f"/ws/jobs/{job.pk}/", subprotocols=["nstsite.v1", "bearer.nst_not-a-token"])
    assert (await first_message(comm))["code"] == 4401
    await comm.disconnect()


async def test_events_reach_a_program_and_a_revoked_token_closes_its_socket(api_client, make_job, owner):
    from api import tokens
    from engine.jobs import service as jobs

    job = await sync_to_async(make_job)()
    client = await sync_to_async(api_client)()
    comm = program_socket(f"/ws/jobs/{job.pk}/", subprotocols=["nstsite.v1", f"bearer.{client.plain}"])
    assert '"snapshot"' in (await first_message(comm))["text"]
    await sync_to_async(jobs.cancel)(job)
    event = await comm.receive_json_from(timeout=10)
    assert event["event"] == "cancelled" and event["job"] == job.pk
    await sync_to_async(tokens.revoke)(owner, client.token.pk)
    assert (await comm.receive_output(timeout=10))["code"] == 4001
    await comm.disconnect()


async def test_a_browsers_socket_still_needs_its_own_origin(cookie, owner, make_job):
    """A handshake without a ticket or token is a browser's, checked as before (nstsite.security.origins)."""
    from tests.web_client import communicator

    job = await sync_to_async(make_job)()
    comm = communicator(f"/ws/jobs/{job.pk}/", await sync_to_async(cookie)(owner), origin=b"http://evil.example")
    connected, _ = await comm.connect(timeout=5)
    assert not connected
