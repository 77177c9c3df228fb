"""Talking to the site as a visitor does, for the tests: the test users' password, the errors a form
page shows next to a field, and a websocket opened through the whole ASGI stack (origin check,
session auth, routing)."""

from __future__ import annotations

import re

PASSWORD = "correct-Horse-battery-9"  # every test user's (tests/conftest.py makes them)
ORIGIN = b"http://localhost"          # a page of the site itself (ALLOWED_HOSTS in the tests)


def field_errors(response, name: str) -> str:
    """The text of the errors shown inside the field's own block on the page."""
    html = response.content.decode()
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)</div>', html, re.S)
    assert match, f"field {name} is not on the page"
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', match.group(1), re.S)
    return re.sub(r"<[^>]+>", " ", errors.group(1)).strip() if errors else ""


def communicator(path: str, cookie_header: bytes | None = None, origin: bytes = ORIGIN):
    """A Channels WebsocketCommunicator on nstsite.asgi's application, as a browser on `origin`
    with `cookie_header` (tests/conftest.py's `cookie` fixture makes one) would open it."""
    from channels.testing import WebsocketCommunicator

    from nstsite.asgi import application  # the whole stack: origin check, session auth, routing

    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if cookie_header:
        headers.append((b"cookie", cookie_header))
    return WebsocketCommunicator(application, path, headers=headers)
