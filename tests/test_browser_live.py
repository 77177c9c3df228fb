"""Live progress in a real browser: headless Chromium (Playwright) on the job page of a real small
classic job, served by daphne (websockets) and run by an RQ worker process at the same time, both
started as scripts/run starts them (tests/live_stack.py). The page must show the epochs' thumbnails
and a growing loss chart before the final image, without reloading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import artifact_path, chromium_context
from tests.live_stack import LiveStack

# Records, in the page, every change the test looks at, with the time it happened: whether the
# thumbnails and the chart came before the result is then read from the page's own history, not
# from when the test happened to look.
TIMELINE_SCRIPT = """
window.__timeline = [];
document.addEventListener("DOMContentLoaded", function () {
  function record() {
    const chart = document.getElementById("loss-chart");
    const status = document.getElementById("job-status");
    window.__timeline.push({
      t: performance.now(),
      thumbs: document.querySelectorAll("#epoch-previews li").length,
      points: chart ? Number(chart.dataset.points) : 0,
      result: Boolean(document.getElementById("result-image")),
      status: status ? status.dataset.status : null,
    });
  }
  record();
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-points", "data-status"],
  });
});
"""


@pytest.fixture
def stack(tmp_path: Path, redis_server: str, model_dir: Path):
    # A Redis database of its own: the stack's worker must not take other tests' jobs.
    import redis

    (tmp_path / "stack").mkdir()
    redis_url = redis_server.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(redis_url).flushdb()
    with LiveStack(tmp_path / "stack", redis_url=redis_url, model_dir=model_dir) as live:
        yield live.up()


@pytest.fixture
def page(tmp_path: Path):
    with chromium_context(tmp_path / "chromium-profile") as context:
        context.add_init_script(TIMELINE_SCRIPT)
        yield context.new_page()


def _submit_small_classic_job(page, base: str, images_dir: Path) -> None:
    page.goto(base + "/accounts/signup/")
    page.fill("input[name=username]", "watcher")
    page.fill("input[name=email]", "watcher@example.org")
    page.fill("input[name=password1]", "Brush-strokes-of-1889")
    page.fill("input[name=password2]", "Brush-strokes-of-1889")
    page.click("#signup-submit")
    page.wait_for_url(base + "/jobs/new/")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    page.select_option("select[name=mode]", "classic")
    page.select_option("select[name=preset]", "custom")
    page.fill("input[name=size]", "256")        # the form's smallest
    page.fill("input[name=epochs]", "3")
    page.fill("input[name=steps_per_epoch]", "10")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))


def test_the_job_page_shows_thumbnails_and_a_growing_loss_chart_before_the_result(
        stack: LiveStack, page, images_dir: Path) -> None:
    from playwright.sync_api import expect

    _submit_small_classic_job(page, stack.url, images_dir)
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    job_id = page.url.rstrip("/").rsplit("/", 1)[1]
    my_jobs = page.context.new_page()  # "My jobs" in a second tab, opened while the job waits or runs
    my_jobs.goto(stack.url + "/jobs/")
    my_jobs.evaluate("window.__sameDocument = true")

    try:
        page.wait_for_function("document.querySelectorAll('#epoch-previews li').length >= 2", timeout=240_000)
        page.screenshot(path=artifact_path("browser-live-progress.png"), full_page=True)
        expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
        expect(page.locator("#result-image")).to_be_visible()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None
    except Exception as exc:  # Playwright's TimeoutError: say what the server side did
        raise AssertionError(f"{exc}\n{stack.logs()}") from None
    page.screenshot(path=artifact_path("browser-live-final.png"), full_page=True)

    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    timeline = page.evaluate("window.__timeline")
    before = [entry for entry in timeline if not entry["result"]]
    assert before and before[0]["thumbs"] == 0 and before[0]["points"] == 0  # opened before any progress
    assert max(entry["thumbs"] for entry in before) >= 2, timeline
    growth = sorted({entry["points"] for entry in before if entry["points"]})
    assert len(growth) >= 2, timeline  # the chart grew while the job ran, not in one go at the end
    assert [e["status"] for e in timeline][-1] == "succeeded"

    # The three thumbnails and the result really arrived and decoded in the browser.
    thumbs = page.locator("#epoch-previews img")
    expect(thumbs).to_have_count(3)
    for i in range(3):
        assert thumbs.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("#loss-chart").get_attribute("data-points") == "30"
    assert page.locator("#result-image").evaluate("img => img.complete && img.naturalWidth") == 256
    expect(page.locator("#download-csv")).to_be_visible()
    expect(page.locator("#run-seconds")).to_have_text(re.compile(r"^[1-9]\d* s$|^\d+ min"))  # the run's, not 0 s
    expect(page.locator("#cancel-job")).to_have_count(0)

    row = my_jobs.locator(f'tr.job-row[data-job-id="{job_id}"]')
    expect(row.locator(".job-status-cell")).to_have_text("Succeeded")
    expect(row.locator(".job-progress-cell")).to_have_text("30 / 30 steps")
    assert my_jobs.evaluate("window.__sameDocument") is True
