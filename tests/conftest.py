"""Fixtures shared by every test file.

The shared folder (test photos, model mirror) sits beside the repository: ``../shared``, or
``NST_SHARED_DIR``. The model mirror is ``NST_TEST_MODEL_DIR``, by default ``<shared>/models``.
A missing folder fails the tests that need it, with the path and the variable to set: it never
skips them, because a skipped test passes silently on a machine set up wrongly.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

from collections.abc import Callable  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.web_client import PASSWORD  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """Settings for the whole session, in this process only (the platform's own processes,
    tests/harness.py, keep the real ones):

    - The tests serve static files from the app folders (WHITENOISE_USE_FINDERS), looked up when
      asked for (WHITENOISE_AUTOREFRESH) rather than listed whenever a handler is built: each
      Django test Client builds one, and listing the app folders took 25-50 ms each time. STATIC_ROOT
      exists anyway, as after collectstatic, so that WhiteNoise never warns "No directory at ...".
    - Django's password hasher is slow on purpose (PBKDF2, a million rounds: 0.2 s of CPU for each
      password set or checked) and most tests create three users, so the tests use a fast one, as
      Django's testing docs advise."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    settings.WHITENOISE_AUTOREFRESH = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_sessionfinish(session, exitstatus) -> None:
    """Remove what SQLite leaves of the session's test database: Django deletes the file, but a
    platform process that closes its connection after that writes the -wal and -shm files again
    (about 4 MB a run in var/, kept forever before)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if database["ENGINE"].endswith("sqlite3") and name and name.endswith(f"-{os.getpid()}.sqlite3"):
        for leftover in (name, f"{name}-wal", f"{name}-shm", f"{name}-journal"):
            Path(leftover).unlink(missing_ok=True)


def shared_path() -> Path:
    return Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared").resolve()


def model_mirror_path() -> Path:
    return Path(os.environ.get("NST_TEST_MODEL_DIR") or shared_path() / "models").resolve()


def _require_dir(path: Path, what: str, variable: str) -> Path:
    if not path.is_dir():
        pytest.fail(f"{what} {path} does not exist. Put it there or set {variable} to its location.",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the repository (photos, model mirror, design notes)."""
    return _require_dir(shared_path(), "Shared folder", "NST_SHARED_DIR")


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """The test photos: tubingen.jpg, starry_night.jpg, golden_gate.jpg, shipwreck.jpg, ..."""
    return _require_dir(shared_path() / "images", "Test image folder", "NST_SHARED_DIR")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """A folder holding the default model files, intact (md5-checked): the mirror."""
    from engine.nst import model_files
    from engine.nst.errors import ModelFileError

    path = _require_dir(model_mirror_path(), "Model mirror folder", "NST_TEST_MODEL_DIR")
    try:
        for mf in model_files.DEFAULT_FILES:
            model_files.require(path, mf)
    except ModelFileError as exc:
        pytest.fail(str(exc), pytrace=False)
    return path


@pytest.fixture(scope="session")
def load_test_image(images_dir: Path) -> Callable[[str, int], np.ndarray]:
    """load_test_image("tubingen.jpg", 64) -> HxWx3 float32 array in [0, 1], longest side 64.
    Each call returns a fresh copy, so a test may change it in place."""
    from engine.nst import images

    @lru_cache(maxsize=64)
    def cached(name: str, max_side: int) -> np.ndarray:
        return images.load_array(images_dir / name, max_side)

    def load(name: str, max_side: int) -> np.ndarray:
        return cached(name, max_side).copy()

    return load


# --- the web platform: three users, a real Redis, a real RQ worker, job media -------------------


@pytest.fixture
def owner(django_user_model):
    """The user whose jobs a test is about."""
    return django_user_model.objects.create_user("olivia", "olivia@example.org", PASSWORD)


