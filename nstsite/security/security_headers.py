"""Two headers on every response of the site (issue 14, finding 7: no Content-Security-Policy on any
page; private job pages carried no `Cache-Control: private, no-store`).

- Content-Security-Policy: scripts, styles, images, fonts and connections from this site only;
  no inline script or style, no eval, no plugins, no framing, forms post only here. The pages keep
  to it (HELPERS/WAVE2: no inline <script> code, no on*= handlers, no style="" attributes; data for
  scripts in json_script or data- attributes); tests/test_security_headers.py visits every page in
  Chromium and fails on any violation. Images may also be `data:`/`blob:` URLs, and clips `blob:`
  ones (a page may show a chosen file, a clip's first frame, before it is uploaded). connect-src
  names this host's ws:/wss: URLs as well as 'self': the job pages' websockets, also in browsers
  whose 'self' does not cover ws: (CSP level 2).
- Cache-Control: a response to a logged-in user can hold what only they may see (a private job's
  page, their list of jobs, a download of a private job's file), so it is `private, no-store`: no
  shared cache keeps it and the browser does not write it to disk. A view that chose its own
  Cache-Control (the gallery's thumbnails, a public job's files) keeps it. Pages for visitors
  without an account show only what is public.

The middleware sits after Django's AuthenticationMiddleware (it asks request.user) and before
WhiteNoise's static files in the response's path, which have their own caching headers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(host: str | None) -> str:
    """The policy for a page served as `host` (with its port, as in the Host header; None when the
    Host header is not one of ALLOWED_HOSTS: the 400 page that says so opens no socket)."""
    policy = POLICY | {"connect-src": f"'self' ws://{host} wss://{host}" if host else "'self'"}
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            try:
                host = request.get_host()
            except DisallowedHost:
                host = None
            response["Content-Security-Policy"] = content_security_policy(host)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_store=True)
        return response
