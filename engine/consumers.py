"""Websocket consumers: a job's live progress (ws/jobs/<pk>/) and a user's jobs (ws/jobs/).

Both authorise in connect(), as the views do: a job's socket is for whoever may see the job's page
(its owner, staff, anyone for a public job); the list's socket is for a logged-in user and carries
only their jobs. A refused socket is accepted and closed at once with a code the page can act on
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
from .models import StyleJob

CLOSE_NOT_FOUND = 4404       # no such job, or not one this user may see (as the page's 404)
CLOSE_LOGIN_REQUIRED = 4401  # "my jobs" without a logged-in user
RECENT_JOBS = 50             # jobs in the "my jobs" snapshot (the page shows 20 per page)


@database_sync_to_async
def _may_watch(user, pk: int) -> bool:
    return StyleJob.objects.visible_to(user).filter(pk=pk).exists()


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
    """Relays the group's `job.event` messages to the socket; the browser sends nothing."""

    group: str | None = None

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def join(self, group: str) -> None:
        # Joined before the snapshot is read: an event published in between is sent after the
        # snapshot rather than lost.
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        pass  # nothing to say: cancelling is a POST, like without JavaScript

    async def job_event(self, message: dict) -> None:
        await self.send_json(message["event"])


class JobConsumer(_EventConsumer):
    async def connect(self) -> None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        if not await _may_watch(self.scope["user"], pk):
            await self.refuse(CLOSE_NOT_FOUND)
            return
        await self.join(events.job_group(pk))
        snapshot = await _job_snapshot(pk)
        if snapshot is None:  # deleted in between
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(snapshot)


class MyJobsConsumer(_EventConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.refuse(CLOSE_LOGIN_REQUIRED)
            return
        await self.join(events.user_group(user.pk))
        await self.send_json(await _jobs_snapshot(user))
