"""How many e-mails the site sends one address in a day (issue 24, finding 4: signing up with a
victim's address and submitting batches with notifications on gave about 1,200 mails an hour).

Every mail the site sends of its own (the address's verification link, the job and batch mails of
engine.notifications) goes through `send`, which counts it against two caps per address and UTC
day: settings.NST_MAILS_PER_ADDRESS_PER_DAY for all of them, and the stricter
NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY for verification links, the only mail an address that
has not confirmed it wants them can get (sign-ups with someone else's address). Password-reset
mails are Django's, limited per address by nstsite.request_limits.rate_limits.

The counters live in the "limits" cache (Redis, shared by the web processes and the workers, which
send the job mails), keyed by a hash of the address, not the address itself. If Redis cannot be
reached the mail is not sent (and a warning logged): a missed notification costs less than a flood.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from django.core.mail import send_mail
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

VERIFICATION = "verification"
NOTIFICATION = "notification"
DAY_SECONDS = 86400


def _key(address: str, kind: str, day: str) -> str:
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]
    return f"mail-cap:{kind}:{digest}:{day}"


def _count(address: str, kind: str) -> int:
    """One more mail of `kind` to `address` today; the day's count so far, this one included."""
    cache = caches["limits"]
    key = _key(address, kind, datetime.now(UTC).strftime("%Y-%m-%d"))
    cache.add(key, 0, timeout=2 * DAY_SECONDS)
    return cache.incr(key)


def within_cap(address: str, kind: str) -> bool:
    """Count a mail of `kind` (VERIFICATION or NOTIFICATION) to `address`; False when it would go
    over either of the day's caps, or the counters cannot be reached."""
    caps = [("all", settings.NST_MAILS_PER_ADDRESS_PER_DAY)]
    if kind == VERIFICATION:
        caps.append((VERIFICATION, settings.NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY))
    try:
        over = [name for name, cap in caps if _count(address, name) > cap]
    except (RedisError, OSError, ValueError):
        logger.warning("E-mail not sent: the per-address counters cannot be reached", exc_info=True)
        return False
    if over:
        logger.warning("E-mail not sent: the address has had its %s mails of the day", " and ".join(over))
    return not over


def send(address: str, subject: str, body: str, *, kind: str = NOTIFICATION) -> bool:
    """Send one mail to `address` if it is within the day's caps; whether it was sent. A mail
    server that refuses is logged, never raised: the callers (sign-up, a job's end) go on."""
    if not address or not within_cap(address, kind):
        return False
    try:
        send_mail(subject, body, None, [address])
    except Exception:  # noqa: BLE001 - SMTP refusals, timeouts, DNS: none of them may break the caller
        logger.exception("Could not send an e-mail (%s)", kind)
        return False
    return True
