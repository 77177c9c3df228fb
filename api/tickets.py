"""Websocket tickets: how a program opens a job's live events without cookies and without putting
its token in a URL (where proxies and logs would keep it).

    POST /api/v1/jobs/{id}/ticket/   ->  {"ticket": "...", "url": "wss://host/ws/jobs/{id}/?ticket=...",
                                          "expires_in": 60}

A ticket is 256 random bits, kept in Redis (as its SHA-256, for NST_API_TICKET_SECONDS) with the
user, the job and the token that asked for it; api.socket_auth takes it with GETDEL, so it opens
one socket, once, for that job only.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from django.conf import settings

from api.models import ApiToken
from engine.jobs import queue

KEY = "nst:ws-ticket:{}"

DESCRIPTION = """\
Open `url` as a websocket within `expires_in` seconds (once: a ticket opens one socket). No cookie
and no token is needed on the socket itself. A program may instead send its token as a websocket
subprotocol: offer `["nstsite.v1", "bearer.<token>"]`; the server accepts `nstsite.v1`.

The socket sends JSON messages (the `LiveEvent` schema), the first a `snapshot` of the job's whole
state, then one per change: `queued` (a new place in the queue), `started`, `progress` (at most
about five a second, and at every epoch's end with its `preview`), and the end: `finished`,
`failed` (with `message`) or `cancelled`. It closes with 4404 when the job is not one you may see
(or is deleted), 4401 when the ticket or token is not valid, and 4001 when the token is revoked.
"""


def _key(ticket: str) -> str:
    return KEY.format(hashlib.sha256(ticket.encode()).hexdigest())


def issue(request, job_pk: int) -> dict:
    ticket = secrets.token_urlsafe(32)
    token = request.auth if isinstance(request.auth, ApiToken) else None
    value = {"user": request.user.pk, "job": job_pk, "token": token.pk if token else None}
    queue.redis_connection().set(_key(ticket), json.dumps(value), ex=settings.NST_API_TICKET_SECONDS)
    scheme = "wss" if request.is_secure() else "ws"
    return {"ticket": ticket, "url": f"{scheme}://{request.get_host()}/ws/jobs/{job_pk}/?ticket={ticket}",
            "expires_in": settings.NST_API_TICKET_SECONDS}


def redeem(ticket: str) -> dict | None:
    """What the ticket was issued for ({"user", "job", "token"}), once; None when unknown or used."""
    if not ticket or len(ticket) > 100:
        return None
    raw = queue.redis_connection().getdel(_key(ticket))
    return json.loads(raw) if raw else None
