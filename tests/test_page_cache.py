"""The gallery's pages for visitors who are not signed in, kept by the proxy (gallery/page_cache.py,
nstsite/webtier/page_cache.py): what the application lets nginx keep, the purge on publish, withdraw,
like, unlike, delete and an owner's originals, and, with the real processes (nginx in front of
gunicorn, tests/harness.py), that visitors get nginx's copy with the security headers, that a
signed-in user never gets a visitor's copy nor leaves one, and that a purge reaches the visitors."""

from __future__ import annotations

import re
import time

import pytest
import requests
from django.test import RequestFactory
from django.urls import reverse

from engine.jobs import cleanup
from engine.models import Visibility
from engine.nst import images
from gallery import likes, moderation, page_cache, publishing, titles
from gallery.models import Artwork, GridVersion
from tests.harness import Platform
from tests.web_client import csrf_token, signed_in_session

KEEP = "X-Accel-Expires"


@pytest.fixture
def artwork(make_job, image_bytes, media_root):
    """A published artwork of the owner (the job through its real life cycle, without the engine)."""
    job = make_job(mode="fast", size=64, visibility=Visibility.PUBLIC)
    assert job.start(worker="test")
    result = images.encode_png(images.open_image(image_bytes("golden_gate.jpg", 200)))
    assert job.finish(image_png=result, history=None, device="CPU", network="", seconds=0.1)
    return Artwork.objects.get(job=job)


def _pages(artwork: Artwork) -> list[str]:
    return [reverse("gallery:index"), reverse("gallery:index") + "?sort=liked&page=1",
            reverse("gallery:detail", args=[artwork.pk]), reverse("gallery:user", args=[artwork.owner.username])]


# --- what the application lets the proxy keep ------------------------------------------------------------

@pytest.mark.django_db
def test_a_visitors_gallery_pages_may_be_kept_and_a_signed_in_users_never(artwork, client, other_client,
                                                                           settings):
    for url in _pages(artwork):
        visitor = client.get(url)
        assert visitor.status_code == 200 and visitor[KEEP] == str(settings.NST_PAGE_CACHE_SECONDS), url
        assert not visitor.cookies and "Content-Security-Policy" in visitor
        signed_in = other_client.get(url)
        assert signed_in.status_code == 200 and KEEP not in signed_in, url
        assert signed_in["Cache-Control"] == "private, no-store"
    settings.NST_PAGE_CACHE_SECONDS = 0  # nothing kept at all
    assert KEEP not in client.get(reverse("gallery:index"))


@pytest.mark.django_db
def test_nothing_else_of_the_gallery_may_be_kept(artwork, client, other_client):
    assert KEEP not in client.get(reverse("gallery:detail", args=[artwork.pk + 1000]))          # a 404
    assert KEEP not in client.get(reverse("gallery:thumbnail", args=[artwork.pk, "result"]))     # its own rules
    assert KEEP not in client.get(reverse("gallery:download", args=[artwork.pk]))                # counted
    assert KEEP not in other_client.post(reverse("gallery:like", args=[artwork.pk]))
    publishing.unpublish(artwork.job)
    owner_view = client.get(reverse("gallery:detail", args=[artwork.pk]))
    assert owner_view.status_code == 404 and KEEP not in owner_view


@pytest.mark.django_db
def test_a_page_that_carries_a_visitors_own_token_or_cookie_is_never_shared(artwork, client):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    request = RequestFactory().get("/gallery/")
    request.user = AnonymousUser()
    assert page_cache.may_share(request, HttpResponse("ok"))
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # a form with the visitor's CSRF token
    assert not page_cache.may_share(request, HttpResponse("ok"))
    request.META.pop("CSRF_COOKIE_NEEDS_UPDATE")
    with_cookie = HttpResponse("ok")
    with_cookie.set_cookie("anything", "1")
    assert not page_cache.may_share(request, with_cookie)
    assert not page_cache.may_share(RequestFactory().post("/gallery/"), HttpResponse("ok"))


