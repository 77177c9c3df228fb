"""What the disk keeps, and for how long (issue 14, finding 6: nothing ever removed old jobs,
previews or left-over checkpoints). The workers run it (run_due, from every worker's maintenance
pass, done by one of them every NST_RETENTION_EVERY_MINUTES) and so does `manage.py prune_jobs`.
Three kinds of removal, each computed first (plan()) so --dry-run shows exactly what a real run
does (prune()):

- old private jobs: ended (succeeded, failed or cancelled) more than `private_days` ago and not
  public: row and folder, as the admin deletes them (engine.jobs.cleanup). Public jobs stay.
- run-only files of jobs that ended more than `files_days` ago: the epoch previews (for watching
  a run) and checkpoints (for resuming one; a failed or cancelled job requeued after that starts
  again from the beginning). Their fields are emptied in the same transaction, so no row points at
  a file that is gone.
- orphaned folders: jobs/<name>/ without a job row, older than ORPHAN_GRACE (a new job's files are
  written just before its row). Deleting a row removes its folder (remove_job_folder, also when
  the row goes with its user), so these are what an interrupted deletion or a worker still
  writing for a deleted job left.

and the uploads kept for refused submissions once they expire (engine.studio.staged_uploads).

Why in the workers' maintenance pass, not an RQ scheduled job (issue 24, finding 6: prune_jobs was
scheduled by neither scripts/run nor docker-compose, so it never ran): every deployment runs
workers already, and their maintenance pass already runs every NST_WORKER_MAINTENANCE_SECONDS on
each of them and outlives a Redis restart. RQ's scheduler would need a worker started with
--with-scheduler and a job that enqueues its own next run, which a Redis that lost its last writes
loses for good. A key in Redis that expires with the period (engine.jobs.queue.once_per) makes one
worker of many do it; a failed pass is tried again a period later. It runs between two jobs, and
costs a listing of the job folders: seconds, not minutes, on a site of thousands of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine.jobs import cleanup, queue
from engine.models import FINAL_STATUSES, StyleJob, Visibility
from engine.storage.folders import delete_folder, folder_bytes, newest_change, walk
from engine.storage.job_files import RUN_ONLY_FILES, job_folder
from engine.studio import staged_uploads

JOBS_ROOT = "jobs"
ORPHAN_GRACE = timedelta(days=1)


@dataclass
class Plan:
    old_private: list[StyleJob] = field(default_factory=list)
    run_only_files: dict[int, list[str]] = field(default_factory=dict)  # job pk -> storage names
    orphan_folders: list[str] = field(default_factory=list)
    bytes: int = 0  # what all of it takes on disk

    def lines(self) -> list[str]:
        """One line per thing to remove, for the command's output."""
        out = [f"job {job.pk} (private, {job.status}, ended {job.finished_at:%Y-%m-%d}, {job.owner})"
               for job in self.old_private]
        out += [name for names in self.run_only_files.values() for name in names]
        out += [f"{folder}/ (no job)" for folder in self.orphan_folders]
        return out


def _ended_before(cutoff: datetime):
    return StyleJob.objects.filter(status__in=FINAL_STATUSES, finished_at__lt=cutoff)


def plan(*, private_days: int, files_days: int, now: datetime | None = None) -> Plan:
    now = now or timezone.now()
    result = Plan()
    result.old_private = list(_ended_before(now - timedelta(days=private_days))
                              .exclude(visibility=Visibility.PUBLIC).select_related("owner").order_by("pk"))
    result.bytes += sum(folder_bytes(job_folder(job)) for job in result.old_private)
    doomed = {job.pk for job in result.old_private}
    # Only jobs whose row still names a preview or checkpoint: a job whose run-only files are gone
    # is not listed again on every run.
    for job in (_ended_before(now - timedelta(days=files_days)).exclude(pk__in=doomed)
                .filter(~Q(preview="") | ~Q(checkpoint="")).only("pk", "uuid").order_by("pk")):
        folder = job_folder(job)
        files = [f for f in walk(folder) if f.name.count("/") == folder.count("/") + 1
                 and RUN_ONLY_FILES.match(f.name.rsplit("/", 1)[1])]
        result.run_only_files[job.pk] = [f.name for f in files]
        result.bytes += sum(f.size for f in files)
    result.orphan_folders = _orphan_folders(now)
    result.bytes += sum(folder_bytes(folder) for folder in result.orphan_folders)
    return result


def _orphan_folders(now: datetime) -> list[str]:
    try:
        names = default_storage.listdir(JOBS_ROOT)[0]
    except FileNotFoundError:
        return []
    known = {uuid.hex for uuid in StyleJob.objects.values_list("uuid", flat=True)}
    # A folder's age is its newest file's: object storage has no folders, only names with a prefix.
    return sorted(f"{JOBS_ROOT}/{name}" for name in names if name not in known
                  and (newest_change(f"{JOBS_ROOT}/{name}") or now) < now - ORPHAN_GRACE)


def prune(todo: Plan) -> list[int]:
    """Carry the plan out. The ids of old private jobs that were deleted (one still held by a
    worker is left for the next run, as engine.jobs.cleanup does)."""
    deleted = cleanup.delete_jobs(todo.old_private).deleted if todo.old_private else []
    if todo.run_only_files:
        with transaction.atomic():
            # Only where the job is still ended: one requeued meanwhile keeps its files.
            still_ended = list(StyleJob.objects.select_for_update()
                               .filter(pk__in=list(todo.run_only_files), status__in=FINAL_STATUSES)
                               .values_list("pk", flat=True))
            StyleJob.objects.filter(pk__in=still_ended).update(preview="", checkpoint="")
            names = [name for pk in still_ended for name in todo.run_only_files[pk]]
            transaction.on_commit(partial(_delete_files, names))
    for folder in todo.orphan_folders:
        delete_folder(folder)
    return deleted


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def remove_job_folder(sender, instance: StyleJob, **kwargs) -> None:
    """post_delete of a StyleJob, however it goes (the admin, prune_jobs, its owner's account
    being deleted): its folder goes once the deletion has committed. (engine.jobs.cleanup also
    removes it; deleting a folder that is gone does nothing.)"""
    transaction.on_commit(partial(delete_folder, job_folder(instance)))


def run_due() -> bool:
    """Prune with the settings' periods and remove expired kept uploads, if no worker has done so
    in the last NST_RETENTION_EVERY_MINUTES (0: never, prune_jobs from cron instead). Whether it
    ran. Called by every worker's maintenance pass (engine.jobs.worker)."""
    every = settings.NST_RETENTION_EVERY_MINUTES * 60
    if not every or not queue.once_per("retention", every):
        return False
    prune(plan(private_days=settings.NST_PRUNE_PRIVATE_DAYS, files_days=settings.NST_PRUNE_FILES_DAYS))
    staged_uploads.purge_expired()
    return True