@pytest.fixture
def other_user(django_user_model):
    """Someone else: must not see or touch the owner's private jobs."""
    return django_user_model.objects.create_user("oscar", "oscar@example.org", PASSWORD)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("stella", "stella@example.org", PASSWORD, is_staff=True)


def _logged_in_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _logged_in_client(owner)


@pytest.fixture
def other_client(other_user):
    return _logged_in_client(other_user)


@pytest.fixture
def staff_client(staff_user):
    return _logged_in_client(staff_user)


@pytest.fixture
def cookie():
    """cookie(user) -> the Cookie header of a browser logged in as `user` (a real session), or None
    for an anonymous visitor."""
    from django.test import Client

    def make(user) -> bytes | None:
        if user is None:
            return None
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return make


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> str:
    """A private redis-server for the whole test session (no persistence); yields its URL.
    Fails, never skips, when redis-server is not installed."""
    from tests.harness import HarnessError, RedisServer

    try:
        server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server.url
    server.process.stop(grace=10)


@pytest.fixture
def live_platform(tmp_path: Path, redis_server: str, model_dir: Path):
    """The platform's own processes (tests/harness.py: web server, websockets, proxy) on a database
    of their own; no worker yet (the test starts it). A Redis database of its own: the platform's
    worker must not take other tests' jobs."""
    import redis

    from tests.harness import Platform

    redis_url = redis_server.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(redis_url).flushdb()
    with Platform(tmp_path / "platform", redis_url=redis_url, model_dir=model_dir) as platform:
        yield platform.up(workers=0)


@pytest.fixture
def rq_redis(redis_server, settings):
    """Points RQ_QUEUES, REDIS_URL and the channel layer (live job events) at the test Redis,
    emptied for this test; yields a client."""
    import redis

    settings.REDIS_URL = redis_server
    settings.RQ_QUEUES = {name: {**config, "URL": redis_server}
                          for name, config in settings.RQ_QUEUES.items()}
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {
        **layer["CONFIG"], "hosts": [{**layer["CONFIG"]["hosts"][0], "address": redis_server}]}}}
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def media_root(settings, tmp_path):
    """Job files go to a temporary MEDIA_ROOT, never into var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """A SeaweedFS (the S3-compatible object store, tests/harness.py) for the whole session; the
    storage tests use it, and every test does with NST_TEST_STORAGE=s3. Fails, never skips, when
    it cannot start."""
    from tests.harness import HarnessError, SeaweedServer

    try:
        server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs")).start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def s3_storage(seaweed, settings, monkeypatch):
    """Job files in the SeaweedFS bucket, under a prefix of this test's own, in this process
    (STORAGES) and in the platform processes it starts (their environment: tests/harness.py's
    Platform passes the storage settings on). Returns (server, prefix)."""
    import uuid

    from nstsite.object_storage import default_storage_config

    prefix = f"t-{uuid.uuid4().hex[:12]}"
    env = seaweed.env(prefix)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_config(env)}
    return seaweed, prefix


@pytest.fixture(autouse=True)
def job_storage(request):
    """With NST_TEST_STORAGE=s3 (.ci/run's second pass), every test keeps its job files in the
    SeaweedFS bucket instead of on local disk, and fails if a job file landed in a media folder of
    this test's anyway (the test process's or a platform's)."""
    if os.environ.get("NST_TEST_STORAGE", "local") != "s3" or "s3_storage" in request.fixturenames:
        yield
        return
    tmp_path = request.getfixturevalue("tmp_path")
    request.getfixturevalue("s3_storage")
    yield
    local = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("media/jobs/**/*") if p.is_file()]
    assert not local, f"job files on local disk with NST_STORAGE=s3: {local[:10]}"


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts with an empty cache: the gallery caches grid pages, and a page cached by
    one test must not be served in the next (whose database may hold other artworks)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def limits_cache_in_redis(redis_server):
    """The rate limits' counters (the "limits" cache, nstsite/request_limits/rate_limits.py) in the
    session's Redis, as in production. Set once for the session, not per test: each change of CACHES
    makes Django build new cache objects, and the old Redis cache's connection pool stayed open (a
    socket per test: over a thousand descriptors late in a full run)."""
    from django.conf import settings
    from django.test.signals import setting_changed

    settings.CACHES = {**settings.CACHES, "limits": {**settings.CACHES["limits"], "LOCATION": redis_server}}
    setting_changed.send(sender=None, setting="CACHES", value=settings.CACHES, enter=True)


