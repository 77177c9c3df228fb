"""Staff running the queue from the admin: the job list and page, the actions (cancel, requeue
with resume, move to the high-priority queue, delete with files) on a real Redis and a real RQ
worker, and django-rq's dashboard, for staff only."""

from __future__ import annotations

import threading
import time

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.db import connections
from django.urls import reverse
from PIL import Image
from rq.job import Job

from engine.jobs import cleanup, queue
from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import images
from engine.storage.job_files import job_folder
from gallery.models import Artwork
from tests.browser import artifact_path

CHANGELIST = "admin:engine_stylejob_changelist"


def _act(client, action: str, jobs, **extra):
    data = {"action": action, "_selected_action": [str(job.pk) for job in jobs], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def _messages(response) -> str:
    return " | ".join(str(m) for m in response.context["messages"])




# --- the pages -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_job_list_shows_the_queue_with_filters_and_search(staff_client, make_job, other_user, rq_redis):
    mine = make_job(mode="fast")
    theirs = make_job(user=other_user, queue="high")
    theirs.start(worker="worker-7")
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    for column in ("owner", "mode", "size", "status", "queue", "worker", "device", "submitted", "ran",
                   "duration", "visibility"):
        assert f">{column}<" in html.lower(), column
    assert "worker-7" in html
    running = staff_client.get(reverse(CHANGELIST) + "?status__exact=running").context["cl"].result_list
    assert list(running) == [theirs]
    found = staff_client.get(reverse(CHANGELIST) + "?q=oscar").context["cl"].result_list
    assert list(found) == [theirs] and mine not in found


@pytest.mark.django_db
def test_the_job_page_shows_the_result_and_the_loss_plot(staff_client, make_job, burst_worker):
    job = make_job(epochs=1, steps_per_epoch=3)
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    html = staff_client.get(reverse("admin:engine_stylejob_change", args=[job.pk])).content.decode()
    png, display, plot = (reverse("engine:download", args=[job.pk, kind]) for kind in ("png", "display", "plot"))
    assert f'<a href="{png}?inline=1"><img src="{display}"' in html  # the display rendition, linked to the PNG
    assert f'<img src="{plot}?inline=1"' in html
    assert staff_client.get(reverse("engine:download", args=[job.pk, "plot"]) + "?inline=1").status_code == 200


@pytest.mark.django_db
def test_only_staff_reach_the_admin_and_the_queue_dashboard(client, other_client, staff_client, rq_redis):
    dashboard = reverse("django_rq:home")
    assert dashboard == "/admin/rq/"
    for c in (client, other_client):
        for url in (reverse("admin:index"), dashboard, reverse("django_rq:jobs", args=[0])):
            response = c.get(url)
            assert response.status_code == 302 and reverse("admin:login") in response["Location"], url
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert f'href="{dashboard}" id="queue-dashboard-link"' in index
    page = staff_client.get(dashboard)
    assert page.status_code == 200
    html = page.content.decode()
    assert "high" in html and "default" in html and "Workers" in html
    assert staff_client.get(reverse("django_rq:failed_jobs", args=[0])).status_code == 200


# --- cancel, requeue, prioritise ---------------------------------------------------------------------

@pytest.mark.django_db
def test_cancel_takes_queued_jobs_off_the_queue(staff_client, make_job, rq_redis):
    job = make_job()
    jobs.enqueue(job)
    response = _act(staff_client, "cancel_jobs", [job])
    assert "1 job(s) cancelled." in _messages(response)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and django_rq.get_queue("default").job_ids == []


@pytest.mark.django_db
def test_requeue_resumes_a_cancelled_classic_job_from_its_checkpoint_on_a_worker(
        staff_client, make_job, burst_worker, cancel_at_check, django_capture_on_commit_callbacks):
    job = make_job(epochs=4, steps_per_epoch=5)  # a checkpoint every 5 steps
    checks = cancel_at_check(job, polls=13)
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert (job.status, job.step) == (Status.CANCELLED, 12) and job.checkpoint

    checks["n"] = 0
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "requeue_jobs", [job])
    assert f"Requeued: {job.pk}." in _messages(response)
    assert django_rq.get_queue("default").job_ids == [job.rq_job_id]
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert checks["n"] == job.total_steps - 12  # only the steps after the checkpoint ran
    assert job.step == job.total_steps == 20


@pytest.mark.django_db
def test_requeue_leaves_queued_and_succeeded_jobs_alone(staff_client, make_job, rq_redis,
                                                        django_capture_on_commit_callbacks):
    waiting = make_job()
    done = make_job()
    done.start()
    # A real PNG: finish() writes the job's settings into it (issue 22).
    done.finish(image_png=images.encode_png(Image.new("RGB", (4, 4))), history=None, device="CPU", network="",
                seconds=1.0)
    failed = make_job()
    failed.fail("It broke.")
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "requeue_jobs", [waiting, done, failed])
    text = _messages(response)
    assert f"Requeued: {failed.pk}." in text and f"left as they are: {waiting.pk}, {done.pk}." in text
    statuses = dict(StyleJob.objects.values_list("pk", "status"))
    assert statuses == {waiting.pk: Status.QUEUED, done.pk: Status.SUCCEEDED, failed.pk: Status.QUEUED}


