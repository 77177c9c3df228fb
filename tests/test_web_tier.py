"""The web tier with its real processes (tests/harness.py starts them as scripts/run does): nginx in
front (nstsite/webtier/proxy.py), gunicorn for the pages and daphne for /ws/ behind it. Pages, static
files (far-future caching for hashed names, compression), a body over the limit refused by nginx
with the friendly 413 page, a forged X-Forwarded-For not believed, downloads handed to nginx after
Django's access check (X-Accel-Redirect, nstsite/webtier/sendfile.py) and media never public. Websockets
through the proxy in Chromium: tests/test_live_consumer.py (its platform is this one). Ctrl-C of
scripts/run: tests/test_deployment_files.py. And nstsite/webtier/sendfile.py on its own, without a proxy."""

from __future__ import annotations

import gzip
import json
import re
import socket
from pathlib import Path

import psutil
import pytest
import requests
from django.test import RequestFactory

from nstsite.webtier import proxy, sendfile
from tests.harness import Platform, unix_request
from tests.web_client import signed_in_session

FAILURE_LIMIT = 3
MAX_REQUEST_MB = 2
MAX_SUBMIT_MB = 4  # the submission URL's own limit (it may carry a clip)
# A succeeded public job with a result, in the gallery: made in the platform's own database.
SEED_ARTWORK = """
import io, random
from PIL import Image
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from engine.models import Status, StyleJob
from gallery import publishing

rng = random.Random(7)
image = Image.frombytes("RGB", (400, 300), bytes(rng.getrandbits(8) for _ in range(400 * 300 * 3)))
buffer = io.BytesIO()
image.save(buffer, "PNG")
owner = get_user_model().objects.create_user("painter", "painter@example.org", "Brush-strokes-of-1889")
job = StyleJob(owner=owner, mode="fast", params={}, size=400, status=Status.SUCCEEDED)
job.content.save("content.png", ContentFile(buffer.getvalue()), save=False)
job.result.save("result.png", ContentFile(buffer.getvalue()), save=False)
job.save()
artwork = publishing.publish(job)
print(artwork.pk, job.result.name)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The platform (no worker: nothing here runs a job) with a small body limit and login limit,
    and one published artwork: (platform, artwork id, the result's storage name)."""
    platform = Platform(tmp_path_factory.mktemp("web-tier"), env={
        "NST_MAX_REQUEST_MB": str(MAX_REQUEST_MB), "NST_MAX_SUBMIT_MB": str(MAX_SUBMIT_MB),
        "NST_LOGIN_FAILURE_LIMIT": str(FAILURE_LIMIT)})
    try:
        platform.up(workers=0)
        artwork, name = platform.manage("shell", "-c", SEED_ARTWORK).splitlines()[-1].split()
        yield platform, int(artwork), name
    finally:
        platform.down()


def media_file(platform: Platform, name: str) -> bytes:
    return (platform.tmp / "media" / name).read_bytes()


# --- who answers what --------------------------------------------------------------------------------

@pytest.mark.slow
def test_pages_come_from_gunicorn_through_nginx(site) -> None:
    platform, _, _ = site
    web = psutil.Process(platform.processes["web"].proc.pid)
    assert "gunicorn" in " ".join(web.cmdline()) and "gthread" in web.cmdline()
    response = requests.get(platform.url + "/accounts/login/", timeout=30)
    assert response.status_code == 200 and response.headers["Server"] == "nginx"
    assert 'name="username"' in response.text
    assert response.headers["X-Frame-Options"] == "DENY"  # Django's own headers come through
    # The same page straight from gunicorn: nginx adds nothing to it but the transport.
    assert b'name="username"' in unix_request(platform.pages_socket, "GET", "/accounts/login/")[2]


@pytest.mark.slow
def test_html_is_compressed_for_a_browser_that_accepts_it(site) -> None:
    platform, _, _ = site
    response = requests.get(platform.url + "/accounts/login/", headers={"Accept-Encoding": "gzip"}, timeout=30,
                            stream=True)
    assert response.headers["Content-Encoding"] == "gzip"
    assert b'name="username"' in gzip.decompress(response.raw.read())


