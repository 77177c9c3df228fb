"""Live progress over websockets: the consumers behind nstsite.asgi (origin check, session auth),
driven with Channels' WebsocketCommunicator, on the real Redis channel layer the workers publish
to; the events of a real job run by a real RQ worker; a dead or hung Redis. And the whole of it in
a real browser: headless Chromium (Playwright) on the job page of a real small classic job, served
by the web server and run by a worker process, both started as scripts/run starts them
(tests/harness.py); the page must show the epochs' thumbnails and a growing loss chart before the
final image, without reloading."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from engine.jobs import queue
from engine.jobs import service as jobs
from engine.live import consumers, publisher
from engine.live import updates as live
from engine.models import Status, StyleJob
from engine.nst import images
from engine.runners.progress import EVENT_INTERVAL
from tests.browser import (
    LIVE_PARTS_SCRIPT,
    artifact_path,
    chromium_context,
    chromium_contexts,
    screenshots,
    sign_up,
    state_markup,
)
from tests.harness import Platform, free_port
from tests.web_client import communicator

pytestmark = pytest.mark.django_db(transaction=True)
FINAL_EVENTS = ("finished", "failed", "cancelled")


async def refused_with(path: str, cookie_header: bytes | None = None) -> int:
    """The close code a refused socket gets right after it is accepted."""
    comm = communicator(path, cookie_header)
    connected, _ = await comm.connect()
    assert connected
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await comm.disconnect()
    return message["code"]


async def snapshot_for(path: str, cookie_header: bytes | None = None) -> dict:
    comm = communicator(path, cookie_header)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    try:
        return await comm.receive_json_from(timeout=5)
    finally:
        await comm.disconnect()


def job_path(job) -> str:
    return f"/ws/jobs/{job.pk}/"


# --- who may watch ------------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_owner_gets_a_snapshot_of_a_queued_job_on_connect(make_job, owner, cookie, rq_redis):
    job = await sync_to_async(make_job)(epochs=2, steps_per_epoch=7)
    snap = await snapshot_for(job_path(job), await sync_to_async(cookie)(owner))
    assert snap["event"] == "snapshot" and snap["job"] == job.pk
    assert (snap["status"], snap["status_label"]) == ("queued", "Queued")
    assert (snap["epochs"], snap["total_steps"], snap["step"]) == (2, 14, 0)
    assert snap["queue"]["position"] == 0 and snap["queue"]["workers"] == 0
    assert snap["previews"] == [] and snap["losses"] == []
    # The page's state as the page renders it, e.g. the queue's text with its workers.
    assert 'id="queue-info">' in snap["html"] and "No worker is running right now" in snap["html"]
    assert 'id="job-status" class="status status-queued"' in snap["html"]


@pytest.mark.asyncio
async def test_it_refuses_a_private_job_to_others_and_anonymous_visitors_with_4404(
        make_job, other_user, cookie, rq_redis):
    job = await sync_to_async(make_job)()
    others = await sync_to_async(cookie)(other_user)
    assert await refused_with(job_path(job), others) == consumers.CLOSE_NOT_FOUND
    assert await refused_with(job_path(job)) == consumers.CLOSE_NOT_FOUND
    assert await refused_with(f"/ws/jobs/{job.pk + 1000}/") == consumers.CLOSE_NOT_FOUND  # no such job


@pytest.mark.asyncio
async def test_staff_may_watch_a_private_job_and_anyone_a_public_one(
        make_job, staff_user, other_user, cookie, rq_redis):
    private = await sync_to_async(make_job)()
    public = await sync_to_async(make_job)(visibility="public")
    staff = await sync_to_async(cookie)(staff_user)
    assert (await snapshot_for(job_path(private), staff))["job"] == private.pk
    assert (await snapshot_for(job_path(public), await sync_to_async(cookie)(other_user)))["job"] == public.pk
    assert (await snapshot_for(job_path(public)))["job"] == public.pk  # not logged in


@pytest.mark.asyncio
async def test_a_socket_opened_by_another_site_is_refused(make_job, owner, cookie, rq_redis):
    job = await sync_to_async(make_job)()
    comm = communicator(job_path(job), await sync_to_async(cookie)(owner), origin=b"https://evil.example")
    connected, _ = await comm.connect()
    assert not connected  # the origin check denies the handshake: the visitor's cookie is not used


@pytest.mark.asyncio
async def test_my_jobs_needs_a_login_and_carries_only_the_users_own_jobs(
        make_job, owner, other_user, cookie, rq_redis):
    mine = await sync_to_async(make_job)()
    theirs = await sync_to_async(make_job)(user=other_user)
    assert await refused_with("/ws/jobs/") == consumers.CLOSE_LOGIN_REQUIRED

    comm = communicator("/ws/jobs/", await sync_to_async(cookie)(owner))
    assert (await comm.connect(timeout=5))[0]
    snap = await comm.receive_json_from(timeout=5)
    assert [line["job"] for line in snap["jobs"]] == [mine.pk]
    # Cancelling both (in the web process): the owner's list hears of theirs only.
    await sync_to_async(jobs.cancel)(theirs)
    await sync_to_async(jobs.cancel)(mine)
    lines = [await comm.receive_json_from(timeout=5)]
    while lines[-1]["event"] != "cancelled" or not await comm.receive_nothing(timeout=0.3):
        lines.append(await comm.receive_json_from(timeout=5))
    await comm.disconnect()
    assert {line["job"] for line in lines} == {mine.pk}  # e.g. "queued": it moved up when theirs went
    assert (lines[-1]["status"], lines[-1]["status_label"]) == ("cancelled", "Cancelled")


# --- what a late page gets ----------------------------------------------------------------------------

def _run_two_epochs_by_hand(job: StyleJob, jpeg: bytes) -> None:
    """What a worker records and publishes for two epochs of 3 steps (without the engine)."""
    job.start(worker="test")
    for epoch in (1, 2):
        steps = range(3 * epoch - 2, 3 * epoch + 1)
        job.report_progress(epoch=epoch, step=steps[-1], eta_seconds=3.0, preview=jpeg)
        losses = [[s, 1.0 / s, 2.0 / s, 0.0, 3.0 / s] for s in steps]
        assert live.publish_progress(job, epoch=epoch, step=steps[-1], eta_seconds=3.0, losses=losses,
                                       preview_epoch=epoch)
    assert publisher.flush()  # sent (progress events do not wait: the engine's thread goes on)


@pytest.mark.asyncio
async def test_a_page_that_opens_mid_run_gets_every_preview_and_loss_so_far(
        make_job, owner, other_user, cookie, rq_redis, load_test_image):
    job = await sync_to_async(make_job)(epochs=3, steps_per_epoch=3)
    jpeg = images.encode_jpeg(images.to_uint8(load_test_image("tubingen.jpg", 64)))
    await sync_to_async(_run_two_epochs_by_hand)(job, jpeg)

    snap = await snapshot_for(job_path(job), await sync_to_async(cookie)(owner))
    assert (snap["status"], snap["epoch"], snap["step"], snap["eta_seconds"]) == ("running", 2, 6, 3.0)
    assert [p["epoch"] for p in snap["previews"]] == [1, 2]
    assert [p[0] for p in snap["losses"]] == [1, 2, 3, 4, 5, 6]
    assert snap["losses"][3] == [4, 0.25, 0.5, 0.0, 0.75]

    # The previews' URLs are checked like the job's page: the owner gets the JPEG, others a 404.
    owner_client, other_client = Client(), Client()
    await sync_to_async(owner_client.force_login)(owner)
    await sync_to_async(other_client.force_login)(other_user)
    url = snap["previews"][1]["url"]
    response = await sync_to_async(owner_client.get)(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == jpeg
    assert (await sync_to_async(other_client.get)(url)).status_code == 404
    missing = reverse("engine:preview", args=[job.pk, 3])
    assert (await sync_to_async(owner_client.get)(missing)).status_code == 404


def test_the_page_without_javascript_shows_the_previews_and_losses_so_far(
        make_job, owner_client, rq_redis, load_test_image):
    job = make_job(epochs=3, steps_per_epoch=3)
    _run_two_epochs_by_hand(job, images.encode_jpeg(images.to_uint8(load_test_image("tubingen.jpg", 64))))
    html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    for epoch in (1, 2):
        assert f'alt="Preview after epoch {epoch}"' in html
        assert reverse("engine:preview", args=[job.pk, epoch]) in html
    assert 'alt="Preview after epoch 3"' not in html
    assert '<tr><td>3</td><td>0.6667</td><td>0.3333</td><td>0.0000</td><td>1.0000</td></tr>' in html
    assert '<tr><td>6</td>' in html and '<tr><td>4</td>' not in html  # epoch ends only
    assert '<noscript><meta http-equiv="refresh"' in html
    assert "Epoch 2 of 3, step 6 of 9" in html


# --- events of a real job, from a real worker -----------------------------------------------------------

def _watch(sockets: dict[str, list], cookie_header: bytes, connected: threading.Event) -> None:
    """In a thread with its own event loop (one per process may receive from the channel layer):
    collect each socket's messages, {path: received}, until the job's end."""
    async def watch(path: str, received: list, ready: asyncio.Event):
        comm = communicator(path, cookie_header)
        assert (await comm.connect(timeout=10))[0]
        received.append(await comm.receive_json_from(timeout=10))
        ready.set()
        while received[-1]["event"] not in FINAL_EVENTS:
            received.append(await comm.receive_json_from(timeout=300))
        await comm.disconnect()

    async def watch_all():
        ready = {path: asyncio.Event() for path in sockets}
        tasks = [asyncio.create_task(watch(path, received, ready[path]))
                 for path, received in sockets.items()]
        await asyncio.gather(*(event.wait() for event in ready.values()))
        connected.set()
        await asyncio.gather(*tasks)

    try:
        asyncio.run(watch_all())
    finally:
        connected.set()


@pytest.mark.slow
def test_a_worker_running_a_job_streams_its_progress_to_the_page_and_the_list(
        make_job, owner, cookie, burst_worker):
    """The RQ worker runs in this thread (as RQ wants); the two sockets listen in another."""
    job = make_job(epochs=3, steps_per_epoch=8)
    page, listing = [], []
    connected = threading.Event()
    watcher = threading.Thread(target=_watch, args=({job_path(job): page, "/ws/jobs/": listing},
                                                    cookie(owner), connected))
    watcher.start()
    assert connected.wait(60) and page and listing
    jobs.enqueue(job)
    burst_worker()
    watcher.join(60)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error

    kinds = [e["event"] for e in page]
    assert kinds[0] == "snapshot" and kinds[-1] == "finished"
    assert "queued" in kinds and kinds.index("queued") < kinds.index("started") < kinds.index("progress")
    started = page[kinds.index("started")]  # the run table, as the owner's page renders it
    assert re.search(r'id="run-device">(CPU|GPU)', started["html"]) and 'id="run-worker">' in started["html"]
    assert 'id="run-network">vgg16<' in started["html"]
    progress = [e for e in page if e["event"] == "progress"]
    # Throttled (at most one per EVENT_INTERVAL, plus one per epoch), yet every step's losses arrive,
    # once. The bound is the run's own length, not the step count: on a loaded machine a step can
    # take longer than the interval, and then each step is rightly its own event.
    span = (progress[-1]["sent_at"] - progress[0]["sent_at"]) / 1000
    assert len(progress) <= job.epochs + span / EVENT_INTERVAL + 2, (len(progress), span)
    steps = [p[0] for e in progress + [page[-1]] for p in e["losses"]]
    assert steps == list(range(1, job.total_steps + 1))
    assert [e["preview"]["epoch"] for e in progress if e["preview"]] == [1, 2, 3]
    assert all(e["step"] <= e["total_steps"] and e["sent_at"] > 0 for e in progress)
    assert progress[-1]["eta_seconds"] == 0.0
    finished = page[-1]  # the end as a reload shows it: the result, its downloads, the finished time
    assert f'src="{reverse("engine:download", args=[job.pk, "display"])}"' in finished["html"]  # never the PNG
    assert set(re.findall(r'id="download-(\w+)"', finished["html"])) == {"png", "plot", "csv", "json"}
    assert 'id="run-finished">' in finished["html"] and 'id="delete-section"' in finished["html"]
    assert "losses" not in listing[-1] and listing[-1]["status"] == "succeeded"
    assert f'id="job-row-{job.pk}"' in listing[-1]["html"]
    assert f">{job.total_steps} / {job.total_steps} steps<" in listing[-1]["html"]
    assert [e["event"] for e in listing][-1] == "finished" and "progress" in [e["event"] for e in listing]
    # The history file holds the losses now; the Redis list of a finished job is gone.
    assert not queue.redis_connection().exists(live.losses_key(job))


# --- a Redis that is dead or hung ---------------------------------------------------------------------

def _point_channel_layer_at(settings, address: str) -> None:
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {
        **layer["CONFIG"], "hosts": [{**layer["CONFIG"]["hosts"][0], "address": address}]}}}


@pytest.mark.slow
def test_a_job_succeeds_when_the_channel_layers_redis_is_dead(make_job, burst_worker, settings, monkeypatch,
                                                              caplog):
    _point_channel_layer_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    attempts = []
    real_send_now = publisher._send_now

    async def counting_send_now(batch, clients):  # the real send, counted
        attempts.append(time.monotonic())
        return await real_send_now(batch, clients)

    monkeypatch.setattr(publisher, "_send_now", counting_send_now)
    publishes = []
    real_publish = live._publish
    monkeypatch.setattr(live, "_publish", lambda *a, **k: publishes.append(1) or real_publish(*a, **k))
    job = make_job(epochs=4, steps_per_epoch=10)
    jobs.enqueue(job)
    with caplog.at_level(logging.DEBUG, logger="engine.live.publisher"):
        burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "pausing" in r.message]
    assert len(warnings) == 1  # said once, not once per event
    # The pause after each failure (1 s, 2 s, 4 s, ...) means few tries, whatever the events.
    assert len(publishes) >= 2 + job.epochs
    assert 1 <= len(attempts) < len(publishes)
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(gap >= publisher.BACKOFF_FIRST * 0.9 for gap in gaps)


def test_a_hung_redis_costs_one_timeout_then_publishing_pauses(make_job, rq_redis, settings):
    with socket.socket() as hung:  # accepts connections (the kernel's backlog) and never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        _point_channel_layer_at(settings, f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
        job = make_job()
        job.cancel()
        started = time.monotonic()
        assert live.publish_final(job) is False
        first = time.monotonic() - started
        started = time.monotonic()
        assert live.publish_final(job) is False  # paused: not even tried
        second = time.monotonic() - started
    assert publisher.PUBLISH_TIMEOUT * 0.9 <= first < publisher.PUBLISH_TIMEOUT + 2
    assert second < 0.05


# --- the queue moving ----------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_a_waiting_jobs_page_hears_when_it_moves_up(make_job, owner, cookie, rq_redis):
    first = await sync_to_async(make_job)()
    second = await sync_to_async(make_job)()
    comm = communicator(job_path(second), await sync_to_async(cookie)(owner))
    assert (await comm.connect(timeout=5))[0]
    assert (await comm.receive_json_from(timeout=5))["queue"]["position"] == 1
    await sync_to_async(jobs.cancel)(first)
    moved = await comm.receive_json_from(timeout=5)
    await comm.disconnect()
    assert (moved["event"], moved["job"], moved["status"]) == ("queued", second.pk, "queued")
    assert moved["queue"]["position"] == 0


# --- in a real browser, against the platform's processes ------------------------------------------

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
def watching_page(tmp_path: Path):
    """A Chromium page that records the job page's changes (TIMELINE_SCRIPT)."""
    with chromium_context(tmp_path / "chromium-profile") as context:
        context.add_init_script(TIMELINE_SCRIPT)
        yield context.new_page()