@pytest.mark.django_db
def test_publish_withdraw_like_unlike_originals_and_delete_each_purge(artwork, other_user, staff_user, client,
                                                                     rq_redis):
    def generation() -> int:
        response = client.get(reverse("gallery:page_generation"))
        assert response[KEEP] == "1"
        return int(response[page_cache.GENERATION_HEADER])

    job = artwork.job
    seen = [generation()]
    for change in (lambda: publishing.unpublish(job), lambda: publishing.publish(job),
                   lambda: likes.like(artwork, other_user), lambda: likes.unlike(artwork, other_user),
                   lambda: job.set_share_originals(True), lambda: job.set_share_originals(False),
                   lambda: likes.like(artwork, other_user),
                   # issue 23: its owner renaming it, staff hiding it from the gallery and showing it again
                   lambda: titles.rename(artwork, "Evening light"), lambda: moderation.hide(artwork, staff_user),
                   lambda: moderation.show(artwork, staff_user)):
        change()
        seen.append(generation())
        assert seen[-1] > seen[-2], seen
    # What changes nothing on a page purges nothing: a second like, publishing what is published.
    assert not likes.like(artwork, other_user)
    publishing.publish(job)
    assert GridVersion.current() == seen[-1]
    cleanup.delete_jobs([job])
    assert generation() > seen[-1]


# --- with the real proxy -----------------------------------------------------------------------------------

SEED = """
import io
from PIL import Image
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from engine.models import Status, StyleJob
from gallery import publishing

buffer = io.BytesIO()
Image.new("RGB", (120, 90), (200, 120, 40)).save(buffer, "PNG")
User = get_user_model()
owner = User.objects.create_user("painter", "painter@example.org", "Brush-strokes-of-1889")
User.objects.create_user("visitor", "visitor@example.org", "Looking-at-1889-x")
for n in range(2):
    job = StyleJob(owner=owner, mode="fast", params={}, size=120, status=Status.SUCCEEDED)
    job.content.save("content.png", ContentFile(buffer.getvalue()), save=False)
    job.result.save("result.png", ContentFile(buffer.getvalue()), save=False)
    job.save()
    print(publishing.publish(job).pk, job.pk)
"""
SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                    "Cross-Origin-Opener-Policy")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The platform (no worker) with two published artworks of "painter" and a user "visitor":
    (platform, [(artwork id, job id), ...])."""
    platform = Platform(tmp_path_factory.mktemp("page-cache"))
    try:
        platform.up(workers=0)
        lines = platform.manage("shell", "-c", SEED).split("\n")
        made = [tuple(map(int, line.split())) for line in lines if re.fullmatch(r"\d+ \d+", line)]
        yield platform, made
    finally:
        platform.down()


@pytest.fixture(scope="module")
def signed_in(site) -> requests.Session:
    """A session of "visitor", signed in through the log-in form."""
    platform, _ = site
    return signed_in_session(platform.url, "visitor", "Looking-at-1889-x")


def visit(platform: Platform, path: str) -> requests.Response:
    """A visitor without cookies, as a new browser."""
    return requests.get(platform.url + path, timeout=30)


def until(condition, what: str, timeout: float = 20.0):
    """Ask again until `condition()` is true (a purge reaches the proxy within its check interval,
    1 s); fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_visitors_get_the_proxys_copy_with_the_security_headers(site) -> None:
    platform, [(artwork, _), _] = site
    for path in ("/gallery/", f"/gallery/{artwork}/", "/gallery/by/painter/"):
        first = visit(platform, path)
        assert first.status_code == 200 and first.headers["X-Cache-Status"] in ("MISS", "EXPIRED"), path
        kept = visit(platform, path)
        assert kept.headers["X-Cache-Status"] == "HIT" and kept.text == first.text, path
        for name in SECURITY_HEADERS:
            assert kept.headers[name] == first.headers[name], (path, name)
        assert "Set-Cookie" not in kept.headers and KEEP not in kept.headers
    # The proxy's own question to the application is not a page.
    assert visit(platform, "/gallery/page-generation/").status_code == 404
    # Every kept page's key starts with the gallery's generation, however the proxy learnt it (its
    # own copy of the answer, or a fresh one): that is what a purge changes.
    keys = [line.split(b"KEY: ", 1)[1].split(b"\n", 1)[0].decode()
            for f in (platform.tmp / "proxy" / "cache" / "pages").rglob("*") if f.is_file()
            for line in [f.read_bytes()] if b"KEY: " in line]
    assert len(keys) >= 3 and all(re.match(r"\d+\|http\|127\.0\.0\.1:\d+\|/gallery/", key) for key in keys), keys


