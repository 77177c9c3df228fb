"""WSGI entry point, for HTTP-only servers (no websockets: prefer asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

from nstsite.webtier.unread_body import ReadUnreadBody

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")

# A body the view did not read is read before the answer goes out (nstsite/webtier/unread_body.py).
application = ReadUnreadBody(get_wsgi_application())