@pytest.mark.slow
def test_websocket_upgrades_go_to_daphne(site) -> None:
    """A websocket handshake through nginx reaches daphne (the consumers; the browser test covers
    the live progress itself): /ws/jobs/mine/ needs a login, so an anonymous socket is accepted
    and then closed by the consumer, which only daphne can have said."""
    platform, _, _ = site
    head = websocket_handshake(platform, platform.url)
    assert head.startswith("HTTP/1.1 101"), head
    # RFC 6455's own example key and the answer it gives.
    assert "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head


def websocket_handshake(platform: Platform, origin: str) -> str:
    """The head of the answer to a websocket handshake through nginx, from a page at `origin`, to
    the platform's address as a browser writes it (Host with the port)."""
    with socket.create_connection(("127.0.0.1", platform.port), timeout=30) as sock:
        sock.sendall(f"GET /ws/jobs/ HTTP/1.1\r\nHost: 127.0.0.1:{platform.port}\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n".encode())
        return answer_head(sock)


@pytest.mark.slow
def test_a_page_on_another_port_or_scheme_of_the_same_host_cannot_open_a_socket(site) -> None:
    """Issue 24, finding 10: the Origin must be the site's own, port and scheme included."""
    platform, _, _ = site
    for origin in ("http://127.0.0.1:9999", f"https://127.0.0.1:{platform.port}", "http://localhost:1234",
                   "http://127.0.0.1"):
        head = websocket_handshake(platform, origin)
        assert head.startswith("HTTP/1.1 403"), (origin, head)


