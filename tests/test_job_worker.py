"""Jobs on a real RQ SimpleWorker (burst mode, in this process) with the real engine and a real
Redis: submitted through the form, run, failed, cancelled."""

from __future__ import annotations

import json
import logging
import threading

import django_rq
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from engine import jobs, queue, tasks
from engine.models import Status, StyleJob
from engine.nst import Checkpoint, LossHistory


def _submit(client, data, capture) -> StyleJob:
    with capture(execute=True):
        response = client.post(reverse("engine:submit"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return StyleJob.objects.latest("pk")


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
        assert img.format == "JPEG" and max(img.size) <= tasks.PREVIEW_SIDE
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

    monkeypatch.setattr(tasks, "stylize_classic", explode)
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
    the engine has done a few steps. 20 epochs x 50 steps would take about a minute."""

    job = make_job(epochs=20, steps_per_epoch=50)
    polls = {"n": 0}
    running = threading.Event()
    real_check = queue.cancel_requested

    def counting_check(redis, job_):  # the real check, counted: one call per engine step
        polls["n"] += 1
        if polls["n"] == 25:
            running.set()
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


def _worker_dies_running(job, rq_redis, worker_name: str) -> None:
    """What RQ's state looks like after a worker took `job`, started it and was killed: the job is
    off its queue, "started", and its StartedJobRegistry entry (its lease) expired long ago."""
    from rq.job import Job, JobStatus
    from rq.registry import StartedJobRegistry

    rq_queue = django_rq.get_queue(job.queue)
    assert rq_queue.remove(job.rq_job_id) == 1  # a worker took it ...
    assert job.start(worker=worker_name)         # ... started it, and died: nothing more happened
    rq_job = Job.fetch(job.rq_job_id, connection=rq_redis)
    rq_job.worker_name = worker_name
    rq_job.set_status(JobStatus.STARTED)
    rq_job.save()
    registry = StartedJobRegistry(queue=rq_queue)
    rq_redis.zadd(registry.key, {f"{job.rq_job_id}:{worker_name}-execution": 1})  # lapsed long ago


@pytest.mark.django_db
def test_a_job_whose_worker_died_goes_back_to_the_front_of_its_queue_then_fails_when_it_keeps_dying(
        make_job, rq_redis, settings):
    """RQ's maintenance pass finds the lapsed lease and calls the failure callback the job was
    enqueued with: the row goes back to "queued" with its checkpoint and RQ puts the same RQ job at
    the front of its queue, NST_JOB_MAX_RECOVERIES times; after that the job fails with a message.
    (tests/test_crash_safety.py does this with real worker processes and kill -9.)"""
    from django.core.files.base import ContentFile
    from rq.job import Job
    from rq.registry import FailedJobRegistry, StartedJobRegistry, clean_registries


    settings.NST_JOB_MAX_RECOVERIES = 1
    waiting, job = make_job(), make_job()
    jobs.enqueue(job)
    jobs.enqueue(waiting)
    rq_queue = django_rq.get_queue("default")
    _worker_dies_running(job, rq_redis, "doomed-1")
    job.checkpoint.save("checkpoint-e01.npz", ContentFile(b"the engine's state"), save=False)
    StyleJob.objects.filter(pk=job.pk).update(step=3, epoch=1, checkpoint=job.checkpoint.name)

    clean_registries(rq_queue)
    job.refresh_from_db()
    assert (job.status, job.error, job.worker, job.step) == (Status.QUEUED, "", "", 3)
    assert job.checkpoint.name.endswith("checkpoint-e01.npz")   # the next run resumes from it
    assert rq_queue.job_ids == [job.rq_job_id, waiting.rq_job_id]  # one entry, at the front
    assert Job.fetch(job.rq_job_id, connection=rq_redis).retries_left == 0
    assert StartedJobRegistry(queue=rq_queue).count == 0

    _worker_dies_running(job, rq_redis, "doomed-2")
    clean_registries(rq_queue)
    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, jobs.worker_lost_error(2))
    assert "stopped unexpectedly 2 times" in job.error
    assert rq_queue.job_ids == [waiting.rq_job_id]
    assert job.rq_job_id in FailedJobRegistry(queue=rq_queue)


@pytest.mark.django_db
def test_a_finished_job_whose_rq_entry_lapsed_is_not_run_again(make_job, rq_redis):
    """E.g. its worker finished the row but could not tell Redis (down at that moment)."""
    from rq.registry import clean_registries


    job = make_job()
    jobs.enqueue(job)
    _worker_dies_running(job, rq_redis, "unlucky")
    StyleJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    rq_queue = django_rq.get_queue("default")
    clean_registries(rq_queue)
    assert rq_queue.job_ids == []
    assert StyleJob.objects.get(pk=job.pk).status == Status.SUCCEEDED


@pytest.mark.django_db
def test_jobs_that_redis_lost_are_put_back_on_their_queues_by_the_sweep(make_job, rq_redis, burst_worker):
    """Rows RQ has no trace of (an enqueue lost after the commit; a running job whose registry
    entry Redis lost) are enqueued again once two sweeps have seen them so; jobs RQ knows about
    are left alone, and nothing gets two queue entries."""
    from datetime import timedelta

    from django.utils import timezone
    from rq.registry import StartedJobRegistry


    healthy, never_enqueued, lost_running, alive = make_job(), make_job(), make_job(), make_job()
    jobs.enqueue(healthy)
    for job, worker in ((lost_running, "gone"), (alive, "busy")):
        jobs.enqueue(job)
        assert django_rq.get_queue("default").remove(job.rq_job_id) == 1
        assert job.start(worker=worker)
    StyleJob.objects.filter(pk=lost_running.pk).update(progress_at=timezone.now() - timedelta(hours=1))
    registry = StartedJobRegistry(queue=django_rq.get_queue("default"))
    rq_redis.zadd(registry.key, {f"{alive.rq_job_id}:its-execution": 2e9})  # its lease is current

    assert jobs.recover_orphans(settle_seconds=0) == 0  # first sighting: maybe just in between
    assert jobs.recover_orphans(settle_seconds=0) == 2
    assert sorted(django_rq.get_queue("default").job_ids) == sorted(
        [healthy.rq_job_id, never_enqueued.rq_job_id, lost_running.rq_job_id])
    assert StyleJob.objects.get(pk=alive.pk).status == Status.RUNNING
    assert jobs.recover_orphans(settle_seconds=0) == 0  # nothing left to do

    burst_worker()
    for job in (healthy, never_enqueued, lost_running):
        job.refresh_from_db()
        assert job.status == Status.SUCCEEDED, job.error
