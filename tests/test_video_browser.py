"""Video and batch pages in a real browser: headless Chromium against the platform's own processes
(the web server and an RQ worker, tests/harness.py), the real engine. The worker holds the video
job before a chosen frame, so the page is seen mid-run however fast the machine is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import clips
from tests.browser import LIVE_PARTS_SCRIPT, artifact_path, chromium_context, sign_up, state_markup
from tests.harness import Platform

pytestmark = pytest.mark.slow

FRAMES = 60  # 48 a chunk: held before frame 55, the first chunk's preview is out
HELD_AT = 55


@pytest.fixture
def page(tmp_path: Path):
    """A page whose Content-Security-Policy violations (Chromium's console says each one) fail the test:
    the video and batch pages run under the site's strict policy (nstsite/security/security_headers.py). It
    records which parts of the page live events carry (tests/browser.py)."""
    with chromium_context(tmp_path / "chromium-profile") as context:
        context.add_init_script(LIVE_PARTS_SCRIPT)
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        yield page
        assert not blocked, blocked


def _shots(page, name: str) -> None:
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=artifact_path(f"video-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_clip_is_followed_frame_by_frame_and_then_plays_on_its_page(
        live_platform: Platform, page, images_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    platform, gate = live_platform, live_platform.gate
    clip = clips.make_clip(tmp_path / "pan.mp4", images_dir / "tubingen.jpg", frames=FRAMES, audio="aac")
    sign_up(page, platform.url, "filmmaker")
    page.set_input_files("input[name=content]", clip)
    expect(page.locator("select[name=mode]")).to_have_value("video")  # chosen for the clip
    expect(page.locator("#video-settings")).to_be_visible()
    expect(page.locator("input[name=strength]")).to_be_visible()  # strength applies to every frame
    page.select_option("select[name=mode]", "classic")
    expect(page.locator("input[name=strength]")).to_be_hidden()  # not a classic-mode setting
    page.select_option("select[name=mode]", "video")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    page.fill("input[name=size]", "256")
    _shots(page, "submit")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    try:
        gate.hold(job_id, HELD_AT)
        platform.start_worker("worker")
        gate.wait_held(job_id, HELD_AT, 240, explain=platform.logs)
        expect(page.locator("#progress-text")).to_contain_text(f"of {FRAMES}", timeout=60_000)
        page.wait_for_function("document.getElementById('video-preview').naturalWidth > 0", timeout=60_000)
        expect(page.locator("#video-fps")).to_contain_text("frames/s")
        _shots(page, "running")
        gate.release(job_id)
        expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    except Exception as exc:  # a Playwright timeout: say what the server side did
        raise AssertionError(f"{exc}\n{platform.logs()}") from None
    video = page.locator("#result-video")
    expect(video).to_be_visible()
    expect(page.locator("#download-mp4")).to_be_visible()
    expect(page.locator("#video-live")).to_be_hidden()
    # The browser really loaded the MP4: its size and length, not just the element.
    page.wait_for_function("document.getElementById('result-video').readyState >= 1", timeout=30_000)
    width, duration = video.evaluate("v => [v.videoWidth, v.duration]")
    assert width == 256 and abs(duration - FRAMES / 24) < 0.2, (width, duration)
    _shots(page, "finished")
    # The end of the live run is what a reload shows, part by part as the final event carried them.
    parts = page.evaluate("window.__parts.finished")
    assert {"result-slot", "video-live", "run-table", "delete-slot"} <= set(parts), parts
    live = state_markup(page, parts)
    page.reload()
    assert state_markup(page, parts) == live

    # Published: the gallery shows it as a video with its poster, and its page plays it.
    page.click("#publish-button")
    page.click("#gallery-link")
    page.wait_for_url(re.compile(r"/gallery/\d+/$"))
    artwork = page.locator("#artwork-video")
    expect(artwork).to_have_attribute("poster", re.compile(r"/thumb/result\.jpg$"))
    page.wait_for_function("document.getElementById('artwork-video').readyState >= 1", timeout=30_000)
    assert artwork.evaluate("v => v.videoWidth") == 256
    _shots(page, "gallery-artwork")
    page.goto(platform.url + "/gallery/")
    expect(page.locator(".art-card.art-video .badge")).to_have_text("▶ Video")
    page.locator(".art-card.art-video img").evaluate("img => img.decode()")
    _shots(page, "gallery")


def test_a_batch_page_follows_its_jobs_and_offers_the_zip(
        live_platform: Platform, page, images_dir: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    platform = live_platform
    clip = clips.make_clip(tmp_path / "pan.mp4", images_dir / "tubingen.jpg", frames=12)
    sign_up(page, platform.url, "filmmaker")
    page.select_option("select[name=mode]", "video")
    page.set_input_files("input[name=content]", [images_dir / "tubingen.jpg", clip, images_dir / "golden_gate.jpg"])
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    page.fill("input[name=size]", "256")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/batch/\d+/$"))
    expect(page.locator(".batch-job")).to_have_count(3)
    expect(page.locator("#batch-zip")).to_be_hidden()
    _shots(page, "batch-queued")
    try:
        platform.start_worker("worker")
        expect(page.locator("#batch-done")).to_have_text("3", timeout=240_000)
    except Exception as exc:
        raise AssertionError(f"{exc}\n{platform.logs()}") from None
    expect(page.locator("#batch-zip")).to_be_visible()
    expect(page.locator('.batch-job[data-status="succeeded"] .thumb img')).to_have_count(3)
    for i in range(3):
        page.locator(".batch-job .thumb img").nth(i).evaluate("img => img.decode()")
    _shots(page, "batch-done")
    with page.expect_download() as download:
        page.click("#batch-zip")
    assert download.value.suggested_filename.endswith(".zip")
    page.goto(platform.url + "/jobs/")
    expect(page.locator(".batch-card")).to_have_count(1)
    expect(page.locator(".batch-card")).to_contain_text("3 / 3 done")
    expect(page.locator(".batch-card .batch-job img")).to_have_count(3)  # its pictures
    _shots(page, "my-jobs")
