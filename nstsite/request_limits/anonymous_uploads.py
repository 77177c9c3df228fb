"""Large uploads for signed-in sessions only (issue 24, finding 2).

The submission URL takes a body as large as a clip (nstsite.request_limits.limits: hundreds of megabytes), and
nobody may submit without signing in; but a server receives a body before the view that says so
runs. Three anonymous 540 MB uploads held open put 1.6 GB into the proxy's body folder, and an
anonymous 400 MB POST was spooled to /tmp by Django before the log-in redirect.

- `may_upload`: the proxy's question, asked without the body (nginx auth_request: nstsite/webtier/proxy.py)
  before it reads a byte of a large one: 204 for a signed-in session (or a method without a body),
  401 otherwise, which nginx turns into the log-in redirect. One session lookup, no body, no form.
- `SignedInUploadsOnly`: the same rule inside Django, for a server reached without the proxy (a
  test server, a deployment that forgot the proxy): an anonymous POST to a URL of the larger body
  limit is sent to log in before anything reads its body, so nothing is parsed or spooled. It sits
  right after AuthenticationMiddleware, before the CSRF check (which would read the body).
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

BODILESS = ("GET", "HEAD", "OPTIONS")


@lru_cache(maxsize=1)
def large_body_paths() -> frozenset[str]:
    """The URLs whose body limit is a clip's, not a page's (nstsite.request_limits.limits.body_limits)."""
    from nstsite.request_limits.limits import body_limits

    return frozenset(body_limits().larger)


@never_cache
def may_upload(request: HttpRequest) -> HttpResponse:
    """204 if the request nginx is about to read may send a large body, else 401 (see the notes)."""
    if request.headers.get("X-Original-Method", "GET").upper() in BODILESS or request.user.is_authenticated:
        return HttpResponse(status=204)
    return HttpResponse(status=401)


class SignedInUploadsOnly:
    """Middleware: an anonymous POST to a large-body URL goes to log in, its body unread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.method not in BODILESS and request.path in large_body_paths()
                and not request.user.is_authenticated):
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)