def _submit_small_classic_job(page, base: str, images_dir: Path, *, epochs: int = 3, steps: int = 10,
                              publish: bool = False) -> None:
    sign_up(page, base, "watcher")
    page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
    page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
    page.select_option("select[name=mode]", "classic")
    page.select_option("select[name=preset]", "custom")
    page.fill("input[name=size]", "256")        # the form's smallest
    page.click("#advanced-settings summary")    # epochs and steps are advanced settings
    page.fill("input[name=epochs]", str(epochs))
    page.fill("input[name=steps_per_epoch]", str(steps))
    if publish:
        page.check("#id_publish")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))


@pytest.mark.slow
def test_the_job_page_shows_thumbnails_and_a_growing_loss_chart_before_the_result(
        live_platform: Platform, watching_page, images_dir: Path) -> None:
    """The job is submitted and both pages opened before any worker runs; the worker then holds the
    job after epoch 1 and after epoch 2 until the page shows that epoch, so the page sees the job
    grow however fast the machine."""
    from playwright.sync_api import expect

    page, platform, gate = watching_page, live_platform, live_platform.gate
    _submit_small_classic_job(page, platform.url, images_dir)
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    my_jobs = page.context.new_page()  # "My jobs" in a second tab, opened while the job waits
    my_jobs.goto(platform.url + "/jobs/")
    my_jobs.evaluate("window.__sameDocument = true")

    try:
        gate.hold(job_id, 12)  # 10 steps per epoch: held after epoch 1's event (and one step more)
        platform.start_worker("worker")
        gate.wait_held(job_id, 12, 240, explain=platform.logs)
        page.wait_for_function("document.querySelectorAll('#epoch-previews li').length >= 1", timeout=60_000)
        gate.hold(job_id, 22)
        gate.wait_held(job_id, 22, 240, explain=platform.logs)
        page.wait_for_function("document.querySelectorAll('#epoch-previews li').length >= 2", timeout=60_000)
        page.screenshot(path=artifact_path("browser-live-progress.png"), full_page=True)
        gate.release(job_id)
        expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
        expect(page.locator("#result-image")).to_be_visible()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{platform.logs()}") from None
    except Exception as exc:  # Playwright's TimeoutError: say what the server side did
        raise AssertionError(f"{exc}\n{platform.logs()}") from None
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
    expect(page.locator("#download-png")).to_be_visible()
    page.click("#job-details summary")  # the run's files and figures are under Details
    expect(page.locator("#download-csv")).to_be_visible()
    expect(page.locator("#run-seconds")).to_have_text(re.compile(r"^[1-9]\d* s$|^\d+ min"))  # the run's, not 0 s
    expect(page.locator("#cancel-job")).to_have_count(0)

    row = my_jobs.locator(f'.job-row[data-job-id="{job_id}"]')
    expect(row.locator(".job-status-cell")).to_have_text("Succeeded")
    expect(row.locator(".job-progress-cell")).to_have_text("30 / 30 steps")
    assert my_jobs.evaluate("window.__sameDocument") is True


