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

With the job files in an S3 bucket (NST_STORAGE=s3, nstsite/object_storage.py) the hand-off is the
same, to another internal location: the target is the object's presigned URL (a GET of that one
object, valid NST_STORAGE_URL_SECONDS, a minute by default), which nginx fetches from the store and
streams out (nstsite/webtier/proxy.py, object_store_location). The URL never reaches the browser,
so it cannot be shared or outlive the access check that granted it by more than its minute.
Names outside a plain alphabet (letters, digits, "/", ".", "_", "-": every job file's) go through
Django instead: nginx re-encodes the URI it forwards, and the signature must match it byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from nstsite.object_storage import download_endpoint

# nginx's `internal` location for MEDIA_ROOT (nstsite/webtier/proxy.py writes it from this constant).
INTERNAL_MEDIA_PREFIX = "/_nst_internal/media/"
# ... and the one that fetches an object from the S3 store (proxy.py's object_store_location).
INTERNAL_OBJECT_PREFIX = "/_nst_internal/objects/"
PLAIN_NAME = re.compile(r"[A-Za-z0-9/._-]+")
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
    if isinstance(storage, S3Storage):
        return _object_uri(storage, name)
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


def _object_uri(storage: S3Storage, name: str) -> str | None:
    """The internal URI through which nginx fetches `name` from the bucket (a presigned GET), or
    None when the proxy cannot (no endpoint it knows, a name outside the plain alphabet)."""
    from django.conf import settings

    endpoint = download_endpoint(settings.STORAGES)
    if not endpoint or not PLAIN_NAME.fullmatch(name) or ".." in name:
        return None
    # No existence check here (a request to the store for every download): a missing object is
    # nginx's 404 (proxy.py's object_store_location), as the view's would be.
    url = urlsplit(storage.url(name))  # presigned: querystring_expire seconds
    if url.netloc != urlsplit(endpoint).netloc:
        return None
    return INTERNAL_OBJECT_PREFIX + url.path.lstrip("/") + "?" + url.query
