"""Talking to the site as a visitor does, for the tests: the test users' password, the errors a form
page shows next to a field, a websocket opened through the whole ASGI stack (origin check,
session auth, routing), and a session signed in through a running site's log-in form."""

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


def csrf_token(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def signed_in_session(url: str, username: str, password: str):
    """A requests.Session signed in through the log-in form of the site at `url` (a running
    platform: tests/harness.py)."""
    import requests

    session = requests.Session()
    page = session.get(url + "/accounts/login/", timeout=30)
    answer = session.post(url + "/accounts/login/", timeout=30, headers={"Referer": url},
                          data={"csrfmiddlewaretoken": csrf_token(page.text), "username": username,
                                "password": password})
    assert answer.ok and "/accounts/login/" not in answer.url, answer.url
    return session
