"""Requeueing stopped jobs (engine.jobs.service.requeue): a classic job resumes from its checkpoint on
a real RQ SimpleWorker with the real engine and a real Redis, and nothing is ever run twice at once."""

from __future__ import annotations

import json

import django_rq
import pytest
from django.core.files.base import ContentFile
from rq.job import Job, JobStatus

from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import LossHistory


def _history(job: StyleJob) -> LossHistory:
    job.history.open("rb")
    try:
        return LossHistory.from_dict(json.loads(job.history.read()))
    finally:
        job.history.close()


@pytest.mark.django_db
def test_a_cancelled_classic_job_requeued_resumes_from_its_checkpoint_and_finishes(
        make_job, burst_worker, cancel_at_check, django_capture_on_commit_callbacks):
    job = make_job(epochs=4, steps_per_epoch=5)          # 20 steps, a checkpoint every 5
    checks = cancel_at_check(job, polls=13)   # cancelled before step 13
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    stopped_at = job.step
    assert stopped_at == 12 and job.checkpoint

    checks["n"] = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.requeue(job) is True
    job.refresh_from_db()
    assert (job.status, job.error, job.finished_at, job.step) == (Status.QUEUED, "", None, stopped_at)
    burst_worker()
    job.refresh_from_db()

    assert job.status == Status.SUCCEEDED, job.error
    assert checks["n"] == job.total_steps - stopped_at    # the second run did only the missing steps
    steps = [row.step for row in _history(job).rows]
    assert steps == list(range(1, job.total_steps + 1))  # one history, every step exactly once
    assert not job.checkpoint and job.result


@pytest.mark.django_db
def test_a_requeued_job_without_checkpoint_starts_again_from_zero(
        make_job, burst_worker, django_capture_on_commit_callbacks):
    job = make_job(epochs=1, steps_per_epoch=3)
    assert job.cancel()  # cancelled while queued: no run, no checkpoint
    StyleJob.objects.filter(pk=job.pk).update(step=2, epoch=1)  # stale progress must not survive

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.requeue(job, queue_name="high") is True
    job.refresh_from_db()
    assert (job.status, job.queue, job.step, job.epoch) == (Status.QUEUED, "high", 0, 0)
    assert job.rq_job_id in django_rq.get_queue("high").job_ids
    burst_worker()
    job.refresh_from_db()
    assert (job.status, job.step) == (Status.SUCCEEDED, 3)


@pytest.mark.django_db
def test_an_unreadable_checkpoint_costs_its_steps_not_the_job(
        make_job, burst_worker, django_capture_on_commit_callbacks):
    job = make_job(epochs=1, steps_per_epoch=3)
    job.checkpoint.save("checkpoint-e01.npz", ContentFile(b"not a checkpoint"), save=False)
    job.save()
    assert job.cancel()

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.requeue(job)
    burst_worker()
    job.refresh_from_db()
    assert (job.status, job.step) == (Status.SUCCEEDED, 3), job.error


@pytest.mark.django_db
def test_only_failed_or_cancelled_jobs_can_be_requeued(make_job, django_capture_on_commit_callbacks):
    queued, finished = make_job(), make_job()
    StyleJob.objects.filter(pk=finished.pk).update(status=Status.SUCCEEDED)
    finished.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert jobs.requeue(queued) is False
        assert jobs.requeue(finished) is False
    assert callbacks == []  # nothing enqueued
    assert StyleJob.objects.get(pk=finished.pk).status == Status.SUCCEEDED


@pytest.mark.django_db
def test_a_cancelled_run_that_has_not_stopped_yet_cannot_be_requeued(
        make_job, rq_redis, django_capture_on_commit_callbacks):
    """Its worker still holds the RQ job (status "started"): a second run would overlap the first."""
    job = make_job()
    jobs.enqueue(job)
    job.start(worker="busy")
    Job.fetch(job.rq_job_id, connection=rq_redis).set_status(JobStatus.STARTED)
    assert job.cancel()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(jobs.RequeueRefused, match="still stopping"):
            jobs.requeue(job)
    assert callbacks == []
    assert StyleJob.objects.get(pk=job.pk).status == Status.CANCELLED
