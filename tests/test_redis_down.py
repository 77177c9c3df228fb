"""Pages that touch Redis while it is unreachable: a real redis-server on a free port, started for
each test, given the queues, then stopped (or the queues pointed at a port where nothing listens).
Every page must answer with a friendly message, never a 500 or a traceback, and work again once
Redis is back."""

from __future__ import annotations

import django_rq
import pytest
from django.http import HttpResponse
from django.urls import include, path, reverse

from engine.jobs import queue
from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from tests.harness import RedisServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def redis_process(tmp_path, settings):
    """A running private Redis (tests/harness.py) that the queues use; stop() stops it (SIGTERM,
    and nothing answers on its port any more), start() starts it again on the same port. Killed at
    the end if still running."""
    server = RedisServer(tmp_path / "redis").start()
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {name: {**config, "URL": server.url} for name, config in settings.RQ_QUEUES.items()}
    yield server
    server.kill()


def assert_friendly(response, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    html = response.content.decode()
    assert "Traceback" not in html and "Server Error" not in html and "Something went wrong" not in html
    return html


@pytest.mark.django_db(transaction=True)  # real commits: the enqueue runs on commit, as in production
def test_submitting_while_redis_is_down_keeps_the_job_and_says_the_queue_is_unreachable(
        owner_client, job_form_data, redis_process):
    redis_process.stop()
    response = owner_client.post(reverse("engine:submit"), job_form_data("fast"), follow=True)
    html = assert_friendly(response)
    job = StyleJob.objects.get()
    assert job.status == Status.FAILED
    assert "The job queue cannot be reached right now" in html and 'id="job-error"' in html
    assert "is queued" not in html  # no cheerful message above the failure
    # The uploads are kept with the failed job (not half a job: the rows and both files are there).
    assert job.content.storage.exists(job.content.name) and job.styles.count() == 1


def test_a_queued_jobs_page_while_redis_is_down_shows_no_estimate_but_a_message(
        owner_client, make_job, redis_process):
    job = make_job()
    redis_process.stop()
    html = assert_friendly(owner_client.get(reverse("engine:detail", args=[job.pk])))
    assert "The queue cannot be asked right now" in html


def test_cancelling_while_redis_is_down_cancels_the_job(owner_client, make_job, redis_process):
    job = make_job()
    jobs.enqueue(job)
    redis_process.stop()
    html = assert_friendly(owner_client.post(reverse("engine:cancel", args=[job.pk]), follow=True))
    assert f"Job {job.pk} is cancelled." in html
    job.refresh_from_db()
    assert job.status == Status.CANCELLED  # the row is the truth: no worker will start it


def test_the_admins_cancel_action_while_redis_is_down(staff_user, staff_client, make_job, redis_process):
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(*Permission.objects.filter(codename__in=("view_stylejob",
                                                                             "change_stylejob")))
    jobs = [make_job(), make_job()]
    redis_process.stop()
    response = staff_client.post(reverse("admin:engine_stylejob_changelist"),
                                 {"action": "cancel_jobs", "_selected_action": [j.pk for j in jobs]},
                                 follow=True)
    assert_friendly(response)
    assert set(StyleJob.objects.values_list("status", flat=True)) == {Status.CANCELLED}


def test_the_other_pages_do_not_need_redis(client, owner_client, make_job, redis_process):
    make_job()
    redis_process.stop()
    for c, url in ((client, reverse("home")), (owner_client, reverse("home")),
                   (owner_client, reverse("engine:my_jobs")), (owner_client, reverse("engine:submit"))):
        assert_friendly(c.get(url))


def test_everything_works_again_once_redis_is_back(owner_client, job_form_data, redis_process,
                                                   django_capture_on_commit_callbacks):
    redis_process.stop()
    redis_process.start()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("engine:submit"), job_form_data("fast"))
    job = StyleJob.objects.get()
    assert response.status_code == 302 and job.status == Status.QUEUED
    assert django_rq.get_queue("default").job_ids == [job.rq_job_id]
    html = assert_friendly(owner_client.get(reverse("engine:detail", args=[job.pk])))
    assert "next in the queue" in html


def test_an_unreachable_queue_fails_the_job_with_a_clear_message(owner_client, job_form_data, settings,
                                                                  django_capture_on_commit_callbacks):
    closed = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    settings.RQ_QUEUES = {name: {**config, "URL": closed} for name, config in settings.RQ_QUEUES.items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("engine:submit"), job_form_data("fast"))
    job = StyleJob.objects.get()
    assert response.status_code == 302
    assert job.status == Status.FAILED and "queue cannot be reached" in job.error
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert "queue cannot be reached" in page


# --- the net under views that do not catch Redis errors themselves ---------------------------------

def redis_probe(request):
    """A page that uses Redis without catching its errors (as a careless later page might)."""
    queue.redis_connection().ping()
    return HttpResponse("pong")


urlpatterns = [path("probe/", redis_probe), path("", include("nstsite.urls"))]


@pytest.mark.urls("tests.test_redis_down")
def test_an_uncaught_redis_error_becomes_a_friendly_503_page(owner_client, redis_process):
    assert owner_client.get("/probe/").content == b"pong"
    redis_process.stop()
    response = owner_client.get("/probe/")
    html = assert_friendly(response, status=503)
    assert 'id="queue-unavailable"' in html and response["Retry-After"] == "60"
    assert 'class="site-header"' in html  # the site's layout, with the user still logged in
