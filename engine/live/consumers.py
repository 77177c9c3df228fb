"""Websocket consumers: a job's live progress (ws/jobs/<pk>/) and a user's jobs (ws/jobs/).

Both authorise in connect(), as the views do: a job's socket is for whoever may see the job's page
(its owner, staff, anyone for a public job); the list's socket is for a logged-in user and carries
only their jobs. Access is not settled once for all (issue 14, finding 8): a job's sockets check
again when it is published or made private, and every socket closes when the log-in session it was
opened with logs out; before delivering an event, a socket asks again (at most every
engine.live.signed_in.RECHECK_SECONDS) whether its log-in session still signs its user in, so a
password change elsewhere closes it too (issue 24, finding 7). A refused socket is accepted and
closed at once with a code the page can act on (rejecting the handshake would only give the browser
a bare 1006). On connect each sends a snapshot from the database, so a page that opens late or
reconnects has missed nothing; events published meanwhile follow it (the page drops loss points it
already has, by step).

What a job's socket is sent: each event's numbers and, as ``html``, the page's state partials that
changed, in its watcher's audience's rendering (engine.live.job_page: rendered once per audience where
the event is published, so that a watcher who may not see where the job runs gets no fragment that
says so), with this socket's own CSRF token in their forms.

Groups and event formats: engine.live.events; snapshots: engine.live.updates. ORM and Redis reads run in
database_sync_to_async helpers. Who may watch a job is StyleJob.objects.visible_to, the rule the
job's page follows (engine.models).
"""

from __future__ import annotations

import re
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import CSRF_SECRET_LENGTH, get_token

from engine.live import events, job_page, signed_in
from engine.live import updates as live
from engine.models import StyleJob

CLOSE_NOT_FOUND = 4404       # no such job, or not one this user may see (as the page's 404)
CLOSE_LOGIN_REQUIRED = 4401  # "my jobs" without a logged-in user
CLOSE_SESSION_ENDED = 4001   # the log-in session behind the socket logged out (or its password changed):
                             # reconnect as you are now
RECENT_JOBS = 50             # jobs in the "my jobs" snapshot (the page shows 20 per page)
CSRF_SECRET = re.compile(rf"[a-zA-Z0-9]{{{CSRF_SECRET_LENGTH}}}")


@database_sync_to_async
def _access(user, pk: int) -> str | None:
    """The watcher's audience (engine.live.job_page.audience_for), None if they may not watch the job:
    the rule of engine.models, in one query."""
    owner_id = StyleJob.objects.visible_to(user).filter(pk=pk).values_list("owner_id", flat=True).first()
    return job_page.audience_for(user, owner_id) if owner_id is not None else None


_session_still_valid = database_sync_to_async(signed_in.session_still_valid)


@database_sync_to_async
def _job_snapshot(pk: int, audience: str) -> dict | None:
    job = StyleJob.objects.select_related("owner").filter(pk=pk).first()
    return live.snapshot(job, audience) if job is not None else None


@database_sync_to_async
def _jobs_snapshot(user) -> dict:
    jobs = StyleJob.objects.for_user(user)[:RECENT_JOBS]
    return {"event": "snapshot",
            "jobs": [{**events.status_line(events.job_state(job)), "html": job_page.list_entry(job)} for job in jobs]}


def csrf_token(scope) -> str:
    """A CSRF token for the forms of the fragments sent over this socket, from the browser's CSRF
    cookie, as Django's {% csrf_token %} makes one from a request's (masked anew each time); "" when
    the socket came without a well-formed one (its page then had no form either)."""
    secret = scope.get("cookies", {}).get(settings.CSRF_COOKIE_NAME, "")
    if not CSRF_SECRET.fullmatch(secret):
        return ""
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = secret
    return get_token(request)


def program_socket(scope) -> tuple[str | None, tuple[str, ...]]:
    """A program's socket (authenticated by api.socket_auth, without cookies): the subprotocol to
    accept it with and the groups that close it (its token's, when revoked). (None, ()) for a browser's."""
    api = scope.get("nst_api") or {}
    return api.get("subprotocol"), tuple(api.get("groups", ()))


class _EventConsumer(AsyncJsonWebsocketConsumer):
    """Relays the group's `job.event` messages to the socket; the browser sends nothing. Every
    socket also joins its log-in session's group, and closes when that session logs out
    (CLOSE_SESSION_ENDED: the page reconnects as whoever it is now)."""

    groups_joined: tuple[str, ...] = ()
    session_checked_at = 0.0  # when the log-in session was last found good (the handshake did at first)

    async def refuse(self, code: int) -> None:
        await self.accept(program_socket(self.scope)[0])
        await self.close(code=code)

    async def join(self, group: str) -> None:
        # Joined before the snapshot is read: an event published in between is sent after the
        # snapshot rather than lost.
        session_key = getattr(self.scope.get("session"), "session_key", None)
        subprotocol, program_groups = program_socket(self.scope)
        self.groups_joined = (group, *([events.session_group(session_key)] if session_key else []), *program_groups)
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)
        self.session_checked_at = time.monotonic()  # channels' AuthMiddleware has just checked it
        await self.accept(subprotocol)

    async def disconnect(self, code: int) -> None:
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        pass  # nothing to say: cancelling is a POST, like without JavaScript

    async def job_event(self, message: dict) -> None:
        if await self.still_signed_in():
            await self.send_json(message["event"])

    async def still_signed_in(self) -> bool:
        """Whether the socket's log-in session still signs its user in (engine.live.signed_in),
        asked again at most every RECHECK_SECONDS; closes the socket when it does not."""
        if time.monotonic() - self.session_checked_at < signed_in.RECHECK_SECONDS:
            return True
        if not await _session_still_valid(self.scope):
            await self.close(code=CLOSE_SESSION_ENDED)
            return False
        self.session_checked_at = time.monotonic()
        return True

    async def session_ended(self, message: dict) -> None:
        await self.close(code=CLOSE_SESSION_ENDED)


class JobConsumer(_EventConsumer):
    """A job's page. Access is checked at connect and again whenever it may have changed (the job
    was published or made private: a `job.access` message to the job's group); a watcher who may
    no longer see the job is closed with CLOSE_NOT_FOUND. Each watcher gets the fragments of their
    audience (engine.live.job_page): those who may not manage the job, none that say where it runs."""

    audience = job_page.PUBLIC

    async def connect(self) -> None:
        self.job_pk = self.scope["url_route"]["kwargs"]["pk"]
        audience = await _access(self.scope["user"], self.job_pk)
        if audience is None:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        self.audience, self.csrf_token = audience, csrf_token(self.scope)
        await self.join(events.job_group(self.job_pk))
        snapshot = await _job_snapshot(self.job_pk, self.audience)
        if snapshot is None:  # deleted in between
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_event(snapshot, snapshot.pop("html"))

    async def send_event(self, event: dict, html: str) -> None:
        await self.send_json({**event, "html": html.replace(job_page.CSRF_PLACEHOLDER, self.csrf_token)})

    async def job_event(self, message: dict) -> None:
        if await self.still_signed_in():
            await self.send_event(message["event"], job_page.for_audience(message["fragments"], self.audience))

    async def job_access(self, message: dict) -> None:
        audience = await _access(self.scope["user"], self.job_pk)
        if audience is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.audience = audience


class MyJobsConsumer(_EventConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.refuse(CLOSE_LOGIN_REQUIRED)
            return
        await self.join(events.user_group(user.pk))
        await self.send_json(await _jobs_snapshot(user))
