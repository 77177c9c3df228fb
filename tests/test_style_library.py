"""The style library: the paintings shipped with the code and their provenance, picking one on the
form (the job keeps its own copy and which painting it was), staff adding and retiring paintings in
the admin, and workers computing a library painting's style vector and Gram targets once."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from engine.models import LibraryStyle, Status, StyleJob
from engine.studio import style_library

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def library() -> dict[str, LibraryStyle]:
    """The bundled paintings by file name (made by the migration; again here after a test that
    emptied the database)."""
    style_library.create_bundled_rows()
    return {s.bundled: s for s in LibraryStyle.objects.exclude(bundled="")}


@pytest.fixture
def post_job(owner_client, rq_redis, media_root, django_capture_on_commit_callbacks):
    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return owner_client.post(reverse("engine:submit"), data)
    return post


def test_the_bundled_paintings_are_in_the_library_with_their_provenance(library):
    sources = (REPO / "static" / "styles" / "SOURCES.md").read_text()
    assert len(library) == len(style_library.BUNDLED) == 9
    for name, style in library.items():
        assert (REPO / "static" / "styles" / name).is_file(), name
        assert name in sources
        assert style.painter and style.title and style.year and style.source
        assert style.licence.startswith("Public domain")
        assert not style.retired
    assert library["starry_night_van_gogh.jpg"].title == "The Starry Night"
    assert style_library.create_bundled_rows() == 0  # nothing made twice


def _likeness(fh) -> np.ndarray:
    """A picture as a unit vector of its 64x64 grey levels less their mean: the dot product of two is
    their correlation, near 1 for two photographs of one painting whatever their size or JPEG quality."""
    grey = np.asarray(Image.open(fh).convert("L").resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float64)
    grey = grey.ravel() - grey.mean()
    return grey / np.linalg.norm(grey)


def test_no_two_paintings_of_the_library_are_the_same_picture(library):
    offered = list(LibraryStyle.objects.offered())
    assert len(offered) == 9
    vectors = {}
    for style in offered:
        with style_library.open_original(style) as fh:
            vectors[str(style)] = _likeness(fh)
    for (a, va), (b, vb) in itertools.combinations(vectors.items(), 2):
        assert float(va @ vb) <= 0.95, f"{a} and {b} look like one painting (correlation {float(va @ vb):.2f})"
    # The measure finds a second picture of one painting (as the duplicate Turner was: 960x662 beside
    # 1000x690): another size, another JPEG quality.
    with style_library.open_original(offered[0]) as fh:
        image = Image.open(fh).convert("RGB")
    other = io.BytesIO()
    image.resize((image.width * 2 // 3, image.height * 2 // 3)).save(other, "JPEG", quality=60)
    other.seek(0)
    assert float(_likeness(other) @ vectors[str(offered[0])]) > 0.95


def test_a_site_made_before_the_library_changed_retires_the_duplicate_and_adds_the_new_paintings(library):
    """The migration's steps on a library made from the old list (engine/migrations/0009_remix_of_and_library.py)."""
    LibraryStyle.objects.filter(bundled__in=("mauclair_vallotton.jpg", "composition_xiii_van_doesburg.jpg")).delete()
    turner = LibraryStyle.objects.create(bundled="shipwreck_turner.jpg", painter="J. M. W. Turner",
                                         title="The Shipwreck", year="1805", position=6)
    assert style_library.retire_withdrawn_rows() == 1
    assert style_library.create_bundled_rows() == 2
    turner.refresh_from_db()
    assert turner.retired and not LibraryStyle.objects.offered().filter(bundled="shipwreck_turner.jpg").exists()
    assert LibraryStyle.objects.offered().filter(painter="Félix Vallotton").exists()
    assert LibraryStyle.objects.offered().filter(title__startswith="Composition XIII").exists()
    assert style_library.retire_withdrawn_rows() == 0 and style_library.create_bundled_rows() == 0


