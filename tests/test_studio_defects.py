"""The nine defects issue 11 found by trying the site, each pinned by a test that failed before its fix.

1. "Job N is queued." stayed on the live job page while the job ran and after it succeeded.
2. After a live finish the publish box still said the job "goes into the gallery when it has finished".
3. The live chart and the saved loss plot used different colours for the same terms.
4. The live chart's x-axis showed fractional steps (1.2, 1.4, ...) early in a run (the saved plot of a
   short run did too).
5. /favicon.ico was a 404 on every page.
6. In the gallery grid "♥ 1" wrapped, the heart and the number on two lines.
7. The admin job list was cut off at 1280 px and showed "Run seconds 2.9491983089999394".
8. A cancel arriving after the last step threw the finished result away (tests/test_job_lifecycle.py,
   test_a_job_cancelled_while_finishing_keeps_its_finished_result); the "cancelled" event and the page
   gave two different steps.
9. On the owner's artwork page "see it there" linked to the page itself; "Quick try" sent anonymous
   visitors to a login page saying "Please log in to see that page."

1-4 run in a real browser against the platform's own processes (web server, worker, websockets),
the worker held at a known step so that nothing depends on the machine's speed.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser import artifact_path, screenshots


@pytest.fixture
def published(make_job, burst_worker, media_root):
    """A succeeded public job of the owner, in the gallery, with one like."""
    from engine import jobs
    from engine.models import Status
    from gallery import likes

    job = make_job(mode="fast", size=96, visibility="public")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    likes.like(job.artwork, job.owner)
    return job


@pytest.mark.django_db(transaction=True)
def test_the_like_count_stays_on_one_line_in_the_gallery(published, live_server, page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("gallery:index"))
    likes = page.locator(".art-meta .likes")
    assert likes.inner_text() == "♥\u00a01"
    line = likes.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
    assert likes.bounding_box()["height"] < 1.5 * line
    screenshots(page, "gallery-grid")


@pytest.mark.django_db(transaction=True)
def test_the_admin_job_list_fits_1280_px_and_rounds_the_run_time(
        published, live_server, page, staff_user, cookie) -> None:
    from engine.models import StyleJob

    StyleJob.objects.filter(pk=published.pk).update(run_seconds=2.9491983089999394)
    name, value = cookie(staff_user).decode().split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("admin:engine_stylejob_changelist"))
    # Nothing cut off: the list needs no scrolling sideways in its box, nor the page; and room to spare
    # (a longer id or owner on another database must not tip it over).
    assert page.locator("#changelist .results").evaluate("box => box.scrollWidth <= box.clientWidth")
    natural, room = page.locator("#changelist .results").evaluate(
        "box => { const table = box.querySelector('table'); table.style.width = 'min-content';"
        " const natural = table.offsetWidth; table.style.width = ''; return [natural, box.clientWidth]; }")
    assert natural + 24 <= room, (natural, room)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for column in ("device", "submitted", "ran", "duration"):
        assert page.locator(f"#result_list thead th:has-text('{column}')").is_visible(), column
    assert "2.949" not in page.content()
    page.screenshot(path=artifact_path("studio-admin-jobs-1280.png"), full_page=True)
    page.goto(live_server.url + reverse("admin:engine_stylejob_change", args=[published.pk]))
    assert "2.949" not in page.content() and "3 s" in page.content()
    page.screenshot(path=artifact_path("studio-admin-job-1280.png"), full_page=True)


@pytest.mark.django_db
def test_the_owners_artwork_page_links_to_the_job_page_not_to_itself(published, owner_client) -> None:
    artwork_url = reverse("gallery:detail", args=[published.artwork.pk])
    html = owner_client.get(artwork_url).content.decode()
    assert f'href="{artwork_url}" id="gallery-link"' not in html
    assert f'href="{reverse("engine:detail", args=[published.pk])}" id="job-link"' in html
