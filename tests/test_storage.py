"""Disk has a bound per user and old files go (issue 14, finding 6: each job kept its inputs, jobs
finished fast enough that the active-jobs quota barely slowed anyone, and nothing ever removed old
jobs, previews or left-over checkpoints). The storage quota: engine.studio.quotas.check_storage and
storage_use ("My jobs"); retention: engine/storage/retention.py and `manage.py prune_jobs`."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from engine.models import Status, StyleJob, UserQuota, Visibility
from engine.nst import images
from engine.storage.job_files import epoch_checkpoint_name, job_folder, preview_name, write_job_file

MB = 2**20


def ended(job: StyleJob, *, days_ago: float, status: str = Status.SUCCEEDED, run_files: bool = False) -> StyleJob:
    """The job as if it had ended `days_ago` days ago; with an epoch preview and a checkpoint left
    on disk and named by its row when `run_files`."""
    changes = {"status": status, "finished_at": timezone.now() - timedelta(days=days_ago)}
    if run_files:
        changes["preview"] = write_job_file(job, preview_name(1), b"jpeg")
        changes["checkpoint"] = write_job_file(job, epoch_checkpoint_name(1), b"npz")
    StyleJob.objects.filter(pk=job.pk).update(**changes)
    return StyleJob.objects.get(pk=job.pk)


def folder_exists(job: StyleJob) -> bool:
    return os.path.isdir(default_storage.path(job_folder(job)))


def files_of(job: StyleJob) -> list[str]:
    return sorted(default_storage.listdir(job_folder(job))[1])


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_jobs", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_my_jobs_shows_the_space_the_users_jobs_take(owner, owner_client, make_job):
    job = make_job()
    write_job_file(job, "result.png", b"\0" * (3 * MB))
    UserQuota.objects.create(user=owner, max_storage_mb=10)
    html = owner_client.get(reverse("engine:my_jobs")).content.decode()
    assert 'id="storage-use"' in html and "of 10.0\xa0MB" in html and "3.0\xa0MB" in html
    assert 'id="storage-full"' not in html


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_a_user_whose_jobs_fill_their_space_is_refused_before_any_upload_is_decoded(
        owner, owner_client, make_job, job_form_data, monkeypatch, rq_redis):
    job = make_job()
    ended(job, days_ago=0)
    write_job_file(job, "result.png", b"\0" * (2 * MB))
    UserQuota.objects.create(user=owner, max_storage_mb=2)
    decoded = []
    real = images.open_image
    monkeypatch.setattr(images, "open_image", lambda source, **kw: decoded.append(source) or real(source, **kw))
    response = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast"))
    assert response.status_code == 200
    assert "all the space your account has (2.0\xa0MB)" in response.content.decode()
    assert decoded == [] and StyleJob.objects.count() == 1
    assert 'id="storage-full"' in owner_client.get(reverse("engine:my_jobs")).content.decode()
    # Within the quota again (more space), the same submission goes through.
    UserQuota.objects.filter(user=owner).update(max_storage_mb=20)
    assert owner_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_prune_jobs_removes_old_private_jobs_run_files_and_orphaned_folders(make_job, rq_redis):
    old_private = ended(make_job(), days_ago=100)
    old_public = ended(make_job(visibility=Visibility.PUBLIC), days_ago=100, run_files=True)
    recent_private = ended(make_job(), days_ago=2, run_files=True)
    cancelled = ended(make_job(), days_ago=10, status=Status.CANCELLED, run_files=True)
    running = make_job()
    StyleJob.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    running_files = [write_job_file(running, preview_name(1), b"jpeg"),
                     write_job_file(running, epoch_checkpoint_name(1), b"npz")]
    orphan = "jobs/0123456789abcdef0123456789abcdef"
    default_storage.save(f"{orphan}/result.png", io.BytesIO(b"left behind"))
    day_old = time.time() - 2 * 86400
    os.utime(default_storage.path(f"{orphan}/result.png"), (day_old, day_old))  # a folder is as old as its newest file
    fresh = "jobs/fedcba9876543210fedcba9876543210"  # its row may be about to be written
    default_storage.save(f"{fresh}/content.png", io.BytesIO(b"new"))

    before = {job.pk: files_of(job) for job in (old_private, old_public, recent_private, cancelled, running)}
    dry = prune("--dry-run")
    assert f"would remove job {old_private.pk} " in dry and f"{orphan}/ (no job)" in dry
    assert f"{job_folder(cancelled)}/{preview_name(1)}" in dry and fresh not in dry
    assert StyleJob.objects.count() == 5
    assert {job.pk: files_of(job) for job in (old_private, old_public, recent_private, cancelled, running)} == before

    out = prune()
    assert "Removed 1 old private jobs, 4 previews and checkpoints, 1 folders without a job" in out
    assert not StyleJob.objects.filter(pk=old_private.pk).exists() and not folder_exists(old_private)
    for job in (old_public, cancelled):  # kept, without the files only a run needs
        job.refresh_from_db()
        assert (job.preview.name, job.checkpoint.name) == ("", "")
        assert not [name for name in files_of(job) if name.startswith(("preview-", "checkpoint-"))]
        assert "content.png" in files_of(job)
    recent_private.refresh_from_db()
    assert recent_private.preview and recent_private.checkpoint  # ended 2 days ago: kept for now
    assert all(default_storage.exists(name) for name in running_files)
    assert not default_storage.exists(orphan) and default_storage.exists(fresh)
    # No row points at a file that is gone.
    for job in StyleJob.objects.all():
        for field in (job.content, job.result, job.history, job.plot, job.preview, job.checkpoint):
            assert not field or default_storage.exists(field.name), (job.pk, field.name)
    assert "Removed 0 old private jobs, 0 previews and checkpoints, 0 folders" in prune()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_a_jobs_files_go_with_its_row_also_when_its_owner_is_deleted(owner, make_job):
    jobs = [make_job(), ended(make_job(), days_ago=1, run_files=True)]
    assert all(folder_exists(job) for job in jobs)
    owner.delete()
    assert StyleJob.objects.count() == 0
    assert not any(folder_exists(job) for job in jobs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_the_owner_deletes_an_ended_job_with_its_files_to_free_space(owner, owner_client, other_client, make_job,
                                                                       rq_redis):
    job = ended(make_job(visibility=Visibility.PUBLIC), days_ago=0, run_files=True)
    url = reverse("engine:delete", args=[job.pk])
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert f'action="{url}"' in page and "take it out of the gallery" in page
    assert other_client.post(url, {"confirm": "1"}).status_code == 404  # someone else's job
    assert owner_client.get(url).status_code == 405
    owner_client.post(url)  # the box not ticked: nothing happens
    assert StyleJob.objects.filter(pk=job.pk).exists()
    response = owner_client.post(url, {"confirm": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("engine:my_jobs")
    assert not StyleJob.objects.filter(pk=job.pk).exists() and not folder_exists(job)
    assert "0\xa0bytes of" in owner_client.get(reverse("engine:my_jobs")).content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_a_queued_job_is_cancelled_before_it_can_be_deleted(owner_client, make_job):
    job = make_job()
    url = reverse("engine:delete", args=[job.pk])
    assert f'action="{url}"' not in owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    response = owner_client.post(url, {"confirm": "1"}, follow=True)
    assert "cancel it first" in response.content.decode()
    assert StyleJob.objects.filter(pk=job.pk).exists() and folder_exists(job)


# --- issue 24, finding 6: kept uploads, the submission's own size, retention that runs by itself ------------

def kept_upload(user, megabytes: float):
    from django.core.files.base import ContentFile

    from engine.studio import staged_uploads

    return staged_uploads.stage(user, "content", ContentFile(b"\0" * int(megabytes * MB)), name="kept.png",
                                size=(10, 10))


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_kept_uploads_count_in_the_storage_quota(owner, owner_client, make_job, job_form_data, rq_redis):
    """Five refused POSTs left 241 MB in one user's kept folder while "My jobs" showed 12.5 of 500 MB."""
    from engine.studio import quotas

    UserQuota.objects.create(user=owner, max_storage_mb=4)
    before = quotas.storage_use(owner).used
    kept_upload(owner, 3)
    assert quotas.storage_use(owner).used >= before + 3 * MB
    assert "3.0\xa0MB" in owner_client.get(reverse("engine:my_jobs")).content.decode()
    kept_upload(owner, 1.5)
    response = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast"))
    assert "all the space your account has (4.0\xa0MB)" in response.content.decode()
    assert StyleJob.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_a_submission_whose_files_would_go_over_the_quota_is_refused_and_leaves_nothing(
        owner, owner_client, make_job, job_form_data, rq_redis, django_capture_on_commit_callbacks, media_root):
    """One account reached 912.8 MB against 500 MB through submissions that each passed the check
    made before their files were counted. Now what the submission brings is counted too."""
    from engine.studio import quotas

    job = ended(make_job(), days_ago=0)
    UserQuota.objects.create(user=owner, max_storage_mb=2)
    write_job_file(job, "result.png", b"\0" * (2 * MB - quotas.storage_use(owner).used - 50_000))
    assert not quotas.storage_use(owner).full  # 50 KB left: the admission lets it in
    files_before = sorted(p.relative_to(media_root) for p in media_root.rglob("*") if p.is_file())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast"))
    assert response.status_code == 200
    assert "These files need" in response.content.decode() and "of the 2.0\xa0MB your account has" in \
        response.content.decode()
    assert StyleJob.objects.count() == 1 and callbacks == []
    files_after = sorted(p.relative_to(media_root) for p in media_root.rglob("*") if p.is_file()
                         if not str(p.relative_to(media_root)).startswith("staged/"))
    assert files_after == files_before
    # With room for it, the same submission is taken.
    UserQuota.objects.filter(user=owner).update(max_storage_mb=10)
    assert owner_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root")