def test_the_form_offers_the_paintings_with_painter_and_title(owner_client, library):
    html = owner_client.get(reverse("engine:submit")).content.decode()
    for style in library.values():
        assert f'id="library-style-{style.pk}"' in html
        assert reverse("engine:library_thumbnail", args=[style.pk]) in html
        assert style.painter in html
    assert "<cite>The Great Wave off Kanagawa</cite>" in html
    # Without JavaScript: a select per slot, the painter and title as the option's text.
    assert re.search(r'<select name="style_1_library"[^>]*>.*Vincent van Gogh, The Starry Night \(1889\)', html, re.S)


def test_picking_a_painting_stores_a_copy_and_which_painting_it_was(post_job, job_form_data, library, media_root):
    starry = library["starry_night_van_gogh.jpg"]
    response = post_job(job_form_data("fast", style_1=None, style_1_library=str(starry.pk)))
    assert response.status_code == 302, response.content.decode()[:2000]
    job = StyleJob.objects.get()
    style = job.styles.get()
    assert style.library_style == starry and style.position == 1
    assert style.image.name.startswith(f"jobs/{job.uuid.hex}/")  # the job's own copy
    with style.image.open("rb") as fh:
        copy = fh.read()
    assert copy == style_library.job_copy(starry).read()
    with Image.open(io.BytesIO(copy)) as img:
        assert (img.format, img.size) == ("PNG", (1024, 640))


def test_a_painting_and_an_upload_go_into_one_job(post_job, job_form_data, library):
    wave = library["great_wave_hokusai.jpg"]
    response = post_job(job_form_data("fast", style_2_library=str(wave.pk), style_2_weight="2"))
    assert response.status_code == 302
    styles = list(StyleJob.objects.get().styles.order_by("position"))
    assert [(s.position, s.library_style, s.weight) for s in styles] == [(1, None, 1.0), (2, wave, 2.0)]


def test_a_slot_with_a_file_and_a_painting_is_refused(post_job, job_form_data, library):
    response = post_job(job_form_data("fast", style_1_library=str(library["udnie_picabia.jpg"].pk)))
    assert response.status_code == 200
    assert "has both a file and a painting" in response.content.decode()
    assert not StyleJob.objects.exists()


def test_a_retired_painting_is_not_offered_and_is_refused(owner_client, post_job, job_form_data, library):
    lilies = library["water_lilies_monet.jpg"]
    lilies.retired = True
    lilies.save()
    assert f'id="library-style-{lilies.pk}"' not in owner_client.get(reverse("engine:submit")).content.decode()
    response = post_job(job_form_data("fast", style_1=None, style_1_library=str(lilies.pk)))
    assert response.status_code == 200
    assert "not in the style library any more" in response.content.decode()


