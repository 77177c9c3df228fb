"""POST /api/v1/jobs/: the pages' submission path, for a program (docs/architecture.md, "A new API
field"). In order, as engine.views.submit does it:

1. the `Idempotency-Key` (api.idempotency): a retry gets the jobs already made;
2. `settings_from` (a result PNG): its settings fill in the fields the request does not send
   (engine.studio.settings_from), as dropping it on the page's form does;
3. the API's own webhook fields (api.webhooks.fields), checked before anything else is;
4. the admission (engine.studio.admission: active jobs, storage, rate, pixel budget), before any
   upload is decoded;
5. the same form (engine.studio.forms.StyleJobForm), with the same messages;
6. engine.jobs.service.submit, and the webhook given to the new jobs, in one transaction.

A refusal at any step is a problem (api.problems) with the page's message; nothing was made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.http import QueryDict
from rest_framework.response import Response

from api import idempotency
from api.problems import problem
from api.webhooks import triggers
from api.webhooks.fields import WebhookFields
from engine.jobs import service as jobs
from engine.models import StyleJob
from engine.studio import admission, quotas, settings_from
from engine.studio.forms import StyleJobForm
from engine.views import STORAGE_FAILED

logger = logging.getLogger(__name__)

SETTINGS_FILE = "settings_from"


@dataclass
class Made:
    jobs: list[StyleJob]
    replayed: bool = False   # an idempotent retry: the jobs of an earlier request


def form_errors(form) -> dict:
    """{field: [{"message", "code"}]}: the form's refusals as a program reads them."""
    return form.errors.get_json_data()


def refused_form(request, form) -> Response:
    errors = form_errors(form)
    messages = [e["message"] for name in sorted(errors, key=lambda n: n != "__all__") for e in errors[name]]
    return problem(request, 400, "invalid-submission", " ".join(messages) or "The job was not created.",
                   errors=errors)


def _fields_with_settings(request, fields: QueryDict, files) -> QueryDict | Response:
    """The request's fields, with those of a `settings_from` PNG where the request sends none."""
    upload = files.pop(SETTINGS_FILE, [None])[0]
    if upload is None:
        return fields
    try:
        found = settings_from.from_file(upload)
    except settings_from.NoSettings as exc:
        return problem(request, 400, "invalid-submission", str(exc),
                       errors={SETTINGS_FILE: [{"message": str(exc), "code": "no_settings"}]})
    merged = fields.copy()
    for name, value in settings_from.as_form_data(found.fields).items():
        if name not in merged:
            merged[name] = value
    return merged


def create(request) -> Made | Response:
    """The jobs of this request (see the module notes), or the problem that refuses it."""
    user = request.user
    fields, files = request.POST.copy(), request.FILES.copy()
    try:
        claim = idempotency.claim(user, request.headers.get("Idempotency-Key", "")[:idempotency.MAX_KEY],
                                  idempotency.fingerprint(fields, files))
    except idempotency.KeyReused:
        return problem(request, 422, "idempotency-key-reused", "This Idempotency-Key was used with other fields "
                       "or files; use a new key for a new request.")
    except idempotency.KeyInUse:
        return problem(request, 409, "idempotency-key-in-use", "A request with this Idempotency-Key is still "
                       "being handled. Try again in a moment.", headers={"Retry-After": "5"})
    if isinstance(claim, list):
        found = list(StyleJob.objects.filter(pk__in=claim, owner=user).order_by("pk"))
        if not found:
            return problem(request, 409, "conflict", "The jobs made with this Idempotency-Key have been deleted.")
        return Made(found, replayed=True)
    try:
        outcome = _create(request, fields, files)
    except BaseException:
        claim.release()
        raise
    if isinstance(outcome, Response):
        claim.release()
    else:
        claim.done([job.pk for job in outcome.jobs])
    return outcome


def _create(request, fields: QueryDict, files) -> Made | Response:
    user = request.user
    fields = _fields_with_settings(request, fields, files)
    if isinstance(fields, Response):
        return fields
    hook = WebhookFields(fields)
    if not hook.is_valid():
        return refused_form(request, hook)
    limits = quotas.limits_for(user)
    form = StyleJobForm(fields, files, user=user, limits=limits,
                        upload_refusals=getattr(request._request, "upload_refusals", None))
    refusal = admission.admit(request, limits)  # before any upload is decoded
    if refusal is not None:
        if refusal.code == "rate":
            return problem(request, 429, "rate-limited", refusal.message,
                           headers={"Retry-After": str(refusal.retry_after)})
        if refusal.code == "quota":
            return problem(request, 409, "quota-exceeded", refusal.message)
        return problem(request, 400, "invalid-submission", refusal.message,
                       errors={"__all__": [{"message": refusal.message, "code": refusal.code}]})
    if not form.is_valid():
        return refused_form(request, form)
    try:
        with transaction.atomic():
            made = jobs.submit(user, form.submission, limits=limits)
            if hook.cleaned_data["webhook_url"]:
                triggers.attach(made, hook.cleaned_data["webhook_url"], hook.cleaned_data["webhook_events"])
    except quotas.QuotaExceeded as exc:
        return problem(request, 409, "quota-exceeded", str(exc))
    except OSError:  # the disk: jobs.submit has removed what it wrote
        logger.exception("Could not store the files of a new job (API)")
        return problem(request, 503, "service-unavailable", STORAGE_FAILED, headers={"Retry-After": "60"})
    return Made(made)