# --- the end of a live run, as a reload shows it ------------------------------------------------------

# Every part of a classic job's page that a live page gets again at the end (engine.live.job_page.PARTS
# and classic mode's live state).
CLASSIC_END_PARTS = {"job-actions", "job-status", "result-slot", "job-end", "queue-info", "progress", "notify-slot",
                     "publish-slot", "run-table", "delete-slot", "epoch-previews", "loss-summary"}


def _shot(page, name: str) -> None:
    size = page.viewport_size
    page.screenshot(path=artifact_path(f"live-end-{name}-{size['width']}.png"), full_page=True)


@pytest.mark.slow
def test_a_page_open_through_a_run_ends_with_the_markup_a_reload_shows(
        live_platform: Platform, tmp_path: Path, images_dir: Path) -> None:
    """The owner watches a public classic job on a laptop and on a phone, a visitor without an
    account on a laptop, all from before the worker starts until the end; then each page's state
    parts (every part the final event carried) are compared with a reload's, as HTML."""
    from playwright.sync_api import expect

    platform, gate = live_platform, live_platform.gate
    with chromium_contexts(tmp_path / "owner-profile", tmp_path / "visitor-profile") as (owner, visitor):
        owner.add_init_script(LIVE_PARTS_SCRIPT)
        visitor.add_init_script(LIVE_PARTS_SCRIPT)
        laptop = owner.new_page()
        _submit_small_classic_job(laptop, platform.url, images_dir, epochs=2, steps=10, publish=True)
        job_url = laptop.url
        job_id = int(job_url.rstrip("/").rsplit("/", 1)[1])
        phone = owner.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        watcher = visitor.new_page()
        pages = {"owner": laptop, "owner-phone": phone, "visitor": watcher}
        for page in (phone, watcher):
            page.goto(job_url)
        for page in pages.values():
            expect(page.locator("#live-state")).to_have_text("· live")  # its snapshot came
            page.evaluate("window.__sameDocument = true")
        try:
            gate.hold(job_id, 12)  # after epoch 1: the pages mid-run, to look at
            platform.start_worker("worker")
            gate.wait_held(job_id, 12, 240, explain=platform.logs)
            expect(phone.locator("#epoch-previews li")).to_have_count(1, timeout=60_000)
            for name, page in pages.items():
                _shot(page, f"running-{name}")
            gate.release(job_id)
            for page in pages.values():
                expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
                page.wait_for_function("window.__parts.finished", timeout=30_000)
        except Exception as exc:  # AssertionError or Playwright's TimeoutError: say what the server did
            raise AssertionError(f"{exc}\n{platform.logs()}") from None

        # The live forms' CSRF token (the socket's own) is one Django takes: a POST with it is not refused.
        status = laptop.evaluate("""url => {
            const token = document.querySelector("#delete-job-form [name=csrfmiddlewaretoken]").value;
            const body = new FormData();
            body.append("csrfmiddlewaretoken", token);
            body.append("notify", "0");
            return fetch(url, {method: "POST", body: body, credentials: "same-origin", redirect: "manual"})
                .then(r => r.type === "opaqueredirect" ? 302 : r.status);
        }""", f"{platform.url}/jobs/{job_id}/notify/")
        assert status == 302, status  # 403 when the token is refused

        for name, page in pages.items():
            assert page.evaluate("window.__sameDocument") is True, name  # updated in place, never reloaded
            parts = page.evaluate("window.__parts.finished")
            assert set(parts) == CLASSIC_END_PARTS, (name, parts)
            page.locator("#result-image").evaluate("img => img.decode()")
            live = state_markup(page, parts)
            _shot(page, f"live-{name}")
            page.reload()
            page.locator("#result-image").evaluate("img => img.decode()")
            assert state_markup(page, parts) == live, name
            _shot(page, f"reload-{name}")

        # What each audience's end says: the owner's the Delete section, the finished time and where
        # it ran; the visitor's neither the forms nor where it ran.
        parts = sorted(CLASSIC_END_PARTS)
        mine, theirs = state_markup(laptop, parts), state_markup(watcher, parts)
        assert 'id="delete-section"' in mine["delete-slot"] and 'id="run-finished"' in mine["run-table"]
        assert 'id="run-worker"' in mine["run-table"] and 'id="download-png"' in mine["result-slot"]
        assert 'id="delete-section"' not in theirs["delete-slot"] and 'id="run-finished"' in theirs["run-table"]
        assert "run-worker" not in str(theirs) and "run-device" not in str(theirs) and "<form" not in str(theirs)
        assert 'width="256"' in mine["result-slot"]  # the result's size, as a reload reserves it


