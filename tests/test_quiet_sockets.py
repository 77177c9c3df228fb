"""A quiet websocket stays open (issue 19).

channels_redis waits for a socket's next message with a blocking BZPOPMIN of up to 5 s; redis-py 8
reads every reply with a 5 s socket timeout by default. With only the connect timeout set, the read
timed out just as Redis answered "nothing yet": the sockets server logged
`redis.exceptions.TimeoutError` and closed the page's socket with 1011 after 5-6 s of quiet, so the
page of a queued job (or of a slow classic step) rebuilt its socket from a snapshot every few
seconds. Through the whole stack here: Chromium, nginx, daphne, the Redis channel layer.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.browser import chromium_context, sign_up
from tests.harness import Platform

pytestmark = pytest.mark.slow

QUIET_SECONDS = 16   # more than two of the channel layer's 5 s blocking reads, back to back

# Every WebSocket the page opens, and how each one ends.
SOCKET_LOG_SCRIPT = """
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
  const entry = {url: String(url), closed: null, messages: 0};
  window.__sockets.push(entry);
  ws.addEventListener("message", function () { entry.messages += 1; });
  ws.addEventListener("close", function (e) { entry.closed = e.code; });
  entry.socket = ws;
  return ws;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


def test_the_channel_layer_reads_for_longer_than_it_blocks():
    from channels_redis.core import RedisChannelLayer

    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert all(host.get("socket_timeout", 5) > RedisChannelLayer.brpop_timeout + 1 for host in hosts)


@pytest.fixture
def platform(tmp_path: Path, model_dir: Path):
    with Platform(tmp_path / "platform", model_dir=model_dir) as platform:
        yield platform.up(workers=0)


def test_a_quiet_page_keeps_its_socket_and_the_sockets_server_logs_no_traceback(platform, tmp_path, images_dir):
    """The page of a queued job (no worker runs: nothing will happen to it) is left alone."""
    with chromium_context(tmp_path / "profile") as context:
        context.add_init_script(SOCKET_LOG_SCRIPT)
        page = context.new_page()
        sign_up(page, platform.url, "quiet")
        page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
        page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
        page.select_option("select[name=mode]", "fast")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+/$"))
        deadline = time.monotonic() + 30
        while not page.evaluate("() => window.__sockets.length > 0 && window.__sockets[0].messages > 0"):
            assert time.monotonic() < deadline, "the page's socket got no snapshot"
            time.sleep(0.1)
        time.sleep(QUIET_SECONDS)   # nothing happens: no job, no event
        sockets = page.evaluate("window.__sockets.map(s => ({url: s.url, closed: s.closed, "
                                "open: s.socket.readyState === 1}))")
    assert len(sockets) == 1, f"the page had to open its socket again: {sockets}"
    assert sockets[0]["open"] and sockets[0]["closed"] is None, sockets
    assert platform.server_tracebacks() == []