@pytest.fixture(autouse=True)
def limits_cache(limits_cache_in_redis):
    """The limits' counters, empty for each test: a test's sign-ups do not count against the next one's."""
    from django.core.cache import caches

    caches["limits"].clear()


@pytest.fixture
def burst_worker(rq_redis, media_root, settings, model_dir):
    """run() empties the style worker's queues (engine.models.WORKER_QUEUES, in its order; or those
    named: run("high", "default")) with a real RQ SimpleWorker in this process (burst mode), running
    the real engine with the test model files; returns the worker."""
    import signal

    import django_rq

    from engine.models import WORKER_QUEUES

    settings.NST_MODEL_DIR = model_dir

    def run(*queues: str):
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        worker = django_rq.get_worker(*(queues or WORKER_QUEUES), worker_class="rq.worker.SimpleWorker")
        try:
            worker.work(burst=True)
        finally:
            for sig, handler in handlers.items():  # RQ installs its own; give pytest its back
                signal.signal(sig, handler)
        return worker

    return run


@pytest.fixture(scope="session")
def image_bytes(images_dir) -> Callable[..., bytes]:
    """image_bytes("tubingen.jpg", 96) -> JPEG bytes of a test photo, longest side 96 (cached)."""
    import io

    from PIL import Image

    @lru_cache(maxsize=32)
    def make(name: str, side: int = 96, fmt: str = "JPEG") -> bytes:
        with Image.open(images_dir / name) as img:
            img = img.convert("RGB")
            img.thumbnail((side, side))
            buf = io.BytesIO()
            img.save(buf, format=fmt)
            return buf.getvalue()

    return make


@pytest.fixture
def make_job(owner, media_root, image_bytes):
    """make_job(mode="classic", size=64, styles=("starry_night.jpg",), **params) -> a queued StyleJob
    created directly on the model (no form: sizes below the form's 256 px are allowed here). A video
    job takes its clip as `content` (bytes) with `content_name` ("content.mp4") and `frames`."""
    from django.core.files.base import ContentFile

    from engine.models import StyleImage, StyleJob, params_dict
    from engine.nst import images, params_class
    from engine.runners import runner_for

    def make(mode: str = "classic", size: int = 64, styles=("starry_night.jpg",), user=None,
             content: bytes | None = None, visibility: str = "private", queue: str = "default",
             content_name: str = "content.png", frames: int = 1, batch=None, **params):
        runner = runner_for(mode)
        if mode == "classic":  # the quickest run: one epoch of five steps
            params = {"epochs": 1, "steps_per_epoch": 5, **params}
        p = params_class(mode)(size=size, **params)
        units = runner.work_units(p, frames)  # as engine.jobs.service.submit counts them
        job = StyleJob(owner=user or owner, mode=mode, params=params_dict(p), size=size, epochs=units.groups,
                       total_steps=units.units, visibility=visibility, queue=queue, batch=batch)
        if content is None:
            content = images.encode_png(images.open_image(image_bytes("tubingen.jpg")))
        job.content.save(content_name, ContentFile(content), save=False)
        job.save()
        for position, name in enumerate(styles, 1):
            style = StyleImage(job=job, position=position, weight=1.0)
            style.image.save(f"style-{position}.png", ContentFile(image_bytes(name, fmt="PNG")), save=False)
            style.save()
        return job

    return make