@pytest.mark.slow
def test_a_signed_in_user_never_gets_a_visitors_copy_nor_leaves_one(site, signed_in) -> None:
    platform, [(artwork, _), _] = site
    until(lambda: visit(platform, "/gallery/").headers["X-Cache-Status"] == "HIT", "a visitor's copy")
    mine = signed_in.get(platform.url + "/gallery/", timeout=30)
    assert mine.headers["X-Cache-Status"] == "BYPASS" and ">visitor</a>" in mine.text
    assert mine.headers["Cache-Control"] == "private, no-store"
    visitor = visit(platform, "/gallery/")
    assert visitor.headers["X-Cache-Status"] == "HIT" and ">visitor</a>" not in visitor.text
    # A page a signed-in user asked for first is not kept for the visitors after them.
    for path in ("/gallery/?sort=liked&mode=fast", f"/gallery/{artwork}/?from=signed-in"):
        page = signed_in.get(platform.url + path, timeout=30)
        assert page.headers["X-Cache-Status"] == "BYPASS" and ">visitor</a>" in page.text
        after = visit(platform, path)
        assert after.headers["X-Cache-Status"] in ("MISS", "EXPIRED") and ">visitor</a>" not in after.text, path
        assert 'name="csrfmiddlewaretoken"' not in after.text


@pytest.mark.slow
def test_a_like_purges_the_visitors_pages(site, signed_in) -> None:
    platform, [(artwork, _), _] = site
    path = f"/gallery/{artwork}/"
    count = re.compile(r'id="like-count"[^>]*>♥ (\d+) like')
    before = int(count.search(visit(platform, path).text).group(1))
    until(lambda: visit(platform, path).headers["X-Cache-Status"] == "HIT", "a visitor's copy")
    page = signed_in.get(platform.url + path, timeout=30)
    liked = signed_in.post(f"{platform.url}/gallery/{artwork}/like/", timeout=30, headers={"Referer": page.url},
                           data={"csrfmiddlewaretoken": csrf_token(page.text)})
    assert liked.ok
    until(lambda: int(count.search(visit(platform, path).text).group(1)) == before + 1, "the like on the page")
    until(lambda: f'♥&nbsp;{before + 1}' in visit(platform, "/gallery/?sort=liked").text, "the like on the grid")


@pytest.mark.slow
def test_withdrawing_publishing_and_deleting_purge_the_visitors_pages(site) -> None:
    """Each change made by another process (as a worker publishing what it finished would):
    only the database is shared with the proxy."""
    platform, [_, (artwork, job)] = site
    path, card = f"/gallery/{artwork}/", f'href="/gallery/{artwork}/"'
    until(lambda: visit(platform, path).headers.get("X-Cache-Status") == "HIT", "a visitor's copy")
    until(lambda: card in visit(platform, "/gallery/").text, "the card on the grid")

    def change(code: str) -> None:
        platform.manage("shell", "-c", f"from engine.models import StyleJob\nfrom gallery import publishing\n"
                                       f"from engine.jobs import cleanup\njob = StyleJob.objects.get(pk={job})\n{code}")

    change("publishing.unpublish(job)")
    until(lambda: visit(platform, path).status_code == 404, "the withdrawn artwork gone")
    until(lambda: card not in visit(platform, "/gallery/").text, "the card gone from the grid")
    change("publishing.publish(job)")
    until(lambda: visit(platform, path).status_code == 200, "the artwork back")
    until(lambda: card in visit(platform, "/gallery/by/painter/").text, "the card back on its author's page")
    change("cleanup.delete_jobs([job])")
    until(lambda: visit(platform, path).status_code == 404, "the deleted artwork gone")
    until(lambda: card not in visit(platform, "/gallery/").text, "the card gone from the grid")
