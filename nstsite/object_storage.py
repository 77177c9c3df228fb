"""Where job files live: `STORAGES["default"]`, chosen by NST_STORAGE.

- `local` (the default): Django's FileSystemStorage under MEDIA_ROOT. One machine; nothing to set.
- `s3`: an S3-compatible bucket through django-storages' S3Storage (boto3), configured with the
  standard settings, read from the environment:

      AWS_S3_ENDPOINT_URL        http://127.0.0.1:8333 (SeaweedFS, MinIO...); empty = Amazon S3
      AWS_STORAGE_BUCKET_NAME    the bucket (required)
      AWS_S3_ACCESS_KEY_ID       the keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are read too)
      AWS_S3_SECRET_ACCESS_KEY
      AWS_S3_REGION_NAME         default us-east-1
      AWS_S3_ADDRESSING_STYLE    path (default: what S3-compatible stores answer) or virtual
      AWS_S3_SIGNATURE_VERSION   s3v4 (default)
      AWS_LOCATION               a prefix for every key ("" by default): several sites in one bucket

  Nothing is public: objects are written without an ACL (private, as the bucket is), and a URL to
  one is presigned and short-lived (NST_STORAGE_URL_SECONDS). Downloads never hand such a URL to a
  browser: nginx fetches the object itself after Django's access check (nstsite/webtier/sendfile.py).

Every workers' host needs the same settings (and DATABASE_URL, REDIS_URL, the model files): no
shared folder. The code reaches job files through Django's storage API only; what needs a real file
(TensorFlow, PyAV) gets a temporary copy from engine/storage/workspace.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

LOCAL, S3 = "local", "s3"
S3_BACKEND = "storages.backends.s3.S3Storage"
LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
# A presigned URL lives this long: nginx uses it at once, so a minute is plenty (and the most an
# URL that leaked from a log could give).
DEFAULT_URL_SECONDS = 60


def default_storage_config(env: Mapping[str, str]) -> dict:
    """The STORAGES["default"] entry for this environment; ImproperlyConfigured on a bad value."""
    kind = (env.get("NST_STORAGE") or LOCAL).strip().lower()
    if kind == LOCAL:
        return {"BACKEND": LOCAL_BACKEND}
    if kind != S3:
        raise ImproperlyConfigured(f"NST_STORAGE={kind!r}: use {LOCAL!r} (the default) or {S3!r}.")
    return {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(env)}


def s3_options(env: Mapping[str, str]) -> dict:
    def get(*names: str, default: str = "") -> str:
        return next((env[n].strip() for n in names if env.get(n, "").strip()), default)

    bucket = get("AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        raise ImproperlyConfigured("NST_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket of the job files).")
    endpoint = get("AWS_S3_ENDPOINT_URL")
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"AWS_S3_ENDPOINT_URL={endpoint!r} is not an http(s):// URL.")
    addressing = get("AWS_S3_ADDRESSING_STYLE", default="path")
    if addressing not in ("path", "virtual", "auto"):
        raise ImproperlyConfigured(f"AWS_S3_ADDRESSING_STYLE={addressing!r}: use path, virtual or auto.")
    seconds = get("NST_STORAGE_URL_SECONDS", default=str(DEFAULT_URL_SECONDS))
    if not seconds.isdigit() or not 1 <= int(seconds) <= 600:
        raise ImproperlyConfigured(f"NST_STORAGE_URL_SECONDS={seconds!r}: a whole number of seconds, 1 to 600.")
    return {
        "bucket_name": bucket,
        "location": get("AWS_LOCATION").strip("/"),
        "endpoint_url": endpoint or None,
        "access_key": get("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID") or None,
        "secret_key": get("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY") or None,
        "region_name": get("AWS_S3_REGION_NAME", default="us-east-1"),
        "addressing_style": addressing,
        "signature_version": get("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
        "default_acl": None,            # no ACL: the object is as private as its bucket
        "querystring_auth": True,       # every URL is signed...
        "querystring_expire": int(seconds),  # ...and short-lived
        "file_overwrite": True,         # job files have fixed names; the code replaces them on purpose
    }


def uses_object_storage(storages: Mapping[str, dict]) -> bool:
    return storages["default"]["BACKEND"] == S3_BACKEND


def download_endpoint(storages: Mapping[str, dict]) -> str:
    """The endpoint whose objects nginx's download hand-off may fetch (nstsite/webtier/proxy.py): an
    S3 storage's endpoint_url with path-style addressing (the presigned URL's host is then the
    endpoint's); "" otherwise (local disk, or a store whose URLs name the bucket in the host:
    Django streams those downloads itself)."""
    if not uses_object_storage(storages):
        return ""
    options = storages["default"].get("OPTIONS", {})
    return (options.get("endpoint_url") or "") if options.get("addressing_style") == "path" else ""
