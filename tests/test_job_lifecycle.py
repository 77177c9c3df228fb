"""StyleJob's life cycle: each transition is one conditional UPDATE, so whoever comes second
(a second worker, a cancel racing a start or a finish) loses cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.models import Status, StyleJob
from engine.nst import LossHistory, LossRow, images
from engine.storage import result_settings

pytestmark = pytest.mark.django_db

PNG = images.encode_png(np.full((8, 8, 3), 128, np.uint8))


def _history(rows: int = 3) -> LossHistory:
    return LossHistory([LossRow(i, 1, 64, 1.0 / i, 2.0 / i, 0.1, 3.1 / i, 0.01 * i)
                        for i in range(1, rows + 1)])


def test_a_new_job_is_queued_and_private(make_job):
    job = make_job()
    assert job.status == Status.QUEUED
    assert job.visibility == "private"
    assert job.styles.count() == 1


def test_only_one_of_two_workers_can_start_a_job(make_job):
    job = make_job()
    first, second = StyleJob.objects.get(pk=job.pk), StyleJob.objects.get(pk=job.pk)
    assert first.start(worker="w1") is True
    assert second.start(worker="w2") is False
    job.refresh_from_db()
    assert (job.status, job.worker) == (Status.RUNNING, "w1")
    assert job.started_at is not None


def test_a_cancelled_job_cannot_be_started(make_job):
    job = make_job()
    assert job.cancel() is True
    worker_copy = StyleJob.objects.get(pk=job.pk)
    assert worker_copy.start(worker="w") is False
    assert worker_copy.status == Status.CANCELLED  # the loser learns the current status


def test_progress_is_recorded_only_while_running(make_job):
    job = make_job(epochs=2, steps_per_epoch=5)
    assert job.report_progress(epoch=1, step=1) is False  # still queued
    job.start()
    assert job.report_progress(epoch=1, step=3, eta_seconds=4.0) is True
    job.refresh_from_db()
    assert (job.epoch, job.step, job.eta_seconds) == (1, 3, 4.0)
    StyleJob.objects.get(pk=job.pk).cancel()
    assert job.report_progress(epoch=2, step=6) is False  # the worker learns it must stop
    job.refresh_from_db()
    assert job.step == 3


def test_each_epoch_keeps_one_checkpoint_and_its_preview(make_job, media_root):
    job = make_job(epochs=2, steps_per_epoch=5)
    job.start()
    job.report_progress(epoch=1, step=5, preview=b"jpeg1", checkpoint=b"ck1")
    first_checkpoint = job.checkpoint.name
    job.report_progress(epoch=2, step=10, preview=b"jpeg2", checkpoint=b"ck2")
    job.refresh_from_db()
    assert job.checkpoint.read() == b"ck2"
    assert not (media_root / first_checkpoint).exists()
    assert job.preview.name.endswith("preview-e02.jpg")


def test_finish_stores_result_history_and_plot(make_job):
    job = make_job()
    job.start()
    assert job.finish(image_png=PNG, history=_history(), device="CPU: test", network="vgg16", seconds=2.5)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    # The engine's PNG with the job's settings inside (engine.storage.result_settings: tests/test_result_settings.py)
    assert job.result.read() == result_settings.embed_png(PNG, result_settings.settings_of(job))
    assert LossHistory.from_dict(json.loads(job.history.read())).rows == _history().rows
    assert job.plot.read().startswith(b"\x89PNG")
    assert (job.device, job.network, job.run_seconds) == ("CPU: test", "vgg16", 2.5)
    assert job.step == job.total_steps and job.progress_percent == 100


def test_finishing_drops_the_checkpoint(make_job, media_root):
    job = make_job()
    job.start()
    job.report_progress(epoch=1, step=5, checkpoint=b"ck")
    path = media_root / job.checkpoint.name
    assert path.exists()
    job.finish(image_png=PNG, history=None, device="", network="", seconds=1)
    job.refresh_from_db()
    assert not job.checkpoint and not path.exists()


def test_a_job_cancelled_while_finishing_keeps_its_finished_result(make_job):
    """The engine checks for a cancel before each step: one that arrives after the last step has
    nothing left to stop, and the finished result is kept (issue 11, defect 8)."""
    job = make_job()
    job.start()
    StyleJob.objects.get(pk=job.pk).cancel()
    assert job.finish(image_png=PNG, history=None, device="", network="", seconds=1) is True
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.result


def test_only_a_running_or_cancelled_job_can_finish(make_job):
    job = make_job()
    assert job.finish(image_png=PNG, history=None, device="", network="", seconds=1) is False  # queued
    job.fail("broken")
    assert job.finish(image_png=PNG, history=None, device="", network="", seconds=1) is False
    job.refresh_from_db()
    assert (job.status, bool(job.result)) == (Status.FAILED, False)


def test_fail_keeps_the_message_and_only_applies_to_active_jobs(make_job):
    job = make_job()
    assert job.fail("The content image is damaged.") is True
    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, "The content image is damaged.")
    assert job.finished_at is not None
    assert job.fail("again") is False
    assert job.cancel() is False
    job.refresh_from_db()
    assert job.error == "The content image is damaged."


def test_record_stop_keeps_the_checkpoint_of_a_cancelled_run(make_job):
    job = make_job(epochs=4, steps_per_epoch=5)
    job.start()
    assert job.record_stop(epoch=2, step=7, checkpoint=b"ck") is False  # not cancelled yet
    job.cancel()
    assert job.record_stop(epoch=2, step=7, checkpoint=b"ck") is True
    job.refresh_from_db()
    assert (job.status, job.step, job.checkpoint.read()) == (Status.CANCELLED, 7, b"ck")


def test_querysets_for_users(make_job, owner, other_user, staff_user):
    from django.contrib.auth.models import AnonymousUser

    private = make_job()
    public = make_job(visibility="public")
    theirs = make_job(user=other_user)
    assert set(StyleJob.objects.for_user(owner)) == {private, public}
    assert set(StyleJob.objects.visible_to(other_user)) == {public, theirs}
    assert set(StyleJob.objects.visible_to(AnonymousUser())) == {public}
    assert set(StyleJob.objects.visible_to(staff_user)) == {private, public, theirs}


def test_placement_is_recorded_only_while_running(make_job):
    job = make_job()
    assert job.record_placement(device="CPU", network="vgg16") is False  # still queued
    job.start(worker="w")
    assert job.record_placement(device="CPU (2 cores)", network="vgg16") is True
    job.refresh_from_db()
    assert (job.device, job.network) == ("CPU (2 cores)", "vgg16")
    StyleJob.objects.get(pk=job.pk).cancel()
    assert job.record_placement(device="GPU", network="vgg19") is False
    job.refresh_from_db()
    assert job.device == "CPU (2 cores)"


def test_only_a_queued_job_moves_to_another_queue(make_job):
    job = make_job()
    assert job.move_to_queue("high") is True
    assert StyleJob.objects.get(pk=job.pk).queue == "high"
    job.start(worker="w")  # a worker took it meanwhile: the row keeps the queue it ran from
    assert job.move_to_queue("default") is False
    assert StyleJob.objects.get(pk=job.pk).queue == "high"


def test_visibility_changes_in_any_state(make_job):
    job = make_job()
    job.start(worker="w")
    job.set_visibility("public")
    assert StyleJob.objects.get(pk=job.pk).visibility == job.visibility == "public"
    job.fail("boom")
    job.set_visibility("private")
    assert StyleJob.objects.get(pk=job.pk).visibility == "private"


def test_who_may_manage_a_job_is_its_owner_or_staff(make_job, owner, other_user, staff_user):
    from django.contrib.auth.models import AnonymousUser

    from engine.models import may_manage

    mine, theirs = make_job(visibility="public"), make_job(user=other_user)
    assert set(StyleJob.objects.manageable_by(owner)) == {mine}
    assert set(StyleJob.objects.manageable_by(staff_user)) == {mine, theirs}
    assert list(StyleJob.objects.manageable_by(AnonymousUser())) == []
    assert [mine.is_manageable_by(u) for u in (owner, other_user, staff_user, AnonymousUser())] == [
        True, False, True, False]
    staff_user.is_active = False  # a deactivated staff account runs nothing
    assert may_manage(staff_user, mine.owner_id) is False
