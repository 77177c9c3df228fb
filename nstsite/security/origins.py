"""Which pages may open a websocket with the visitor's cookies: this site's own, exactly.

A browser sends a websocket handshake to any site a page asks it to, with that site's cookies, and
says in Origin which page asked. Channels' AllowedHostsOriginValidator compares only the origin's
host name with ALLOWED_HOSTS, so a page on another port or scheme of the same host
(http://127.0.0.1:9999, http://localhost:1234) was let in (issue 24, finding 10). Here the origin
must be the one the handshake was addressed to, scheme, host and port, as Django's CSRF check
compares the Origin of a POST (CsrfViewMiddleware: "scheme://Host"), or one of
CSRF_TRUSTED_ORIGINS; and the Host must be one of ALLOWED_HOSTS.

The scheme: daphne does not put one in a websocket's scope, and behind the proxy the browser's is
the proxy's X-Forwarded-Proto (settings.SECURE_PROXY_SSL_HEADER, as for pages): the servers are
reachable through the proxy only (nstsite/webtier/webserver.py), which overwrites that header.
"""

from __future__ import annotations

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _headers(scope) -> dict[bytes, str]:
    return {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def _secure(scope, headers: dict[bytes, str]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    meta_name, value = proxy_header
    name = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
    return headers.get(name, "").split(",")[0].strip() == value


def same_origin(scope) -> bool:
    """Is the handshake's Origin this site, as the handshake reached it (see the module notes)?"""
    headers = _headers(scope)
    origin, host = headers.get(b"origin", ""), headers.get(b"host", "")
    domain, _ = split_domain_port(host)
    if not origin or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    expected = f"{'https' if _secure(scope, headers) else 'http'}://{host}"
    return origin.lower() == expected.lower() or origin in settings.CSRF_TRUSTED_ORIGINS


class SameOriginOnly:
    """ASGI middleware for websockets: a handshake from another origin is refused (403) before the
    session is looked up or a consumer is made."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
