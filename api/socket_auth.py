"""Websocket handshakes of programs (nstsite.asgi puts this in front of the browsers' stack).

A handshake that carries a ticket (`?ticket=`, api.tickets) or offers a token as a subprotocol
(`bearer.<token>`, beside `nstsite.v1`) is a program's: it is authenticated by that alone, and the
same-origin check and the session cookie are not asked (they protect a browser's cookies, which
a ticket or a token is not). Its consumer is the pages' own (engine.live.consumers: the same
access rule, snapshot and events); `scope["nst_api"]` tells it the subprotocol to accept and the
group that closes the socket when the token is revoked. A handshake that fails is closed with 4401.
Any other handshake goes on to the browsers' stack, unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from api import tickets, tokens

SUBPROTOCOL = "nstsite.v1"
BEARER = "bearer."
CLOSE_NOT_AUTHENTICATED = 4401
JOB_PATH = re.compile(r"^/ws/jobs/(\d+)/$")


def credentials(scope) -> tuple[str, str] | None:
    """("ticket", value) or ("token", value) when the handshake is a program's, else None."""
    ticket = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
    if ticket:
        return "ticket", ticket[0]
    for offered in scope.get("subprotocols") or ():
        if offered.startswith(BEARER):
            return "token", offered[len(BEARER):]
    return None


@database_sync_to_async
def _authenticate(kind: str, value: str, path: str) -> tuple[object, int | None] | None:
    """(user, token pk) of the credentials, or None."""
    if kind == "token":
        token = tokens.find(value)
        return (token.user, token.pk) if token is not None else None
    found = tickets.redeem(value)
    match = JOB_PATH.match(path)
    if found is None or match is None or int(match.group(1)) != found["job"]:
        return None
    user = get_user_model().objects.filter(pk=found["user"], is_active=True).first()
    return (user, found["token"]) if user is not None else None


async def _refuse(scope, receive, send) -> None:
    """Accept, then close with CLOSE_NOT_AUTHENTICATED (a refused handshake would give only 1006)."""
    await receive()  # websocket.connect
    subprotocol = SUBPROTOCOL if SUBPROTOCOL in (scope.get("subprotocols") or ()) else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    await send({"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED})


class ProgramSockets:
    """ASGI middleware: programs' handshakes to `programs`, every other one to `browsers`."""

    def __init__(self, programs, browsers):
        self.programs, self.browsers = programs, browsers

    async def __call__(self, scope, receive, send):
        found = credentials(scope) if scope["type"] == "websocket" else None
        if found is None:
            return await self.browsers(scope, receive, send)
        authenticated = await _authenticate(*found, scope.get("path", ""))
        if authenticated is None:
            return await _refuse(scope, receive, send)
        user, token_pk = authenticated
        offered = scope.get("subprotocols") or ()
        api = {"subprotocol": SUBPROTOCOL if SUBPROTOCOL in offered else None,
               "groups": (tokens.socket_group(token_pk),) if token_pk else ()}
        return await self.programs({**scope, "user": user, "nst_api": api}, receive, send)
