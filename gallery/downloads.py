"""Counting an artwork's downloads: each visitor once a day (issue 14, finding 5: 25 anonymous GETs
with `Range: bytes=0-0` added 25 to the count shown).

A download counts when no visitor key has been seen for that artwork that day: the account when
logged in, else the address (nstsite.security.client_ip), kept as a keyed hash, not as the address. The
"seen" marks live in the limits cache (Redis, shared by every web process) until the day is over;
the count itself stays in the database (Artwork.download_count). Not counted: a request for part
of the file (a Range header: a download manager or a player resuming or probing), and HEAD.
If Redis cannot be reached, the download is served and not counted.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from redis.exceptions import RedisError

from gallery.models import Artwork
from nstsite.security.client_ip import client_ip

logger = logging.getLogger(__name__)


def _today() -> date:
    return timezone.localdate()


def visitor_key(request: HttpRequest) -> str:
    """The account, or a keyed hash of the address (not reversible without the secret key)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    digest = hmac.new(settings.SECRET_KEY.encode(), client_ip(request).encode(), hashlib.sha256).hexdigest()
    return f"ip:{digest[:32]}"


def _seconds_left(day: date) -> int:
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return max(60, int((end - timezone.now()).total_seconds()) + 60)


def count_download(request: HttpRequest, artwork: Artwork) -> bool:
    """Add one to the artwork's downloads if this visitor has not downloaded it today; True if counted."""
    if request.method != "GET" or "HTTP_RANGE" in request.META:
        return False
    day = _today()
    key = f"download:{artwork.pk}:{day.isoformat()}:{visitor_key(request)}"
    try:
        first_today = caches[settings.RATELIMIT_USE_CACHE].add(key, 1, timeout=_seconds_left(day))
    except (RedisError, OSError):
        logger.warning("Download of artwork %s not counted: the limits cache cannot be reached", artwork.pk)
        return False
    if first_today:
        Artwork.objects.filter(pk=artwork.pk).update(download_count=F("download_count") + 1)
    return first_today
