"""E-mail to a job's owner when it ends (succeeded or failed), if they asked for it (the form's
"E-mail me when it has finished" box, or the switch on the job's page: StyleJob.notify_email).

Sent through Django's e-mail framework from the worker, on engine.signals' job_succeeded and
job_failed: the console backend by default (the message is printed in the worker's log), SMTP when
DJANGO_EMAIL_HOST is set (README, "Environment variables"). The link in the message is built from
NST_SITE_URL. A message that cannot be sent is logged; the job's outcome stays as it is.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from engine.models import Status, StyleJob

logger = logging.getLogger(__name__)


def message_for(job: StyleJob) -> tuple[str, str]:
    """(subject, body) of the e-mail about a job that has ended."""
    url = settings.NST_SITE_URL.rstrip("/") + reverse("engine:detail", args=[job.pk])
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


def job_ended(sender, job: StyleJob, **kwargs) -> None:
    """job_succeeded / job_failed receiver. Reads the row again: the owner may have switched the
    e-mail on or off while the job ran (the worker's copy predates that)."""
    current = (StyleJob.objects.filter(pk=job.pk, notify_email=True).select_related("owner").first())
    if current is None or not current.owner.email:
        return
    subject, body = message_for(current)
    try:
        send_mail(subject, body, None, [current.owner.email])
    except Exception:  # noqa: BLE001 - SMTP refusals, timeouts, DNS: none of them may touch the job
        logger.exception("Could not e-mail the owner of job %s", job.pk)
