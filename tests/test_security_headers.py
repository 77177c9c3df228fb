"""Headers (issue 14, finding 7: no Content-Security-Policy on any page; private job pages carried no
`Cache-Control: private, no-store`). The policy and the rule: nstsite/security/security_headers.py. The
browser test visits every kind of page in Chromium and fails on any violation of the policy (a
blocked inline script, style, eval, websocket...), as the browser reports it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from engine.models import Batch, StyleJob, Visibility
from engine.nst.history import LossHistory, LossRow
from engine.studio import staged_uploads
from gallery.models import Artwork

STRICT = ("script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def finished(job: StyleJob, image_png: bytes) -> StyleJob:
    history = LossHistory([LossRow(step=s, epoch=1, scale=64, content=1.0 / s, style=2.0 / s, tv=0.1, total=3.0 / s,
                                   seconds=0.1 * s) for s in range(1, 6)])
    assert job.start(worker="test")
    assert job.finish(image_png=image_png, history=history, device="CPU", network="vgg16", seconds=0.5)
    return StyleJob.objects.get(pk=job.pk)


@pytest.fixture
def jobs(make_job, image_bytes, owner) -> dict[str, StyleJob]:
    """A finished public job (in the gallery), a finished private one and a queued private one."""
    png = image_bytes("tubingen.jpg", 64, fmt="PNG")
    return {"public": finished(make_job(visibility=Visibility.PUBLIC), png),
            "private": finished(make_job(), png),
            "queued": make_job()}


def pages(jobs: dict[str, StyleJob]) -> tuple[list[str], list[str]]:
    """(pages anyone may open, pages for a logged-in member of staff)."""
    artwork = Artwork.objects.get(job=jobs["public"])
    public = [reverse("home"), reverse("gallery:index"), reverse("gallery:detail", args=[artwork.pk]),
              reverse("gallery:user", args=[jobs["public"].owner.username]),
              reverse("engine:detail", args=[jobs["public"].pk]), reverse("login"), reverse("signup"),
              reverse("password_reset"), "/no/such/page/", reverse("api:docs"), reverse("api:problems")]
    staff = [reverse("engine:my_jobs"), reverse("engine:submit"), reverse("engine:submit") + f"?remix={artwork.pk}",
             *(reverse("engine:detail", args=[jobs[k].pk]) for k in ("private", "queued", "public")),
             reverse("gallery:detail", args=[artwork.pk]), reverse("admin:index"),
             reverse("admin:engine_stylejob_changelist"),
             reverse("admin:engine_stylejob_change", args=[jobs["private"].pk]), reverse("api_tokens")]
    return public, staff


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_every_page_has_a_policy_without_inline_scripts(jobs, staff_client):
    public, staff = pages(jobs)
    for client, urls in ((Client(), public), (staff_client, staff)):
        for url in urls:
            policy = client.get(url)["Content-Security-Policy"]
            assert all(part in policy for part in STRICT), (url, policy)
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, (url, policy)


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_private_pages_and_downloads_are_kept_by_no_cache(jobs, owner_client):
    private, public = jobs["private"], jobs["public"]
    for url in (reverse("engine:detail", args=[private.pk]), reverse("engine:my_jobs"), reverse("engine:submit"),
                reverse("engine:download", args=[private.pk, "png"]),
                reverse("engine:download", args=[private.pk, "json"]),
                reverse("engine:download", args=[private.pk, "content"])):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives, (url, response["Cache-Control"])
    # What anyone may see may be cached (the gallery's pages, a public job's result).
    assert "no-store" not in Client().get(reverse("gallery:index")).get("Cache-Control", "")
    assert "no-store" not in Client().get(reverse("engine:download", args=[public.pk, "png"]))["Cache-Control"]


def _directives(response) -> set[str]:
    return {d.strip() for d in response["Cache-Control"].split(",")}


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_the_images_only_their_owner_may_see_are_kept_by_no_cache(jobs, owner, owner_client, image_bytes):
    """Issue 24, finding 11: kept uploads, the thumbnails and files of a public job's unshared
    originals, a batch's zip: `private, no-store`, as every private file is."""
    public = jobs["public"]
    artwork = Artwork.objects.get(job=public)
    kept = staged_uploads.stage(owner, "content", ContentFile(image_bytes("tubingen.jpg", 64, fmt="PNG")),
                                name="mine.png", size=(64, 48))
    batch = Batch.objects.create(owner=owner)
    StyleJob.objects.filter(pk__in=[jobs["private"].pk, public.pk]).update(batch=batch)
    for url in (reverse("engine:staged_upload", args=[kept.token]),
                reverse("gallery:thumbnail", args=[artwork.pk, "content"]),
                reverse("engine:download", args=[public.pk, "content"]),
                reverse("engine:download", args=[public.pk, "style-1"]),
                reverse("engine:batch_zip", args=[batch.pk])):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-store"} <= _directives(response), (url, response["Cache-Control"])
    # Shared, the originals are what everyone may see: cacheable again.
    public.set_share_originals(True)
    for url in (reverse("gallery:thumbnail", args=[artwork.pk, "content"]),
                reverse("engine:download", args=[public.pk, "content"])):
        assert "no-store" not in _directives(Client().get(url)), url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_in_a_browser_no_page_breaks_the_policy(live_server, page, jobs, staff_user):
    from playwright.sync_api import expect

    from tests.browser import artifact_path
    from tests.web_client import PASSWORD

    # The page's own report of each violation, and Chromium's console line for it.
    page.add_init_script("window.cspViolations = [];"
                         "document.addEventListener('securitypolicyviolation',"
                         " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    public, staff = pages(jobs)

    def visit(url: str) -> None:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        reported = page.evaluate("window.cspViolations")
        blocked = [text for text in console if "Content Security Policy" in text]
        assert not reported and not blocked, (url, reported, blocked)

    for url in public:
        visit(url)
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", staff_user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state("load")
    assert "sessionid" in {c["name"] for c in page.context.cookies()}
    for url in staff:
        visit(url)
    # The API's docs page draws the schema after its load event: its operations must be on the page,
    # drawn within the policy (Swagger UI's files from this site, no inline script or style).
    page.goto(live_server.url + reverse("api:docs"))
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    assert not page.evaluate("window.cspViolations"), page.evaluate("window.cspViolations")
    assert not [text for text in console if "Content Security Policy" in text]
    page.screenshot(path=artifact_path("api-docs-1280.png"), full_page=False)
    for name, url in (("my-jobs-storage", reverse("engine:my_jobs")), ("api-tokens", reverse("api_tokens")),
                      ("job-delete", reverse("engine:detail", args=[jobs["private"].pk]))):
        page.goto(live_server.url + url)
        page.screenshot(path=artifact_path(f"{name}-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=artifact_path(f"{name}-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
    # The pages' scripts run under the policy: the form's script shows the chosen mode's settings.
    page.goto(live_server.url + reverse("engine:submit"))
    page.click("#advanced-settings summary")  # the per-mode settings are under "Advanced settings"
    page.select_option("select[name=mode]", "fast")
    expect(page.locator("#classic-settings")).to_be_hidden()
    page.select_option("select[name=mode]", "classic")
    expect(page.locator("#classic-settings")).to_be_visible()
