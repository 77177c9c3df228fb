"""Large uploads for signed-in sessions only (issue 24, finding 2).

The submission URL takes a body as large as a clip (nstsite.request_limits.limits: hundreds of megabytes), and
nobody may submit without signing in; but a server receives a body before the view that says so
runs. Three anonymous 540 MB uploads held open put 1.6 GB into the proxy's body folder, and an
anonymous 400 MB POST was spooled to /tmp by Django before the log-in redirect.

- `may_upload`: the proxy's question, asked without the body (nginx auth_request: nstsite/webtier/proxy.py)
  before it reads a byte of a large one: 204 for a signed-in session or a program's valid API token
  (the API's submission, api/), or a method without a body; 401 otherwise, which nginx turns into
  the log-in redirect (a 401 for the API). One session or token lookup, no body, no form.
- `SignedInUploadsOnly`: the same rule inside Django, for a server reached without the proxy (a
  test server, a deployment that forgot the proxy): an anonymous POST to a URL of the larger body
  limit is sent to log in before anything reads its body, so nothing is parsed or spooled. It sits
  right after AuthenticationMiddleware, before the CSRF check (which would read the body).
"""

from __future__ import annotations

import json
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


def signed_in(request: HttpRequest) -> bool:
    """A signed-in session, or an API token that is valid now (api.tokens: one query)."""
    if request.user.is_authenticated:
        return True
    from api import tokens
    from api.authentication import bearer_credentials

    plain = bearer_credentials(request.headers.get("Authorization", ""))
    return plain is not None and tokens.find(plain) is not None


@never_cache
def may_upload(request: HttpRequest) -> HttpResponse:
    """204 if the request nginx is about to read may send a large body, else 401 (see the notes)."""
    if request.headers.get("X-Original-Method", "GET").upper() in BODILESS or signed_in(request):
        return HttpResponse(status=204)
    return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _api_refusal() -> HttpResponse:
    """The API's 401 (api.problems' words), for a program that sent no valid token."""
    from api.problems import CONTENT_TYPE, NOT_AUTHENTICATED

    body = {"type": "about:blank", "title": "Authentication needed", "status": 401, "detail": NOT_AUTHENTICATED}
    return HttpResponse(json.dumps(body), status=401, content_type=CONTENT_TYPE,
                        headers={"WWW-Authenticate": 'Bearer realm="api"'})


class SignedInUploadsOnly:
    """Middleware: an anonymous POST to a large-body URL goes to log in (a program: 401), its body unread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in BODILESS and request.path in large_body_paths() and not signed_in(request):
            if request.path.startswith("/api/"):
                return _api_refusal()
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)
