"""E-mail to a job's owner when it ends (succeeded or failed), if they asked for it (the form's
"E-mail me when it has finished" box, or the switch on the job's page: StyleJob.notify_email).

Sent through Django's e-mail framework from the worker, on engine.signals' job_succeeded and
job_failed: the console backend by default (the message is printed in the worker's log), SMTP when
DJANGO_EMAIL_HOST is set (README, "Environment variables"). The link in the message is built from
NST_SITE_URL. A message that cannot be sent is logged; the job's outcome stays as it is.

Issue 24, finding 4 (a batch with notifications on, to an address signed up by someone else, was
a mail flood): only to an address its owner has confirmed (engine.email_verification); a batch
sends one summary when its last job ends, not a mail per job; every mail counts against the
address's caps of the day (engine.mail_cap).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from engine import email_verification, mail_cap
from engine.models import Batch, Status, StyleJob


def _url(name: str, pk: int) -> str:
    return settings.NST_SITE_URL.rstrip("/") + reverse(name, args=[pk])


def message_for(job: StyleJob) -> tuple[str, str]:
    """(subject, body) of the e-mail about a job that has ended."""
    url = _url("engine:detail", job.pk)
    name = job.owner.get_username()
    if job.status == Status.SUCCEEDED:
        subject = f"Your picture is ready (job #{job.pk})"
        body = (f"Hello {name},\n\nyour style job #{job.pk} has finished. See and download the result here:\n"
                f"{url}\n")
    else:
        subject = f"Your style job #{job.pk} failed"
        body = (f"Hello {name},\n\nyour style job #{job.pk} could not be finished:\n\n    {job.error}\n\n"
                f"Its page: {url}\n")
    body += ("\nYou get this e-mail because you asked to be told when this job ends; it is the only one "
             "about this job.\n")
    return subject, body


def batch_message_for(batch_id: int, jobs: list[StyleJob]) -> tuple[str, str]:
    """(subject, body) of the one e-mail about a batch whose jobs have all ended."""
    done = sum(job.status == Status.SUCCEEDED for job in jobs)
    others = len(jobs) - done
    subject = f"Your batch #{batch_id} has finished: {done} of {len(jobs)} ready"
    lines = [f"  job #{job.pk}: {job.get_status_display().lower()}"
             + (f" ({job.error})" if job.status == Status.FAILED and job.error else "") for job in jobs]
    body = (f"Hello {jobs[0].owner.get_username()},\n\nall the jobs of your batch #{batch_id} have ended: "
            f"{done} succeeded" + (f", {others} did not" if others else "") + ".\n\n" + "\n".join(lines)
            + f"\n\nSee and download them here:\n{_url('engine:batch', batch_id)}\n\nYou get this e-mail because "
            "you asked to be told when this batch ends; it is the only one about this batch.\n")
    return subject, body


def job_ended(sender, job: StyleJob, **kwargs) -> None:
    """job_succeeded / job_failed receiver. Reads the row again: the owner may have switched the
    e-mail on or off while the job ran (the worker's copy predates that)."""
    if job.batch_id is not None:
        _batch_job_ended(job.batch_id)
        return
    current = StyleJob.objects.filter(pk=job.pk, notify_email=True).select_related("owner").first()
    if current is not None:
        _send(current.owner, *message_for(current))


def _batch_job_ended(batch_id: int) -> None:
    """The batch's summary, once its last job has ended, if its owner asked about any of its jobs.
    Each job's end is committed before this reads the others, so of two jobs ending at once at
    least the later one sees both ended; the conditional UPDATE lets only one of them send."""
    jobs = list(StyleJob.objects.filter(batch_id=batch_id).select_related("owner").order_by("pk"))
    if not any(job.notify_email for job in jobs) or any(job.is_active for job in jobs):
        return
    if Batch.objects.filter(pk=batch_id, summary_sent_at__isnull=True).update(summary_sent_at=timezone.now()):
        _send(jobs[0].owner, *batch_message_for(batch_id, jobs))


def _send(owner, subject: str, body: str) -> None:
    """To the owner's address if they confirmed it, within the day's caps (see the module notes)."""
    if owner.email and email_verification.is_verified(owner):
        mail_cap.send(owner.email, subject, body)
