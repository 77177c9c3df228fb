"""Refusals as RFC 9457 problem details (`application/problem+json`):

    {"type": "https://site/api/problems/#quota-exceeded", "title": "Over a quota", "status": 409,
     "detail": "<the message a person sees on the page>", "instance": "/api/v1/jobs/",
     "errors": {"size": [{"message": "...", "code": "max_value"}]}}      (a form's refusals only)

`type` names the kind of refusal (PROBLEMS, listed on the page /api/problems/); `detail` is the
sentence the pages show for the same refusal. A 429 carries `Retry-After`, a 401
`WWW-Authenticate: Bearer`. Whatever else goes wrong in an API view is a problem too (503 when the
queue's Redis cannot be reached, 500 otherwise, logged): a program never gets an HTML page or a
traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"

# slug: (title, what it means: the /api/problems/ page).
PROBLEMS: dict[str, tuple[str, str]] = {
    "invalid-submission": ("The job was not created",
                           "A field or file was refused, with the form's own messages (`errors`, by field; "
                           "`__all__` for the form as a whole)."),
    "quota-exceeded": ("Over a quota", "Too many active jobs, or your jobs' files fill your storage quota."),
    "rate-limited": ("Too many requests",
                     "Too many submissions in a short time; `Retry-After` says when to try again."),
    "not-authenticated": ("Authentication needed", "Send `Authorization: Bearer <token>`."),
    "invalid-token": ("Token not valid", "The token is unknown, revoked or expired."),
    "read-only-token": ("Read-only token", "A read token cannot submit, cancel or delete."),
    "forbidden": ("Not allowed", "You may not do this."),
    "not-found": ("Not found", "No such object, or not one you may see."),
    "conflict": ("Not in a state for that", "E.g. deleting a job that is still running: cancel it first."),
    "idempotency-key-reused": ("Idempotency key used for another request",
                               "The same `Idempotency-Key` came with different fields or files."),
    "idempotency-key-in-use": ("Request with this key in progress",
                               "A request with the same `Idempotency-Key` is still being handled; try again."),
    "invalid-request": ("Invalid request", "A parameter is missing or malformed."),
    "method-not-allowed": ("Method not allowed", "This URL does not take that method."),
    "unsupported-media-type": ("Unsupported media type",
                               "Send multipart/form-data (or JSON where the endpoint says so)."),
    "service-unavailable": ("Try again later", "The job queue or the storage cannot be reached just now."),
    "server-error": ("Server error", "Something went wrong on our side; it has been logged."),
}


def type_uri(request, slug: str) -> str:
    return request.build_absolute_uri(reverse("api:problems")) + f"#{slug}"


def problem(request, status: int, slug: str, detail: str, *, headers: dict | None = None, **extra) -> Response:
    """A problem-details answer (see the module notes); `extra` adds members (e.g. errors)."""
    body = {"type": type_uri(request, slug), "title": PROBLEMS[slug][0], "status": status, "detail": detail,
            "instance": request.path, **extra}
    return Response(body, status=status, headers=headers, content_type=CONTENT_TYPE)


def _slug(exc: exceptions.APIException) -> str:
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else None
    if isinstance(exc, exceptions.NotAuthenticated):
        return "not-authenticated"
    if isinstance(exc, exceptions.AuthenticationFailed):
        return "invalid-token"
    if isinstance(exc, exceptions.PermissionDenied):
        return "read-only-token" if code == "read_only_token" else "forbidden"
    return {404: "not-found", 405: "method-not-allowed", 415: "unsupported-media-type", 429: "rate-limited",
            409: "conflict"}.get(exc.status_code, "invalid-request")


NOT_AUTHENTICATED = ("Authentication needed: send a personal token as `Authorization: Bearer <token>` (make one on "
                     "your \"API tokens\" page).")


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's exception handler (settings.REST_FRAMEWORK): every exception of an API view as a problem."""
    request = context["request"]
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*(exc.args or ("Not found.",)))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RedisError):
        logger.warning("API %s %s: the queue's Redis cannot be reached", request.method, request.path, exc_info=True)
        return problem(request, 503, "service-unavailable",
                       "The job queue cannot be reached right now. Please try again in a few minutes.",
                       headers={"Retry-After": "60"})
    if not isinstance(exc, exceptions.APIException):
        logger.exception("API %s %s failed", request.method, request.path)
        return problem(request, 500, "server-error", "Something went wrong on our side; it has been logged.")
    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    slug = _slug(exc)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"__all__": exc.detail}
        return problem(request, exc.status_code, slug, "The request has invalid parameters.", headers=headers,
                       errors={name: [{"message": str(m), "code": getattr(m, "code", "invalid")}
                                      for m in (messages if isinstance(messages, list) else [messages])]
                               for name, messages in errors.items()})
    detail = NOT_AUTHENTICATED if slug == "not-authenticated" else str(exc.detail)
    return problem(request, exc.status_code, slug, detail, headers=headers)
