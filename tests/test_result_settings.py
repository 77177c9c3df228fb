"""Settings inside the result (engine/storage/result_settings.py, engine/studio/settings_from.py): a
result PNG carries its mode, parameters, library credits and the site's version in an iTXt chunk,
never its owner's name; it fills a submission back in (the API's settings_from, and what the page's
drop does through POST /api/v1/settings/); its owner can leave it out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from engine.models import LibraryStyle, StyleJob
from engine.storage import result_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "rq_redis")]


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_the_chunk_goes_in_and_comes_out_without_touching_the_pixels(image_bytes):
    png = image_bytes("tubingen.jpg", 64, fmt="PNG")
    data = {"format": 1, "mode": "fast", "params": {"size": 256}, "styles": [], "site_version": "x"}
    embedded = result_settings.embed_png(png, data)
    assert result_settings.read_png(io.BytesIO(embedded)) == data
    assert np.array_equal(pixels(png), pixels(embedded))
    again = result_settings.embed_png(embedded, {**data, "mode": "classic"})  # replaced, not added
    assert again.count(b"iTXt") == 1 and result_settings.read_png(io.BytesIO(again))["mode"] == "classic"
    assert result_settings.read_png(io.BytesIO(png)) is None
    assert result_settings.read_png(io.BytesIO(b"GIF89a....")) is None


@pytest.fixture
def finished(make_job, image_bytes):
    """finished(**make_job arguments) -> a succeeded job whose result PNG the model wrote."""
    def make(**kwargs):
        job = make_job(**kwargs)
        assert job.start(worker="test")
        assert job.finish(image_png=image_bytes("tubingen.jpg", 48, fmt="PNG"), history=None, device="CPU",
                          network="", seconds=1.0)
        return job
    return make


def test_a_result_carries_its_settings_and_library_credits_but_not_its_owner(finished, owner, settings):
    from engine.studio import style_library

    style_library.create_bundled_rows()
    painting = LibraryStyle.objects.first()
    job = finished(mode="fast", size=96, styles=("starry_night.jpg", "shipwreck.jpg"))
    job.styles.filter(position=2).update(library_style=painting, weight=0.5)
    job = StyleJob.objects.get(pk=job.pk)
    job.status, job.result = "running", ""
    job.save()
    with job.result.storage.open(job.content.name, "rb") as fh:
        png = fh.read()
    assert job.finish(image_png=png, history=None, device="CPU", network="", seconds=1.0)
    with job.result.open("rb") as fh:
        raw = fh.read()
    data = result_settings.read_png(io.BytesIO(raw))
    assert data["mode"] == "fast" and data["params"] == job.params and data["site_version"] == settings.NST_SITE_VERSION
    assert data["styles"] == [
        {"position": 1, "weight": 1.0, "library": None},
        {"position": 2, "weight": 0.5, "library": {"id": painting.pk, "painter": painting.painter,
                                                    "title": painting.title, "year": painting.year,
                                                    "licence": painting.licence}}]
    for private in (owner.username, owner.email, "starry_night", "shipwreck", "photo.jpg"):
        assert private.encode() not in raw


def test_its_owner_can_leave_the_settings_out(owner_client, job_form_data, burst_worker,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(reverse("engine:submit"), job_form_data("fast", omit_settings="on")).status_code == 302
    job = StyleJob.objects.get()
    assert not job.embed_settings
    burst_worker()
    job.refresh_from_db()
    with job.result.open("rb") as fh:
        assert result_settings.read_png(fh) is None


def test_a_results_settings_fill_a_new_submission_in(finished, api_client, job_form_data, image_bytes):
    """The round trip: a result's PNG read back as fields (what the page's drop fills in), then sent
    as settings_from with only a photo and a style: the new job has the old one's settings."""
    original = finished(mode="classic", size=64, epochs=2, steps_per_epoch=12, content_weight=5.0, optimizer="adam")
    with original.result.open("rb") as fh:
        result_png = fh.read()
    client = api_client()
    read = client.post(reverse("api:settings"), {"file": SimpleUploadedFile("r.png", result_png, "image/png")})
    assert read.status_code == 200, read.content
    fields = read.json()["fields"]
    assert fields["mode"] == "classic" and fields["epochs"] == 2 and fields["optimizer"] == "adam"
    assert read.json()["missing_styles"] == [1]  # an upload: not in the file
    controls = {name for name in fields if name not in ("mode", "preset", "style_1_weight")}
    data = {k: v for k, v in job_form_data(size="256").items() if k not in controls | {"mode", "preset"}}
    data["settings_from"] = SimpleUploadedFile("earlier.png", result_png, "image/png")
    data["size"] = "256"  # the form's smallest: the original was made below it, directly on the model
    made = client.post(reverse("api:jobs"), data)
    assert made.status_code == 201, made.content
    new = StyleJob.objects.get(pk=made.json()["id"])
    assert new.mode == "classic"
    assert {k: v for k, v in new.params.items() if k != "size"} == {
        k: v for k, v in original.params.items() if k != "size"}


