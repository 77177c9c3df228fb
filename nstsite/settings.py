"""The one settings file, for development, tests, CI and production alike: environment variables
decide. Each helper fails loudly on a value it cannot read, naming the variable, rather than
guessing. DEBUG is off unless asked for; production passes `manage.py check --deploy` with
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DJANGO_HTTPS=1 set.

Environment variables: see the table in README.md.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from nstsite.object_storage import default_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value; use 1 or 0.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path | None) -> Path | None:
    """A folder path; relative paths are taken from the repository root, not the working directory."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return (BASE_DIR / Path(value).expanduser()).resolve()


# --- core ---------------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
# Running under pytest: the one other place a fixed, public key is acceptable.
TESTING = "pytest" in sys.modules

SECRET_KEY = env_str("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 on a development machine."
        )
    SECRET_KEY = "django-insecure-nstsite-development-and-tests-only"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: its `runserver` (ASGI, websockets included) replaces Django's WSGI one.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "channels",
    "engine",
    "gallery",
    # The REST API for programs (api/: tokens, jobs, live tickets, webhooks) and its OpenAPI schema.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from this site (no CDN)
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the CSRF check reads a body: an anonymous upload is never parsed or spooled.
    "nstsite.request_limits.anonymous_uploads.SignedInUploadsOnly",
    "nstsite.security.security_headers.SecurityHeadersMiddleware",  # CSP; Cache-Control for logged-in users
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nstsite.urls"
WSGI_APPLICATION = "nstsite.wsgi.application"
ASGI_APPLICATION = "nstsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- data -----------------------------------------------------------------------------------------

VAR_DIR = BASE_DIR / "var"
_DEFAULT_DB = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
# The web server's threads keep their database connection between requests: opening one (and
# SQLite's WAL pragma) was a quarter of a cached gallery page's time (docs/benchmarks.md, "Gallery").
# Checked before each request's first query, so a restarted database costs no request.
_DEFAULT_CONN_MAX_AGE = 0 if TESTING else 60
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL") or _DEFAULT_DB,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", _DEFAULT_CONN_MAX_AGE),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL cannot be used: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the workers write to one SQLite file at once. WAL lets them read while
    # another writes; IMMEDIATE makes a transaction take the write lock when it begins, waiting up to
    # `timeout` seconds, instead of failing at once with "database is locked" when a transaction
    # that has read (e.g. the quota check before a job is created) then tries to write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20})
    if DATABASES["default"]["NAME"]:
        # SQLite creates the file but not its folder.
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
if TESTING and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The test database in a file, not in memory: tests/test_crash_safety.py runs real worker
    # processes, which must see it. Named by the test session's process id, so that sessions
    # running side by side do not share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

REDIS_URL = env_str("REDIS_URL") or "redis://127.0.0.1:6379/0"
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://.")

# Pretrained model files (never in git): where the engine reads them, and an optional local
# mirror folder `fetch_models` copies them from before trying the official URLs.
NST_MODEL_DIR = env_path("NST_MODEL_DIR", BASE_DIR / "models")
NST_MODEL_MIRROR = env_path("NST_MODEL_MIRROR", None)
# Fast mode's "tfhub" network loads its model with tensorflow_hub.load(NST_FAST_HUB_HANDLE): a TF-Hub
# URL where the internet is reachable, or a local SavedModel folder (`manage.py export_fast_model DIR`
# writes one; relative paths are from the repository root). Empty: the network is not offered.
_hub_handle = env_str("NST_FAST_HUB_HANDLE") or ""
NST_FAST_HUB_HANDLE = (_hub_handle if not _hub_handle or "://" in _hub_handle
                       else str((BASE_DIR / Path(_hub_handle).expanduser()).resolve()))

