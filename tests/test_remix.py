"""Remix (issue 23, 1): a library painting always carries over, the author's own style images only
when shared (else the form says so before anything is chosen and asks for a style), the new job
credits the painting and records the job it remixed, and its pages say "Remix of <artwork> by
<user>" while that artwork is published. The browser's side is in test_browser_studio.py."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from engine.models import LibraryStyle, StyleImage, StyleJob, Visibility
from engine.studio import style_library

pytestmark = pytest.mark.django_db


@pytest.fixture
def hokusai() -> LibraryStyle:
    style_library.create_bundled_rows()
    return LibraryStyle.objects.get(bundled="great_wave_hokusai.jpg")


@pytest.fixture
def result_png(image_bytes) -> bytes:
    from engine.nst import images

    return images.encode_png(images.open_image(image_bytes("golden_gate.jpg", 160)))


@pytest.fixture
def published(make_job, result_png, hokusai):
    """published(painting=True, upload=False, shared=False) -> a succeeded public job of the owner in
    the gallery: style 1 the Great Wave from the library, and/or an uploaded style image."""
    def make(painting: bool = True, upload: bool = False, shared: bool = False) -> StyleJob:
        names = (["great_wave.jpg"] if painting else []) + (["starry_night.jpg"] if upload else [])
        job = make_job(mode="fast", size=64, styles=tuple("starry_night.jpg" for _ in names),
                       visibility=Visibility.PUBLIC)
        if painting:
            job.styles.filter(position=1).update(library_style=hokusai, weight=2.0)
        if shared:
            job.set_share_originals(True)
        assert job.start(worker="test")
        assert job.finish(image_png=result_png, history=None, device="CPU", network="", seconds=0.1)
        return job
    return make


def _submit(client, data, capture):
    with capture(execute=True):
        return client.post(reverse("engine:submit"), data)


def test_a_painting_carries_over_even_when_the_author_shares_nothing(
        published, hokusai, other_client, other_user, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    source = published(painting=True, shared=False)
    artwork = source.artwork
    html = other_client.get(reverse("engine:submit") + f"?remix={artwork.pk}").content.decode()
    # The painting is the slot's library choice, credited in the note; nothing is said to be private.
    assert re.search(rf'<option value="{hokusai.pk}" selected>', html)
    assert 'id="remix-note"' in html and "The Great Wave off Kanagawa" in html
    assert 'id="remix-private"' not in html
    assert 'name="style_1_weight" value="2.0"' in html
    data = job_form_data("fast", style_1=None, remix=str(artwork.pk), style_1_library=str(hokusai.pk),
                         style_1_weight="2")
    response = _submit(other_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = StyleJob.objects.get(owner=other_user)
    assert job.remix_of == source
    assert [(s.position, s.library_style_id, s.weight) for s in job.styles.all()] == [(1, hokusai.pk, 2.0)]


def test_an_unshared_upload_is_named_up_front_and_a_style_is_asked_for_first(
        published, other_client, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    artwork = published(painting=False, upload=True, shared=False).artwork
    html = other_client.get(reverse("engine:submit") + f"?remix={artwork.pk}").content.decode()
    assert 'id="remix-private"' in html and "First, choose a style" in html
    assert html.index('id="style-card"') < html.index('id="photo-card"')  # the style before the photo
    assert reverse("gallery:thumbnail", args=[artwork.pk, "style-1"]) not in html
    response = _submit(other_client, job_form_data("fast", style_1=None, remix=str(artwork.pk), style_1_remix="on"),
                       django_capture_on_commit_callbacks)
    assert response.status_code == 200  # a hand-made tick cannot take an image its author keeps
    assert "keeps their own style image to themselves" in response.content.decode()
    assert StyleJob.objects.count() == 1


def test_a_shared_upload_carries_over_in_its_slot_beside_the_painting(
        published, hokusai, other_client, other_user, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    source = published(painting=True, upload=True, shared=True)
    artwork = source.artwork
    html = other_client.get(reverse("engine:submit") + f"?remix={artwork.pk}").content.decode()
    assert re.search(r'<input type="checkbox" name="style_2_remix"[^>]*checked', html)
    assert reverse("gallery:thumbnail", args=[artwork.pk, "style-2"]) in html
    data = job_form_data("fast", style_1=None, remix=str(artwork.pk), style_1_library=str(hokusai.pk),
                         style_2_remix="on")
    assert _submit(other_client, data, django_capture_on_commit_callbacks).status_code == 302
    job = StyleJob.objects.get(owner=other_user)
    styles = list(job.styles.all())
    assert [(s.position, s.library_style_id) for s in styles] == [(1, hokusai.pk), (2, None)]
    assert styles[1].image.read() == source.styles.get(position=2).image.read()  # its own copy
    # Unticked: the slot is left out, and the painting alone is the style.
    StyleJob.objects.filter(owner=other_user).delete()
    data = job_form_data("fast", style_1=None, remix=str(artwork.pk), style_1_library=str(hokusai.pk))
    assert _submit(other_client, data, django_capture_on_commit_callbacks).status_code == 302
    assert list(StyleJob.objects.get(owner=other_user).styles.values_list("position", flat=True)) == [1]


def test_a_painting_retired_since_still_carries_over_and_is_credited(
        published, hokusai, other_client, other_user, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    source = published(painting=True, shared=False)
    hokusai.retired = True
    hokusai.save()
    html = other_client.get(reverse("engine:submit") + f"?remix={source.artwork.pk}").content.decode()
    assert re.search(r'<input type="checkbox" name="style_1_remix"[^>]*checked', html)
    data = job_form_data("fast", style_1=None, remix=str(source.artwork.pk), style_1_remix="on")
    assert _submit(other_client, data, django_capture_on_commit_callbacks).status_code == 302
    style = StyleImage.objects.get(job__owner=other_user)
    assert style.library_style_id == hokusai.pk


def test_the_remix_links_back_to_its_artwork_while_that_is_published(
        published, hokusai, other_client, other_user, client, job_form_data, rq_redis, result_png,
        django_capture_on_commit_callbacks):
    from gallery.publishing import publish, unpublish

    source = published(painting=True)
    artwork = source.artwork
    data = job_form_data("fast", style_1=None, remix=str(artwork.pk), style_1_library=str(hokusai.pk),
                         publish="on")
    assert _submit(other_client, data, django_capture_on_commit_callbacks).status_code == 302
    remix = StyleJob.objects.get(owner=other_user)
    assert remix.start(worker="test") and remix.finish(image_png=result_png, history=None, device="CPU",
                                                       network="", seconds=0.1)
    credit = f'Remix of <a href="{reverse("gallery:detail", args=[artwork.pk])}">{artwork.title}</a> by olivia'
    assert credit in other_client.get(reverse("engine:detail", args=[remix.pk])).content.decode()
    assert credit in client.get(reverse("gallery:detail", args=[remix.artwork.pk])).content.decode()
    unpublish(source)  # the original leaves the gallery: the remix no longer names it
    assert 'id="remix-credit"' not in other_client.get(reverse("engine:detail", args=[remix.pk])).content.decode()
    publish(source)
    source.delete()  # gone: the remix stays, without its credit
    remix.refresh_from_db()
    assert remix.remix_of is None
    assert 'id="remix-credit"' not in other_client.get(reverse("engine:detail", args=[remix.pk])).content.decode()


def test_a_request_naming_no_style_takes_all_of_the_work_that_may_carry_over(
        published, hokusai, other_client, other_user, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    """A program (the API) sends `remix` alone: the painting as the slot's choice, the shared upload,
    at the work's weights; the page always names its styles (the choices and ticked boxes above)."""
    def remix_alone(artwork) -> int:
        data = job_form_data("fast", style_1=None, style_1_weight=None, style_2_weight=None, style_3_weight=None,
                             remix=str(artwork.pk))
        return _submit(other_client, data, django_capture_on_commit_callbacks).status_code

    source = published(painting=True, upload=True, shared=True)
    assert remix_alone(source.artwork) == 302
    job = StyleJob.objects.get(owner=other_user)
    assert job.remix_of == source
    assert [(s.position, s.library_style_id, s.weight) for s in job.styles.all()] == [(1, hokusai.pk, 2.0),
                                                                                      (2, None, 1.0)]
    # Unshared, the upload stays its author's: the painting alone.
    job.delete()
    assert remix_alone(published(painting=True, upload=True, shared=False).artwork) == 302
    assert [(s.position, s.library_style_id) for s in StyleJob.objects.get(owner=other_user).styles.all()] == \
        [(1, hokusai.pk)]