def test_a_file_without_settings_is_refused_with_a_message(api_client, image_bytes, job_form_data):
    plain = SimpleUploadedFile("plain.png", image_bytes("tubingen.jpg", 32, fmt="PNG"), "image/png")
    response = api_client().post(reverse("api:settings"), {"file": plain})
    assert response.status_code == 400 and "carries no settings" in response.json()["detail"]
    plain.seek(0)
    response = api_client().post(reverse("api:jobs"), {**job_form_data("fast"), "settings_from": plain})
    assert response.status_code == 400
    assert "carries no settings" in response.json()["errors"]["settings_from"][0]["message"]


@pytest.mark.slow
def test_dropping_a_result_on_the_form_fills_in_its_settings(live_server, page, finished, owner, tmp_path):
    """In Chromium: the result of a classic job with a painting of the library, chosen in the form's
    "Made here before?" box, fills in its mode, settings and painting (static/js/settings_drop.js)."""
    from playwright.sync_api import expect

    from engine.studio import style_library
    from tests.browser import artifact_path
    from tests.web_client import PASSWORD

    style_library.create_bundled_rows()
    painting = LibraryStyle.objects.offered().last()
    job = finished(mode="classic", size=64, epochs=3, steps_per_epoch=40, optimizer="adam")
    job.styles.update(library_style=painting)
    job = StyleJob.objects.get(pk=job.pk)
    with job.result.open("rb") as fh:  # written again now that the style is the library's
        png = result_settings.embed_png(fh.read(), result_settings.settings_of(job))
    (tmp_path / "result.png").write_bytes(png)
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.goto(live_server.url + reverse("engine:submit"))
    page.click("#advanced-settings summary")  # the box sits among the advanced settings
    expect(page.locator("#settings-drop")).to_be_visible()
    page.set_input_files("#settings-file", str(tmp_path / "result.png"))
    expect(page.locator("#settings-drop-status")).to_contain_text("filled in", timeout=15_000)
    assert page.input_value("select[name=mode]") == "classic"
    assert page.input_value("input[name=epochs]") == "3"
    assert page.input_value("input[name=steps_per_epoch]") == "40"
    assert page.input_value("select[name=optimizer]") == "adam"
    assert page.input_value("select[name=style_1_library]") == str(painting.pk)
    page.screenshot(path=artifact_path("settings-drop-1280.png"), full_page=False)


def test_a_video_result_carries_its_settings_as_a_metadata_tag(tmp_path, images_dir):
    """engine.nst.video_io.assemble writes the tags the video runner gives it (the job's settings)."""
    import json

    import av

    from engine.nst import video_io
    from tests import clips

    clip = clips.make_clip(tmp_path / "c.mp4", images_dir / "tubingen.jpg", frames=6)
    data = {"format": 1, "mode": "video", "params": {"size": 64}, "styles": [], "site_version": "1.0"}
    out = video_io.assemble([clip], None, tmp_path / "result.mp4", result_settings.video_metadata(data))
    with av.open(str(out)) as container:
        assert json.loads(container.metadata["nstsite"]) == data
    plain = video_io.assemble([clip], None, tmp_path / "plain.mp4")
    with av.open(str(plain)) as container:
        assert "nstsite" not in container.metadata