@pytest.fixture
def job_form_data(image_bytes):
    """job_form_data(mode="classic", **overrides) -> POST data for /jobs/new/: a small content photo,
    one style image, and the quickest settings the form allows (256 px, 1 epoch of 10 steps).
    Pass style_1=None to leave a field out."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def make(mode: str = "classic", **overrides):
        data = {
            "mode": mode, "preset": "custom", "visibility": "private",
            "content": SimpleUploadedFile("photo.jpg", image_bytes("tubingen.jpg", 320), "image/jpeg"),
            "style_1": SimpleUploadedFile("style.jpg", image_bytes("starry_night.jpg", 256), "image/jpeg"),
            "style_1_weight": "1", "style_2_weight": "1", "style_3_weight": "1",
            "size": "256", "epochs": "1", "steps_per_epoch": "10", "content_weight": "10000",
            "style_weight": "0.01", "tv_weight": "30", "optimizer": "lbfgs", "network": "vgg16",
            "init": "content", "seed": "0", "strength": "1",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return make


@pytest.fixture
def cancel_at_check(monkeypatch):
    """cancel_at_check(job, polls=n) -> counter: cancels `job` as its owner or staff would (row,
    queue, flag: engine.jobs.service.cancel) at the engine's n-th cancel check, made once per step,
    so the run stops with a checkpoint at a known step. counter["n"] counts the checks."""
    from engine.jobs import queue
    from engine.jobs import service as jobs
    from engine.models import StyleJob

    def arm(job, *, polls: int) -> dict:
        count = {"n": 0}
        real_check = queue.cancel_requested

        def check(redis, job_):
            count["n"] += 1
            if count["n"] == polls:
                jobs.cancel(StyleJob.objects.get(pk=job.pk))
            return real_check(redis, job_)

        monkeypatch.setattr(queue, "cancel_requested", check)
        return count

    return arm


@pytest.fixture
def page(tmp_path, monkeypatch):
    """A headless Chromium page (tests/browser.py). Playwright's sync API runs an asyncio loop in this
    thread, and Django refuses ORM calls from a thread with a running loop; the test's own ORM calls
    (an in-process worker, checks) are plain synchronous code, so the guard is lifted for the test.
    Django keeps connections per context, and the ORM calls made while Playwright runs get
    connections of their own: they are closed afterwards, or the test database cannot be dropped."""
    from django.db import connections

    from tests.browser import chromium_context

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_context(tmp_path / "chromium-profile") as context:
        try:
            yield context.new_page()
        finally:
            connections.close_all()


@pytest.fixture
def upload_tmp(settings, tmp_path) -> Path:
    """Where Django spools uploads above FILE_UPLOAD_MAX_MEMORY_SIZE: must be empty after a request."""
    path = tmp_path / "upload-tmp"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


# The classic-mode tests' pair at 64 px: a 4:3 photo, like one a user would send, and a painting.
# Tests that need other sizes define their own `content`/`starry`, which take precedence.
@pytest.fixture(scope="module")
def content(load_test_image):
    return load_test_image("tubingen.jpg", 64)


@pytest.fixture(scope="module")
def starry(load_test_image):
    return load_test_image("starry_night.jpg", 64)


@pytest.fixture
def published(make_job, burst_worker, media_root):
    """A succeeded public job of the owner, in the gallery, with one like."""
    from engine.jobs import service as jobs
    from engine.models import Status
    from gallery import likes

    job = make_job(mode="fast", size=96, visibility="public")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    likes.like(job.artwork, job.owner)
    return job


# --- the REST API (api/) ----------------------------------------------------------------------------

@pytest.fixture
def api_client(owner):
    """api_client(user=owner, scope="write") -> a Django test Client that sends a new personal token
    of `user` as `Authorization: Bearer ...` (and no session); its token row is `.token`."""
    from django.test import Client

    from api import tokens

    def make(user=None, scope: str = "write", **kwargs):
        token, plain = tokens.issue(user or owner, "test", scope, **kwargs)
        client = Client(headers={"Authorization": f"Bearer {plain}"})
        client.token, client.plain = token, plain
        return client

    return make
