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

import re

import pytest
from django.urls import reverse

from tests.browser import artifact_path, screenshots


def test_the_saved_loss_plot_has_whole_steps_too():
    from engine.nst.history import LossHistory, LossRow

    history = LossHistory()
    for step in range(1, 6):  # a short run: matplotlib would tick at 1.5, 2.5, ...
        history.append(LossRow(step=step, epoch=1, scale=64, content=1.0, style=2.0 / step, tv=0.1,
                               total=3.0, seconds=0.1))
    axes = history.figure().axes[0]
    low, high = axes.get_xlim()
    ticks = [t for t in axes.get_xticks() if low <= t <= high]
    assert len(ticks) >= 2 and all(t == int(t) for t in ticks), ticks


# --- 8: a cancel, told with one step number --------------------------------------------------------

@pytest.mark.django_db
def test_a_cancel_mid_run_is_told_with_the_step_the_run_stopped_after(
        make_job, cancel_at_check, burst_worker, owner_client, monkeypatch):
    """At once "stopping" (the row's step is not where the run stops), then the worker's one number,
    which the page says too. (A cancel after the last step keeps the result: tests/test_job_lifecycle.py.)"""
    from engine import events, jobs
    from engine.models import Status

    told = []
    real = events.final_event

    def record(*args, **kwargs):  # what each final event said, passed on unchanged
        event = real(*args, **kwargs)
        told.append(event)
        return event

    monkeypatch.setattr(events, "final_event", record)
    job = make_job(epochs=2, steps_per_epoch=5)
    jobs.enqueue(job)
    cancel_at_check(job, polls=4)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and 0 < job.step < job.total_steps
    cancelled = [e for e in told if e and e["event"] == "cancelled"]
    assert cancelled[0]["stopping"] is True
    assert [e["step"] for e in cancelled if not e["stopping"]] == [job.step]
    html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert f"Cancelled after step {job.step} of {job.total_steps}" in html


# --- 5, 6, 7, 9 ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_favicon_is_served(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")


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


@pytest.mark.django_db
def test_quick_try_takes_a_visitor_to_sign_up_and_then_to_the_form(client) -> None:
    html = client.get(reverse("home")).content.decode()
    link = re.search(r'<a [^>]*href="([^"]+)" id="quick-try"', html).group(1).replace("&amp;", "&")
    assert link.startswith(reverse("signup") + "?next=")
    page = client.get(link).content.decode()
    assert "Please log in to see that page" not in page and 'id="signup-why"' in page
    next_url = re.search(r'<input type="hidden" name="next" value="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.post(reverse("signup"), {"username": "newcomer", "email": "new@example.org",
                                               "password1": "Brush-strokes-of-1889",
                                               "password2": "Brush-strokes-of-1889", "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("engine:submit") + "?preset=quick&mode=fast"
