"""Jobs on a real RQ SimpleWorker (burst mode, in this process) with the real engine and a real
Redis: submitted through the form, run, failed, cancelled."""

from __future__ import annotations

import json
import logging
import threading
import time

import django_rq
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from engine import tasks
from engine.jobs import queue
from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import Checkpoint, LossHistory
from engine.runners import classic, progress


def _submit(client, data, capture) -> StyleJob:
    with capture(execute=True):
        response = client.post(reverse("engine:submit"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return StyleJob.objects.latest("pk")


@pytest.mark.slow
@pytest.mark.django_db
def test_a_classic_job_from_the_form_runs_on_a_worker_and_succeeds(
        owner_client, job_form_data, burst_worker, django_capture_on_commit_callbacks):
    job = _submit(owner_client, job_form_data("classic"), django_capture_on_commit_callbacks)
    assert django_rq.get_queue("default").count == 1
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    with Image.open(job.result) as img:
        assert max(img.size) == 256
    history = LossHistory.from_dict(json.loads(job.history.read()))
    assert [row.step for row in history.rows] == list(range(1, 11))
    assert job.plot and job.device.startswith(("CPU", "GPU")) and job.network == "vgg16"
    assert job.run_seconds > 0 and job.worker

    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="result-image"' in page and ">Succeeded<" in page
    for kind, content_type in (("png", "image/png"), ("plot", "image/png"), ("csv", "text/csv"),
                               ("json", "application/json")):
        response = owner_client.get(reverse("engine:download", args=[job.pk, kind]))
        assert response.status_code == 200
        assert response["Content-Type"].startswith(content_type)
    csv = owner_client.get(reverse("engine:download", args=[job.pk, "csv"])).content.decode()
    assert csv.splitlines()[0] == "step,epoch,scale,content,style,tv,total,seconds"
    assert len(csv.splitlines()) == 11
    data = owner_client.get(reverse("engine:download", args=[job.pk, "json"])).json()
    assert (data["mode"], data["network"], data["params"]["epochs"]) == ("classic", "vgg16", 1)
    assert len(data["rows"]) == 10 and data["columns"][0] == "step"


@pytest.mark.django_db
def test_a_fast_job_from_the_form_runs_on_a_worker_and_succeeds(
        owner_client, job_form_data, burst_worker, django_capture_on_commit_callbacks):
    job = _submit(owner_client, job_form_data("fast", strength="0.8"), django_capture_on_commit_callbacks)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    with Image.open(job.result) as img:
        assert max(img.size) == 256
    assert job.network.startswith("magenta")
    history = json.loads(job.history.read())
    assert history["rows"] == [] and "forward pass" in history["events"][0]
    assert not job.plot  # no losses in fast mode, so no plot or CSV
    assert owner_client.get(reverse("engine:download", args=[job.pk, "csv"])).status_code == 404


@pytest.mark.django_db
def test_progress_is_saved_per_epoch_not_per_step_with_previews_and_checkpoints(
        make_job, burst_worker, rq_redis, monkeypatch):

    job = make_job(epochs=3, steps_per_epoch=10)
    checkpoints_seen = []
    real_report = StyleJob.report_progress

    def spy(self, **kwargs):  # the real method; records the checkpoint it leaves behind
        ok = real_report(self, **kwargs)
        if kwargs.get("checkpoint") is not None:
            assert Checkpoint.from_bytes(self.checkpoint.read()).step == kwargs["step"]
            checkpoints_seen.append(self.checkpoint.name.rsplit("/", 1)[1])
            assert len([p for p in job_folder(self).iterdir() if p.name.startswith("checkpoint")]) == 1
        return ok

    monkeypatch.setattr(StyleJob, "report_progress", spy)
    jobs.enqueue(job)
    with CaptureQueriesContext(connection) as queries:
        burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    updates = [q for q in queries if q["sql"].startswith('UPDATE "engine_stylejob"')]
    # start + one per epoch + finish, plus at most one a second in between: never one per step.
    assert len(updates) < job.total_steps
    assert len(updates) >= 2 + job.epochs
    assert job.preview.name.endswith("preview-e03.jpg")
    with Image.open(job.preview) as img:
        assert img.format == "JPEG" and max(img.size) <= progress.PREVIEW_SIDE
    # A checkpoint was saved per epoch (each replacing the last) and dropped once the run succeeded.
    assert checkpoints_seen == [f"checkpoint-e{epoch:02d}.npz" for epoch in (1, 2, 3)]
    assert not job.checkpoint
    assert not [p for p in job_folder(job).iterdir() if p.name.startswith("checkpoint")]


def job_folder(job):
    from django.conf import settings

    return settings.MEDIA_ROOT / "jobs" / job.uuid.hex


@pytest.mark.django_db
def test_a_failing_job_gets_the_engines_message_and_the_worker_runs_the_next_job(make_job, burst_worker):

    broken = make_job(mode="fast", content=b"\x89PNG\r\n\x1a\n this is not really a PNG")
    good = make_job(mode="fast")
    jobs.enqueue(broken)
    jobs.enqueue(good)
    burst_worker()
    broken.refresh_from_db()
    good.refresh_from_db()
    assert broken.status == Status.FAILED
    assert "damaged or incomplete" in broken.error
    assert good.status == Status.SUCCEEDED


@pytest.mark.django_db
def test_an_unexpected_error_gives_a_generic_message_and_logs_the_traceback(
        make_job, burst_worker, monkeypatch, caplog):

    def explode(*args, **kwargs):
        raise RuntimeError("internal detail the user must not see")

    monkeypatch.setattr(classic, "stylize_classic", explode)
    bad = make_job()
    good = make_job(mode="fast")
    jobs.enqueue(bad)
    jobs.enqueue(good)
    with caplog.at_level(logging.ERROR, logger="engine.tasks"):
        burst_worker()
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == Status.FAILED
    assert bad.error == tasks.GENERIC_ERROR
    assert "internal detail" in caplog.text and "Traceback" in caplog.text
    assert good.status == Status.SUCCEEDED
    assert django_rq.get_queue("default").failed_job_registry.count == 1  # kept for the admins


@pytest.mark.django_db
def test_cancelling_a_queued_job_takes_it_off_the_queue(
        owner_client, job_form_data, burst_worker, django_capture_on_commit_callbacks):
    job = _submit(owner_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    queue = django_rq.get_queue("default")
    assert queue.count == 1
    response = owner_client.post(reverse("engine:cancel", args=[job.pk]))
    assert response.status_code == 302
    assert queue.count == 0
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert job.started_at is None and not job.result


@pytest.mark.django_db
def test_a_worker_does_not_run_a_job_cancelled_after_it_was_dequeued(make_job, burst_worker):

    job = make_job(mode="fast")
    jobs.enqueue(job)
    StyleJob.objects.get(pk=job.pk).cancel()  # the row only: as if the cancel lost the race for the queue
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.started_at is None and not job.result


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_stops_the_engine_within_a_step_and_keeps_a_checkpoint(
        make_job, owner_client, burst_worker, monkeypatch):
    """The worker runs here (main thread, as RQ wants); the owner cancels from another thread once
    the engine has done 25 steps, and the engine waits before its 26th until the cancel is in (so
    the job cannot end first, however fast the machine)."""
    from engine.jobs import service as jobs

    job = make_job(epochs=20, steps_per_epoch=50)
    polls = {"n": 0}
    running = threading.Event()
    real_check = queue.cancel_requested

    def counting_check(redis, job_):  # the real check, counted: one call per engine step
        polls["n"] += 1
        if polls["n"] == 26:
            running.set()
            deadline = time.monotonic() + 120
            while not real_check(redis, job_) and time.monotonic() < deadline:  # the cancel reached Redis
                time.sleep(0.02)
        return real_check(redis, job_)

    monkeypatch.setattr(queue, "cancel_requested", counting_check)
    outcome = {}

    def owner_cancels():
        try:
            if running.wait(timeout=120):
                outcome["response"] = owner_client.post(reverse("engine:cancel", args=[job.pk]))
                outcome["polls_at_cancel"] = polls["n"]
        finally:
            connections.close_all()  # this thread's own connection

    canceller = threading.Thread(target=owner_cancels)
    canceller.start()
    jobs.enqueue(job)
    burst_worker()
    running.set()  # release the thread if the job ended before it was cancelled
    canceller.join()

    job.refresh_from_db()
    assert outcome["response"].status_code == 302
    assert job.status == Status.CANCELLED
    assert polls["n"] <= outcome["polls_at_cancel"] + 1  # the engine stopped within one step
    assert 25 <= job.step < job.total_steps
    checkpoint = Checkpoint.from_bytes(job.checkpoint.read())
    assert checkpoint.step == job.step
    assert not job.result
    assert not queue.redis_connection().exists(queue.cancel_key(job))  # the worker cleaned up


@pytest.mark.django_db
def test_a_cancel_mid_run_is_told_with_the_step_the_run_stopped_after(
        make_job, cancel_at_check, burst_worker, owner_client, monkeypatch):
    """At once "stopping" (the row's step is not where the run stops), then the worker's one number,
    which the page says too. (A cancel after the last step keeps the result: tests/test_job_lifecycle.py.)"""
    from engine.jobs import service as jobs
    from engine.live import events
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
