"""Rate limits on what anyone can ask for cheaply and repeat: sign-ups, log-ins, password-reset
e-mails and job submissions (issue 14). Each limit is a number of events per period for one key
(the browser's address, the account, the e-mail address asked for), counted by django-ratelimit
in fixed windows in the "limits" cache, which is Redis: several web processes serve the site,
and a count kept in one process's memory would let each of them allow the whole limit.

    limit name              counts                                     over the limit
    signup_ip               sign-up forms sent, per address            429 page
    login_failures_ip       failed log-ins per address, any username   429 page
                            (per username and address: django-axes, settings.AXES_*)
    password_reset_ip       reset forms sent, per address              429 page
    password_reset_email    reset e-mails, per address asked for       none sent, the usual page
    submit_user / _ip       job forms sent, per account / address      the form again, 429

A password reset over its per-e-mail limit is answered as any other: a 429 there would tell
whoever asks that the address has an account (or that someone else asked for it).

Why django-ratelimit: django-axes (already here) locks out (username, address) pairs on log-in
only, and cannot count sign-ups, resets or submissions; django-allauth's rate limits come with its
own account views, forms and URLs, which would replace the site's (stable URLs and field names,
templates) for counters of the same kind. django-ratelimit is a small kept library whose core
(get_usage) counts any key in any cache, so it serves the views as they are.

If the cache cannot be reached, requests are let through (and a warning logged): the limits
protect the site's resources, and Redis being down must not lock everyone out of logging in.

The rates are settings.NST_RATE_LIMITS ("20/h": 20 per hour; s, m, h, d), each from its
environment variable NST_RATE_<NAME> (README).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from nstsite.security.client_ip import client_ip

logger = logging.getLogger(__name__)

# What each limit counts, in the words of the 429 page ("too many ... from your network").
WHAT = {
    "signup_ip": ("sign-ups", "your network"),
    "login_failures_ip": ("failed log-ins", "your network"),
    "password_reset_ip": ("password-reset requests", "your network"),
    "submit_user": ("job submissions", "your account"),
    "submit_ip": ("job submissions", "your network"),
}


@dataclass(frozen=True)
class Refusal:
    limit: str          # its name in settings.NST_RATE_LIMITS
    retry_after: int    # seconds until the window ends

    @property
    def message(self) -> str:
        what, whose = WHAT.get(self.limit, ("requests", "your network"))
        return (f"There were too many {what} from {whose} in a short time. Please try again in "
                f"{_in_words(self.retry_after)}.")


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return "a minute"
    minutes = round(seconds / 60)
    return f"{minutes} minutes" if minutes < 90 else f"{round(minutes / 60)} hours"


def _key(name: str) -> Callable[[str, HttpRequest], str]:
    """The value a limit counts by: the address, the account or the e-mail address asked for."""
    if name.endswith("_user"):
        return lambda group, request: f"user:{request.user.pk}"
    if name.endswith("_email"):
        return lambda group, request: "email:" + request.POST.get("email", "").strip().lower()
    return lambda group, request: f"ip:{client_ip(request)}"


def _usage(request: HttpRequest, name: str, *, increment: bool) -> dict | None:
    rate = settings.NST_RATE_LIMITS[name]
    try:
        return get_usage(request, group=f"nst:{name}", key=_key(name), rate=rate, increment=increment)
    except (RedisError, OSError):
        logger.warning("Rate limit %s not checked: its cache cannot be reached", name, exc_info=True)
        return None


def count(request: HttpRequest, *names: str) -> Refusal | None:
    """Count this request against each of the limits `names`; the first one it goes over, or None."""
    for name in names:
        usage = _usage(request, name, increment=True)
        if usage is not None and usage["should_limit"]:
            return Refusal(name, max(1, usage["time_left"]))
    return None


def reached(request: HttpRequest, name: str) -> Refusal | None:
    """Whether the limit `name` is used up already, without counting this request (for limits
    counted elsewhere: failed log-ins are counted when they fail, by count_failed_login)."""
    usage = _usage(request, name, increment=False)
    if usage is not None and usage["count"] >= usage["limit"]:
        return Refusal(name, max(1, usage["time_left"]))
    return None


def too_many_requests(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """templates/429.html, with a Retry-After header."""
    response = render(request, "429.html", {"refusal": refusal}, status=429)
    response["Retry-After"] = str(refusal.retry_after)
    return response


def limit_posts(*names: str, failed_logins: bool = False) -> Callable:
    """A view decorator: POSTs over any of the limits `names` get the 429 page instead of the view;
    with failed_logins, so do POSTs from an address that has used up its failed log-ins."""
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "POST":
                refusal = (reached(request, "login_failures_ip") if failed_logins else None) or count(request, *names)
                if refusal is not None:
                    logger.warning("Rate limit %s reached by %s on %s", refusal.limit, client_ip(request), request.path)
                    return too_many_requests(request, refusal)
            return view(request, *args, **kwargs)
        return limited
    return decorator


def count_failed_login(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """django.contrib.auth's user_login_failed receiver: one more failed log-in from this address."""
    if request is not None:
        count(request, "login_failures_ip")


def email_over_limit(request: HttpRequest) -> bool:
    """Count a password-reset e-mail to the address in the form; True when that address has had
    its share (the caller then sends nothing and says nothing different)."""
    refusal = count(request, "password_reset_email")
    if refusal is not None:
        logger.warning("Password-reset e-mail not sent: limit reached for the address asked for")
    return refusal is not None
