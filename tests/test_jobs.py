"""The submission form and the job pages: what is accepted and what is stored, the job page, my
jobs, cancelling. What is refused (bad input): test_bad_input.py; who may see what:
test_permissions.py; a queue that cannot be reached: test_redis_down.py."""

from __future__ import annotations

import io
import re

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from engine.models import Status, StyleJob

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def post(client, data, capture=None):
    if capture is None:
        return client.post(reverse("engine:submit"), data)
    with capture(execute=True):
        return client.post(reverse("engine:submit"), data)


# --- the form page ---------------------------------------------------------------------------------

def test_the_submit_page_needs_a_login(client):
    response = client.get(reverse("engine:submit"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_submit_page_has_the_stable_inputs(owner_client):
    html = owner_client.get(reverse("engine:submit")).content.decode()
    for name in ("content", "style_1", "style_2", "style_3"):
        assert re.search(rf'<input type="file" name="{name}"[^>]*id="id_{name}"', html), name
    assert re.search(r'<select name="mode"[^>]*id="id_mode"', html)
    assert re.search(r'<select name="preset"[^>]*id="id_preset"', html)
    assert 'min="256"' in html and 'max="1024"' in html
    assert 'id="preset-data"' in html


def test_a_preset_link_fills_the_form_in(owner_client):
    html = owner_client.get(reverse("engine:submit") + "?preset=quick&mode=classic").content.decode()
    assert re.search(r'<option value="classic" selected>', html)
    assert re.search(r'name="size" value="256"', html) and re.search(r'name="epochs" value="3"', html)
    assert re.search(r'<option value="quick" selected>Quick: 256 px, 3 × 10 steps, about \d+ s</option>', html)
    # Fast mode has no presets (its one costly setting is the size): the old link opens it as "New job" does.
    html = owner_client.get(reverse("engine:submit") + "?preset=quick&mode=fast").content.decode()
    assert re.search(r'<option value="fast" selected>', html) and re.search(r'name="size" value="1024"', html)


# --- valid submissions -----------------------------------------------------------------------------

def test_a_valid_submission_creates_a_queued_job_and_enqueues_it_after_commit(
        owner_client, owner, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(reverse("engine:submit"), job_form_data("classic"))
    job = StyleJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("engine:detail", args=[job.pk])
    assert queue.count == 0  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert queue.job_ids == [job.rq_job_id]
    assert (job.owner, job.status, job.mode, job.size) == (owner, Status.QUEUED, "classic", 256)
    assert job.queue == "default"
    assert (job.epochs, job.total_steps) == (1, 10)
    assert job.params["steps_per_epoch"] == 10 and job.params["network"] == "vgg16"
    assert job.content_name == "photo.jpg"  # the name it was uploaded under, for its card and its title


def test_staff_jobs_go_to_the_high_queue(staff_client, job_form_data, rq_redis,
                                         django_capture_on_commit_callbacks):
    post(staff_client, job_form_data("fast"), django_capture_on_commit_callbacks)
    assert StyleJob.objects.get().queue == "high"
    assert django_rq.get_queue("high").count == 1


def test_uploads_are_stored_as_png_without_metadata(owner_client, job_form_data, rq_redis,
                                                    django_capture_on_commit_callbacks):
    photo = Image.new("RGB", (300, 200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", exif=exif, comment=b"private note")
    assert b"SecretCam" in buf.getvalue()
    data = job_form_data("fast", content=SimpleUploadedFile("me.jpg", buf.getvalue(), "image/jpeg"))
    post(owner_client, data, django_capture_on_commit_callbacks)
    job = StyleJob.objects.get()
    stored = job.content.read()
    assert stored.startswith(b"\x89PNG") and b"SecretCam" not in stored and b"private note" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (300, 200) and not img.getexif() and "icc_profile" not in img.info
    assert job.styles.get().image.read().startswith(b"\x89PNG")


def test_several_styles_keep_their_slots_and_weights(owner_client, job_form_data, image_bytes, rq_redis,
                                                     django_capture_on_commit_callbacks):
    data = job_form_data(
        "fast", style_3=SimpleUploadedFile("s3.png", image_bytes("shipwreck.jpg", 128, "PNG"), "image/png"),
        style_1_weight="2", style_3_weight="0.5",
    )
    post(owner_client, data, django_capture_on_commit_callbacks)
    job = StyleJob.objects.get()
    assert [(s.position, s.weight) for s in job.styles.all()] == [(1, 2.0), (3, 0.5)]
    assert job.params["style_weights"] == [2.0, 0.5]


def test_a_preset_replaces_the_values_it_covers(owner_client, job_form_data, rq_redis,
                                                django_capture_on_commit_callbacks):
    # size 5000 is out of range, but the preset replaces it, so it is not an error.
    data = job_form_data("classic", preset="quick", size="5000", epochs="7", tv_weight="12")
    response = post(owner_client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = StyleJob.objects.get()
    assert (job.size, job.params["epochs"], job.params["steps_per_epoch"]) == (256, 3, 10)
    assert job.params["tv_weight"] == 12  # not covered by the preset: the user's value


def test_fast_mode_ignores_the_classic_fields(owner_client, job_form_data, rq_redis,
                                              django_capture_on_commit_callbacks):
    data = job_form_data("fast", epochs="999", style_weight="", optimizer="nonsense")
    assert post(owner_client, data, django_capture_on_commit_callbacks).status_code == 302
    job = StyleJob.objects.get()
    assert job.mode == "fast" and set(job.params) == {"size", "strength", "style_weights", "preserve_colors",
                                                      "fast_network"}
    assert job.params["fast_network"] == "builtin"


# --- job pages and access ---------------------------------------------------------------------------

def test_the_job_page_shows_status_parameters_and_queue_position(owner_client, make_job, rq_redis):
    job = make_job(epochs=2, steps_per_epoch=7)
    html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert re.search(r'id="job-status"[^>]*>Queued<', html)
    assert "2 × 7" in html
    assert "next in the queue" in html
    assert 'http-equiv="refresh"' in html  # follows progress without JavaScript
    assert 'id="cancel-job"' in html


def test_cancel_needs_post(owner_client, make_job):
    job = make_job()
    assert owner_client.get(reverse("engine:cancel", args=[job.pk])).status_code == 405


def test_cancelling_a_finished_job_changes_nothing(owner_client, make_job, rq_redis):
    job = make_job()
    job.fail("It broke.")
    response = owner_client.post(reverse("engine:cancel", args=[job.pk]), follow=True)
    assert "nothing to cancel" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Status.FAILED


def test_a_failed_job_shows_its_message(owner_client, make_job):
    job = make_job()
    job.fail("The content image is damaged or incomplete.")
    html = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert re.search(r'id="job-status"[^>]*>Failed<', html)
    assert "The content image is damaged or incomplete." in html


def test_downloads_of_a_job_without_results_are_404(owner_client, make_job):
    job = make_job()
    for kind in ("png", "plot", "csv", "json", "preview", "nonsense", "style-9"):
        assert owner_client.get(reverse("engine:download", args=[job.pk, kind])).status_code == 404, kind


def test_my_jobs_lists_only_my_jobs(owner_client, make_job, other_user):
    mine = make_job()
    theirs = make_job(user=other_user)
    html = owner_client.get(reverse("engine:my_jobs")).content.decode()
    assert f'data-job-id="{mine.pk}"' in html
    assert f'data-job-id="{theirs.pk}"' not in html


def test_my_jobs_filters_by_status(owner_client, make_job):
    queued, failed = make_job(), make_job()
    failed.fail("x")
    html = owner_client.get(reverse("engine:my_jobs") + "?status=failed").content.decode()
    assert f'data-job-id="{failed.pk}"' in html and f'data-job-id="{queued.pk}"' not in html


def test_my_jobs_is_a_grid_of_pictures_in_a_fixed_number_of_queries(owner, owner_client, make_job,
                                                                      django_assert_max_num_queries):
    from engine.models import Batch

    def page_with(n_jobs: int, n_batches: int) -> str:
        for _ in range(n_jobs):
            make_job()
        for _ in range(n_batches):
            batch = Batch.objects.create(owner=owner)
            for _ in range(3):
                make_job(batch=batch)
        # session, user, storage quota and use, count, the page, its styles with their paintings, the batches' jobs
        with django_assert_max_num_queries(10):
            return owner_client.get(reverse("engine:my_jobs")).content.decode()

    page_with(1, 1)
    html = page_with(5, 3)  # more jobs and batches: no more queries
    assert html.count('class="job-card"') == 6 and html.count('id="batch-card-') == 4
    assert html.count('class="batch-job"') == 12  # each batch's card shows its pictures


def test_my_jobs_needs_a_login(client):
    assert client.get(reverse("engine:my_jobs"))["Location"].startswith(reverse("login"))


def test_the_home_page_works_for_everyone(client, owner_client, make_job):
    make_job()
    assert client.get(reverse("home")).status_code == 200
    html = owner_client.get(reverse("home")).content.decode()
    assert "Your recent jobs" in html


def test_the_favicon_is_served(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")


@pytest.mark.parametrize("seconds, text", [(None, ""), (0, "0 s"), (0.2, "1 s"), (12.3, "12 s"), (125, "2 min 5 s"),
                                           (120, "2 min"), (7300, "2 h 1 min")])
def test_durations_are_worded_as_people_say_them(seconds, text):
    from engine.templatetags.nst import duration

    assert duration(seconds) == text  # a fast job's 0.2 s estimate is "about 1 s", not "about 0 s"
