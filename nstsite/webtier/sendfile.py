"""Sending a stored file after a view's access check: by the proxy when there is one.

    return send_file(request, job.result, content_type="image/png", as_attachment=True,
                     filename="nst-job-7.png")

Behind nstsite's proxy (nginx, `nstsite/webtier/proxy.py`), the answer is an empty response whose
`X-Accel-Redirect` header names the file under an internal location: nginx then sends the file
itself (sendfile, ranges, conditional requests) and the web server's thread is free at once
instead of copying a 100 MB print or a video through Python. The proxy says it can do this by
setting `X-Sendfile-Type: X-Accel-Redirect` on every request it passes on (it overwrites whatever
a client sent). Without that header (Django's test client, a web server without the proxy), or for
a storage that is not a folder on this machine, the file goes out as a FileResponse as before.

The internal location is never reachable from outside: nginx answers 404 to a browser asking for
it; only a response from the application can send a request there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header

# nginx's `internal` location for MEDIA_ROOT (nstsite/webtier/proxy.py writes it from this constant).
INTERNAL_MEDIA_PREFIX = "/_nst_internal/media/"
SENDFILE_HEADER = "X-Sendfile-Type"
ACCEL_REDIRECT = "X-Accel-Redirect"


def send_file(request: HttpRequest, file: FieldFile | str, *, content_type: str, as_attachment: bool = False,
              filename: str | None = None, storage: Storage | None = None) -> HttpResponseBase:
    """The stored `file` (a file field's value, or a name in `storage`, by default the default
    storage) as the answer to `request`. Raises FileNotFoundError when the file is gone, whichever
    way it would be sent, so that views answer 404 the same way in both cases."""
    if isinstance(file, FieldFile):
        name, storage = file.name, file.storage
    else:
        name, storage = file, storage or default_storage
    internal = _internal_uri(request, storage, name)
    if internal is None:
        return FileResponse(storage.open(name, "rb"), content_type=content_type, as_attachment=as_attachment,
                            filename=filename or "")
    response = HttpResponse(content_type=content_type)
    response[ACCEL_REDIRECT] = internal
    # As FileResponse names it: the given name, else the stored file's own.
    if disposition := content_disposition_header(as_attachment, Path(filename or name).name):
        response["Content-Disposition"] = disposition
    return response


def _internal_uri(request: HttpRequest, storage: Storage, name: str) -> str | None:
    """The internal URI nginx sends `name` from, or None when the proxy cannot send it."""
    if request.headers.get(SENDFILE_HEADER) != ACCEL_REDIRECT:
        return None
    try:
        path = Path(storage.path(name))
    except NotImplementedError:  # not a local folder (e.g. object storage): Django sends it
        return None
    from django.conf import settings

    try:
        relative = path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve())
    except ValueError:  # outside MEDIA_ROOT: the internal location cannot reach it
        return None
    if not path.is_file():
        raise FileNotFoundError(name)
    # Percent-encoded: nginx decodes the URI before it maps it onto the folder.
    return INTERNAL_MEDIA_PREFIX + quote(relative.as_posix())
