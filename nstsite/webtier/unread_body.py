"""Read to its end a request body that the application answered without reading.

Django answers some requests from their headers alone: a failed CSRF check, a refusal from the
quota or the rate limit, a log-in redirect. The body then stays on the connection. gunicorn
drains at most 64 KiB of it before it keeps the connection, and closes it when more is left,
while nginx may still be writing the body it buffered: nginx's write fails and the user sees a
502 "Bad Gateway" instead of the answer Django gave (a 2 MB body did so about one time in ten
on a loaded machine: tests/test_web_tier.py).

So the WSGI application reads what is left once the view has answered, before gunicorn sends the
response. It costs little: nginx buffers a whole body before it passes it on (its
client_max_body_size bounds it), so the rest arrives over a local socket at memory speed, and a
body that was read costs one empty read. Channels' daphne is not concerned: it serves only
/ws/ here.
"""

from __future__ import annotations

CHUNK = 1 << 20


class ReadUnreadBody:
    """WSGI middleware: after the application returns, read what is left of `wsgi.input`."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        response = self.application(environ, start_response)
        drain(environ)
        return response


def drain(environ) -> int:
    """Read and discard what is left of the request's body; the number of bytes read.

    Bounded by the request's Content-Length: a client may not keep this thread reading more than
    it announced (a chunked body is bounded by the proxy, which sends a length upstream)."""
    stream = environ.get("wsgi.input")
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
    read = 0
    while stream is not None and read < left:
        data = stream.read(min(CHUNK, left - read))
        if not data:
            break
        read += len(data)
    return read
