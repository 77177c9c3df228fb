"""ASGI entry point (daphne): HTTP goes to Django, websockets to Channels' consumers.

    daphne nstsite.asgi:application        (scripts/run and docker-compose run exactly this)

Websockets pass two checks before a consumer sees them: the Origin header must name one of
ALLOWED_HOSTS (another site's page cannot open a socket with the visitor's cookies), and the
session cookie gives `scope["user"]`, so consumers authorise like views do.
"""

import os

from django.core.asgi import get_asgi_application

from nstsite.limits import limit_http

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")

# Django must be set up (get_asgi_application does it) before anything imports models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from engine.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    # HTTP bodies over settings.NST_MAX_REQUEST_BYTES get a 413 page before they are stored.
    "http": limit_http(django_application),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
