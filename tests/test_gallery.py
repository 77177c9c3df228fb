"""The gallery: publishing (at submission and later), who sees what, likes, user pages, remix,
counted downloads, and a constant number of queries per page whatever the number of artworks."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
from django.core.files.storage import default_storage
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from engine.models import Status, StyleJob, Visibility, params_dict
from engine.nst import ClassicParams, FastParams, images
from gallery import likes
from gallery.models import Artwork, Like
from gallery.thumbnails import INPUT_SIDE, RESULT_SIDE
from tests.browser import screenshots

pytestmark = [pytest.mark.usefixtures("media_root")]


@pytest.fixture
def result_png(image_bytes) -> bytes:
    """A real 600x450 image as the "result" (bigger than the grid thumbnail, so it gets shrunk)."""
    photo = images.open_image(image_bytes("golden_gate.jpg", 800))
    return images.encode_png(images.resize_longest(photo, 600))


@pytest.fixture
def finished_job(make_job, result_png):
    """finished_job(public=True, user=None, mode="fast", styles=(...), share_originals=False) -> a job
    that went through
    the model's real life cycle (start, finish) and so through the gallery's job_succeeded
    receiver, without the engine (the worker tests below run the real one)."""
    def make(public: bool = True, user=None, mode: str = "fast", styles=("starry_night.jpg",),
             share_originals: bool = False, **params):
        job = make_job(mode=mode, size=64, user=user, styles=styles,
                       visibility=Visibility.PUBLIC if public else Visibility.PRIVATE, **params)
        if share_originals:
            job.share_originals = True
            job.save(update_fields=["share_originals"])
        assert job.start(worker="test")
        assert job.finish(image_png=result_png, history=None, device="CPU", network="", seconds=0.1)
        return job

    return make


def _ids_on_page(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'class="art-thumb" href="/gallery/(\d+)/"', response.content.decode())]


# --- publishing ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_public_job_enters_the_gallery_when_it_succeeds_with_thumbnails(finished_job, owner):
    job = finished_job(styles=("starry_night.jpg", "shipwreck.jpg"))
    artwork = Artwork.objects.get(job=job)
    assert artwork.published and artwork.owner == owner and artwork.mode == "fast"
    assert set(artwork.thumbnails) == {"result", "content", "style-1", "style-2"}
    for kind, name in artwork.thumbnails.items():
        assert name.startswith(f"jobs/{job.uuid.hex}/thumb-")
        with default_storage.open(name) as fh, Image.open(fh) as img:
            assert img.format == "JPEG"
            if kind == "result":  # 600x450 shrunk for the grid
                assert img.size == (artwork.thumb_width, artwork.thumb_height) == (RESULT_SIDE, 360)
            else:  # the 96 px test inputs: never enlarged
                assert max(img.size) == 96 < INPUT_SIDE


@pytest.mark.django_db
def test_private_is_the_default_and_private_jobs_stay_out_of_the_gallery(finished_job, owner_client,
                                                                         client):
    job = finished_job(public=False)
    assert job.visibility == Visibility.PRIVATE
    assert not Artwork.objects.exists()
    html = owner_client.get(reverse("engine:submit")).content.decode()
    checkbox = re.search(r'<input type="checkbox" name="publish"[^>]*>', html).group(0)
    assert "checked" not in checkbox
    assert _ids_on_page(client.get(reverse("gallery:index"))) == []


@pytest.mark.django_db
def test_the_owner_publishes_and_unpublishes_with_the_toggle(finished_job, owner, owner_client, client,
                                                              other_client):
    job = finished_job(public=False)
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="publish-button"' in page

    response = owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "1"})
    assert response.status_code == 302
    artwork = Artwork.objects.get(job=job)
    job.refresh_from_db()
    assert job.visibility == Visibility.PUBLIC and artwork.published
    assert _ids_on_page(client.get(reverse("gallery:index"))) == [artwork.pk]
    likes.like(artwork, owner)  # kept while the artwork is private
    thumbs_before = {name: default_storage.get_modified_time(name) for name in artwork.thumbnails.values()}

    owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "0"})
    job.refresh_from_db()
    artwork.refresh_from_db()
    assert job.visibility == Visibility.PRIVATE and not artwork.published
    # Gone at once, everywhere, for everyone but the owner (and staff).
    assert _ids_on_page(client.get(reverse("gallery:index"))) == []
    for c in (client, other_client):
        assert c.get(reverse("gallery:detail", args=[artwork.pk])).status_code == 404
        assert c.get(reverse("gallery:thumbnail", args=[artwork.pk, "result"])).status_code == 404
        assert c.get(reverse("gallery:download", args=[artwork.pk])).status_code == 404
        assert c.get(reverse("engine:detail", args=[job.pk])).status_code == 404
    assert owner_client.get(reverse("gallery:detail", args=[artwork.pk]))["Location"] == \
        reverse("engine:detail", args=[job.pk])

    owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "1"})
    again = Artwork.objects.get(job=job)
    assert again.pk == artwork.pk and again.published and again.like_count == 1  # likes kept
    assert {n: default_storage.get_modified_time(n) for n in again.thumbnails.values()} == thumbs_before


@pytest.mark.django_db
def test_withdrawing_and_republishing_an_artwork_each_happen_once(finished_job):
    artwork = Artwork.objects.get(job=finished_job(public=True))
    assert Artwork.withdraw(artwork.job_id) is True
    assert Artwork.withdraw(artwork.job_id) is False  # a second withdraw changes nothing
    assert Artwork.objects.get(pk=artwork.pk).published is False
    assert artwork.republish() is True
    assert artwork.republish() is False
    assert Artwork.objects.get(pk=artwork.pk).published is True


@pytest.mark.django_db
def test_only_the_owner_publishes_and_staff_may_unpublish(finished_job, other_client, staff_client):
    private = finished_job(public=False)
    public = finished_job()
    for job, publish in ((private, "1"), (public, "0")):
        response = other_client.post(reverse("engine:publish", args=[job.pk]), {"publish": publish})
        assert response.status_code == 404
    staff_client.post(reverse("engine:publish", args=[private.pk]), {"publish": "1"})
    assert not Artwork.objects.filter(job=private).exists()
    staff_client.post(reverse("engine:publish", args=[public.pk]), {"publish": "0"})
    assert not Artwork.objects.get(job=public).published


@pytest.mark.django_db
def test_a_failed_job_cannot_be_published(make_job, owner_client):
    job = make_job()
    job.fail("boom")
    response = owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "1"}, follow=True)
    assert "has no result to publish" in response.content.decode()
    job.refresh_from_db()
    assert job.visibility == Visibility.PRIVATE and not Artwork.objects.exists()


@pytest.mark.django_db
def test_a_running_job_made_public_enters_the_gallery_when_it_succeeds(make_job, owner_client, result_png):
    job = make_job(mode="fast", size=64)
    job.start(worker="test")
    owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "1"})
    assert not Artwork.objects.exists()
    # The worker's copy of the job still says "private": the receiver reads the row.
    assert job.visibility == Visibility.PRIVATE
    job.finish(image_png=result_png, history=None, device="CPU", network="", seconds=0.1)
    assert Artwork.objects.get(job=job).published


@pytest.mark.django_db
def test_a_job_submitted_with_publish_is_in_the_gallery_after_a_real_worker_run(
        owner_client, client, job_form_data, burst_worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("engine:submit"), job_form_data("fast", publish="on"))
    assert response.status_code == 302
    job = StyleJob.objects.get()
    assert job.visibility == Visibility.PUBLIC and not Artwork.objects.exists()
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    artwork = Artwork.objects.get(job=job)
    assert _ids_on_page(client.get(reverse("gallery:index"))) == [artwork.pk]
    thumb = client.get(reverse("gallery:thumbnail", args=[artwork.pk, "result"]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(thumb.streaming_content))) as img:
        assert max(img.size) == 256  # a 256 px result is not enlarged


# --- who sees what -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_published_artworks_are_visible_to_everyone(finished_job, client, owner_client, other_client,
                                                    staff_client):
    artwork = finished_job(share_originals=True).artwork
    for c in (client, owner_client, other_client, staff_client):
        assert _ids_on_page(c.get(reverse("gallery:index"))) == [artwork.pk]
        page = c.get(reverse("gallery:detail", args=[artwork.pk]))
        assert page.status_code == 200 and 'id="artwork-image"' in page.content.decode()
        for kind in ("result", "content", "style-1"):
            assert c.get(reverse("gallery:thumbnail", args=[artwork.pk, kind])).status_code == 200
        assert c.get(reverse("gallery:thumbnail", args=[artwork.pk, "style-2"])).status_code == 404


@pytest.mark.django_db
def test_unpublished_work_is_404_for_others_and_the_job_page_for_its_owner_and_staff(
        finished_job, client, owner_client, other_client, staff_client):
    job = finished_job()
    artwork = job.artwork
    from gallery.publishing import unpublish

    unpublish(job)
    for c in (client, other_client):
        assert c.get(reverse("gallery:detail", args=[artwork.pk])).status_code == 404
        assert c.get(reverse("gallery:thumbnail", args=[artwork.pk, "content"])).status_code == 404
        assert c.get(reverse("engine:download", args=[job.pk, "png"])).status_code == 404
        assert c.post(reverse("gallery:like", args=[artwork.pk])).status_code in (302, 404)
    assert other_client.post(reverse("gallery:like", args=[artwork.pk])).status_code == 404
    for c in (owner_client, staff_client):
        response = c.get(reverse("gallery:detail", args=[artwork.pk]))
        assert response.status_code == 302 and response["Location"] == reverse("engine:detail", args=[job.pk])
        assert c.get(reverse("engine:detail", args=[job.pk])).status_code == 200


@pytest.mark.django_db
def test_deleting_a_job_removes_its_artwork(finished_job, client):
    job = finished_job()
    pk = job.artwork.pk
    job.delete()
    assert client.get(reverse("gallery:detail", args=[pk])).status_code == 404
    assert _ids_on_page(client.get(reverse("gallery:index"))) == []


# --- likes ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_liking_is_once_per_user_and_unliking_takes_it_back(finished_job, other_client, other_user):
    artwork = finished_job().artwork
    url_like = reverse("gallery:like", args=[artwork.pk])
    url_unlike = reverse("gallery:unlike", args=[artwork.pk])
    for _ in range(2):
        assert other_client.post(url_like).status_code == 302
    artwork.refresh_from_db()
    assert artwork.like_count == 1 and Like.objects.filter(artwork=artwork, user=other_user).count() == 1
    page = other_client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
    assert re.search(r'id="like-button">Unlike<', page) and "♥ 1 like" in page
    for _ in range(2):
        other_client.post(url_unlike)
    artwork.refresh_from_db()
    assert artwork.like_count == 0 and not Like.objects.exists()
    assert likes.like(artwork, other_user) is True and likes.like(artwork, other_user) is False
    assert likes.unlike(artwork, other_user) is True and likes.unlike(artwork, other_user) is False


@pytest.mark.django_db
def test_liking_needs_a_login_and_a_post(finished_job, client, other_client):
    artwork = finished_job().artwork
    response = client.post(reverse("gallery:like", args=[artwork.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert other_client.get(reverse("gallery:like", args=[artwork.pk])).status_code == 405
    artwork.refresh_from_db()
    assert artwork.like_count == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_are_counted_once_each(finished_job, django_user_model):
    """Eight threads, each with its own database connection: four users, each liking twice at
    the same moment. Exactly four likes, and the count says four."""
    artwork = finished_job().artwork
    users = [django_user_model.objects.create_user(f"fan{i}", password="x") for i in range(4)]
    start = threading.Barrier(8)
    outcomes, errors = [], []

    def fan(user):
        try:
            start.wait(timeout=30)
            outcomes.append(_retry_if_table_locked(lambda: likes.like(artwork, user)))
        except Exception as exc:  # reported below, with the database's own message
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fan, args=(u,)) for u in users for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    artwork.refresh_from_db()
    assert sorted(outcomes) == [False] * 4 + [True] * 4
    assert artwork.like_count == Like.objects.filter(artwork=artwork).count() == 4


def _retry_if_table_locked(call, seconds: float = 30.0):
    """SQLite's in-memory test database is shared between threads in "shared cache" mode, where a
    writer that meets another one's lock fails at once ("database table is locked") instead of
    waiting as on a database file or PostgreSQL. A failed call rolled back all it did, so calling
    it again is what a second request would do. (PostgreSQL, in CI, never takes this path.)"""
    from django.db import OperationalError

    deadline = time.monotonic() + seconds  # a budget of time, not of tries: a loaded machine holds locks longer
    while time.monotonic() < deadline:
        try:
            return call()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.005)
    return call()


@pytest.mark.django_db
def test_deleting_a_user_takes_their_likes_off_the_counts(finished_job, other_user, staff_user):
    artwork = finished_job().artwork
    likes.like(artwork, other_user)
    likes.like(artwork, staff_user)
    other_user.delete()
    artwork.refresh_from_db()
    assert artwork.like_count == 1 == Like.objects.count()


# --- the grid, user pages, downloads -----------------------------------------------------------------

@pytest.mark.django_db
def test_the_gallery_sorts_by_newest_or_most_liked_and_filters_by_mode(finished_job, other_user,
                                                                      staff_user, client):
    old_fast, classic, new_fast = finished_job(), finished_job(mode="classic"), finished_job()
    a, b, c = old_fast.artwork, classic.artwork, new_fast.artwork
    likes.like(a, other_user)
    likes.like(a, staff_user)
    likes.like(b, other_user)
    index = reverse("gallery:index")
    assert _ids_on_page(client.get(index)) == [c.pk, b.pk, a.pk]
    assert _ids_on_page(client.get(index + "?sort=liked")) == [a.pk, b.pk, c.pk]
    assert _ids_on_page(client.get(index + "?sort=liked&mode=fast")) == [a.pk, c.pk]
    assert _ids_on_page(client.get(index + "?mode=classic")) == [b.pk]
    assert _ids_on_page(client.get(index + "?sort=nonsense&mode=nonsense&page=x")) == [c.pk, b.pk, a.pk]


@pytest.mark.django_db
def test_the_gallery_is_paginated(finished_job, client, settings):
    from gallery import views

    jobs = [finished_job() for _ in range(views.PER_PAGE + 2)]
    first = client.get(reverse("gallery:index"))
    second = client.get(reverse("gallery:index") + "?page=2")
    assert len(_ids_on_page(first)) == views.PER_PAGE and 'rel="next"' in first.content.decode()
    assert _ids_on_page(second) == [jobs[1].artwork.pk, jobs[0].artwork.pk]


@pytest.mark.django_db
def test_a_user_page_shows_only_their_published_artworks(finished_job, owner, other_user, client):
    mine = finished_job()
    finished_job(public=False)
    finished_job(user=other_user)
    response = client.get(reverse("gallery:user", args=[owner.username]))
    assert _ids_on_page(response) == [mine.artwork.pk]
    assert "1 artwork." in response.content.decode()
    assert client.get(reverse("gallery:user", args=["nobody"])).status_code == 404


@pytest.mark.django_db
def test_the_artwork_page_shows_parameters_author_and_counts_downloads(finished_job, client, owner):
    artwork = finished_job(mode="classic", epochs=2, steps_per_epoch=7).artwork
    page = client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
    assert f">{owner.username}</a>" in page and "2 × 7" in page and "0 downloads" in page
    response = client.get(reverse("gallery:download", args=[artwork.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert 'attachment; filename="nst-artwork-' in response["Content-Disposition"]
    artwork.refresh_from_db()
    assert artwork.download_count == 1
    assert "1 download<" in client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()


# --- remix ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_remix_fills_the_form_in_with_the_artworks_settings_and_styles(finished_job, other_client):
    job = finished_job(mode="classic", styles=("starry_night.jpg", "shipwreck.jpg"), epochs=3,
                       steps_per_epoch=12, style_weights=(2.0, 1.0), seed=7, share_originals=True)
    job.styles.filter(position=1).update(weight=2.0)
    artwork = job.artwork
    html = other_client.get(reverse("engine:submit") + f"?remix={artwork.pk}").content.decode()
    assert re.search(rf'<input type="hidden" name="remix" value="{artwork.pk}"', html)
    assert re.search(r'<option value="classic" selected>', html)
    assert 'name="epochs" value="3"' in html and 'name="steps_per_epoch" value="12"' in html
    # Its size within what the remixer may ask for (this job's 64 px is below the form's 256).
    assert 'name="seed" value="7"' in html and 'name="size" value="256"' in html
    assert 'name="style_1_weight" value="2.0"' in html
    assert 'id="remix-note"' in html
    for kind in ("style-1", "style-2"):
        assert reverse("gallery:thumbnail", args=[artwork.pk, kind]) in html


@pytest.mark.django_db
def test_a_remix_runs_with_copies_of_the_artworks_style_images(
        finished_job, other_client, other_user, job_form_data, django_capture_on_commit_callbacks, rq_redis):
    source = finished_job(styles=("starry_night.jpg", "shipwreck.jpg"), share_originals=True)
    data = job_form_data("fast", style_1=None, remix=str(source.artwork.pk), style_1_weight="3",
                         style_2_weight="1", style_1_remix="on", style_2_remix="on")
    with django_capture_on_commit_callbacks(execute=True):
        response = other_client.post(reverse("engine:submit"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = StyleJob.objects.filter(owner=other_user).get()
    copied = list(job.styles.all())
    assert [(s.position, s.weight) for s in copied] == [(1, 3.0), (2, 1.0)]
    for new, old in zip(copied, source.styles.all(), strict=True):
        assert new.image.name.startswith(f"jobs/{job.uuid.hex}/")
        assert new.image.read() == old.image.read()


@pytest.mark.django_db
def test_a_remix_of_an_artwork_no_longer_in_the_gallery_asks_for_style_images(
        finished_job, other_client, job_form_data):
    source = finished_job()
    from gallery.publishing import unpublish

    unpublish(source)
    page = other_client.get(reverse("engine:submit") + f"?remix={source.artwork.pk}", follow=True)
    assert "not in the gallery" in page.content.decode() and 'id="remix-note"' not in page.content.decode()
    response = other_client.post(reverse("engine:submit"),
                                 job_form_data("fast", style_1=None, remix=str(source.artwork.pk)))
    assert response.status_code == 200
    html = response.content.decode()
    assert "no longer in the gallery" in html and "Add at least one style image." in html
    assert StyleJob.objects.count() == 1


# --- titles, credits and moderation (issue 23, 7) --------------------------------------------------------

@pytest.fixture
def hokusai():
    from engine.models import LibraryStyle
    from engine.studio import style_library

    style_library.create_bundled_rows()
    return LibraryStyle.objects.get(bundled="great_wave_hokusai.jpg")


@pytest.mark.django_db
def test_an_artwork_is_titled_after_the_photo_and_the_painting_and_its_owner_renames_it(
        make_job, result_png, hokusai, owner_client, other_client, client):
    job = make_job(mode="fast", size=64, visibility=Visibility.PUBLIC)
    StyleJob.objects.filter(pk=job.pk).update(content_name="my_holiday-photo.JPG")
    job.styles.update(library_style=hokusai)
    job.refresh_from_db()
    assert job.start(worker="test") and job.finish(image_png=result_png, history=None, device="CPU", network="",
                                                   seconds=0.1)
    artwork = Artwork.objects.get(job=job)
    assert artwork.title == "My holiday photo, after The Great Wave off Kanagawa"
    assert artwork.style_credit == "Katsushika Hokusai, The Great Wave off Kanagawa"
    grid = client.get(reverse("gallery:index")).content.decode()
    assert "My holiday photo, after The Great Wave off Kanagawa" in grid and "after Katsushika Hokusai" in grid

    url = reverse("gallery:rename", args=[artwork.pk])
    assert other_client.post(url, {"title": "Mine now"}).status_code == 404  # only its owner
    owner_client.post(url, {"title": "  Summer   by the sea  "})
    artwork.refresh_from_db()
    assert artwork.title == "Summer by the sea"
    owner_client.post(url, {"title": "   "})  # an empty title keeps the old one
    artwork.refresh_from_db()
    assert artwork.title == "Summer by the sea"
    assert "Summer by the sea" in client.get(reverse("gallery:index")).content.decode()  # not a stale cached grid


@pytest.mark.django_db
def test_staff_hide_an_artwork_in_one_click_logged_and_its_owner_cannot_publish_it_again(
        finished_job, staff_user, staff_client, owner_client, other_client, client):
    from gallery.models import GridVersion, ModerationAction

    job = finished_job()
    artwork = job.artwork
    assert other_client.post(reverse("gallery:hide", args=[artwork.pk])).status_code == 404  # staff only
    assert _ids_on_page(client.get(reverse("gallery:index"))) == [artwork.pk]
    generation = GridVersion.current()
    staff_client.post(reverse("gallery:hide", args=[artwork.pk]))
    artwork.refresh_from_db()
    assert artwork.hidden and not artwork.published
    assert [(m.action, m.moderator) for m in ModerationAction.objects.all()] == [("hide", staff_user)]
    assert GridVersion.current() > generation  # every cached gallery page is stale (issue 21's purge)
    assert _ids_on_page(client.get(reverse("gallery:index"))) == []  # the cached grid went at once
    assert client.get(reverse("gallery:detail", args=[artwork.pk])).status_code == 404
    staff_page = staff_client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
    assert 'id="moderation-note"' in staff_page and 'id="show-artwork"' in staff_page
    assert staff_client.get(reverse("gallery:thumbnail", args=[artwork.pk, "result"])).status_code == 200

    owner_client.post(reverse("engine:publish", args=[job.pk]), {"publish": "1"})  # refused
    artwork.refresh_from_db()
    assert artwork.hidden and not artwork.published
    assert "taken it out of the gallery" in owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()

    staff_client.post(reverse("gallery:show", args=[artwork.pk]))
    artwork.refresh_from_db()
    assert artwork.published and not artwork.hidden
    assert [m.action for m in ModerationAction.objects.all()] == ["show", "hide"]
    assert _ids_on_page(client.get(reverse("gallery:index"))) == [artwork.pk]


@pytest.mark.django_db
def test_an_artwork_shown_again_stays_out_of_the_gallery_if_its_owner_made_it_private(finished_job, staff_user):
    from gallery import moderation
    from gallery.publishing import unpublish

    job = finished_job()
    artwork = job.artwork
    assert moderation.hide(artwork, staff_user) and not moderation.hide(artwork, staff_user)  # once
    unpublish(job)
    artwork = Artwork.objects.select_related("job").get(pk=artwork.pk)
    assert moderation.show(artwork, staff_user)
    artwork.refresh_from_db()
    assert not artwork.hidden and not artwork.published


# --- a constant number of queries ----------------------------------------------------------------

def _bulk_artworks(owner, n: int, users: list) -> None:
    """n published artworks (with their jobs) in a few INSERTs, spread over `users`."""
    params = {"fast": params_dict(FastParams(size=256)), "classic": params_dict(ClassicParams(size=256))}
    jobs = StyleJob.objects.bulk_create(
        [StyleJob(owner=users[i % len(users)], mode="fast" if i % 3 else "classic", size=256,
                  params=params["fast" if i % 3 else "classic"],
                  content=f"jobs/bulk/{i}.png", status=Status.SUCCEEDED, visibility=Visibility.PUBLIC,
                  result=f"jobs/bulk/{i}-result.png")
         for i in range(n)], batch_size=500)
    Artwork.objects.bulk_create(
        [Artwork(job=job, owner_id=job.owner_id, mode=job.mode, like_count=i % 17, thumb_width=480,
                 thumb_height=360, thumbnails={"result": f"jobs/bulk/{i}-thumb.jpg"})
         for i, job in enumerate(jobs)], batch_size=500)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connections["default"]) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_gallery_pages_run_the_same_few_queries_for_30_or_10000_artworks(
        owner, other_user, staff_user, client, other_client, django_assert_num_queries):
    from django.core.cache import cache

    from gallery import views

    users = [owner, other_user, staff_user]
    grids = [reverse("gallery:index"), reverse("gallery:index") + "?sort=liked&mode=fast&page=3",
             reverse("gallery:user", args=[owner.username]) + "?sort=liked"]
    counts = {}
    for total in (30, 10_000):
        _bulk_artworks(owner, total - Artwork.objects.count(), users)
        newest = Artwork.objects.public().sorted_by("newest").first()
        pages = [*grids, reverse("gallery:detail", args=[newest.pk])]
        counts[total] = []
        for url in pages:
            for c in (client, other_client):
                cache.clear()
                counts[total].append((_queries(c, url), _queries(c, url)))  # (grid not cached, cached)
    assert counts[30] == counts[10_000]
    # Grid, anonymous: the grid version, then (not cached) a COUNT and one page; the user page also
    # reads its author. Artwork page: the artwork with its job and author, then its styles.
    # Logged in: + session and user, and on the artwork page "do I like it?".
    assert counts[10_000] == [(3, 1), (5, 3), (3, 1), (5, 3), (4, 2), (6, 4), (2, 2), (5, 5)]
    cache.clear()
    with django_assert_num_queries(3):
        page = client.get(reverse("gallery:index") + "?page=400")
    assert len(_ids_on_page(page)) == views.PER_PAGE


@pytest.mark.django_db
def test_a_cached_grid_page_never_shows_an_unpublished_or_deleted_artwork(finished_job, client):
    from gallery.publishing import unpublish

    first, second = finished_job(), finished_job()
    index = reverse("gallery:index")
    assert _ids_on_page(client.get(index)) == [second.artwork.pk, first.artwork.pk]
    with CaptureQueriesContext(connections["default"]) as ctx:
        client.get(index)
    assert len(ctx.captured_queries) == 1  # served from the cache
    unpublish(second)
    assert _ids_on_page(client.get(index)) == [first.artwork.pk]
    first.delete()
    assert _ids_on_page(client.get(index)) == []


# --- in a real browser ---------------------------------------------------------------------------

def _image_loaded(page, selector: str) -> bool:
    """Waits (up to Playwright's timeout) until every image matching `selector` has been decoded."""
    page.wait_for_function(
        """sel => [...document.querySelectorAll(sel)].every(i => i.complete && i.naturalWidth > 0)
                  && document.querySelectorAll(sel).length > 0""", arg=selector)
    return True


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_a_visitor_browses_likes_and_remixes_an_artwork(live_server, page, finished_job,
                                                                      other_user):
    from playwright.sync_api import expect

    from tests.browser import artifact_path
    from tests.web_client import PASSWORD

    artwork = finished_job(styles=("starry_night.jpg", "shipwreck.jpg"), share_originals=True).artwork
    page.goto(live_server.url + reverse("gallery:index"))
    card = page.locator(f'#art-grid a[href="/gallery/{artwork.pk}/"] img')
    expect(card).to_be_visible()
    assert _image_loaded(page, "#art-grid img")
    page.screenshot(path=str(artifact_path("gallery-index.png")), full_page=True)
    card.click()
    page.wait_for_url(live_server.url + reverse("gallery:detail", args=[artwork.pk]))
    expect(page.locator("#like-count")).to_contain_text("0 likes")
    assert _image_loaded(page, "#artwork-image") and _image_loaded(page, ".inputs img")

    page.goto(live_server.url + reverse("login") + "?next=" + reverse("gallery:detail", args=[artwork.pk]))
    page.fill("input[name=username]", other_user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(live_server.url + reverse("gallery:detail", args=[artwork.pk]))
    page.click("#like-button")
    expect(page.locator("#like-count")).to_contain_text("1 like")
    expect(page.locator("#like-button")).to_have_text("Unlike")
    artwork.refresh_from_db()
    assert artwork.like_count == 1
    page.screenshot(path=str(artifact_path("gallery-artwork.png")), full_page=True)

    page.click("#remix-link")
    expect(page.locator("#remix-note")).to_be_visible()
    expect(page.locator("#remix-note img")).to_have_count(2)
    assert _image_loaded(page, "#remix-note img")
    assert page.locator("input[name=remix]").input_value() == str(artwork.pk)
    assert page.locator("select[name=mode]").input_value() == "fast"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_like_count_stays_on_one_line_in_the_gallery(published, live_server, page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("gallery:index"))
    likes = page.locator(".art-meta .likes")
    assert likes.inner_text() == "♥\u00a01"
    line = likes.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
    assert likes.bounding_box()["height"] < 1.5 * line
    screenshots(page, "gallery-grid")


@pytest.mark.django_db
def test_the_owners_artwork_page_links_to_the_job_page_not_to_itself(published, owner_client) -> None:
    artwork_url = reverse("gallery:detail", args=[published.artwork.pk])
    html = owner_client.get(artwork_url).content.decode()
    assert f'href="{artwork_url}" id="gallery-link"' not in html
    assert f'href="{reverse("engine:detail", args=[published.pk])}" id="job-link"' in html
