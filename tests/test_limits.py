"""Request size limits at the server (nstsite/request_limits/limits.py): an over-size body gets the friendly 413
page before it is stored, whether it says its length (Content-Length) or not (chunked).

Two parts: the ASGI middleware, driven with real ASGI messages (alone and around the real Django
application), and the whole stack through a real daphne process on a free port, spoken to over a
socket and with `requests`, the way a browser or a script would."""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from nstsite.request_limits.limits import BodySizeLimit, content_length, limit_http
from tests.harness import HarnessError, Process, free_port, process_env, wait_http

REPO = Path(__file__).resolve().parents[1]
MB = 2**20


# --- the middleware, with ASGI messages ---------------------------------------------------------------

class Recorder:
    """An ASGI application that reads the whole body, then answers 200 with its length."""

    def __init__(self):
        self.called = False
        self.messages: list[dict] = []

    async def __call__(self, scope, receive, send):
        self.called = True
        body = b""
        while True:
            message = await receive()
            self.messages.append(message)
            if message["type"] == "http.disconnect":
                # What Django's ASGIHandler does: the request is aborted, nothing is answered...
                # but a careless application might still try to answer; the middleware drops it.
                await send({"type": "http.response.start", "status": 500, "headers": []})
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def http_scope(length: int | None = None, path: str = "/jobs/new/") -> dict:
    headers = [(b"host", b"testserver"), (b"content-type", b"application/octet-stream")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers, "scheme": "http", "http_version": "1.1", "root_path": "",
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}


def call(app, scope: dict, chunks: list[bytes]) -> tuple[list[dict], int]:
    """Run one request; returns what was sent back and how many body chunks the app took."""
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]
    taken = 0

    async def receive():
        nonlocal taken
        if taken < len(pending):
            taken += 1
            return pending[taken - 1]
        await asyncio.sleep(3600)  # a real client would wait here; the tests never get here

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent, taken


def status_of(sent: list[dict]) -> int:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return starts[0]["status"]