def test_the_workers_maintenance_runs_retention_once_per_period(make_job, owner, rq_redis, settings):
    """prune_jobs was scheduled by neither scripts/run nor docker-compose. Every worker's maintenance
    pass (the StyleWorker both run: tests/test_deployment_files.py) now prunes, one of them per
    NST_RETENTION_EVERY_MINUTES, and removes expired kept uploads."""
    import django_rq

    from engine.jobs.worker import StyleWorker
    from engine.studio import staged_uploads

    settings.NST_RETENTION_EVERY_MINUTES = 60
    old_private = ended(make_job(), days_ago=settings.NST_PRUNE_PRIVATE_DAYS + 1)
    kept = kept_upload(owner, 0.1)
    an_hour_ago = time.time() - staged_uploads.TTL_SECONDS - 60
    for suffix in ("png", "json"):
        os.utime(default_storage.path(f"staged/{owner.pk}/{kept.token}.{suffix}"), (an_hour_ago, an_hour_ago))
    workers = [StyleWorker([django_rq.get_queue("default")], connection=django_rq.get_connection("default"))
               for _ in range(2)]
    workers[0].run_maintenance_tasks()
    assert not StyleJob.objects.filter(pk=old_private.pk).exists()
    assert not default_storage.exists(f"staged/{owner.pk}/{kept.token}.png")
    again = ended(make_job(), days_ago=settings.NST_PRUNE_PRIVATE_DAYS + 1)
    workers[1].run_maintenance_tasks()  # within the period: the other worker does not run it again
    assert StyleJob.objects.filter(pk=again.pk).exists()
    rq_redis.delete("nst:once-per:retention")  # the period is over
    workers[1].run_maintenance_tasks()
    assert not StyleJob.objects.filter(pk=again.pk).exists()
