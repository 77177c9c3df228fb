"""ASGI entry point (daphne). Websocket routing through Channels is added with the platform issue."""

import os

from django.core.asgi import get_asgi_application

from nstsite.limits import limit_http

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")

# HTTP bodies over settings.NST_MAX_REQUEST_BYTES get a 413 page before they are stored.
application = limit_http(get_asgi_application())
