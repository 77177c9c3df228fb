"""The platform in a real browser: headless Chromium (Playwright) against a live server, with a
real RQ worker running the job and the real fast-mode engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.browser import artifact_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_visitor_signs_up_submits_a_fast_job_and_sees_the_result(
        live_server, page, burst_worker, images_dir: Path) -> None:
    from playwright.sync_api import expect

    from engine.models import Status, StyleJob

    page.goto(live_server.url + reverse("signup"))
    page.fill("input[name=username]", "painter")
    page.fill("input[name=email]", "painter@example.org")
    page.fill("input[name=password1]", "Brush-strokes-of-1889")
    page.fill("input[name=password2]", "Brush-strokes-of-1889")
    page.click("#signup-submit")
    expect(page).to_have_url(live_server.url + reverse("engine:submit"))

    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    page.select_option("select[name=mode]", "fast")
    page.fill("input[name=size]", "256")                    # the smallest size
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    expect(page.locator("#job-status")).to_have_attribute("data-status", Status.QUEUED)
    expect(page.locator("#result-image")).to_have_count(0)

    job = StyleJob.objects.get()
    assert (job.owner.username, job.mode, job.status) == ("painter", "fast", Status.QUEUED)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error

    page.reload()
    expect(page.locator("#job-status")).to_have_attribute("data-status", Status.SUCCEEDED)
    result = page.locator("#result-image")
    expect(result).to_be_visible()
    # The image really arrived and decoded in the browser, at the preset's size.
    size = result.evaluate("img => img.complete ? [img.naturalWidth, img.naturalHeight] : null")
    assert size is not None and max(size) == 256, size
    page.screenshot(path=artifact_path("browser-fast-job.png"), full_page=True)
