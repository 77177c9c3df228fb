"""Queue position and ETA of a queued job, estimated from recent runs of similar jobs, with a
fixed number of queries however long the queue is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rq import Worker

from engine.costs import estimates
from engine.live import updates as live
from engine.models import Status, StyleJob

pytestmark = pytest.mark.django_db


def _succeeded(make_job, seconds: float, **kwargs) -> StyleJob:
    job = make_job(**kwargs)
    StyleJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, run_seconds=seconds,
                                              finished_at=timezone.now())
    return job


def test_run_time_comes_from_similar_recent_jobs():
    # The calibrated model (engine.costs.cost_model) scaled by the median of measured / predicted over
    # recent runs of the mode: one slow run does not count much.
    estimator = estimates.RunTimeEstimator([("classic", 512, 300, 100.0), ("classic", 512, 300, 120.0),
                                        ("classic", 512, 300, 500.0), ("fast", 512, 1, 2.0)])
    assert estimator.estimate("classic", 512, 300) == pytest.approx(120.0)
    # Unseen size: the same ratio on the model's prediction for it, which grows with the pixels.
    assert estimator.estimate("classic", 1024, 300) > 1.5 * 120.0
    # Nothing known about the mode at all: the calibration alone, which grows with the work.
    empty = estimates.RunTimeEstimator([])
    assert empty.estimate("classic", 1024, 500) > empty.estimate("classic", 256, 30) > 0


def test_position_counts_the_jobs_a_worker_takes_first(make_job, staff_user):
    first, second = make_job(), make_job()
    urgent = make_job(user=staff_user, queue="high")
    mine = make_job()
    assert estimates.estimate_queue(first).position == 1      # the staff job goes first
    assert estimates.estimate_queue(second).position == 2
    assert estimates.estimate_queue(urgent).position == 0
    assert estimates.estimate_queue(mine).position == 3
    first.cancel()
    assert estimates.estimate_queue(mine).position == 2


def test_eta_adds_up_the_jobs_ahead_and_the_running_ones_per_worker(make_job, rq_redis,
                                                                     django_assert_max_num_queries):
    shape = dict(size=256, epochs=3, steps_per_epoch=10)
    from engine.models import params_dict
    from engine.nst.classic_params import ClassicParams

    predicted = estimates.RunTimeEstimator([]).estimate("classic", 256, 30, params_dict(ClassicParams(**shape)))
    for factor in (0.8, 1.2, 1.0):  # recent runs: the median took what the calibration says
        _succeeded(make_job, factor * predicted, **shape)
    running = make_job(**shape)
    running.start()
    StyleJob.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(seconds=0.4 * predicted))
    ahead = [make_job(**shape) for _ in range(5)]
    mine = make_job(**shape)

    worker = Worker(["default"], connection=rq_redis, name="test-worker")
    worker.register_birth()
    try:
        with django_assert_max_num_queries(3):  # however many jobs are queued or running
            estimate = estimates.estimate_queue(mine)
    finally:
        worker.register_death()
    assert estimate.position == len(ahead)
    assert estimate.workers == 1
    assert estimate.run_seconds == pytest.approx(predicted)
    # What is left of the running job, then the 5 ahead, on one worker. The queue counts jobs by
    # mode, size and steps (one query, however long it is): each as the model's usual shape of them.
    each = estimates.RunTimeEstimator([]).estimate("classic", 256, 30)
    assert estimate.wait_seconds == pytest.approx(each - 0.4 * predicted + 5 * each, abs=0.5)
    assert estimate.finish_seconds == pytest.approx(estimate.wait_seconds + predicted)


def test_without_workers_the_page_says_so(owner_client, make_job, rq_redis):
    make_job()
    job = make_job()
    html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'id="queue-position">2<' in html
    assert "No worker is running right now" in html


def test_the_page_shows_an_eta_when_a_worker_runs(owner_client, make_job, rq_redis):
    job = make_job()
    worker = Worker(["default"], connection=rq_redis, name="test-worker-2")
    worker.register_birth()
    try:
        html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    finally:
        worker.register_death()
    assert 'id="queue-eta"' in html


def test_every_waiting_job_gets_its_place_in_the_queue_in_three_queries(
        make_job, staff_user, rq_redis, django_assert_max_num_queries):
    running = make_job()
    running.start(worker="test")
    waiting = [make_job() for _ in range(4)]
    urgent = make_job(user=staff_user, queue="high")
    with django_assert_max_num_queries(3):  # however many jobs wait
        queued = estimates.estimate_queued_jobs(live.QUEUE_UPDATES)
    assert [(pk, e.position) for pk, _, e in queued] == [
        (urgent.pk, 0), *((job.pk, i) for i, job in enumerate(waiting, 1))]
    assert [owner for _, owner, _ in queued] == [staff_user.pk] + [job.owner_id for job in waiting]
    assert all(e.workers == 0 and e.wait_seconds is None for _, _, e in queued)  # no worker yet
