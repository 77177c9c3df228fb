"""ASGI entry points (daphne): HTTP goes to Django, websockets to Channels' consumers.

    daphne nstsite.asgi:application          every page and the websockets (one server alone)
    daphne nstsite.asgi:sockets_application  the websockets only (scripts/run and docker-compose,
                                             behind the proxy: nstsite/webtier/webserver.py)

Websockets pass two checks before a consumer sees them: the Origin header must be this site's own,
scheme, host and port (nstsite.security.origins), so another site's page, or a page on another port of the
same host, cannot open a socket with the visitor's cookies; and the session cookie gives
`scope["user"]`, so consumers authorise like views do. A program's handshake (a ticket, or its
API token as a subprotocol: api.socket_auth) is authenticated by that instead, without cookies,
and reaches the same consumers.

Behind the proxy the pages come from gunicorn, under the proxy's body limits and rate limits; the
websocket server answers 404 to any plain HTTP request (issue 24, finding 9), so that it is no
second way to the pages.
"""

import os

from django.core.asgi import get_asgi_application

from nstsite.request_limits.limits import limit_http

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")

# Django must be set up (get_asgi_application does it) before anything imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from api.socket_auth import ProgramSockets  # noqa: E402
from engine.routing import websocket_urlpatterns  # noqa: E402
from nstsite.security.origins import SameOriginOnly  # noqa: E402

websockets = ProgramSockets(programs=URLRouter(websocket_urlpatterns),
                            browsers=SameOriginOnly(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))

NOT_HERE = b"Not found: this server serves websockets only; pages come through the site's address.\n"


async def not_here(scope, receive, send) -> None:
    """Every plain HTTP request to the websocket server: 404, the body never read."""
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length",
                                                                              str(len(NOT_HERE)).encode())]})
    await send({"type": "http.response.body", "body": NOT_HERE})


application = ProtocolTypeRouter({
    # HTTP bodies over settings.NST_MAX_REQUEST_BYTES get a 413 page before they are stored.
    "http": limit_http(django_application),
    "websocket": websockets,
})

sockets_application = ProtocolTypeRouter({"http": not_here, "websocket": websockets})