MEDIA_ROOT = env_path("DJANGO_MEDIA_ROOT", VAR_DIR / "media")
MEDIA_URL = "/media/"
# Temporary copies of the job files a step needs as real files (engine/storage/workspace.py: PyAV's
# clips, a video's chunks), removed when the step ends; the system's temporary folder when unset.
NST_WORK_DIR = env_path("NST_WORK_DIR", None)
STATIC_URL = "/static/"
STATIC_ROOT = env_path("DJANGO_STATIC_ROOT", VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

# WhiteNoise serves static files from the app/static folders directly (no collectstatic needed
# for a local run); production runs collectstatic and gets compressed, cache-busted files.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Job files: local disk under MEDIA_ROOT, or an S3-compatible bucket with NST_STORAGE=s3 and the
# standard AWS_* settings (nstsite/object_storage.py says which).
STORAGES = {
    "default": default_storage_config(os.environ),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- queue ----------------------------------------------------------------------------------------
# django-rq: "default" for normal jobs, "high" for staff-prioritised ones, "scores" for the quality
# scores of finished pictures (engine.runners.scores), which a worker takes only when the other two
# are empty (engine.models.WORKER_QUEUES: the order of the worker command's queues). Workers are
# engine.jobs.worker.StyleWorker, an RQ SimpleWorker (no fork per job, so TensorFlow and the models load
# once per worker process) that renews a lease on its running job, so that a job whose worker died
# is noticed and resumed elsewhere (see engine/jobs/worker.py for the reasoning and the figures).
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env_int("NST_JOB_TIMEOUT", 6 * 3600)}
    for name in ("high", "default")
}
RQ_QUEUES["scores"] = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}  # a score takes a second or two
# Score each finished classic or fast picture for staff (the admin), on the "scores" queue.
NST_SCORE_RESULTS = env_bool("NST_SCORE_RESULTS", True)
# FairQueue: a queue's waiting jobs are kept in fair turns between users (engine/jobs/turns.py).
RQ = {"WORKER_CLASS": "engine.jobs.worker.StyleWorker", "QUEUE_CLASS": "engine.jobs.turns.FairQueue"}
NST_WORKER_HEARTBEAT_SECONDS = env_int("NST_WORKER_HEARTBEAT_SECONDS", 10)   # lease renewal
NST_WORKER_LEASE_SECONDS = env_int("NST_WORKER_LEASE_SECONDS", 60)           # lapses after this
NST_WORKER_MAINTENANCE_SECONDS = env_int("NST_WORKER_MAINTENANCE_SECONDS", 30)  # looks for lapsed ones
NST_JOB_MAX_RECOVERIES = env_int("NST_JOB_MAX_RECOVERIES", 2)  # lost workers a job survives, then fails
if NST_WORKER_HEARTBEAT_SECONDS < 1 or NST_WORKER_LEASE_SECONDS < 3 * NST_WORKER_HEARTBEAT_SECONDS:
    # A worker stops on its own 2 heartbeats before its lease lapses (engine/jobs/worker.py).
    raise ImproperlyConfigured(
        f"NST_WORKER_LEASE_SECONDS={NST_WORKER_LEASE_SECONDS} must be at least 3 x "
        f"NST_WORKER_HEARTBEAT_SECONDS={NST_WORKER_HEARTBEAT_SECONDS} (and the heartbeat at least 1 s).")
if NST_WORKER_MAINTENANCE_SECONDS < 1 or NST_JOB_MAX_RECOVERIES < 0:
    raise ImproperlyConfigured("NST_WORKER_MAINTENANCE_SECONDS must be at least 1 and "
                               "NST_JOB_MAX_RECOVERIES at least 0.")

# --- websockets (Channels) ---------------------------------------------------------------------
# nstsite.asgi routes ws/jobs/... to engine.live.consumers. Workers (other processes or machines)
# publish job events to groups on this layer, so it must be shared: Redis, the same as the queues.
# Only the connect timeout is bounded here: a read timeout would cut the consumers' blocking
# reads; engine.live.events bounds each publish itself.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # socket_timeout: a socket's consumer waits for its next message with a blocking
            # BZPOPMIN of up to 5 s (channels_redis' brpop_timeout), and redis-py 8 reads each reply
            # with a 5 s timeout by default: the read timed out just as Redis answered "nothing
            # yet", and every quiet socket died with TimeoutError (close 1011) after 5-6 s. The
            # read must outlast the blocking call, with room for a busy machine.
            "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 20}],
            "capacity": 200,   # messages waiting per browser connection before old ones are dropped
            "expiry": 60,      # seconds an undelivered message is kept
        },
    },
}

