"""Job files in an S3 bucket (issue 21): NST_STORAGE=s3 with a real SeaweedFS (tests/harness.py's
SeaweedServer, as `NST_STORAGE=s3 scripts/run` starts it), never a mock. Jobs store everything there
and nothing on local disk; quotas and pruning measure the bucket; downloads pass Django's check and
leave through nginx, which fetches the object with a presigned URL that never reaches the browser
and expires within NST_STORAGE_URL_SECONDS; the bucket answers nobody without the keys."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.storage import retention
from engine.storage.job_files import epoch_checkpoint_name, job_folder, preview_name, write_job_file
from engine.studio.quotas import storage_use
from nstsite.object_storage import default_storage_config, download_endpoint
from nstsite.webtier import sendfile
from tests import clips
from tests.harness import Platform, unix_request, wait_for

pytestmark = pytest.mark.django_db


def local_files(folder) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- settings ------------------------------------------------------------------------------------------

def test_local_disk_is_the_default_and_s3_takes_the_standard_settings() -> None:
    assert default_storage_config({}) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    config = default_storage_config({"NST_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "media",
                                     "AWS_S3_ENDPOINT_URL": "http://store:8333", "AWS_ACCESS_KEY_ID": "id",
                                     "AWS_SECRET_ACCESS_KEY": "secret"})
    options = config["OPTIONS"]
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (options["bucket_name"], options["endpoint_url"], options["access_key"], options["secret_key"]) == \
        ("media", "http://store:8333", "id", "secret")
    assert (options["addressing_style"], options["signature_version"], options["region_name"]) == \
        ("path", "s3v4", "us-east-1")
    assert options["default_acl"] is None and options["querystring_auth"] and options["querystring_expire"] == 60
    assert download_endpoint({"default": config}) == "http://store:8333"


@pytest.mark.parametrize("env, message", [
    ({"NST_STORAGE": "ftp"}, "NST_STORAGE='ftp'"),
    ({"NST_STORAGE": "s3"}, "needs AWS_STORAGE_BUCKET_NAME"),
    ({"NST_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ENDPOINT_URL": "store:8333"}, "not an http"),
    ({"NST_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "NST_STORAGE_URL_SECONDS": "3600"}, "1 to 600"),
    ({"NST_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ADDRESSING_STYLE": "dns"}, "path, virtual"),
])
def test_a_bad_storage_setting_is_refused_with_its_name(env, message) -> None:
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        default_storage_config(env)


# --- jobs keep their files in the bucket ------------------------------------------------------------

@pytest.mark.slow
def test_a_jobs_files_are_stored_in_the_bucket_and_none_on_local_disk(s3_storage, make_job, burst_worker,
                                                                      media_root) -> None:
    server, prefix = s3_storage
    job = make_job(mode="fast", size=96, visibility="public")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    stored = {key.rsplit("/", 1)[1] for key in server.keys(f"{prefix}/{job_folder(job)}/")}
    assert {"content.png", "style-1.png", "result.png", "history.json", "thumb-result.jpg"} <= stored
    with job.result.open("rb") as fh:  # FieldFile.open() reads from the bucket
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert local_files(media_root) == []


@pytest.mark.slow
def test_a_video_job_stores_its_chunks_then_only_its_result(s3_storage, make_job, burst_worker, media_root, tmp_path,
                                                            images_dir, settings) -> None:
    server, prefix = s3_storage
    settings.NST_WORK_DIR = tmp_path / "work"
    clip = clips.make_clip(tmp_path / "pan.mp4", images_dir / "tubingen.jpg", frames=7)
    job = make_job(mode="video", content=clip.read_bytes(), content_name="content.mp4", frames=7, chunk_frames=3,
                   visibility="public")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    stored = {key.removeprefix(f"{prefix}/{job_folder(job)}/") for key in server.keys(f"{prefix}/{job_folder(job)}/")}
    assert {"content.mp4", "result.mp4", "poster.jpg", "thumb-result.jpg", "thumb-content.jpg"} <= stored
    assert job.artwork.thumbnails  # published: thumbnails of the poster and of the clip's middle frame
    assert not [name for name in stored if name.startswith("video/")]  # the chunks went with the result stored
    assert local_files(media_root) == [] and local_files(tmp_path / "work") == []  # the workspace went too


def test_storage_use_and_pruning_measure_and_empty_the_bucket(s3_storage, owner, make_job,
                                                             django_capture_on_commit_callbacks) -> None:
    server, prefix = s3_storage
    job = make_job(mode="fast", size=64)
    before = storage_use(owner).used
    assert before == sum(server.keys(f"{prefix}/{job_folder(job)}/").values()) > 0
    StyleJob.objects.filter(pk=job.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now() - timedelta(days=30),
        preview=write_job_file(job, preview_name(1), b"j" * 1000),
        checkpoint=write_job_file(job, epoch_checkpoint_name(1), b"c" * 3000))
    assert storage_use(owner).used == before + 4000
    orphan = "jobs/0123456789abcdef0123456789abcdef"
    default_storage.save(f"{orphan}/result.png", ContentFile(b"left behind"))

    todo = retention.plan(private_days=90, files_days=7, now=timezone.now() + timedelta(days=2))
    assert todo.orphan_folders == [orphan]
    assert sorted(todo.run_only_files[job.pk]) == [f"{job_folder(job)}/checkpoint-e01.npz",
                                                   f"{job_folder(job)}/preview-e01.jpg"]
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the rows say so
        retention.prune(todo)
    assert storage_use(owner).used == before
    assert server.keys(f"{prefix}/{orphan}/") == {}


def test_the_bucket_answers_nobody_without_the_keys(seaweed) -> None:
    seaweed.client().put_object(Bucket=seaweed.bucket, Key="private/result.png", Body=b"mine")
    for method, url in (("GET", f"{seaweed.url}/{seaweed.bucket}/private/result.png"),
                        ("GET", f"{seaweed.url}/{seaweed.bucket}?list-type=2"),
                        ("PUT", f"{seaweed.url}/{seaweed.bucket}/private/planted.png")):
        response = requests.request(method, url, data=b"x" if method == "PUT" else None, timeout=10)
        assert response.status_code == 403, (method, url, response.text[:200])
    assert "private/planted.png" not in seaweed.keys("private/")


# --- downloads through nginx -------------------------------------------------------------------------------

SEED = """
import io
from PIL import Image
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from engine.models import Status, StyleJob
from gallery import publishing

