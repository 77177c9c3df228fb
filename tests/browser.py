"""Headless Chromium for browser tests: Playwright (sync API) driving Debian's /usr/bin/chromium.

Playwright cannot download its own browser here (no internet), so it always starts the system
one. A missing browser or Playwright fails the test that asks for it, naming the package to
install; it is never a skip, because a skipped browser test passes on a machine set up wrongly.
Free of pytest (bench/bench_live.py uses it too).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import HarnessError

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NST_CHROMIUM") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's servers, which
# this machine's closed network refuses, many connections at a time.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"


def require_chromium() -> str:
    path = shutil.which(CHROMIUM)
    if path is None:
        raise HarnessError(f"Chromium is not installed at {CHROMIUM}; the browser tests need it "
                           "(scripts/test installs it; Debian: apt-get install chromium; or set NST_CHROMIUM "
                           "to its path).")
    return path


@contextmanager
def chromium_context(user_data_dir: Path) -> Iterator:
    """A Playwright BrowserContext in a fresh headless Chromium with its own, empty profile."""
    with chromium_contexts(user_data_dir) as (context,):
        yield context


@contextmanager
def chromium_contexts(*user_data_dirs: Path) -> Iterator[tuple]:
    """One BrowserContext per profile, each in a headless Chromium of its own (people who share no
    cookies: an owner and a visitor, say), from one Playwright (a second sync Playwright cannot start
    inside the first)."""
    executable = require_chromium()
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as exc:
        raise HarnessError(f"Playwright is not installed ({exc}); scripts/test installs requirements-dev.txt.") \
            from None
    # expect()'s own default is 5 s: what a page waits for (a worker's step, a socket's event) can
    # take longer on a loaded machine. A failing check still fails, only later.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        contexts = []
        try:
            for user_data_dir in user_data_dirs:
                contexts.append(playwright.chromium.launch_persistent_context(
                    str(user_data_dir), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                    viewport={"width": 1280, "height": 900}))
                contexts[-1].set_default_timeout(30_000)
            yield tuple(contexts)
        finally:
            for context in contexts:
                context.close()


def artifact_path(name: str) -> Path:
    """Where a test keeps a screenshot: test-artifacts/ (git ignores it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


# --- a live page's state parts (engine.live.job_page) --------------------------------------------------------

# An init script: records, in the page, which parts of the page each live event's fragments carried
# (the ids of the top-level elements of its `html`), by kind of event: window.__parts.finished, ...
LIVE_PARTS_SCRIPT = """
window.__parts = {};
(function () {
  const Native = window.WebSocket;
  function Recording(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", function (m) {
      const ev = JSON.parse(m.data);
      const parsed = document.createElement("template");
      parsed.innerHTML = ev.html || "";
      window.__parts[ev.event] = Array.prototype.map.call(parsed.content.children, function (c) { return c.id; });
    });
    return ws;
  }
  Recording.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Recording[k] = Native[k]; });
  window.WebSocket = Recording;
})();
"""
_OUTER_HTML = "ids => ids.map(id => [id, document.getElementById(id) ? document.getElementById(id).outerHTML : null])"
_CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')
_EMPTY_STYLE = ' style=""'  # Chromium leaves one on form inputs it has looked at (e.g. after a resize)


def state_markup(page, ids: list[str]) -> dict[str, str | None]:
    """The page's elements of these ids as HTML (None: not on the page), CSRF tokens blanked (each
    render masks the token anew) and empty style attributes dropped."""
    return {part: _CSRF_VALUE.sub(r'\1"', html).replace(_EMPTY_STYLE, "") if html else html
            for part, html in page.evaluate(_OUTER_HTML, ids)}


# --- a new user ---------------------------------------------------------------------------------------

PASSWORD = "Brush-strokes-of-1889"


def sign_up(page, base_url: str, username: str) -> None:
    """Sign up through the form as a new user (<username>@example.org) and land on the submission
    form, where sign-up takes a user who came to it directly."""
    page.goto(base_url + "/accounts/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.org")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_url(base_url + "/jobs/new/")


# --- screenshots at a laptop's and a phone's width ---------------------------------------------------

SIZES = ((1280, 900), (390, 844))


def screenshots(page, what: str) -> None:
    """The page as it is now, on a laptop and on a phone, where it must not scroll sideways; back to
    the size it had afterwards."""
    before = page.viewport_size
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)  # one layout pass at the new width; nothing is asserted on it
        page.screenshot(path=artifact_path(f"studio-{what}-{width}.png"), full_page=True)
        # Nothing wider than the screen (the library's row of paintings scrolls inside its own box).
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (what, width)
    page.set_viewport_size(before)