# --- uploads and accounts -------------------------------------------------------------------------
NST_MAX_UPLOAD_BYTES = env_int("NST_MAX_UPLOAD_MB", 20) * 1024 * 1024
# The pixels of one submission's images together (each may have up to 50 MP), read from their
# headers before any is decoded: what one request can make the web process decode.
NST_MAX_SUBMISSION_PIXELS = env_int("NST_MAX_SUBMISSION_MEGAPIXELS", 100) * 1_000_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024   # non-file form fields
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024   # larger uploads spool to disk

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# E-mail (password resets, the job-ended notices of engine.notifications): printed to the process's
# output by default; SMTP once DJANGO_EMAIL_HOST names a server.
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST") or ""
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("DJANGO_EMAIL_TIMEOUT", 10)  # seconds: a hung server must not hold a worker
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL") or "nstsite <noreply@localhost>"
# The site's address as its users reach it, for links in e-mails (sent by workers, outside any request).
NST_SITE_URL = env_str("NST_SITE_URL") or "http://localhost:8000"
# What one address may be sent in a UTC day (engine/mail_cap.py; issue 24, finding 4): all the site's
# own mails (job and batch notifications, verification links), and of them, verification links,
# the only mail an address gets before its owner confirms it. Password resets have their own limit.
NST_MAILS_PER_ADDRESS_PER_DAY = env_int("NST_MAILS_PER_ADDRESS_PER_DAY", 30)
NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY = env_int("NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY", 3)
# How long the link that verifies an address stays good (engine/email_verification.py).
NST_EMAIL_VERIFICATION_DAYS = env_int("NST_EMAIL_VERIFICATION_DAYS", 3)
if min(NST_MAILS_PER_ADDRESS_PER_DAY, NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY, NST_EMAIL_VERIFICATION_DAYS) < 1:
    raise ImproperlyConfigured("NST_MAILS_PER_ADDRESS_PER_DAY, NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY and "
                               "NST_EMAIL_VERIFICATION_DAYS must be at least 1.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

# --- HTTPS (production) ---------------------------------------------------------------------------
# Off by default so that a local non-debug run over plain http (scripts/run) keeps its session
# cookie; production sets DJANGO_HTTPS=1 and then passes `manage.py check --deploy`. Each part
# can be turned off on its own, e.g. DJANGO_SSL_REDIRECT=0 when the proxy redirects already.

HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    # The header a TLS-terminating proxy sets to say the browser used https. Set it to "" when
    # daphne itself speaks TLS: a header nobody strips must not be trusted.
    _proxy_header = env_str("DJANGO_PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    # The proxy's own subrequest for the page cache's generation (gallery.page_cache), not a page.
    SECURE_REDIRECT_EXEMPT = [r"^gallery/page-generation/$"]
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)

# --- reliability and security: request limits, login throttling, error pages ----------------------
# (issue 6; docs/reliability.md says what each limit was tested with)

# Whole request bodies above this are refused with 413 before they are read (nstsite/request_limits/limits.py):
# by default room for the four uploads of a job at their limit, plus the form fields.
UPLOAD_FILE_FIELDS = 4  # content + 3 styles
NST_MAX_REQUEST_BYTES = env_int("NST_MAX_REQUEST_MB",
                                UPLOAD_FILE_FIELDS * NST_MAX_UPLOAD_BYTES // 2**20 + 1) * 2**20
if NST_MAX_REQUEST_BYTES < 2**20:
    raise ImproperlyConfigured("NST_MAX_REQUEST_MB must be at least 1.")
# Clips (video mode) and batches. A clip is far larger than a photo, so the submission URL alone
# takes larger bodies: NST_MAX_SUBMIT_MB, by default one clip plus a photo-sized request; every other
# URL keeps NST_MAX_REQUEST_MB. Within the submission, each file is held to its own kind's limit as
# it arrives (nstsite.request_limits.limits.KindLimitedUploadHandler): an image over NST_MAX_UPLOAD_MB is cut off
# there, not stored to the end.
NST_MAX_CLIP_BYTES = env_int("NST_MAX_CLIP_MB", 500) * 2**20
NST_MAX_SUBMIT_BYTES = env_int("NST_MAX_SUBMIT_MB",
                               (NST_MAX_CLIP_BYTES + NST_MAX_REQUEST_BYTES) // 2**20) * 2**20
NST_MAX_BATCH_FILES = env_int("NST_MAX_BATCH_FILES", 20)  # content files per submission (server-wide cap)
if NST_MAX_CLIP_BYTES < 2**20 or NST_MAX_SUBMIT_BYTES < NST_MAX_REQUEST_BYTES or NST_MAX_BATCH_FILES < 1:
    raise ImproperlyConfigured("NST_MAX_CLIP_MB must be at least 1, NST_MAX_SUBMIT_MB at least "
                               "NST_MAX_REQUEST_MB and NST_MAX_BATCH_FILES at least 1.")
FILE_UPLOAD_HANDLERS = ["nstsite.request_limits.limits.KindLimitedUploadHandler",
                        "django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "django.core.files.uploadhandler.TemporaryFileUploadHandler"]
DATA_UPLOAD_MAX_NUMBER_FILES = NST_MAX_BATCH_FILES + UPLOAD_FILE_FIELDS - 1  # more: a friendly 400 page
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200                # the job form has about 25

# Friendly pages instead of Django's bare ones: a forged or stale form (403_csrf.html), and the
# job queue's Redis being unreachable in a view that did not expect it (503.html).
CSRF_FAILURE_VIEW = "nstsite.errors.csrf_failure"
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.common.CommonMiddleware") + 1,
                  "nstsite.errors.QueueUnavailableMiddleware")

# Login throttling (django-axes): after NST_LOGIN_FAILURE_LIMIT failed logins for one username
# from one IP address, that pair is locked out for NST_LOGIN_COOLOFF_MINUTES, even with the right
# password; a successful login resets the count. The IP address: see "web tier" below.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes asks
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out pair before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("NST_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = env_int("NST_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("NST_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "nstsite.errors.login_locked_out"  # templates/429.html
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # one warning per lockout is logged anyway
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("NST_LOGIN_FAILURE_LIMIT and NST_LOGIN_COOLOFF_MINUTES must be at least 1.")

# --- abuse: the client's address, rate limits, their cache (issue 14; nstsite/request_limits/rate_limits.py) ---------

# Reverse proxies whose X-Forwarded-For is believed (nstsite/security/client_ip.py): addresses or networks,
# comma-separated. None by default: the address is the one that connected (REMOTE_ADDR).
try:
    NST_TRUSTED_PROXIES = [ipaddress.ip_network(item, strict=False)
                           for item in env_list("NST_TRUSTED_PROXIES", [])]
except ValueError as exc:
    raise ImproperlyConfigured(f"NST_TRUSTED_PROXIES: {exc}") from None
AXES_CLIENT_IP_CALLABLE = "nstsite.security.client_ip.client_ip"
RATELIMIT_IP_META_KEY = "nstsite.security.client_ip.client_ip"

_RATE = re.compile(r"^[1-9]\d*/[1-9]?\d*[smhd]$")
_RATE_DEFAULTS = {
    "signup_ip": "20/h",             # sign-up forms sent from one address
    "login_failures_ip": "30/h",     # failed log-ins from one address, whatever the usernames
    "password_reset_ip": "10/h",     # reset forms sent from one address
    "password_reset_email": "3/h",   # reset e-mails to one address (more are not sent, silently)
    "submit_user": "60/h",           # job forms sent by one account
    "submit_ip": "120/h",            # job forms sent from one address
}
NST_RATE_LIMITS = {name: env_str(f"NST_RATE_{name.upper()}", default).strip()
                   for name, default in _RATE_DEFAULTS.items()}
for _name, _rate in NST_RATE_LIMITS.items():
    if not _RATE.match(_rate):
        raise ImproperlyConfigured(f"NST_RATE_{_name.upper()}={_rate!r} is not a rate such as 20/h "
                                   "(a number, a slash, and s, m, h or d).")

# Counters must be shared by every web process: Redis (Django's own backend). Page fragments
# (the gallery's grid) stay in each process's memory, as before: a stale one costs nothing, and
# GridVersion keeps them honest.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "limits": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("NST_LIMITS_REDIS_URL") or REDIS_URL,
        "KEY_PREFIX": "nst-limits",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
}
# django-ratelimit is used as a library (not an installed app): its system check warns about any
# backend but django-redis', while Django's own RedisCache has the atomic INCR it needs. The
# project's check (nstsite/checks.py) asks instead that the counters be in a cache every process shares.
RATELIMIT_USE_CACHE = "limits"

# Retention (engine/storage/retention.py, `manage.py prune_jobs`; issue 14): private jobs are removed this
# many days after they ended; previews and checkpoints of every ended job after NST_PRUNE_FILES_DAYS.
NST_PRUNE_PRIVATE_DAYS = env_int("NST_PRUNE_PRIVATE_DAYS", 90)
NST_PRUNE_FILES_DAYS = env_int("NST_PRUNE_FILES_DAYS", 7)
# How often one of the workers runs it (and removes expired kept uploads), in their maintenance pass;
# 0: never (run `manage.py prune_jobs` from cron instead).
NST_RETENTION_EVERY_MINUTES = env_int("NST_RETENTION_EVERY_MINUTES", 60)
if NST_PRUNE_PRIVATE_DAYS < 1 or NST_PRUNE_FILES_DAYS < 1 or NST_RETENTION_EVERY_MINUTES < 0:
    raise ImproperlyConfigured("NST_PRUNE_PRIVATE_DAYS and NST_PRUNE_FILES_DAYS must be at least 1, "
                               "NST_RETENTION_EVERY_MINUTES at least 0.")

# The gallery's pages for visitors who are not signed in are kept by the proxy (gallery/page_cache.py,
# nstsite/webtier/page_cache.py) for NST_PAGE_CACHE_SECONDS (0: not kept); a change to what they show
# purges them, which the proxy notices within NST_PAGE_CACHE_CHECK_SECONDS.
NST_PAGE_CACHE_SECONDS = env_int("NST_PAGE_CACHE_SECONDS", 60)
NST_PAGE_CACHE_CHECK_SECONDS = env_int("NST_PAGE_CACHE_CHECK_SECONDS", 1)
if NST_PAGE_CACHE_SECONDS < 0 or NST_PAGE_CACHE_CHECK_SECONDS < 1:
    raise ImproperlyConfigured("NST_PAGE_CACHE_SECONDS must be at least 0 and NST_PAGE_CACHE_CHECK_SECONDS at least 1.")

# --- web tier: nginx in front of gunicorn (pages) and daphne (/ws/) --------------------------------
# nstsite/webtier/proxy.py writes nginx's configuration, its 413 page and its request-body buffers here.
NST_PROXY_DIR = env_path("NST_PROXY_DIR", VAR_DIR / "proxy")
# Addresses or networks (CIDR) of a TLS terminator or load balancer in front of nginx: nginx
# believes their X-Forwarded-For and X-Forwarded-Proto. Nobody else's.
NST_FRONT_PROXIES = env_list("NST_FRONT_PROXIES", [])

# --- the REST API for programs (api/, issue 22; docs/api.md) ---------------------------------------
# Bearer tokens first (a program's request never needs a CSRF token), then the site's own session
# with its CSRF check (the pages' scripts). Every endpoint needs one of them; a read token may not
# change anything (api.permissions.TokenScope). Refusals are RFC 9457 problem+json (api.problems).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication",
                                       "api.authentication.SessionWithCsrf"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "api.permissions.TokenScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.MultiPartParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "nstsite API",
    "VERSION": "1",
    "DESCRIPTION": "",  # api.schema_text fills it in (its module holds the long text)
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["api.schema_text.only_the_api"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema_text.add_documents"],
    "ENUM_NAME_OVERRIDES": {"JobStatus": "engine.models.Status", "JobMode": "engine.models.Mode"},
}
# Personal API tokens: how many a user may hold at once (revoked and expired ones do not count).
NST_API_MAX_TOKENS = env_int("NST_API_MAX_TOKENS", 20)
# A websocket ticket (POST /api/v1/jobs/{id}/ticket/) opens one socket, within this many seconds.
NST_API_TICKET_SECONDS = env_int("NST_API_TICKET_SECONDS", 60)
# Webhooks (api/webhooks/): sent by RQ jobs on their own queue, which only the "webhooks" process
# empties, so a slow receiver never holds up a style worker. A receiver must be https on a public
# address; NST_WEBHOOK_ALLOWED_HOSTS names hosts ("host" or "host:port") that may be on this
# machine or a private network, over http too (your own receiver; the tests use it).
NST_WEBHOOK_QUEUE = "webhooks"
NST_WEBHOOK_ALLOWED_HOSTS = env_list("NST_WEBHOOK_ALLOWED_HOSTS", [])
NST_WEBHOOK_TIMEOUT_SECONDS = env_int("NST_WEBHOOK_TIMEOUT_SECONDS", 5)
# Seconds before each retry of a failed delivery: 6 tries over about an hour (Standard Webhooks'
# advice is a similar back-off); NST_WEBHOOK_RETRY_SECONDS="1,1,1" for a quick test.
try:
    NST_WEBHOOK_RETRY_SECONDS = [int(s) for s in env_list("NST_WEBHOOK_RETRY_SECONDS",
                                                          ["10", "60", "300", "900", "2400"])]
except ValueError:
    raise ImproperlyConfigured("NST_WEBHOOK_RETRY_SECONDS must be whole numbers of seconds, "
                               "comma-separated.") from None
RQ_QUEUES[NST_WEBHOOK_QUEUE] = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60}
# The version the results' embedded settings name (api: "settings inside the result").
NST_SITE_VERSION = env_str("NST_SITE_VERSION") or "1.0"