def test_a_thumbnail_is_made_once_and_shown_to_anyone(client, library, media_root, monkeypatch):
    style = library["shipwreck_of_the_minotaur_turner.jpg"]
    response = client.get(reverse("engine:library_thumbnail", args=[style.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert "public" in response["Cache-Control"]
    with Image.open(io.BytesIO(response.content)) as img:
        assert max(img.size) == style_library.THUMB_SIDE
    monkeypatch.setattr(style_library.images, "open_image", lambda *a, **k: pytest.fail("decoded again"))
    assert client.get(reverse("engine:library_thumbnail", args=[style.pk])).content == response.content
    assert client.get(reverse("engine:library_thumbnail", args=[987654])).status_code == 404


# --- the admin --------------------------------------------------------------------------------------

def test_staff_add_a_painting_and_the_form_offers_it(staff_client, owner_client, image_bytes, media_root, library):
    upload = SimpleUploadedFile("irises.jpg", image_bytes("shipwreck.jpg", 300), "image/jpeg")
    response = staff_client.post(reverse("admin:engine_librarystyle_add"), {
        "painter": "Anonymous", "title": "A storm", "year": "1800", "licence": "Public domain", "source": "test",
        "image": upload, "position": "5"})
    assert response.status_code == 302, response.content.decode()[:3000]
    added = LibraryStyle.objects.get(title="A storm")
    assert added.image.name.startswith("library/") and added.image.name.endswith(".png")
    assert f'id="library-style-{added.pk}"' in owner_client.get(reverse("engine:submit")).content.decode()
    # Its image cannot change afterwards (workers cache what they compute from it).
    change = staff_client.get(reverse("admin:engine_librarystyle_change", args=[added.pk])).content.decode()
    assert 'type="file"' not in change


def test_the_admin_refuses_a_file_that_is_not_an_image(staff_client, media_root, library):
    upload = SimpleUploadedFile("notes.jpg", b"just some text, not a picture", "image/jpeg")
    response = staff_client.post(reverse("admin:engine_librarystyle_add"), {
        "painter": "X", "title": "Y", "licence": "Public domain", "image": upload, "position": "5"})
    assert response.status_code == 200
    assert not LibraryStyle.objects.filter(title="Y").exists()


def test_staff_retire_paintings_rather_than_delete_them(staff_client, library):
    pks = [library["udnie_picabia.jpg"].pk, library["water_lilies_monet.jpg"].pk]
    response = staff_client.post(reverse("admin:engine_librarystyle_changelist"),
                                 {"action": "retire", "_selected_action": pks})
    assert response.status_code == 302
    assert set(LibraryStyle.objects.filter(retired=True).values_list("pk", flat=True)) == set(pks)
    assert staff_client.get(reverse("admin:engine_librarystyle_delete", args=[pks[0]])).status_code == 403


# --- the workers' caches ---------------------------------------------------------------------------

def _submit_library_jobs(post_job, job_form_data, style, n: int, mode: str, **values) -> list[StyleJob]:
    for _ in range(n):
        data = job_form_data(mode, style_1=None, style_1_library=str(style.pk), **values)
        assert post_job(data).status_code == 302
    return list(StyleJob.objects.order_by("pk"))


def test_a_worker_computes_a_library_paintings_style_vector_once(
        post_job, job_form_data, library, burst_worker, model_dir, monkeypatch, settings):
    from engine.nst import fast

    stylizer = fast.get_fast_stylizer(model_dir)
    stylizer._keyed.clear()  # what earlier tests of this process may have left
    calls = []
    real = fast.StylePredictor.__call__
    monkeypatch.setattr(fast.StylePredictor, "__call__",
                        lambda self, image: calls.append(image.shape) or real(self, image))
    # Only the stylisation's calls: scoring a result (the scores queue) runs the predictor on it too
    # (tests/test_job_scores.py).
    settings.NST_SCORE_RESULTS = False
    starry = library["starry_night_van_gogh.jpg"]
    _submit_library_jobs(post_job, job_form_data, starry, 1, "fast", size="256", strength="1")
    burst_worker()
    assert len(calls) == 1  # the painting's vector (strength 1: the photo's own is not needed)
    _submit_library_jobs(post_job, job_form_data, starry, 2, "fast", size="320", strength="1")
    burst_worker()
    assert [j.status for j in StyleJob.objects.order_by("pk")] == [Status.SUCCEEDED] * 3
    assert len(calls) == 1  # two more jobs, at another size: the vector was reused
    assert any(key.startswith(starry.cache_key) for key in stylizer._keyed)


@pytest.mark.slow
def test_a_worker_computes_a_library_paintings_gram_targets_once_per_size(
        post_job, job_form_data, library, burst_worker, monkeypatch):
    from engine.nst import classic

    classic._gram_cache.clear()
    calls = []
    real = classic.style_grams
    monkeypatch.setattr(classic, "style_grams", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    wave = library["great_wave_hokusai.jpg"]
    values = dict(size="256", epochs="1", steps_per_epoch="10")
    _submit_library_jobs(post_job, job_form_data, wave, 2, "classic", **values)
    burst_worker()
    assert calls == [256]  # one scale at 256 px, for the first job only
    assert post_job(job_form_data("classic", **values)).status_code == 302  # an upload: never cached
    burst_worker()
    assert calls == [256, 256]
    assert [j.status for j in StyleJob.objects.all()] == [Status.SUCCEEDED] * 3
