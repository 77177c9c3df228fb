"""Being told by e-mail when a job ends (engine.notifications): only when the owner asked for it (on
the form, or switched on the job's page while it waits), once, whether it succeeded or failed; a
mail server that refuses does not touch the job."""

from __future__ import annotations

import pytest
from django.urls import reverse

from engine.jobs import service as jobs
from engine.models import Status, StyleJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_job(owner_client, rq_redis, media_root, django_capture_on_commit_callbacks):
    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return owner_client.post(reverse("engine:submit"), data)
    return post


def test_a_job_submitted_with_the_box_ticked_sends_one_email_when_it_succeeds(
        post_job, job_form_data, burst_worker, mailoutbox):
    assert post_job(job_form_data("fast", notify_email="on")).status_code == 302
    job = StyleJob.objects.get()
    assert job.notify_email
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["olivia@example.org"] and mail.subject == f"Your picture is ready (job #{job.pk})"
    assert reverse("engine:detail", args=[job.pk]) in mail.body


def test_no_email_unless_asked(post_job, job_form_data, burst_worker, mailoutbox):
    assert post_job(job_form_data("fast")).status_code == 302
    burst_worker()
    assert StyleJob.objects.get().status == Status.SUCCEEDED
    assert mailoutbox == []


def test_a_failed_job_says_why(make_job, mailoutbox):
    job = make_job()
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    assert jobs.fail(job, "The style image could not be read.")
    assert [m.subject for m in mailoutbox] == [f"Your style job #{job.pk} failed"]
    assert "The style image could not be read." in mailoutbox[0].body


def test_the_owner_switches_it_on_while_the_job_waits(owner_client, make_job, mailoutbox):
    job = make_job()
    response = owner_client.post(reverse("engine:notify", args=[job.pk]), {"notify": "1"}, follow=True)
    assert "You will get an e-mail at olivia@example.org" in response.content.decode()
    job.refresh_from_db()
    assert job.notify_email
    owner_client.post(reverse("engine:notify", args=[job.pk]), {"notify": "0"})
    job.refresh_from_db()
    assert not job.notify_email
    jobs.fail(job, "broken")
    assert mailoutbox == []


def test_a_mail_server_that_is_not_there_does_not_touch_the_job(make_job, settings):
    from tests.harness import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    job = make_job()
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    assert jobs.fail(job, "broken")
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error == "broken"
