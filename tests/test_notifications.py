"""Being told by e-mail when a job ends (engine.notifications): only when the owner asked for it (on
the form, or switched on the job's page while it waits), once, whether it succeeded or failed; a
mail server that refuses does not touch the job. Issue 24, finding 4: only to an address its owner
has confirmed, one summary per batch, and a cap of mails per address and day."""

from __future__ import annotations

import pytest
from django.urls import reverse

from engine.jobs import service as jobs
from engine.models import Batch, Status, StyleJob, VerifiedEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified(owner):
    """The owner has followed the link that confirms olivia@example.org."""
    VerifiedEmail.objects.create(user=owner, email=owner.email)
    return owner


@pytest.fixture
def post_job(owner_client, rq_redis, media_root, django_capture_on_commit_callbacks):
    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return owner_client.post(reverse("engine:submit"), data)
    return post


def test_a_job_submitted_with_the_box_ticked_sends_one_email_when_it_succeeds(
        post_job, job_form_data, burst_worker, mailoutbox, verified):
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


def test_no_email_unless_asked(post_job, job_form_data, burst_worker, mailoutbox, verified):
    assert post_job(job_form_data("fast")).status_code == 302
    burst_worker()
    assert StyleJob.objects.get().status == Status.SUCCEEDED
    assert mailoutbox == []


def test_a_failed_job_says_why(make_job, mailoutbox, verified):
    job = make_job()
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    assert jobs.fail(job, "The style image could not be read.")
    assert [m.subject for m in mailoutbox] == [f"Your style job #{job.pk} failed"]
    assert "The style image could not be read." in mailoutbox[0].body


def test_the_owner_switches_it_on_while_the_job_waits(owner_client, make_job, mailoutbox, verified):
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


def test_a_mail_server_that_is_not_there_does_not_touch_the_job(make_job, settings, verified):
    from tests.harness import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    job = make_job()
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    assert jobs.fail(job, "broken")
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error == "broken"


# --- issue 24, finding 4: mail flooding ---------------------------------------------------------------

def ended(job, message: str = "broken") -> None:
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    job.refresh_from_db()
    assert jobs.fail(job, message)


def test_nothing_is_mailed_to_an_address_its_owner_has_not_confirmed(make_job, mailoutbox, owner):
    ended(make_job())
    assert mailoutbox == []
    VerifiedEmail.objects.create(user=owner, email="someone-else@example.org")  # an address they had before
    ended(make_job())
    assert mailoutbox == []
    VerifiedEmail.objects.filter(user=owner).update(email=owner.email.upper())
    ended(make_job())
    assert len(mailoutbox) == 1


def test_a_batch_sends_one_summary_when_its_last_job_ends(make_job, mailoutbox, verified):
    batch = Batch.objects.create(owner=verified)
    made = [make_job(batch=batch) for _ in range(4)]
    StyleJob.objects.filter(batch=batch).update(notify_email=True)
    for job in made[:3]:
        job.refresh_from_db()
        assert jobs.fail(job, f"broken {job.pk}")
    assert mailoutbox == []  # one of its jobs still waits
    made[3].refresh_from_db()
    assert jobs.fail(made[3], "the last one")
    assert [m.subject for m in mailoutbox] == [f"Your batch #{batch.pk} has finished: 0 of 4 ready"]
    body = mailoutbox[0].body
    assert all(f"job #{job.pk}: failed" in body for job in made) and "the last one" in body
    # Its jobs ending again (requeued by staff) send nothing more.
    made[0].refresh_from_db()
    assert made[0].requeue() and jobs.fail(made[0], "again")
    assert len(mailoutbox) == 1


def test_mails_to_one_address_are_capped_per_day(make_job, mailoutbox, verified, settings):
    settings.NST_MAILS_PER_ADDRESS_PER_DAY = 3
    for _ in range(5):
        ended(make_job())
    assert len(mailoutbox) == 3
