"""What pages show of a result (engine.storage.renditions, issue 23): a display rendition of at most
2048 px and a list thumbnail of at most 480 px, JPEG, made once by the worker when the job succeeds
and stored through Django's storage beside the result; never the full PNG inline. Jobs that
succeeded before renditions existed get theirs made once, when a page first asks."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from engine.jobs import service as jobs
from engine.models import Status, StyleJob, Visibility
from engine.nst import images
from engine.storage import renditions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return img.size


def picture(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((height, width, 3), dtype=np.float32)


@pytest.mark.parametrize("size, display, thumb", [
    ((3000, 2000), (2048, 1365), (480, 320)),   # shrunk, shape kept
    ((1000, 1500), (1000, 1500), (320, 480)),   # a portrait: its long side is the height
    ((96, 72), (96, 72), (96, 72)),             # never enlarged
])
def test_renditions_are_jpegs_within_their_sides_and_never_enlarged(size, display, thumb) -> None:
    made = renditions.make(picture(*size))
    assert jpeg_size(made.display) == display and jpeg_size(made.thumbnail) == thumb


def test_a_finished_job_stores_its_renditions_beside_the_result_and_its_page_shows_them(
        make_job, burst_worker, owner_client) -> None:
    job = make_job(mode="fast", size=96)
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    folder = f"jobs/{job.uuid.hex}/"
    assert (job.display.name, job.thumbnail.name) == (folder + "display.jpg", folder + "thumb.jpg")
    with job.display.open("rb") as fh:
        assert jpeg_size(fh.read()) == (96, 72)

    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert f'src="{reverse("engine:download", args=[job.pk, "display"])}"' in page
    assert "?inline=1" not in page  # no full-size file is shown inline
    response = owner_client.get(reverse("engine:download", args=[job.pk, "display"]))
    assert response["Content-Type"] == "image/jpeg" and "attachment" not in response.get("Content-Disposition", "")
    assert response["Cache-Control"] == "private, no-store"  # a private job's

    # Public, it is among the home page's recent results: as its thumbnail, not the PNG.
    StyleJob.objects.filter(pk=job.pk).update(visibility=Visibility.PUBLIC)
    home = owner_client.get(reverse("home")).content.decode()
    assert f'src="{reverse("engine:download", args=[job.pk, "thumb"])}"' in home and "?inline=1" not in home


def test_a_job_that_succeeded_before_renditions_gets_them_once_when_a_page_asks(
        make_job, image_bytes, owner_client) -> None:
    job = make_job(mode="fast", size=64)
    big = images.resize_longest(images.open_image(image_bytes("golden_gate.jpg", 800)), 2500)
    assert job.start(worker="test")
    assert job.finish(image_png=images.encode_png(big), history=None, device="CPU", network="", seconds=1)
    job.refresh_from_db()
    assert not job.display and not job.thumbnail  # as a job finished before they existed

    response = owner_client.get(reverse("engine:download", args=[job.pk, "display"]))
    assert response.status_code == 200
    assert jpeg_size(b"".join(response.streaming_content)) == (2048, 1536)
    job.refresh_from_db()
    made = job.display.name
    assert made and job.thumbnail
    owner_client.get(reverse("engine:download", args=[job.pk, "thumb"]))
    job.refresh_from_db()
    assert job.display.name == made  # made once


def test_a_job_without_a_result_has_no_rendition(make_job, owner_client) -> None:
    job = make_job(mode="fast", size=64)
    assert owner_client.get(reverse("engine:download", args=[job.pk, "display"])).status_code == 404
    assert not StyleJob.objects.get(pk=job.pk).display


def test_renditions_follow_the_jobs_access_rule(make_job, image_bytes, client, other_client) -> None:
    private, public = make_job(mode="fast", size=64), make_job(mode="fast", size=64, visibility=Visibility.PUBLIC)
    png = images.encode_png(images.open_image(image_bytes("tubingen.jpg", 64)))
    for job in (private, public):
        assert job.start(worker="test")
        assert job.finish(image_png=png, history=None, device="CPU", network="", seconds=1,
                          renditions=renditions.make(images.open_image(png)))
    for kind in ("display", "thumb"):
        assert other_client.get(reverse("engine:download", args=[private.pk, kind])).status_code == 404
        assert client.get(reverse("engine:download", args=[public.pk, kind])).status_code == 200