@pytest.mark.django_db
def test_moving_to_high_priority_moves_the_rq_job_and_the_worker_runs_it_first(
        staff_client, make_job, burst_worker):
    first, second = make_job(mode="fast"), make_job(mode="fast")
    jobs.enqueue(first)
    jobs.enqueue(second)
    response = _act(staff_client, "prioritise_jobs", [second])
    assert f"Moved to the high-priority queue: {second.pk}." in _messages(response)
    second.refresh_from_db()
    assert second.queue == "high"
    assert django_rq.get_queue("default").job_ids == [first.rq_job_id]
    assert django_rq.get_queue("high").job_ids == [second.rq_job_id]
    assert Job.fetch(second.rq_job_id, connection=rq_connection()).origin == "high"

    again = _act(staff_client, "prioritise_jobs", [second])
    assert f"left as they are: {second.pk}." in _messages(again)
    burst_worker()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Status.SUCCEEDED
    assert second.started_at < first.started_at  # the worker took the high queue first


def rq_connection():
    return queue.redis_connection()


@pytest.mark.django_db
def test_a_job_a_worker_already_took_is_not_moved(make_job, rq_redis):
    job = make_job()
    jobs.enqueue(job)
    django_rq.get_queue("default").pop_job_id()  # as a worker's dequeue does
    assert jobs.prioritise(job) is False
    job.refresh_from_db()
    assert job.queue == "default" and django_rq.get_queue("high").job_ids == []


# --- delete with files -----------------------------------------------------------------------------

def _folder_files(job: StyleJob) -> list[str]:
    try:
        return default_storage.listdir(job_folder(job))[1]
    except FileNotFoundError:
        return []


@pytest.mark.django_db
def test_delete_asks_first_then_removes_rows_files_thumbnails_and_rq_entries(
        staff_client, make_job, burst_worker, django_capture_on_commit_callbacks):
    job = make_job(mode="fast", visibility="public")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    artwork = Artwork.objects.get(job=job)
    files = _folder_files(job)
    assert {"content.png", "style-1.png", "result.png", "thumb-result.jpg", "thumb-content.jpg"} <= set(files)

    confirm = staff_client.post(reverse(CHANGELIST), {"action": "delete_selected",
                                                      "_selected_action": [str(job.pk)]})
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert StyleJob.objects.filter(pk=job.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "delete_selected", [job], post="yes")
    assert f"Deleted, with their files: {job.pk}." in _messages(response)
    assert not StyleJob.objects.filter(pk=job.pk).exists() and not Artwork.objects.filter(pk=artwork.pk).exists()
    assert _folder_files(job) == [] and not default_storage.exists(job_folder(job))
    assert not rq_connection().exists(f"rq:job:{job.rq_job_id}")


@pytest.mark.django_db(transaction=True)
def test_deleting_a_running_job_cancels_it_and_waits_for_its_worker(staff_client, make_job, burst_worker,
                                                                     monkeypatch):
    """The worker runs here (main thread, as RQ wants); staff delete the job from another thread
    while the engine waits before its step 10 of 200 (until the delete's cancel is in: the job
    cannot end first). The delete cancels it, waits until the worker has stopped (and saved its
    checkpoint), then removes the row and the whole folder."""
    job = make_job(epochs=4, steps_per_epoch=50)
    polls = {"n": 0}
    running = threading.Event()
    real_check = queue.cancel_requested

    def counting_check(redis, job_):
        polls["n"] += 1
        if polls["n"] == 10:
            running.set()
            deadline = time.monotonic() + 120
            while not real_check(redis, job_) and time.monotonic() < deadline:  # the cancel reached Redis
                time.sleep(0.02)
        return real_check(redis, job_)

    monkeypatch.setattr(queue, "cancel_requested", counting_check)
    # The worker's stop (its checkpoint saved) may take longer than the admin's 5 s on a loaded
    # machine; this test is about the order of things, not about that wait's length.
    monkeypatch.setattr(cleanup, "STOP_WAIT_SECONDS", 120.0)
    outcome = {}

    def staff_deletes():
        try:
            if running.wait(timeout=120):
                outcome["response"] = _act(staff_client, "delete_selected", [job], post="yes")
        finally:
            connections.close_all()

    deleter = threading.Thread(target=staff_deletes)
    deleter.start()
    jobs.enqueue(job)
    burst_worker()
    running.set()
    deleter.join()

    assert f"Deleted, with their files: {job.pk}." in _messages(outcome["response"])
    assert polls["n"] < 200  # stopped early: cancelled, not run to the end
    assert not StyleJob.objects.filter(pk=job.pk).exists()
    assert not default_storage.exists(job_folder(job))  # nothing written after the folder went
    assert django_rq.get_queue("default").failed_job_registry.count == 0  # the worker did not crash


@pytest.mark.slow
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
