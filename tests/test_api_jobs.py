"""The API's jobs (api/views/jobs.py, api/submit.py): a submission takes the page's path (201 with
Location), is followed, downloaded, cancelled and deleted; lists page and filter; an
Idempotency-Key makes a retry (also two at once) return the same job."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engine.models import Batch, Status, StyleJob

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

PROBLEM = "application/problem+json"


@pytest.fixture
def fast_fields(job_form_data):
    """A quick fast-mode submission as the API takes it (the page's own fields)."""
    def make(**overrides):
        return job_form_data(mode="fast", **overrides)
    return make


def test_a_submission_answers_201_with_the_job_and_its_location(api_client, fast_fields, owner, rq_redis,
                                                               django_capture_on_commit_callbacks):
    client = api_client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("api:jobs"), fast_fields())
    assert response.status_code == 201, response.content
    body = response.json()
    job = StyleJob.objects.get(pk=body["id"])
    assert job.owner == owner and job.mode == "fast" and job.status == Status.QUEUED
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert body["status"] == "queued" and body["queue"]["position"] == 0
    assert body["params"]["size"] == 256 and body["embed_settings"] is True
    assert set(body["files"]) == {"content", "style-1"}  # nothing made yet; the owner's originals
    assert rq_redis.llen("rq:queue:default") == 1


def test_the_job_is_followed_to_its_result_and_downloaded(api_client, fast_fields, burst_worker,
                                                         django_capture_on_commit_callbacks):
    client = api_client()
    with django_capture_on_commit_callbacks(execute=True):
        job_id = client.post(reverse("api:jobs"), fast_fields()).json()["id"]
    burst_worker()
    body = client.get(reverse("api:job", args=[job_id])).json()
    assert body["status"] == "succeeded" and body["progress"]["percent"] == 100, body["error"]
    assert body["queue"] is None and body["error"] == ""
    result = client.get(body["files"]["png"])
    assert result.status_code == 200 and result["Content-Type"] == "image/png"
    assert b"".join(result.streaming_content).startswith(b"\x89PNG")


def test_several_content_files_make_a_batch(api_client, fast_fields, image_bytes):
    photos = [SimpleUploadedFile(f"p{n}.jpg", image_bytes("tubingen.jpg", 300), "image/jpeg") for n in range(2)]
    client = api_client()
    response = client.post(reverse("api:jobs"), fast_fields(content=photos))
    assert response.status_code == 201, response.content
    batch = Batch.objects.get()
    assert response["Location"].endswith(reverse("api:batch", args=[batch.pk]))
    assert [j["id"] for j in response.json()["jobs"]] == list(batch.jobs.order_by("pk").values_list("pk", flat=True))
    assert client.get(reverse("api:batch", args=[batch.pk])).json()["id"] == batch.pk
    assert client.get(reverse("api:batches")).json()["results"][0]["jobs"] == 2


