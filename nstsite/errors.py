"""Friendly answers for failures that would otherwise show Django's bare pages or a 500:

- a form posted without a valid CSRF token (forged, or a page left open past a log-in/out):
  `csrf_failure`, settings.CSRF_FAILURE_VIEW, renders templates/403_csrf.html with the site's
  layout and a fresh token, so that reloading the form and sending it again works;
- too many failed log-ins (django-axes): `login_locked_out`, settings.AXES_LOCKOUT_CALLABLE,
  renders templates/429.html saying for how long;
- the job queue's Redis unreachable in a view that did not catch it itself:
  `QueueUnavailableMiddleware` turns the RedisError into templates/503.html. The job views handle
  Redis failures themselves (engine/jobs/queue.py); this is the net under pages that come later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # `reason` is for developers ("CSRF token missing."); users get what to do instead.
    logger.warning("CSRF failure on %s %s: %s", request.method, request.path, reason)
    return render(request, "403_csrf.html", status=403)


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)),
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
    }
    return render(request, "429.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


class QueueUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RedisError):
            return None
        logger.error("Redis unreachable on %s %s", request.method, request.path, exc_info=exception)
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "60"
        return response
