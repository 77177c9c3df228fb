"""Remove what the disk need not keep (engine.storage.retention): old private jobs, the previews and
checkpoints of ended jobs, folders without a job, expired kept uploads. The workers run the same
every NST_RETENTION_EVERY_MINUTES; this is for doing it now, or from cron with that set to 0.

    python manage.py prune_jobs --dry-run     # list what would go, and how much space that is
    python manage.py prune_jobs               # remove it
    python manage.py prune_jobs --private-days 30 --files-days 2
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.template.defaultfilters import filesizeformat

from engine.storage import retention
from engine.studio import staged_uploads


class Command(BaseCommand):
    help = "Remove old private jobs, previews and checkpoints of ended jobs, and job folders without a job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be removed.")
        parser.add_argument("--private-days", type=int, default=settings.NST_PRUNE_PRIVATE_DAYS, metavar="N",
                            help="Remove private jobs that ended more than N days ago "
                                 "(default: NST_PRUNE_PRIVATE_DAYS, %(default)s).")
        parser.add_argument("--files-days", type=int, default=settings.NST_PRUNE_FILES_DAYS, metavar="N",
                            help="Remove previews and checkpoints of jobs that ended more than N days ago "
                                 "(default: NST_PRUNE_FILES_DAYS, %(default)s).")

    def handle(self, *args, dry_run: bool, private_days: int, files_days: int, **options) -> None:
        if private_days < 1 or files_days < 1:
            self.stderr.write("--private-days and --files-days must be at least 1.")
            raise SystemExit(2)
        todo = retention.plan(private_days=private_days, files_days=files_days)
        for line in todo.lines():
            self.stdout.write(("would remove " if dry_run else "removing ") + line)
        summary = (f"{len(todo.old_private)} old private jobs, {sum(map(len, todo.run_only_files.values()))} "
                   f"previews and checkpoints, {len(todo.orphan_folders)} folders without a job: "
                   f"{filesizeformat(todo.bytes)}")
        if dry_run:
            self.stdout.write(f"Dry run: {summary} would be removed.")
            return
        deleted = retention.prune(todo)
        staged_uploads.purge_expired()
        left = sorted({job.pk for job in todo.old_private} - set(deleted))
        still = f" Jobs still stopping, left for the next run: {left}." if left else ""
        self.stdout.write(f"Removed {summary}.{still}")
