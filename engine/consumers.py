"""Websocket consumers: a job's live progress (ws/jobs/<pk>/) and a user's jobs (ws/jobs/).

Both authorise in connect(), as the views do: a job's socket is for whoever may see the job's page
(its owner, staff, anyone for a public job); the list's socket is for a logged-in user and carries
only their jobs. Access is not settled once for all (issue 14, finding 8): a job's sockets check
again when it is published or made private, and every socket closes when the log-in session it
was opened with logs out. A refused socket is accepted and closed at once with a code the page can act on
(rejecting the handshake would only give the browser a bare 1006). On connect each sends a
snapshot from the database, so a page that opens late or reconnects has missed nothing; events
published meanwhile follow it (the page drops loss points it already has, by step).

Groups and event formats: engine.events; snapshots: engine.live. ORM and Redis reads run in
database_sync_to_async helpers. Who may watch a job is StyleJob.objects.visible_to, the rule the
job's page follows (engine.models).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import events, live
from .models import StyleJob, may_see_placement

CLOSE_NOT_FOUND = 4404       # no such job, or not one this user may see (as the page's 404)
CLOSE_LOGIN_REQUIRED = 4401  # "my jobs" without a logged-in user
CLOSE_SESSION_ENDED = 4001   # the log-in session behind the socket logged out: reconnect as you are now
RECENT_JOBS = 50             # jobs in the "my jobs" snapshot (the page shows 20 per page)


@database_sync_to_async
def _access(user, pk: int) -> tuple[bool, bool]:
    """(may watch the job, may see where it runs): the rule of engine.models, in one query."""
    owner_id = StyleJob.objects.visible_to(user).filter(pk=pk).values_list("owner_id", flat=True).first()
    return owner_id is not None, owner_id is not None and may_see_placement(user, owner_id)


@database_sync_to_async
def _job_snapshot(pk: int) -> dict | None:
    job = StyleJob.objects.filter(pk=pk).first()
    return live.snapshot(job) if job is not None else None


@database_sync_to_async
def _jobs_snapshot(user) -> dict:
    jobs = StyleJob.objects.for_user(user).only(
        "pk", "status", "mode", "epoch", "epochs", "step", "total_steps")[:RECENT_JOBS]
    return {"event": "snapshot", "jobs": [events.status_line(events.job_state(job)) for job in jobs]}


class _EventConsumer(AsyncJsonWebsocketConsumer):
    """Relays the group's `job.event` messages to the socket; the browser sends nothing. Every
    socket also joins its log-in session's group, and closes when that session logs out
    (CLOSE_SESSION_ENDED: the page reconnects as whoever it is now)."""

    groups_joined: tuple[str, ...] = ()
    show_placement = True  # where a job runs (worker, device): see JobConsumer

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        # Joined before the snapshot is read: an event published in between is sent after the
        # snapshot rather than lost.
        session_key = getattr(self.scope.get("session"), "session_key", None)
        self.groups_joined = (group, *([events.session_group(session_key)] if session_key else []))
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        pass  # nothing to say: cancelling is a POST, like without JavaScript

    async def send_event(self, event: dict) -> None:
        await self.send_json(event if self.show_placement else events.without_placement(event))

    async def job_event(self, message: dict) -> None:
        await self.send_event(message["event"])

    async def session_ended(self, message: dict) -> None:
        await self.close(code=CLOSE_SESSION_ENDED)


class JobConsumer(_EventConsumer):
    """A job's page. Access is checked at connect and again whenever it may have changed (the job
    was published or made private: a `job.access` message to the job's group); a watcher who may
    no longer see the job is closed with CLOSE_NOT_FOUND. Watchers who may not manage the job get
    its events without where it runs."""

    async def connect(self) -> None:
        self.job_pk = self.scope["url_route"]["kwargs"]["pk"]
        allowed, self.show_placement = await _access(self.scope["user"], self.job_pk)
        if not allowed:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        await self.join(events.job_group(self.job_pk))
        snapshot = await _job_snapshot(self.job_pk)
        if snapshot is None:  # deleted in between
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_event(snapshot)

    async def job_access(self, message: dict) -> None:
        allowed, self.show_placement = await _access(self.scope["user"], self.job_pk)
        if not allowed:
            await self.close(code=CLOSE_NOT_FOUND)


class MyJobsConsumer(_EventConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.refuse(CLOSE_LOGIN_REQUIRED)
            return
        await self.join(events.user_group(user.pk))
        await self.send_json(await _jobs_snapshot(user))
