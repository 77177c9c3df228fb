"""The byte limits of requests and uploads: stated once (the settings NST_MAX_REQUEST_MB,
NST_MAX_SUBMIT_MB, NST_MAX_UPLOAD_MB and NST_MAX_CLIP_MB, read through `body_limits()` for whole
requests), applied where they must be. An over-size request gets a friendly 413 page before its
body is stored anywhere; an over-size file gets a message beside its field.

The two places that matter:

1. The proxy (nginx, nstsite.webtier.proxy): every request body against `body_limits()` (the submission's
   URL takes a clip, every other URL far less), before Python sees a byte. In a deployment this is
   the request limit.
2. The form (engine.studio.content_files: check_photo, check_clip): each file against its kind's limit,
   a clip against the user's own quota (max_clip_mb, which only the form knows), with the message
   the user reads next to the file. It is also all that a caller without the upload handler below
   gets (a form built in a script or a test; the REST API builds the same form).

Other layers, and why each is there:

3. `limit_http(app)`: the same table in the ASGI application (`BodySizeLimit`, a middleware) and
   in daphne itself (`guard_daphne`). Behind the proxy daphne serves only /ws/, but its ASGI
   application routes HTTP to Django too (nstsite/asgi.py) and its port answers whatever reaches
   it on the host; and Twisted receives a WHOLE body into memory or a temporary file before daphne
   calls the application, so the middleware alone would answer only after an attacker's gigabyte
   had been written to /tmp. The guard replaces daphne's request class with one that checks
   Content-Length as soon as the headers are in, counts chunked bytes as they arrive, answers 413
   itself and discards the rest. The middleware refuses at once when Content-Length is over the
   limit and stops a chunked body as soon as it passes it (servers that stream the body to the
   application, uvicorn or hypercorn, then never buffer more than the limit). Both look the path's
   limit up from the request line, which they know before any body byte.
4. `KindLimitedUploadHandler` (first in settings.FILE_UPLOAD_HANDLERS): a submission may be as large
   as a clip (hundreds of megabytes), and Django spools each file whole before the form sees it.
   The handler holds each file to its kind's limit as it streams in: its first bytes say whether
   it is a photo (engine.nst.video_io.kind_from_head, the one table of signatures: NST_MAX_UPLOAD_MB)
   or may be a clip (NST_MAX_CLIP_MB); the moment a file passes its limit it is dropped (Django's
   SkipFile: the temporary file is deleted, the rest of that part is read and thrown away) and the
   form says so. An oversized photo is refused as before, while a clip gets through.

(The pixel budget of engine.studio.admission reads the headers only of files within the photo
limit: that is not a limit of its own, it leaves the others to the form's message.)
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from engine.nst.video_io import kind_from_head

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# After refusing, how long daphne keeps reading (and dropping) what the client is still sending.
# Closing at once would reset the connection while the client writes, and most clients then
# report "connection reset" instead of showing the 413 page (nginx's "lingering close").
LINGER_SECONDS = 5.0


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.3g}"


@dataclass(frozen=True)
class BodyLimits:
    """How large a request body may be: `default` bytes, or `larger[path]` for an exact path."""

    default: int
    larger: dict[str, int] = field(default_factory=dict)


def body_limits() -> BodyLimits:
    """The request body limits from the settings, for every layer that applies them: the proxy
    (nstsite.webtier.proxy) and limit_http. The submission's URL, which may carry a clip, takes
    NST_MAX_SUBMIT_MB (at least NST_MAX_REQUEST_MB: the settings refuse less); every other URL
    NST_MAX_REQUEST_MB, so nobody can push hundreds of megabytes at any other URL."""
    from django.conf import settings
    from django.urls import reverse

    submit = settings.NST_MAX_SUBMIT_BYTES  # the page's form and the API's submission take the same files
    return BodyLimits(settings.NST_MAX_REQUEST_BYTES, {reverse("engine:submit"): submit, reverse("api:jobs"): submit})


_FALLBACK_PAGE = ("<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Upload too large</title>"
                  "<h1>The upload is too large</h1><p>One request can carry at most {mb} MB. Nothing was "
                  "stored. Please go back and choose smaller pictures.</p><p><a href=/>Home page</a></p>")


@lru_cache(maxsize=8)
def too_large_page(max_bytes: int) -> bytes:
    """templates/413.html for this limit (rendered once; it needs no request). The refusal must
    not depend on the templates working: if they fail, a plain page says the same."""
    from django.conf import settings
    from django.template.loader import render_to_string

    try:
        return render_to_string("413.html", {
            "limit_mb": _megabytes(max_bytes),
            "file_limit_mb": _megabytes(settings.NST_MAX_UPLOAD_BYTES),
        }).encode()
    except Exception:  # noqa: BLE001 - any template failure; logged, and the plain page is used
        logger.exception("templates/413.html could not be rendered")
        return _FALLBACK_PAGE.format(mb=_megabytes(max_bytes)).encode()


def response_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            # The rest of the body may still be on its way: this connection cannot be reused.
            (b"connection", b"close")]


def content_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (chunked) or it is unreadable
    (the server refuses those itself; the byte count still applies)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimit:
    """ASGI middleware: HTTP requests whose body is over `max_bytes` (or, for a path in `larger`, its
    own limit) get a 413 page instead."""

    def __init__(self, app: ASGIApp, max_bytes: int, page: Callable[[int], bytes] = too_large_page,
                 larger: dict[str, int] | None = None):
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        self.app, self.default_bytes, self.page = app, max_bytes, page
        self.larger = larger or {}

    @property
    def max_bytes(self) -> int:
        return self.default_bytes

    def limit_for(self, scope: Scope) -> int:
        return self.larger.get(scope.get("path", ""), self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, limit = content_length(scope), self.limit_for(scope)
        if length is not None and length > limit:
            logger.warning("Refused %s %s: Content-Length %d > %d", scope.get("method"), scope.get("path"),
                           length, limit)
            await self.refuse(send, limit)
            return
        await self.app(scope, *self._counting(scope, receive, send))

    async def refuse(self, send: Send, limit: int | None = None) -> None:
        body = self.page(limit or self.default_bytes)
        await send({"type": "http.response.start", "status": 413, "headers": response_headers(body)})
        await send({"type": "http.response.body", "body": body})

    def _counting(self, scope: Scope, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """receive/send for the application that stop the body once it passes the limit."""
        state = {"received": 0, "refused": False, "started": False}
        limit = self.limit_for(scope)

        async def limited_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    logger.warning("Refused %s %s: body passed %d bytes", scope.get("method"),
                                   scope.get("path"), limit)
                    state["refused"] = True
                    if not state["started"]:
                        await self.refuse(send, limit)
                    return {"type": "http.disconnect"}  # the application gives up on the request
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # the 413 has been sent in the application's place
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        return limited_receive, guarded_send


# --- daphne -----------------------------------------------------------------------------------------

def guard_daphne(max_bytes: int, page: Callable[[int], bytes] = too_large_page,
                 larger: dict[str, int] | None = None) -> bool:
    """In a daphne process, make daphne refuse over-size bodies while they arrive (see the module
    notes). Returns False, changing nothing, when daphne is not the server."""
    if "daphne.server" not in sys.modules:
        return False
    from daphne import http_protocol

    base = getattr(http_protocol.WebRequest, "nst_base", http_protocol.WebRequest)
    http_protocol.WebRequest = _limited_request_class(base, max_bytes, page, larger or {})
    return True


def _limited_request_class(base: type, default_bytes: int, page: Callable[[int], bytes],
                           larger: dict[str, int]) -> type:
    import io

    from twisted.internet import reactor

    class LimitedWebRequest(base):
        """daphne's WebRequest, refusing bodies over `max_bytes` as they arrive. daphne's
        HTTPFactory looks the class up by name for every connection, so replacing the module
        attribute is enough (and `nst_base` lets a second call replace it again)."""

        nst_base = base
        nst_max_bytes = default_bytes
        _nst_received = 0
        _nst_refused = False
        _nst_limit = default_bytes

        def gotLength(self, length):  # noqa: N802 - Twisted's name
            # Called once the headers are in, before any body byte is stored; the request line (the
            # path, which chooses the limit) has been read by then.
            path = (getattr(self.channel, "_path", b"") or b"").split(b"?", 1)[0].decode("latin-1")
            self._nst_limit = larger.get(path, default_bytes)
            if length is not None and length > self._nst_limit:
                self.requestHeaders.removeHeader(b"Expect")  # no "100 Continue": do not send it
                self._nst_refuse(f"Content-Length {length}")
                return
            super().gotLength(length)

        def handleContentChunk(self, data):  # noqa: N802 - Twisted's name
            if self._nst_refused:
                return  # dropped, never stored
            self._nst_received += len(data)
            if self._nst_received > self._nst_limit:
                self._nst_refuse(f"body passed {self._nst_limit} bytes")
                return
            super().handleContentChunk(data)

        def process(self):
            # The whole (dropped) body has arrived: the 413 is out, close instead of running the app.
            if self._nst_refused:
                self._nst_close()
                return None
            return super().process()

        def _nst_refuse(self, why: str) -> None:
            # The request line is still on the channel: the request gets it only once the body is in.
            method, path = (getattr(self.channel, name, b"?") for name in ("_command", "_path"))
            client = self.getClientAddress()
            logger.warning("Refused %s %s from %s: %s", method.decode(errors="replace"),
                           path.decode(errors="replace")[:200], getattr(client, "host", client), why)
            self._nst_refused = True
            old = getattr(self, "content", None)
            if old is not None:
                old.close()  # what was buffered so far (a temporary file is deleted on close)
            self.content = io.BytesIO()  # Twisted and daphne expect one
            body = page(self._nst_limit)
            head = b"HTTP/1.1 413 Content Too Large\r\n" + b"".join(
                name.title() + b": " + value + b"\r\n" for name, value in response_headers(body))
            self.channel.transport.write(head + b"\r\n" + body)
            self._nst_timer = reactor.callLater(LINGER_SECONDS, self._nst_close)

        def _nst_close(self) -> None:
            timer = getattr(self, "_nst_timer", None)
            if timer is not None and timer.active():
                timer.cancel()
            if self.channel is not None and self.channel.transport is not None:
                self.channel.transport.loseConnection()

    return LimitedWebRequest


def limit_http(app: ASGIApp) -> ASGIApp:
    """The HTTP application wrapped with the body limits (body_limits()), and daphne guarded with the
    same limits when it is the server (see the module notes: layer 3)."""
    limits = body_limits()
    guard_daphne(limits.default, larger=limits.larger)
    return BodySizeLimit(app, limits.default, larger=limits.larger)


# --- each file of a submission: its own kind's limit (see the module notes: layer 4) ------------------

class KindLimitedUploadHandler(FileUploadHandler):
    """Drops an uploaded file the moment it passes its kind's limit (see the module notes); what was
    refused is in `request.upload_refusals` ({field name: message}) for the form to show."""

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received, self.limit, self.kind = 0, None, ""

    def receive_data_chunk(self, raw_data, start):
        from django.conf import settings

        if self.limit is None:
            photo = kind_from_head(raw_data[:32]) == "image"
            self.kind = "photo" if photo else "clip"
            self.limit = settings.NST_MAX_UPLOAD_BYTES if photo else settings.NST_MAX_CLIP_BYTES
        self.received += len(raw_data)
        if self.received > self.limit:
            refusals = getattr(self.request, "upload_refusals", None)
            if refusals is None:
                refusals = self.request.upload_refusals = {}
            refusals.setdefault(self.field_name, []).append(
                f"{self.file_name} is over {_megabytes(self.limit)} MB; the largest file you can upload is "
                f"{_megabytes(self.limit)} MB for a {self.kind}. Nothing of it was kept: please make it smaller "
                f"({'e.g. save it as JPEG or scale it down' if self.kind == 'photo' else 'trim it'}) and try again.")
            logger.info("Dropped upload %r (%s) after %d bytes", self.file_name, self.kind, self.received)
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file
