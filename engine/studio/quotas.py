"""Per-user quotas: how many jobs a user may have queued or running at once, and how large and
long each may be. Staff set them per user in the admin (engine.models.UserQuota); without a row
a user gets the model's defaults.

Every way of submitting a job uses the same checks (and clips one more):
- check_params(user, size, steps): the size and length of one job (`steps`: what its runner counts
  against max_steps, engine.runners); messages to show (the submission form shows them above the form).
- reserve_active_slot(user, new_jobs=n): call inside the transaction that creates the job(s). It
  locks the user's row (SELECT ... FOR UPDATE on PostgreSQL) before counting their active jobs, so
  two submissions racing for the last slot cannot both get it. Raises QuotaExceeded. A batch
  (several files submitted at once, engine.models.Batch) takes one slot of max_active_jobs, and
  each of its jobs counts against max_active_batch_jobs, all the user's batches together (issue
  24, finding 5: three batches of 20 photos gave 45 active jobs under a limit of 3). Its jobs
  still queue one by one, behind whatever was queued before them.
- clip_limits(user): the duration, resolution and frame count a clip may have
  (engine.nst.video_io.ClipLimits), and clip_max_bytes(user) its file size.
- check_active_jobs(user), check_storage(user): the early answers the admission gives before any
  upload is read (engine.studio.admission); the disk the user's jobs and kept uploads take is
  storage_use, shown on "My jobs".
- reserve_storage(user, incoming): the binding storage check, in the transaction that creates the
  jobs once their files are written, after reserve_active_slot has locked the user's row: what
  was stored plus what the submission brings must fit (issue 24, finding 6: one account reached
  912.8 MB against 500 MB through submissions that each passed the check before their files
  were counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.template.defaultfilters import filesizeformat

from engine.models import StyleJob, UserQuota
from engine.nst import schema
from engine.nst.video_io import ClipLimits
from engine.storage.folders import folder_bytes
from engine.storage.job_files import job_folder
from engine.studio import staged_uploads


class QuotaExceeded(Exception):
    """A submission over the user's quota; the message says which limit and what to do."""


def limits_for(user) -> UserQuota:
    """The user's quota row, or an unsaved one with the defaults."""
    return UserQuota.objects.filter(user=user).first() or UserQuota(user=user)


def check_params(user, *, size: int, steps: int, limits: UserQuota | None = None) -> list[str]:
    """Messages for the limits this job would exceed (empty: within the quota). `steps`: what its
    runner counts against max_steps (classic's epochs × steps per epoch; 0 for a mode without).
    `limits`: the user's quota when the caller has read it already."""
    limits = limits or limits_for(user)
    problems = []
    if size > limits.max_size:
        problems.append(size_problem(limits.max_size, size))
    if steps > limits.max_steps:
        problems.append(f"Your account can run classic jobs of up to {limits.max_steps} steps; this job has "
                        f"{steps} (epochs × steps per epoch). Please choose fewer epochs or steps.")
    return problems


def largest_size(limits: UserQuota, mode: str) -> int:
    """The largest size a user with these limits may ask for in `mode`: their quota, within what the
    mode's engine makes (the form's size field, the size a form opens at)."""
    return min(limits.max_size, int(schema.CONTROLS["size"].engine_bounds(mode)[1]))


def size_problem(max_size: int, size: int) -> str:
    return (f"Your account can make images of up to {max_size} px; this job asks for {size} px. Please choose "
            "a smaller size.")


def check_active_jobs(user, limits: UserQuota | None = None, *, new_jobs: int = 1) -> None:
    """Raise QuotaExceeded if the user already has as many queued or running submissions as
    allowed (a batch counts once), or if `new_jobs` (more than one: a batch) would take the jobs of
    their batches over max_active_batch_jobs. A cheap early answer (the submission view asks before
    it reads any upload); the binding check is reserve_active_slot's, in the transaction that
    creates the jobs. Two queries."""
    limits = limits or limits_for(user)
    allowed = limits.max_active_jobs
    counts = StyleJob.objects.for_user(user).active().aggregate(
        single=Count("pk", filter=Q(batch__isnull=True)), batches=Count("batch", distinct=True),
        batch_jobs=Count("pk", filter=Q(batch__isnull=False)))
    active = counts["single"] + counts["batches"]
    if active >= allowed:
        raise QuotaExceeded(
            f"You already have {active} job{'s' if active != 1 else ''} queued or running, the most your "
            f"account may have at once ({allowed}). Please wait until one finishes, or cancel one, and "
            "submit again.")
    batch_allowed = limits.max_active_batch_jobs
    if new_jobs > 1 and counts["batch_jobs"] + new_jobs > batch_allowed:
        waiting = counts["batch_jobs"]
        raise QuotaExceeded(
            f"This batch has {new_jobs} files; your batches may have {batch_allowed} jobs queued or running "
            f"at once" + (f", and {waiting} {'are' if waiting != 1 else 'is'} already" if waiting else "")
            + ". Please wait until some finish, or submit fewer files.")


