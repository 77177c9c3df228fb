"""Is the log-in session a socket was opened with still good? (issue 24, finding 7: after a password
change in another session, the old session's socket went on receiving a new job's events.)

A page request answers that on every request: django.contrib.auth.get_user compares the session's
auth hash (HASH_SESSION_KEY, an HMAC of the user's password hash) with the user's current one, so a
password change logs every other session out. A socket is authorised once, at its handshake
(channels' AuthMiddleware runs the same comparison), and then lives for hours; the consumers
(engine.live.consumers) ask `session_still_valid` again before they deliver an event, at most once
every RECHECK_SECONDS per socket: two small queries (the session row, the user's password), not one
per progress event.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

# How stale a socket's answer may get while events flow: a revoked session may see this long of a
# job's events after the change, never more.
RECHECK_SECONDS = 15.0


def session_still_valid(scope) -> bool:
    """Whether the socket's log-in session still signs its user in, as Django's own check has it:
    the session still exists and names this user, who is still active, and its auth hash is the
    one the user's current password gives (or one a SECRET_KEY_FALLBACKS key gives). True for a
    visitor's socket and for one not opened by a log-in session (nothing of a session to revoke).
    Changes nothing: Django's next page request flushes a stale session, as it always does."""
    user = scope.get("user")
    session_key = getattr(scope.get("session"), "session_key", None)
    if user is None or not user.is_authenticated or not session_key:
        return True
    stored = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    session_hash = stored.get(HASH_SESSION_KEY)
    if str(stored.get(SESSION_KEY)) != str(user.pk) or not session_hash:
        return False
    current = get_user_model().objects.filter(pk=user.pk, is_active=True).only("password").first()
    if current is None:
        return False
    return (constant_time_compare(session_hash, current.get_session_auth_hash())
            or any(constant_time_compare(session_hash, fallback)
                   for fallback in current.get_session_auth_fallback_hash()))
