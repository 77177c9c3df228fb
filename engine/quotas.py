"""Per-user quotas: how many jobs a user may have queued or running at once, and how large and
long each may be. Staff set them per user in the admin (engine.models.UserQuota); without a row
a user gets the model's defaults.

Every way of submitting a job uses the same two checks:
- check_params(user, mode, size, total_steps): the size and length of one job; messages to show
  (the submission form shows them above the form).
- reserve_active_slot(user): call inside the transaction that creates the job. It locks the
  user's row (SELECT ... FOR UPDATE on PostgreSQL) before counting their active jobs, so two
  submissions racing for the last slot cannot both get it. Raises QuotaExceeded.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Mode, StyleJob, UserQuota


class QuotaExceeded(Exception):
    """A submission over the user's quota; the message says which limit and what to do."""


def limits_for(user) -> UserQuota:
    """The user's quota row, or an unsaved one with the defaults."""
    return UserQuota.objects.filter(user=user).first() or UserQuota(user=user)


def check_params(user, *, mode: str, size: int, total_steps: int, limits: UserQuota | None = None) -> list[str]:
    """Messages for the limits this job would exceed (empty: within the quota). `limits`: the user's
    quota when the caller has read it already."""
    limits = limits or limits_for(user)
    problems = []
    if size > limits.max_size:
        problems.append(f"Your account can make images of up to {limits.max_size} px; this job asks for "
                        f"{size} px. Please choose a smaller size.")
    if mode == Mode.CLASSIC and total_steps > limits.max_steps:
        problems.append(f"Your account can run classic jobs of up to {limits.max_steps} steps; this job has "
                        f"{total_steps} (epochs × steps per epoch). Please choose fewer epochs or steps.")
    return problems


def check_active_jobs(user, limits: UserQuota | None = None) -> None:
    """Raise QuotaExceeded if the user already has as many queued or running jobs as allowed. A
    cheap early answer (the submission view asks before it reads any upload); the binding check
    is reserve_active_slot's, in the transaction that creates the job."""
    allowed = (limits or limits_for(user)).max_active_jobs
    active = StyleJob.objects.for_user(user).active().count()
    if active >= allowed:
        raise QuotaExceeded(
            f"You already have {active} job{'s' if active != 1 else ''} queued or running, the most your "
            f"account may have at once ({allowed}). Please wait until one finishes, or cancel one, and "
            "submit again.")


def reserve_active_slot(user) -> None:
    """Raise QuotaExceeded if the user already has as many queued or running jobs as allowed.
    Must run inside the transaction that then creates the job (see the module notes)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_active_slot() must run inside the transaction that creates the job.")
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    check_active_jobs(user)
