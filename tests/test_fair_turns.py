"""Fair turns between users (engine/jobs/turns.py): workers take waiting jobs in turns by user, so one
user's batch does not hold back another user's single job; staff's high queue still goes first; the
queue positions on the pages are the turn order. The worker is a real StyleWorker in this process
(burst mode), running the real engine; what happens "while a job runs" happens in its before_step
hook, at a known step, so nothing races the worker."""

from __future__ import annotations

import signal

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engine.costs import estimates
from engine.jobs import queue
from engine.jobs import service as jobs
from engine.jobs.worker import StyleWorker
from engine.models import Status, StyleJob

pytestmark = pytest.mark.django_db

BATCH = 20


@pytest.fixture
def submit(job_form_data, image_bytes, rq_redis, media_root, django_capture_on_commit_callbacks):
    """submit(client, photos=1) -> the jobs of one submission through the form (classic mode), queued
    as the site queues them (on commit), then shrunk to the quickest run (the form's smallest is
    256 px and 10 steps)."""
    def post(client, photos: int = 1) -> list[StyleJob]:
        files = [SimpleUploadedFile(f"photo-{n}.jpg", image_bytes("tubingen.jpg", 64), "image/jpeg")
                 for n in range(photos)]
        before = set(StyleJob.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("engine:submit"), job_form_data(content=files))
        assert response.status_code == 302, response.content.decode()[:2000]
        made = StyleJob.objects.exclude(pk__in=before).order_by("pk")
        made.update(size=64, params={**made[0].params, "size": 64, "steps_per_epoch": 2}, total_steps=2)
        return list(made)
    return post


@pytest.fixture
def run_worker(burst_worker, settings):
    """run_worker(max_jobs, on_step=None) -> the pks of the jobs the worker started, in order: a real
    StyleWorker in this process, in burst mode; on_step(job_pk, step) runs before each engine step
    of a job (the worker's before_step hook)."""
    def run(max_jobs: int, on_step=None) -> list[int]:
        started: list[int] = []

        class Worker(StyleWorker):
            def execute_job(self, job, queue):
                started.append(job.args[0])
                return super().execute_job(job, queue)

            def before_step(self, job_id: int, step: int) -> None:
                if on_step is not None:
                    on_step(job_id, step)

        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            django_rq.get_worker("high", "default", worker_class=Worker).work(burst=True, max_jobs=max_jobs)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return started
    return run


def _position_on_page(client, job: StyleJob) -> str:
    html = client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    return html.split('id="queue-position">', 1)[1].split("<", 1)[0]


def test_a_single_photo_submitted_while_a_batch_runs_starts_after_the_running_job(
        submit, run_worker, owner_client, other_client, owner, other_user, django_capture_on_commit_callbacks):
    a_jobs = submit(owner_client, photos=BATCH)
    assert len(a_jobs) == BATCH and all(j.batch_id == a_jobs[0].batch_id for j in a_jobs)
    b_jobs: list[StyleJob] = []

    def while_a_runs(job_pk: int, step: int) -> None:
        # User B sends one photo while the worker is in A's first job.
        if job_pk == a_jobs[0].pk and step == 1 and not b_jobs:
            b_jobs.extend(submit(other_client))
            # Its page says it is next, and A's second job now waits behind it.
            assert _position_on_page(other_client, b_jobs[0]) == "1"
            assert _position_on_page(owner_client, a_jobs[1]) == "2"
            assert _position_on_page(owner_client, a_jobs[2]) == "3"

    started = run_worker(max_jobs=3, on_step=while_a_runs)
    assert started == [a_jobs[0].pk, b_jobs[0].pk, a_jobs[1].pk]
    assert StyleJob.objects.get(pk=b_jobs[0].pk).status == Status.SUCCEEDED
    assert StyleJob.objects.filter(batch=a_jobs[0].batch, status=Status.QUEUED).count() == BATCH - 2


