"""Per-user quotas: defaults, set by staff in the admin, enforced on submission with clear messages
(and nothing created or queued when a submission is over quota)."""

from __future__ import annotations

import re

import django_rq
import pytest
from django.urls import reverse

from engine.models import StyleJob, UserQuota
from engine.studio import quotas

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _submit(client, data, capture):
    with capture(execute=True):
        return client.post(reverse("engine:submit"), data)


def _form_errors(response) -> str:
    assert response.status_code == 200
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


def _size_errors(response) -> str:
    assert response.status_code == 200
    return " ".join(str(e) for e in response.context["form"].errors.get("size", []))


def test_without_a_quota_row_a_user_gets_the_defaults(owner):
    limits = quotas.limits_for(owner)
    assert (limits.max_active_jobs, limits.max_size, limits.max_steps) == (3, 1024, 2000)
    assert limits.pk is None  # nothing written for users who keep the defaults


def test_a_job_larger_than_the_quota_is_refused_with_the_limit(owner, owner_client, job_form_data, rq_redis,
                                                               django_capture_on_commit_callbacks):
    UserQuota.objects.create(user=owner, max_size=256)
    response = _submit(owner_client, job_form_data("fast", size="512"), django_capture_on_commit_callbacks)
    # Next to the size, as the size's own range: the box and its slider stop there too.
    assert "can make images of up to 256 px; this job asks for 512 px" in _size_errors(response)
    assert 'id="form-errors"' in response.content.decode()
    assert not StyleJob.objects.exists() and django_rq.get_queue("default").count == 0


def test_the_size_field_goes_up_to_the_users_quota(owner, owner_client, job_form_data, rq_redis,
                                                   django_capture_on_commit_callbacks):
    quota = UserQuota.objects.create(user=owner, max_size=512)
    response = _submit(owner_client, job_form_data("fast", size="200"), django_capture_on_commit_callbacks)
    html = response.content.decode()
    assert "Size must be between 256 and 512 px." in html
    assert re.search(r'<input type="number" name="size" value="200" min="256" max="512"', html)
    # A size the engine could make, above the quota: the quota's own message.
    response = _submit(owner_client, job_form_data("fast", size="600"), django_capture_on_commit_callbacks)
    assert "can make images of up to 512 px; this job asks for 600 px" in _size_errors(response)
    # A quota raised above the usual 1024 px lets the user ask for more, up to what the engine makes.
    quota.max_size = 4096
    quota.save()
    response = _submit(owner_client, job_form_data("fast", size="9000"), django_capture_on_commit_callbacks)
    assert "Size must be between 256 and 4096 px." in response.content.decode()
    response = _submit(owner_client, job_form_data("classic", size="3000"), django_capture_on_commit_callbacks)
    assert "Classic mode makes images of up to 2048 px." in response.content.decode()
    response = _submit(owner_client, job_form_data("fast", size="1500"), django_capture_on_commit_callbacks)
    assert response.status_code == 302 and StyleJob.objects.get().size == 1500


def test_a_classic_job_with_more_steps_than_the_quota_is_refused(owner, owner_client, job_form_data, rq_redis,
                                                                 django_capture_on_commit_callbacks):
    UserQuota.objects.create(user=owner, max_steps=50)
    response = _submit(owner_client, job_form_data("classic", epochs="2", steps_per_epoch="30"),
                       django_capture_on_commit_callbacks)
    assert "classic jobs of up to 50 steps; this job has 60" in _form_errors(response)
    # A preset counts too: "high" is 6 x 10 steps.
    response = _submit(owner_client, job_form_data("classic", preset="high"), django_capture_on_commit_callbacks)
    assert "this job has 60" in _form_errors(response)
    # Fast mode has no steps to limit.
    response = _submit(owner_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    assert response.status_code == 302 and StyleJob.objects.count() == 1


def test_the_number_of_active_jobs_is_limited_until_one_finishes(owner, owner_client, make_job, job_form_data,
                                                                 rq_redis, django_capture_on_commit_callbacks):
    UserQuota.objects.create(user=owner, max_active_jobs=2)
    queued, running = make_job(), make_job()
    running.start()
    make_job().fail("done")  # finished jobs do not count
    response = _submit(owner_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    assert ("You already have 2 jobs queued or running, the most your account may have at once (2)"
            in _form_errors(response))
    assert StyleJob.objects.count() == 3 and django_rq.get_queue("default").count == 0

    owner_client.post(reverse("engine:cancel", args=[queued.pk]))
    response = _submit(owner_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert django_rq.get_queue("default").count == 1


def test_the_default_limit_of_three_active_jobs_applies_to_everyone(other_user, other_client, make_job,
                                                                     job_form_data, rq_redis,
                                                                     django_capture_on_commit_callbacks):
    for _ in range(3):
        make_job(user=other_user)
    response = _submit(other_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    assert "You already have 3 jobs queued or running" in _form_errors(response)


def test_staff_set_quotas_in_the_admin(staff_client, owner, owner_client, job_form_data, rq_redis,
                                       django_capture_on_commit_callbacks):
    response = staff_client.post(reverse("admin:engine_userquota_add"), {
        "user": str(owner.pk), "max_active_jobs": "5", "max_size": "300", "max_steps": "100",
        "max_clip_seconds": "60", "max_clip_side": "1920", "max_clip_frames": "3600", "max_clip_mb": "500",
        "max_batch_files": "20", "max_active_batch_jobs": "20", "max_storage_mb": "200", "note": "trial account"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert UserQuota.objects.get(user=owner).max_size == 300
    listing = staff_client.get(reverse("admin:engine_userquota_changelist")).content.decode()
    assert "trial account" in listing
    response = _submit(owner_client, job_form_data("fast", size="512"), django_capture_on_commit_callbacks)
    assert "up to 300 px" in _size_errors(response)


@pytest.mark.django_db(transaction=True)  # no test transaction around it
def test_reserving_a_slot_outside_a_transaction_is_a_programming_error(owner):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        quotas.reserve_active_slot(owner)


def test_the_quota_is_on_the_users_admin_page_too(django_user_model, owner, client):
    admin_user = django_user_model.objects.create_superuser("ada", "ada@example.org", "x-Long-password-1")
    client.force_login(admin_user)
    html = client.get(reverse("admin:auth_user_change", args=[owner.pk])).content.decode()
    assert 'name="quota-0-max_active_jobs"' in html and 'value="3"' in html


def test_a_submission_reads_the_users_quota_once(owner, owner_client, job_form_data, rq_redis,
                                                  django_capture_on_commit_callbacks):
    """Admission is one step (engine.studio.admission): the quota row is read once per submission,
    and the form and the admission share it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserQuota.objects.create(user=owner, max_size=512)
    with CaptureQueriesContext(connection) as queries:
        response = _submit(owner_client, job_form_data("fast", size="300"), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    reads = [q["sql"] for q in queries if 'FROM "engine_userquota"' in q["sql"]]
    assert len(reads) == 1, reads