def clip_limits(user, limits: UserQuota | None = None) -> ClipLimits:
    """What a clip of `user`'s may be (its file size: clip_max_bytes)."""
    limits = limits or limits_for(user)
    return ClipLimits(max_seconds=limits.max_clip_seconds, max_side=limits.max_clip_side,
                      max_frames=limits.max_clip_frames)


def clip_max_bytes(user, limits: UserQuota | None = None) -> int:
    """The largest clip file `user` may upload: their quota, within the server's NST_MAX_CLIP_MB."""
    limits = limits or limits_for(user)
    return min(limits.max_clip_mb * 2**20, settings.NST_MAX_CLIP_BYTES)


@dataclass(frozen=True)
class StorageUse:
    used: int     # bytes
    allowed: int  # bytes

    @property
    def full(self) -> bool:
        return self.used >= self.allowed


def storage_use(user, limits: UserQuota | None = None) -> StorageUse:
    """How much storage the files of the user's jobs and their kept uploads (engine.studio.staged_uploads)
    take, against their quota. Measured through the storage API each time (one query for the jobs'
    folders, then a listing per folder and a size per file): nothing to keep in step with the many
    places that write files, and it cannot drift from what is really there."""
    folders = [job_folder(job) for job in StyleJob.objects.filter(owner=user).only("uuid")]
    folders.append(staged_uploads.user_folder(user))
    allowed = (limits or limits_for(user)).max_storage_mb * 2**20
    return StorageUse(used=sum(folder_bytes(folder) for folder in folders), allowed=allowed)


def check_storage(user, limits: UserQuota | None = None) -> None:
    """Raise QuotaExceeded if the user's files already take all the space their account has
    (issue 14, finding 6). Asked before any upload is read, so it cannot know what the new jobs
    bring: reserve_storage, when they are created, counts that."""
    use = storage_use(user, limits)
    if use.full:
        raise QuotaExceeded(_full_message(use))


def reserve_storage(user, limits: UserQuota | None = None, *, incoming: int, leaving: int = 0) -> None:
    """Raise QuotaExceeded if the user's files, with the `incoming` bytes of a new submission just
    written, take more than their space (`leaving`: the kept uploads it used, deleted once it is
    stored); the caller then removes what it wrote (the job service does). Must run after
    reserve_active_slot in the same transaction: its lock on the user's row makes two submissions
    measure one after the other, each seeing the other's files."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_storage() must run inside the transaction that creates the job.")
    use = storage_use(user, limits)
    use = StorageUse(used=use.used - leaving, allowed=use.allowed)
    if use.used > use.allowed:
        before = use.used - incoming
        raise QuotaExceeded(_full_message(use) if before >= use.allowed else (
            f"These files need {filesizeformat(incoming)}, and your jobs already take {filesizeformat(before)} "
            f"of the {filesizeformat(use.allowed)} your account has. Delete jobs you no longer need (their pages "
            "have a Delete box), or send fewer or smaller files."))


def _full_message(use: StorageUse) -> str:
    return (f"Your jobs' files take {filesizeformat(use.used)}, all the space your account has "
            f"({filesizeformat(use.allowed)}). Private jobs are removed some time after they end "
            "(publish the ones you want to keep); please ask us if you need more space.")


def reserve_active_slot(user, limits: UserQuota | None = None, *, new_jobs: int = 1) -> None:
    """Raise QuotaExceeded if the user already has as many queued or running jobs as allowed, or
    `new_jobs` would take their batches' jobs over the batch limit. Must run inside the transaction
    that then creates the job(s) (see the module notes). `limits`: the user's quota when the caller
    has read it already (the submission's admission has)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve_active_slot() must run inside the transaction that creates the job.")
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    check_active_jobs(user, limits, new_jobs=new_jobs)