def hex_rgb(colour: str) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.mark.slow
def test_the_live_job_page_ends_as_a_reload_would_show_it(live_platform: Platform, tmp_path: Path,
                                                          images_dir: Path) -> None:
    """Issue 11's defects 1-4 on the live job page: (1) "Job N is queued." stayed while the job ran
    and after it succeeded; (2) after a live finish the publish box still said the job "goes into
    the gallery when it has finished"; (3) the live chart and the saved loss plot used different
    colours for the same terms; (4) the chart's x-axis showed fractional steps early in a run."""
    from playwright.sync_api import expect

    from engine.nst.history import SERIES_COLOURS

    platform, gate = live_platform, live_platform.gate
    with chromium_context(tmp_path / "chromium-profile") as context:
        page = context.new_page()
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the narrowest chart
        sign_up(page, platform.url, "watcher")
        page.set_input_files("input[name=content]", images_dir / "tubingen.jpg")
        page.set_input_files("input[name=style_1]", images_dir / "starry_night.jpg")
        page.select_option("select[name=mode]", "classic")
        page.select_option("select[name=preset]", "custom")
        page.fill("input[name=size]", "256")
        page.click("#advanced-settings summary")
        page.fill("input[name=epochs]", "2")
        page.fill("input[name=steps_per_epoch]", "10")
        page.check("#id_publish")
        page.click("#submit-job")
        page.wait_for_url(re.compile(r"/jobs/\d+/$"))
        job_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        expect(page.locator("#publish-state")).to_contain_text("when it has finished")
        try:
            gate.hold(job_id, 12)  # after epoch 1's event: at least 10 loss points on the chart
            platform.start_worker("worker")
            gate.wait_held(job_id, 12, 240, explain=platform.logs)
            chart = page.locator("#loss-chart")
            page.wait_for_function("Number(document.getElementById('loss-chart').dataset.points) >= 10",
                                   timeout=60_000)  # epoch 1's points (step 11's may follow)
            # 1: nothing on the page says the job is queued once it runs.
            expect(page.locator("#job-status")).to_have_attribute("data-status", "running")
            expect(page.get_by_text(re.compile(r"Job \d+ is queued"))).to_have_count(0)
            # 4: whole steps only on the x-axis (the chart notes the ticks it drew).
            ticks = [float(t) for t in chart.get_attribute("data-x-ticks").split(",")]
            assert ticks and all(t == int(t) for t in ticks), ticks
            # 3: the live chart's colours are the saved plot's.
            markers = page.locator(".u-legend .u-series .u-marker")
            expect(markers).to_have_count(4)  # style, content, TV, total
            colours = [markers.nth(i).evaluate("m => getComputedStyle(m).borderColor") for i in range(4)]
            assert colours == [hex_rgb(SERIES_COLOURS[k]) for k in ("style", "content", "tv", "total")]
            screenshots(page, "live-running")
            gate.release(job_id)
            expect(page.locator("#job-status")).to_have_attribute("data-status", "succeeded", timeout=120_000)
        except Exception as exc:  # AssertionError or Playwright's TimeoutError: say what the server did
            raise AssertionError(f"{exc}\n{platform.logs()}") from None
        # 1 and 2: after the live finish, as a reload shows it.
        expect(page.get_by_text(re.compile(r"Job \d+ is queued"))).to_have_count(0)
        expect(page.locator("#publish-state")).to_contain_text("in the gallery")
        expect(page.locator("#publish-state")).not_to_contain_text("when it has finished")
        live_text = page.inner_text("#publish-state")
        screenshots(page, "live-finished")
        page.reload()
        assert page.inner_text("#publish-state") == live_text