buffer = io.BytesIO()
Image.new("RGB", (300, 200), (200, 120, 40)).save(buffer, "PNG")
owner = get_user_model().objects.create_user("painter", "painter@example.org", "Brush-strokes-of-1889")
job = StyleJob(owner=owner, mode="fast", params={}, size=300, status=Status.SUCCEEDED)
job.content.save("content.png", ContentFile(buffer.getvalue()), save=False)
job.result.save("result.png", ContentFile(buffer.getvalue()), save=False)
job.save()
print(publishing.publish(job).pk, job.pk, job.result.name)
"""
URL_SECONDS = 3


@pytest.fixture(scope="module")
def site(tmp_path_factory, seaweed):
    """The platform on the bucket (no worker), presigned URLs valid URL_SECONDS, one published
    artwork: (platform, artwork id, job id, the result's storage name, its bytes)."""
    prefix = f"site-{time.monotonic_ns()}"
    platform = Platform(tmp_path_factory.mktemp("s3-site"),
                        env={**seaweed.env(prefix), "NST_STORAGE_URL_SECONDS": str(URL_SECONDS)})
    try:
        platform.up(workers=0)
        artwork, job, name = platform.manage("shell", "-c", SEED).splitlines()[-1].split()
        body = seaweed.client().get_object(Bucket=seaweed.bucket, Key=f"{prefix}/{name}")["Body"].read()
        yield platform, int(artwork), int(job), name, body
        assert local_files(platform.tmp / "media") == []
    finally:
        platform.down()


@pytest.mark.slow
def test_a_download_from_the_bucket_is_sent_by_nginx_with_todays_headers(site) -> None:
    platform, artwork, _, _, body = site
    url = f"{platform.url}/gallery/{artwork}/download/"
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.content == body
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"] == f'attachment; filename="nst-artwork-{artwork}.png"'
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert response.headers[name] == requests.get(f"{platform.url}/gallery/", timeout=30).headers[name], name
    assert not [h for h in response.headers if "amz" in h.lower() or "seaweed" in h.lower() or h == "X-Accel-Redirect"]
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and part.content == body[:100]
    again = requests.get(url, headers={"If-None-Match": response.headers["ETag"]}, timeout=30)
    assert again.status_code == 304


@pytest.mark.slow
def test_a_private_download_from_the_bucket_stays_private(site) -> None:
    """The owner's download of a private job: nginx sends it with the private Cache-Control Django
    set; another visitor gets Django's 404 and never reaches the store."""
    platform, _, job, _, body = site
    platform.manage("shell", "-c", f"from engine.models import StyleJob; StyleJob.objects.filter(pk={job})"
                                   ".update(visibility='private')")
    url = f"{platform.url}/jobs/{job}/download/png/"
    owner = requests.Session()
    owner.get(f"{platform.url}/accounts/login/", timeout=30)
    owner.post(f"{platform.url}/accounts/login/", timeout=30, headers={"Referer": f"{platform.url}/accounts/login/"},
               data={"username": "painter", "password": "Brush-strokes-of-1889",
                     "csrfmiddlewaretoken": owner.cookies["csrftoken"]})
    mine = owner.get(url, timeout=30)
    assert mine.status_code == 200 and mine.content == body
    assert "private" in mine.headers["Cache-Control"]
    stranger = requests.get(url, timeout=30, allow_redirects=False)
    assert stranger.status_code == 404 and stranger.content != body


@pytest.mark.slow
def test_the_presigned_url_stays_inside_and_expires_within_its_seconds(site, seaweed) -> None:
    """What gunicorn tells nginx: an internal location with a presigned GET of that one object, valid
    URL_SECONDS. The store honours it at once and refuses it once those seconds are over; from
    outside, the internal location does not exist."""
    platform, artwork, _, name, body = site
    _, headers, answer = unix_request(platform.pages_socket, "GET", f"/gallery/{artwork}/download/",
                                      {"X-Sendfile-Type": "X-Accel-Redirect"})
    target = headers["X-Accel-Redirect"]
    assert target.startswith(sendfile.INTERNAL_OBJECT_PREFIX) and answer == b""
    assert f"X-Amz-Expires={URL_SECONDS}&" in target and "X-Amz-Signature=" in target
    direct = seaweed.url + "/" + target.removeprefix(sendfile.INTERNAL_OBJECT_PREFIX)
    assert requests.get(direct, timeout=10).content == body
    wait_for(lambda: requests.get(direct, timeout=10).status_code == 403, "the presigned URL to expire",
             URL_SECONDS + 10, every=0.5)
    for path in (target, f"{sendfile.INTERNAL_OBJECT_PREFIX}{seaweed.bucket}/{name}", f"/media/{name}"):
        response = requests.get(platform.url + path, timeout=30)
        assert response.status_code == 404 and response.content != body, path


@pytest.mark.slow
def test_an_object_gone_from_the_bucket_is_a_plain_404(site, seaweed) -> None:
    """Django hands the download over without asking the store first (a round trip saved on every
    download): an object that is gone is nginx's 404, never the store's XML. Last in the module."""
    platform, artwork, _, name, _ = site
    prefix = platform.env["AWS_LOCATION"]
    seaweed.client().delete_object(Bucket=seaweed.bucket, Key=f"{prefix}/{name}")
    response = requests.get(f"{platform.url}/gallery/{artwork}/download/", timeout=30)
    assert response.status_code == 404 and b"<Error>" not in response.content