def body_of(sent: list[dict]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def page(limit: int) -> bytes:
    return f"too large: {limit}".encode()


def test_a_declared_length_over_the_limit_is_refused_without_calling_the_application():
    app = Recorder()
    sent, taken = call(BodySizeLimit(app, 1000, page), http_scope(1001), [b"x" * 1001])
    assert status_of(sent) == 413 and body_of(sent) == b"too large: 1000"
    assert not app.called and taken == 0  # not one byte of the body was read
    headers = dict(sent[0]["headers"])
    assert headers[b"connection"] == b"close" and headers[b"content-type"].startswith(b"text/html")


def test_a_body_at_the_limit_reaches_the_application_whole():
    app = Recorder()
    sent, _ = call(BodySizeLimit(app, 1000, page), http_scope(1000), [b"x" * 600, b"x" * 400])
    assert status_of(sent) == 200 and body_of(sent) == b"1000"


def test_a_chunked_body_is_stopped_once_it_passes_the_limit():
    app = Recorder()
    chunks = [b"x" * 400] * 10  # 4000 bytes, no Content-Length
    sent, taken = call(BodySizeLimit(app, 1000, page), http_scope(None), chunks)
    assert status_of(sent) == 413 and body_of(sent) == b"too large: 1000"
    assert taken == 3  # 1200 bytes: stopped at the chunk that passed the limit, the rest never read
    assert app.messages[-1] == {"type": "http.disconnect"}  # the application's answer was dropped


def test_a_body_longer_than_its_content_length_is_stopped_too():
    app = Recorder()
    sent, _ = call(BodySizeLimit(app, 1000, page), http_scope(10), [b"x" * 800, b"x" * 800])
    assert status_of(sent) == 413


def test_other_connection_types_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    async def nothing():
        return {}

    for kind in ("websocket", "lifespan"):
        asyncio.run(BodySizeLimit(app, 1, page)({"type": kind}, nothing, nothing))
    assert seen == ["websocket", "lifespan"]


def test_content_length_reading():
    assert content_length(http_scope(12)) == 12
    assert content_length(http_scope(None)) is None
    assert content_length({"headers": [(b"Content-Length", b"nonsense")]}) is None


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        BodySizeLimit(Recorder(), 0)


@pytest.mark.django_db
def test_around_django_a_chunked_upload_over_the_limit_gets_the_413_page_and_stores_nothing(settings):
    from django.core.asgi import get_asgi_application

    from engine.models import StyleJob

    settings.NST_MAX_REQUEST_BYTES = settings.NST_MAX_SUBMIT_BYTES = 2000  # the submission URL has its own
    app = limit_http(get_asgi_application())
    sent, taken = call(app, http_scope(None), [b"x" * 1500, b"x" * 1500, b"x" * 1500])
    assert status_of(sent) == 413 and taken == 2
    html = body_of(sent).decode()
    assert "The upload is too large" in html and "Nothing was stored" in html
    assert not StyleJob.objects.exists()


def test_the_settings_keep_room_for_a_full_job_and_few_files():
    # Four uploads at the per-file limit must fit in one request, and the form has four file fields.
    assert settings.NST_MAX_REQUEST_BYTES > 4 * settings.NST_MAX_UPLOAD_BYTES
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == settings.NST_MAX_BATCH_FILES + 3  # a batch and 3 styles
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 5 * MB and settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 5 * MB


def test_a_request_limit_below_one_megabyte_stops_the_process():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NST_"))}
    env.update(DJANGO_SETTINGS_MODULE="nstsite.settings", DJANGO_DEBUG="1", NST_MAX_REQUEST_MB="0")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "NST_MAX_REQUEST_MB must be at least 1" in result.stderr


# --- the whole stack: a real daphne ------------------------------------------------------------------

@pytest.fixture(scope="module")
def daphne_url(tmp_path_factory):
    """daphne serving nstsite.asgi with a 1 MB request limit, on a free loopback port."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("daphne")
    env = process_env(DJANGO_SECRET_KEY="limits-test-" + "k" * 40, NST_MAX_REQUEST_MB="1", NST_MAX_SUBMIT_MB="2",
                      DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}", DJANGO_MEDIA_ROOT=str(tmp / "media"),
                      DJANGO_STATIC_ROOT=str(tmp / "static"), DJANGO_SETTINGS_MODULE="nstsite.settings")
    # Production-like: debug off, so the pages need the collected (manifest) static files.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env,
                   check=True)
    daphne = Process("daphne", [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
                                "nstsite.asgi:application"], env, tmp / "daphne.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/accounts/login/", [daphne], timeout=60)
    except HarnessError as exc:
        daphne.kill()
        pytest.fail(f"daphne did not start:\n{exc}", pytrace=False)
    yield url
    daphne.stop(grace=10)


def readable(sock: socket.socket) -> bool:
    """Whether the server has sent something, without waiting. epoll, not select(): late in a full
    run the test process holds more than select()'s 1024 descriptors."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout=0))


def read_response(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def request_head(url: str, extra: str) -> bytes:
    host = url.removeprefix("http://")
    return (f"POST /jobs/new/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"{extra}\r\n").encode()


@pytest.mark.slow
def test_daphne_answers_413_from_the_headers_alone_before_the_body_is_sent(daphne_url):
    # 50 MB announced, none sent: the answer can only come from the headers.
    host, port = daphne_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request_head(daphne_url, f"Content-Length: {50 * MB}\r\n"))
        # Not a byte of the body is ever sent: a server that waited for it would never answer, so
        # any answer came from the headers alone (no time limit, which a loaded machine could miss).
        sock.settimeout(60)
        first = sock.recv(65536)
        response = first + read_response(sock, timeout=5)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"The upload is too large" in response and b"<strong>2 MB</strong>" in response  # NST_MAX_SUBMIT_MB
    assert b"100 Continue" not in response


@pytest.mark.slow
def test_daphne_stops_a_chunked_body_while_it_streams(daphne_url):
    host, port = daphne_url.removeprefix("http://").split(":")
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request_head(daphne_url, "Transfer-Encoding: chunked\r\n"))
        response = b""
        while sent < 40 * MB:  # far more than the limit: the client would go on and on
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if readable(sock):
                response = read_response(sock, timeout=2)
                break
        if not response:
            response = read_response(sock, timeout=5)
    assert response.startswith(b"HTTP/1.1 413"), (sent, response[:200])
    assert b"The upload is too large" in response
    # Answered while the client was still sending: after the limit plus what socket buffers hold.
    assert sent < 12 * MB, sent


@pytest.mark.slow
def test_daphne_413_reaches_a_client_that_sends_the_whole_body_first(daphne_url):
    # `requests` sends the body without waiting (no "Expect: 100-continue"); the server drops it and
    # still answers, instead of resetting the connection under the client.
    response = requests.post(daphne_url + "/jobs/new/", data=b"x" * (3 * MB), timeout=20,
                             headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert "The upload is too large" in response.text and response.headers["Connection"] == "close"


@pytest.mark.slow
def test_daphne_lets_requests_under_the_limit_through_to_django(daphne_url):
    assert requests.get(daphne_url + "/accounts/login/", timeout=10).status_code == 200
    # 200 KB, no CSRF token: Django itself answers (the friendly CSRF page), not the size guard.
    response = requests.post(daphne_url + "/accounts/login/", data=b"x" * 200_000, timeout=10,
                             headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 403 and "This form could not be accepted" in response.text


@pytest.mark.slow
def test_daphne_lets_a_clip_sized_body_through_to_the_submission_url_only(daphne_url):
    """The submission URL (a clip) takes NST_MAX_SUBMIT_MB (2 here); every other URL keeps
    NST_MAX_REQUEST_MB (1 here)."""
    body = b"x" * (3 * MB // 2)
    to_login = requests.post(daphne_url + "/accounts/login/", data=body, timeout=20,
                             headers={"Content-Type": "application/octet-stream"})
    assert to_login.status_code == 413
    to_submit = requests.post(daphne_url + "/jobs/new/", data=body, timeout=20, allow_redirects=False,
                              headers={"Content-Type": "application/octet-stream"})
    # Django answered (not the size guard): an anonymous upload goes to log in
    # (nstsite.request_limits.anonymous_uploads).
    assert to_submit.status_code == 302 and "/accounts/login/" in to_submit.headers["Location"]