@pytest.mark.slow
def test_the_servers_behind_the_proxy_listen_on_no_port(site) -> None:
    """Issue 24, finding 9: gunicorn and daphne listen on Unix sockets in a folder only their user
    may enter, so nobody reaches them but nginx (whose X-Forwarded-For is then the only one)."""
    platform, _, _ = site
    for name in ("web", "sockets"):
        root = psutil.Process(platform.processes[name].proc.pid)
        for process in (root, *root.children(recursive=True)):
            listening = [c for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            assert listening == [], (name, listening)
    assert Path(platform.pages_socket).is_socket() and Path(platform.sockets_socket).is_socket()
    assert Path(platform.pages_socket).parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.slow
def test_the_websocket_server_serves_no_pages(site) -> None:
    """Issue 24, finding 9: daphne answers 404 to any plain HTTP request, so it is no way around
    the proxy's limits (the log-in and sign-up limits were bypassed through it)."""
    platform, _, _ = site
    for path in ("/accounts/login/", "/accounts/signup/", "/jobs/new/", "/"):
        status, _, body = unix_request(platform.sockets_socket, "GET", path, {"X-Forwarded-For": "203.0.113.9"})
        assert status == 404 and b"websockets only" in body, (path, status)
    assert requests.get(platform.url + "/ws/", timeout=30).status_code == 404


# --- large uploads: for a signed-in session only ---------------------------------------------------------

UPLOADER = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("uploader", "uploader@example.org", "Uploads-of-1889-x")
"""


@pytest.fixture(scope="module")
def uploader_cookie(site) -> str:
    """The Cookie header of a signed-in session (logged in through the form)."""
    platform, _, _ = site
    platform.manage("shell", "-c", UPLOADER)
    session = signed_in_session(platform.url, "uploader", "Uploads-of-1889-x")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def held_upload(platform: Platform, cookie: str | None, declared: int, send: int = 0,
                expect_continue: bool = False) -> socket.socket:
    """A POST to the submission URL declaring `declared` bytes, of which `send` are sent; the socket,
    still open."""
    sock = socket.create_connection(("127.0.0.1", platform.port), timeout=60)
    head = (f"POST /jobs/new/ HTTP/1.1\r\nHost: 127.0.0.1:{platform.port}\r\nContent-Length: {declared}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n")
    head += f"Cookie: {cookie}\r\n" if cookie else ""
    head += "Expect: 100-continue\r\n" if expect_continue else ""
    sock.sendall((head + "\r\n").encode())
    for _ in range(send // 2**16):
        sock.sendall(b"x" * 2**16)
    return sock


def answer_head(sock: socket.socket) -> str:
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode()


def body_folder_bytes(platform: Platform) -> int:
    return sum(p.stat().st_size for p in (platform.tmp / "proxy" / "tmp" / "body").rglob("*") if p.is_file())


@pytest.mark.slow
def test_an_anonymous_upload_goes_to_log_in_before_nginx_reads_its_body(site) -> None:
    """Issue 24, finding 2: a cookie-less upload declaring the submission's limit is answered at once
    with the log-in redirect; nginx stores none of what arrives (before, it waited for the whole
    body, written into its body folder)."""
    platform, _, _ = site
    with held_upload(platform, None, MAX_SUBMIT_MB * 2**20 - 1, send=2**20) as sock:
        head = answer_head(sock)
        assert head.startswith("HTTP/1.1 302"), head
        assert "Location: /accounts/login/?next=/jobs/new/" in head, head
        assert body_folder_bytes(platform) == 0


@pytest.mark.slow
def test_a_signed_in_upload_is_read_and_reaches_django(site, uploader_cookie) -> None:
    platform, _, _ = site
    with held_upload(platform, uploader_cookie, 2**20, expect_continue=True) as sock:
        assert answer_head(sock).startswith("HTTP/1.1 100"), "nginx did not start reading the body"
        sock.sendall(b"x" * 2**20)
        assert answer_head(sock).startswith("HTTP/1.1 40")  # Django: no form in this body (400 or the CSRF 403)


@pytest.mark.slow
def test_one_address_holds_at_most_four_large_uploads_at_once(site, uploader_cookie) -> None:
    platform, _, _ = site
    held = [held_upload(platform, uploader_cookie, MAX_SUBMIT_MB * 2**20 - 1, expect_continue=True) for _ in range(4)]
    try:
        for sock in held:  # each is being read: nginx said "100 Continue"
            assert answer_head(sock).startswith("HTTP/1.1 100")
        with held_upload(platform, uploader_cookie, MAX_SUBMIT_MB * 2**20 - 1, expect_continue=True) as fifth:
            assert answer_head(fifth).startswith("HTTP/1.1 429")
    finally:
        for sock in held:
            sock.close()


# --- static files ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_hashed_static_files_are_cached_for_a_year_and_compressed(site) -> None:
    platform, _, _ = site
    manifest = json.loads((platform.tmp / "static" / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/site.css"]
    assert re.search(proxy.HASHED_STATIC, hashed)
    response = requests.get(f"{platform.url}/static/{hashed}", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.content == (platform.tmp / "static" / hashed).read_bytes()   # requests un-gzips
    # The page links the hashed name, so that browsers may keep it.
    assert f"/static/{hashed}" in requests.get(platform.url + "/accounts/login/", timeout=30).text


@pytest.mark.slow
def test_static_names_without_a_hash_are_revalidated_soon(site) -> None:
    platform, _, _ = site
    response = requests.get(platform.url + "/static/css/site.css", timeout=30)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.slow
def test_a_missing_static_file_is_a_404_from_nginx(site) -> None:
    platform, _, _ = site
    assert requests.get(platform.url + "/static/css/no-such.css", timeout=30).status_code == 404


# --- the body limit ----------------------------------------------------------------------------------

def assert_friendly_413(response: requests.Response) -> None:
    assert response.status_code == 413
    assert "text/html" in response.headers["Content-Type"]
    assert 'id="too-large"' in response.text and f"{MAX_REQUEST_MB} MB" in response.text
    assert "nginx" not in response.text   # not nginx's own bare page


@pytest.mark.slow
def test_an_upload_over_the_limit_gets_the_friendly_413_page_from_nginx(site) -> None:
    platform, _, _ = site
    body = b"x" * (MAX_REQUEST_MB * 2**20 + 1)
    assert_friendly_413(requests.post(platform.url + "/accounts/login/", data=body, timeout=60,
                                      headers={"Content-Type": "application/octet-stream"}))


@pytest.mark.slow
def test_a_chunked_upload_over_the_limit_is_refused_too(site) -> None:
    platform, _, _ = site

    def chunks():
        for _ in range(MAX_REQUEST_MB * 4 + 1):
            yield b"x" * 2**18
    assert_friendly_413(requests.post(platform.url + "/accounts/login/", data=chunks(), timeout=60,
                                      headers={"Content-Type": "application/octet-stream"}))


@pytest.mark.slow
def test_the_submission_url_has_its_own_larger_limit(site, uploader_cookie) -> None:
    """/jobs/new/ may carry a clip: nginx lets NST_MAX_SUBMIT_MB through there (Django's CSRF check
    answers), and refuses more with the friendly page."""
    platform, _, _ = site
    url, headers = platform.url + "/jobs/new/", {"Content-Type": "application/octet-stream"}
    signed_in = {**headers, "Cookie": uploader_cookie}
    under = requests.post(url, data=b"x" * ((MAX_REQUEST_MB + 1) * 2**20), timeout=60, headers=signed_in)
    # Over the general limit, under the submission's: Django answered.
    if under.status_code != 403:
        print(platform.logs(40))   # which server failed, and why
    assert under.status_code == 403
    over = requests.post(url, data=b"x" * (MAX_SUBMIT_MB * 2**20 + 1), timeout=60, headers=headers)
    assert over.status_code == 413 and 'id="too-large"' in over.text


@pytest.mark.slow
def test_a_body_django_did_not_read_is_read_before_the_answer(site, uploader_cookie) -> None:
    """Django answers this POST from its headers (CSRF); gunicorn alone would read 64 KiB of the
    3 MB left and close the connection while the proxy still writes (a 502 through nginx, now and
    then: nstsite/webtier/unread_body.py). Straight to gunicorn, the body is sent whole and the
    same connection then serves a second request."""
    platform, _, _ = site
    body = b"x" * (3 * 2**20)
    head = (f"POST /jobs/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: application/octet-stream\r\nCookie: {uploader_cookie}\r\n\r\n").encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        sock.connect(platform.pages_socket)
        sock.sendall(head + body)   # before the change: BrokenPipeError, the server had closed
        sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        with sock.makefile("rb") as answers:
            first = http_answer(answers)
            second = http_answer(answers)
    assert first.startswith(b"HTTP/1.1 403"), first[:200]
    assert second.startswith(b"HTTP/1.1 200") and b'name="username"' in second, second[:200]


def http_answer(stream) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read from `stream`."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        assert line, f"the server closed the connection after {head!r}"
        head += line
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    return head + stream.read(length)


@pytest.mark.slow
def test_a_body_under_the_limit_reaches_django(site) -> None:
    platform, _, _ = site
    response = requests.post(platform.url + "/accounts/login/", data={"username": "x" * 1000}, timeout=30)
    assert response.status_code == 403   # Django's CSRF check answered: the body went through


# --- the client's address ----------------------------------------------------------------------------

def failed_login(session: requests.Session, url: str, forged: str) -> int:
    page = session.get(url + "/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(url + "/accounts/login/", timeout=30, headers={"X-Forwarded-For": forged, "Referer": url},
                        data={"csrfmiddlewaretoken": token, "username": "painter", "password": "wrong"}).status_code


@pytest.mark.slow
def test_a_forged_x_forwarded_for_does_not_escape_the_login_lockout(site) -> None:
    """A client that writes a new address into X-Forwarded-For for every attempt is still one
    address to the lockout: nginx overwrites the header with the address it saw."""
    platform, _, _ = site
    session = requests.Session()
    codes = [failed_login(session, platform.url, f"203.0.113.{n}, 198.51.100.{n}") for n in range(FAILURE_LIMIT + 1)]
    assert codes[:FAILURE_LIMIT - 1] == [200] * (FAILURE_LIMIT - 1)
    assert codes[-1] == 429, codes


# --- downloads: Django checks, nginx sends -----------------------------------------------------------

@pytest.mark.slow
def test_a_download_is_sent_by_nginx_after_djangos_check(site) -> None:
    platform, artwork, name = site
    response = requests.get(f"{platform.url}/gallery/{artwork}/download/", timeout=30)
    assert response.status_code == 200
    assert response.content == media_file(platform, name)
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"] == f'attachment; filename="nst-artwork-{artwork}.png"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # nginx's own handling of a file: ranges.
    part = requests.get(f"{platform.url}/gallery/{artwork}/download/", headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and part.content == media_file(platform, name)[:100]


@pytest.mark.slow
def test_behind_the_proxy_the_web_server_answers_with_the_internal_location_only(site) -> None:
    """What gunicorn answers to nginx: an empty body and where nginx finds the file. A client
    asking gunicorn directly (no proxy header) gets the file itself."""
    platform, artwork, name = site
    url = f"/gallery/{artwork}/download/"
    _, headers, body = unix_request(platform.pages_socket, "GET", url, {"X-Sendfile-Type": "X-Accel-Redirect"})
    assert headers["X-Accel-Redirect"] == sendfile.INTERNAL_MEDIA_PREFIX + name
    assert body == b""
    assert unix_request(platform.pages_socket, "GET", url)[2] == media_file(platform, name)


@pytest.mark.slow
def test_media_is_not_public_and_the_internal_location_is_unreachable(site) -> None:
    platform, _, name = site
    for path in (f"/media/{name}", f"{sendfile.INTERNAL_MEDIA_PREFIX}{name}"):
        response = requests.get(platform.url + path, timeout=30)
        assert response.status_code == 404, path
        assert response.content != media_file(platform, name)


@pytest.mark.slow
def test_a_client_cannot_make_the_proxy_send_a_file(site) -> None:
    """X-Sendfile-Type is the proxy's to set: one a client sends is overwritten, and an
    X-Accel-Redirect only counts when it comes from the application."""
    platform, _, name = site
    response = requests.get(platform.url + "/accounts/login/", timeout=30,
                            headers={"X-Accel-Redirect": sendfile.INTERNAL_MEDIA_PREFIX + name,
                                     "X-Sendfile-Type": "nonsense"})
    assert response.status_code == 200 and 'name="username"' in response.text


# --- nstsite/webtier/sendfile.py without a proxy -------------------------------------------------------------

@pytest.fixture
def stored(settings, tmp_path: Path) -> str:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    return default_storage.save("jobs/7/a result #1.png", ContentFile(b"\x89PNG-bytes"))


def test_without_the_proxy_header_the_file_goes_out_itself(stored: str) -> None:
    response = sendfile.send_file(RequestFactory().get("/"), stored, content_type="image/png", as_attachment=True,
                                  filename="nst-job-7.png")
    assert b"".join(response.streaming_content) == b"\x89PNG-bytes"
    assert response["Content-Disposition"] == 'attachment; filename="nst-job-7.png"'
    assert sendfile.ACCEL_REDIRECT not in response


def test_with_the_proxy_header_nginx_is_told_where_the_file_is(stored: str) -> None:
    request = RequestFactory().get("/", headers={"X-Sendfile-Type": "X-Accel-Redirect"})
    response = sendfile.send_file(request, stored, content_type="image/png", as_attachment=True,
                                  filename="nst-job-7.png")
    assert response.content == b""
    # Percent-encoded, as nginx decodes it before mapping it onto the folder.
    assert response[sendfile.ACCEL_REDIRECT] == sendfile.INTERNAL_MEDIA_PREFIX + "jobs/7/a%20result%20%231.png"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="nst-job-7.png"'


def test_a_missing_file_is_file_not_found_either_way(stored: str) -> None:
    for headers in ({}, {"X-Sendfile-Type": "X-Accel-Redirect"}):
        with pytest.raises(FileNotFoundError):
            sendfile.send_file(RequestFactory().get("/", headers=headers), "jobs/none.png", content_type="image/png")