def test_the_list_pages_and_filters_by_status_and_mode(api_client, make_job, owner, other_user):
    for _ in range(3):
        make_job(mode="fast", size=96)
    classic = make_job(mode="classic")
    classic.cancel()
    make_job(user=other_user)
    client = api_client()
    page = client.get(reverse("api:jobs"), {"page_size": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    assert [j["id"] for j in client.get(reverse("api:jobs"), {"status": "cancelled"}).json()["results"]] == [classic.pk]
    assert client.get(reverse("api:jobs"), {"mode": "fast"}).json()["count"] == 3
    refused = client.get(reverse("api:jobs"), {"status": "finished"})
    assert refused.status_code == 400 and refused["Content-Type"] == PROBLEM
    assert "status must be one of" in refused.json()["detail"]


def test_cancel_and_delete(api_client, make_job, rq_redis):
    job = make_job()
    client = api_client()
    refused = client.delete(reverse("api:job", args=[job.pk]))
    assert refused.status_code == 409 and refused.json()["detail"] == (
        f"Job {job.pk} is queued: cancel it first, then delete it.")
    cancelled = client.post(reverse("api:job_cancel", args=[job.pk]))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(reverse("api:job_cancel", args=[job.pk]))
    assert again.status_code == 409
    assert again.json()["detail"] == f"Job {job.pk} had already cancelled; nothing to cancel."
    assert client.delete(reverse("api:job", args=[job.pk])).status_code == 204
    assert not StyleJob.objects.filter(pk=job.pk).exists()
    assert client.get(reverse("api:job", args=[job.pk])).status_code == 404


def test_an_idempotency_key_returns_the_same_job_to_a_retry(api_client, fast_fields, rq_redis):
    client = api_client()
    first = client.post(reverse("api:jobs"), fast_fields(), headers={"Idempotency-Key": "k-1"})
    retry = client.post(reverse("api:jobs"), fast_fields(), headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"] and retry["Location"] == first["Location"]
    assert StyleJob.objects.count() == 1
    other = client.post(reverse("api:jobs"), fast_fields(size="300"), headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other["Content-Type"] == PROBLEM
    assert client.post(reverse("api:jobs"), fast_fields(), headers={"Idempotency-Key": "k-2"}).status_code == 201
    assert StyleJob.objects.count() == 2


def test_a_refused_submission_leaves_its_key_free_for_a_retry(api_client, fast_fields, rq_redis):
    client = api_client()
    refused = client.post(reverse("api:jobs"), fast_fields(style_1=None), headers={"Idempotency-Key": "k"})
    assert refused.status_code == 400
    retry = client.post(reverse("api:jobs"), fast_fields(style_1=None), headers={"Idempotency-Key": "k"})
    assert retry.status_code == 400
    assert not StyleJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_retries_at_once_make_one_job(api_client, fast_fields, rq_redis, monkeypatch):
    """Both requests arrive together: the second waits for the first one's job. The first is held
    at its admission (after its claim) until the second has found the key claimed, so the two
    overlap for certain, whatever the machine's speed."""
    from api import idempotency, submit

    client = api_client()
    second_waiting, real_admit, real_sleep = threading.Event(), submit.admission.admit, idempotency.time.sleep

    def held_admit(*args, **kwargs):
        assert second_waiting.wait(60), "the second request never found the key claimed"
        return real_admit(*args, **kwargs)

    def sleep(seconds):
        second_waiting.set()
        real_sleep(seconds)

    monkeypatch.setattr(submit.admission, "admit", held_admit)
    monkeypatch.setattr(idempotency.time, "sleep", sleep)
    answers = [None, None]

    def post(n):
        answers[n] = client.post(reverse("api:jobs"), fast_fields(), headers={"Idempotency-Key": "same"})

    threads = [threading.Thread(target=post, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert StyleJob.objects.count() == 1


def test_a_read_token_reads_but_does_not_write(api_client, fast_fields, make_job):
    job = make_job()
    client = api_client(scope="read")
    assert client.get(reverse("api:job", args=[job.pk])).status_code == 200
    for response in (client.post(reverse("api:jobs"), fast_fields()),
                     client.post(reverse("api:job_cancel", args=[job.pk])),
                     client.delete(reverse("api:job", args=[job.pk]))):
        assert response.status_code == 403 and response["Content-Type"] == PROBLEM
        assert response.json()["type"].endswith("#read-only-token")
    assert StyleJob.objects.count() == 1 and StyleJob.objects.get().status == Status.QUEUED


def test_styles_and_estimate(api_client):
    from engine.studio import style_library

    style_library.create_bundled_rows()
    client = api_client(scope="read")
    styles = client.get(reverse("api:styles")).json()
    assert styles and {"id", "painter", "title", "thumbnail"} <= set(styles[0])
    estimate = client.get(reverse("api:estimate"), {"mode": "fast", "size": "512"})
    assert estimate.status_code == 200 and estimate.json()["seconds"] > 0
    bad = client.get(reverse("api:estimate"), {"mode": "cubist"})
    assert bad.status_code == 400 and bad.json()["detail"] == "Unknown mode."


def test_a_library_painting_is_a_style(api_client, fast_fields, rq_redis):
    from engine.models import LibraryStyle
    from engine.studio import style_library

    style_library.create_bundled_rows()
    painting = LibraryStyle.objects.offered().first()
    response = api_client().post(reverse("api:jobs"), fast_fields(style_1=None, style_1_library=str(painting.pk)))
    assert response.status_code == 201, response.content
    assert response.json()["styles"][0]["library"]["painter"] == painting.painter