def test_a_single_photo_queued_behind_a_whole_batch_runs_second(submit, run_worker, owner_client, other_client):
    a_jobs = submit(owner_client, photos=BATCH)
    [b_job] = submit(other_client)
    # Nobody has had a turn yet: A's first job, then B's, then the rest of A's batch.
    assert django_rq.get_queue("default").job_ids[:3] == [a_jobs[0].rq_job_id, b_job.rq_job_id, a_jobs[1].rq_job_id]
    assert estimates.estimate_queue(b_job).position == 1
    assert [pk for pk, _, _ in estimates.estimate_queued_jobs(4)] == [a_jobs[0].pk, b_job.pk, a_jobs[1].pk,
                                                                      a_jobs[2].pk]
    assert run_worker(max_jobs=2) == [a_jobs[0].pk, b_job.pk]


def test_users_take_turns_in_rounds_and_each_keeps_their_own_order(make_job, rq_redis, other_user, staff_user,
                                                                   django_user_model):
    third = django_user_model.objects.create_user("tess", "tess@example.org", "x")
    a = [make_job() for _ in range(3)]
    b = [make_job(user=other_user) for _ in range(2)]
    c = [make_job(user=third)]
    for job in a + b + c:
        jobs.enqueue(job)
    default = django_rq.get_queue("default")
    assert default.job_ids == [j.rq_job_id for j in (a[0], b[0], c[0], a[1], b[1], a[2])]
    # A worker takes A's first job; A is now the last to have had a turn, so in each round A comes
    # after B and C, who have not had one yet.
    assert default.pop_job_id() == a[0].rq_job_id
    queue.record_turn(a[0])
    late = make_job(user=third)
    jobs.enqueue(late)
    assert default.job_ids == [j.rq_job_id for j in (b[0], c[0], a[1], b[1], late, a[2])]
    # A newcomer goes before A in the first round too.
    newcomer = django_user_model.objects.create_user("nina", "nina@example.org", "x")
    first = make_job(user=newcomer)
    jobs.enqueue(first)
    assert default.job_ids[:4] == [b[0].rq_job_id, c[0].rq_job_id, first.rq_job_id, a[1].rq_job_id]
    # Staff's queue still goes first, whatever the turns.
    urgent = make_job(user=staff_user, queue="high")
    jobs.enqueue(urgent)
    assert [pk for pk, _, _ in estimates.estimate_queued_jobs(2)] == [urgent.pk, b[0].pk]


def test_cancel_requeue_and_prioritise_keep_the_turns(make_job, rq_redis, other_user, staff_user):
    a = [make_job() for _ in range(3)]
    b = make_job(user=other_user)
    for job in [*a, b]:
        jobs.enqueue(job)
    default = django_rq.get_queue("default")
    assert default.job_ids == [a[0].rq_job_id, b.rq_job_id, a[1].rq_job_id, a[2].rq_job_id]

    assert jobs.cancel(a[0])  # a waiting job leaves its queue
    assert default.job_ids == [b.rq_job_id, a[1].rq_job_id, a[2].rq_job_id]
    assert estimates.estimate_queue(a[2]).position == 2
    a[0].refresh_from_db()
    assert jobs.requeue(a[0])  # back at its owner's turn: their last, after their other jobs
    jobs.enqueue(a[0])  # what the requeue's on-commit does
    assert default.job_ids == [b.rq_job_id, a[1].rq_job_id, a[2].rq_job_id, a[0].rq_job_id]

    assert jobs.prioritise(a[2])  # staff move it up: the high queue, at its owner's turn there
    assert django_rq.get_queue("high").job_ids == [a[2].rq_job_id]
    assert [pk for pk, _, _ in estimates.estimate_queued_jobs(10)] == [a[2].pk, b.pk, a[1].pk, a[0].pk]


def test_the_new_job_estimate_waits_for_the_jobs_before_its_owners_turn(make_job, rq_redis, other_user):
    from engine.costs.estimates import _ahead_of_new_job

    a = [make_job() for _ in range(5)]
    for job in a:
        jobs.enqueue(job)
    assert [w.pk for w in _ahead_of_new_job("default", other_user.pk)] == [a[0].pk]
    assert [w.pk for w in _ahead_of_new_job("default", a[0].owner_id)] == [j.pk for j in a]
    assert len(_ahead_of_new_job("default", None)) == 5
