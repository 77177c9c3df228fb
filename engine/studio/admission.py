"""Admission: the cheap checks of a submission, in one step, before any upload is decoded (issue 14:
a user at their quota made the server decode four 50 MP images on every try).

    limits = quotas.limits_for(user)          # read once per request; the form takes the same row
    refusal = admit(request, limits)          # None: go on and validate the form

In order: the active-jobs quota (a batch's files counted against the batch limit too), the
storage quota, the submission rate (counted only for submissions the quotas let through), then the
pixel budget: the pixels decoding the whole submission's images will hold (every content photo of
a batch and the style images, a JPEG at the reduced scale libjpeg decodes it at), read from their
headers against settings.NST_MAX_SUBMISSION_PIXELS (issue 24, finding 5: a batch of 21 × 50 MP
PNGs was counted 50 MP at a time and decoded 1,050 MP, 17 s of CPU, in one POST). Clips have their
own limits, also for the submission as a whole (engine.studio.forms).

The active-jobs check here is the early answer; the binding one is the slot the job service
reserves, under a row lock, in the transaction that creates the jobs (engine.jobs.service.submit).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from engine.models import UserQuota
from engine.nst.classic_params import MAX_STYLES
from engine.studio import quotas
from engine.studio.content_files import header_pixels, is_clip, stored_max_side
from nstsite.request_limits import rate_limits

STYLE_FIELDS = tuple(f"style_{slot}" for slot in range(1, MAX_STYLES + 1))


@dataclass(frozen=True)
class Refusal:
    """Why a submission is not taken; `status` and `retry_after` for the HTTP answer, `code` for a
    program's (api.problems): "quota", "rate" or "pixels"."""

    message: str
    status: int = 200             # the page again, with the message above the form
    retry_after: int | None = None
    code: str = "quota"


def admit(request: HttpRequest, limits: UserQuota) -> Refusal | None:
    """The refusal of this submission by `request.user` (whose quota is `limits`), or None."""
    try:
        quotas.check_active_jobs(request.user, limits, new_jobs=max(1, len(request.FILES.getlist("content"))))
        quotas.check_storage(request.user, limits)
    except quotas.QuotaExceeded as exc:
        return Refusal(str(exc))
    rate = rate_limits.count(request, "submit_user", "submit_ip")
    if rate is not None:
        return Refusal(rate.message, status=429, retry_after=rate.retry_after, code="rate")
    problem = pixel_budget_problem(request.FILES, stored_max_side(limits.max_size))
    return Refusal(problem, code="pixels") if problem else None


def pixel_budget_problem(files, kept_side: int) -> str:
    """The message when the submission's images would decode to more pixels than one submission
    may bring (see the module notes); "" when within it. Files too large or unreadable are left to
    the form's own messages."""
    uploads = [files.get(name) for name in STYLE_FIELDS]
    uploads += [upload for upload in files.getlist("content") if not is_clip(upload)]
    total = sum(header_pixels(upload, kept_side) for upload in uploads)
    budget = settings.NST_MAX_SUBMISSION_PIXELS
    if total <= budget:
        return ""
    return (f"Together these images have {total / 1e6:.0f} megapixels to decode; one submission may bring at "
            f"most {budget / 1e6:.0f}. Please scale some of them down (a job uses at most {kept_side} px of "
            "each side), or send fewer at once, and submit again.")
