"""Personal API tokens: made, found and revoked here (the "API tokens" page and the API's
authentication use these; nothing else reads the table).

A token is "nst_" and 43 URL-safe characters (256 random bits). It is shown once, when made; the
table keeps its SHA-256 and its first characters. Its last use is written at most once a minute,
so that a program polling a job every second does not write a row every second.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from api.models import ApiToken, Scope

PREFIX = "nst_"
SHOWN = 12                    # characters of a token kept readable ("nst_" and 8 more)
LAST_USE_PRECISION = timedelta(minutes=1)


class TokenRefused(Exception):
    """A token cannot be made; the message is for its would-be owner."""


def digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def issue(user, name: str, scope: str = Scope.READ, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`: its row and the token itself (to be shown once, never stored)."""
    if ApiToken.objects.usable().filter(user=user).count() >= settings.NST_API_MAX_TOKENS:
        raise TokenRefused(f"You have {settings.NST_API_MAX_TOKENS} tokens already; revoke one you no longer "
                           "use before making another.")
    plain = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name.strip() or "Unnamed token", prefix=plain[:SHOWN],
                                    digest=digest(plain), scope=scope, expires_at=expires_at)
    return token, plain


def find(plain: str) -> ApiToken | None:
    """The usable token `plain` is (its user loaded), or None: unknown, revoked, expired, or its
    user inactive. One query."""
    if not plain.startswith(PREFIX) or len(plain) > 100:
        return None
    token = ApiToken.objects.usable().select_related("user").filter(digest=digest(plain)).first()
    if token is None or not token.user.is_active:
        return None
    return token


def touch(token: ApiToken) -> None:
    """Record a use (at most one write a minute per token)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def revoke(user, pk: int) -> ApiToken | None:
    """Revoke one of `user`'s tokens: requests with it get 401 from now on, and the live sockets it
    opened close (api.socket_auth joins them to the token's group). None when they have no such
    usable token."""
    token = ApiToken.objects.usable().filter(user=user, pk=pk).first()
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    _close_sockets(token.pk)
    return token


def socket_group(pk: int) -> str:
    """The channel-layer group of the live sockets a token opened (directly or through a ticket)."""
    return f"api_token_{pk}"


def _close_sockets(pk: int) -> None:
    """Tell the token's sockets that it is gone: they close as a logged-out session's do."""
    from channels.layers import get_channel_layer

    from engine.live import events, publisher

    layer = get_channel_layer()
    if layer is not None:
        publisher.submit(publisher.Batch(layer, [(socket_group(pk), dict(events.SESSION_ENDED))]), wait=True)
