"""Images kept after a server-side error (engine.studio.staged_uploads): the page shown again offers them,
the next submission uses them without the files being chosen again, and they stay their
uploader's own: never another user's, never a path, gone after an hour or once used."""

from __future__ import annotations

import re
import time

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from engine.models import StyleJob
from engine.studio import staged_uploads

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_job(rq_redis, media_root, django_capture_on_commit_callbacks):
    def post(client, data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("engine:submit"), data)
    return post


def kept_tokens(html: str) -> dict[str, str]:
    """{field: token} of the "Keep ..." boxes the page offers (ticked)."""
    return dict(re.findall(r'<input type="checkbox" name="(\w+)_staged" value="([\w-]+)" checked>', html))


def test_a_refused_submission_keeps_the_images_for_the_next_try(owner_client, post_job, job_form_data, media_root):
    response = post_job(owner_client, job_form_data("classic", epochs="0"))  # out of range: refused
    assert response.status_code == 200
    html = response.content.decode()
    assert "The images you chose are kept" in html
    tokens = kept_tokens(html)
    assert set(tokens) == {"content", "style_1"}
    assert 'src="' + reverse("engine:staged_upload", args=[tokens["content"]]) in html  # its preview
    preview = owner_client.get(reverse("engine:staged_upload", args=[tokens["content"]]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    kept_photo = b"".join(preview.streaming_content)

    # The next try: no file chosen, the kept ones ticked.
    data = job_form_data("classic", content=None, style_1=None, content_staged=tokens["content"],
                         style_1_staged=tokens["style_1"])
    response = post_job(owner_client, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    job = StyleJob.objects.get()
    with job.content.open("rb") as fh:
        assert fh.read() == kept_photo
    assert job.styles.count() == 1
    assert not list((media_root / "staged").rglob("*.png"))  # used: gone


def test_a_new_file_replaces_the_kept_one(owner_client, post_job, job_form_data, image_bytes):
    tokens = kept_tokens(post_job(owner_client, job_form_data("classic", epochs="0")).content.decode())
    data = job_form_data("classic", content_staged=tokens["content"])  # and a new photo
    data["content"] = ContentFile(image_bytes("golden_gate.jpg", 200), name="other.jpg")
    assert post_job(owner_client, data).status_code == 302
    with StyleJob.objects.get().content.open("rb") as fh:
        assert fh.read() != b"".join(owner_client.get(
            reverse("engine:staged_upload", args=[tokens["content"]])).streaming_content)


def test_unticking_a_kept_image_asks_for_one_again(owner_client, post_job, job_form_data):
    post_job(owner_client, job_form_data("classic", epochs="0"))
    response = post_job(owner_client, job_form_data("classic", content=None))  # no token sent: unticked
    assert response.status_code == 200
    assert "Choose the content image." in response.content.decode()


def test_another_users_kept_image_is_not_theirs(owner, other_client, post_job, job_form_data, image_bytes):
    kept = staged_uploads.stage(owner, "content", ContentFile(image_bytes("tubingen.jpg", 64, fmt="PNG")),
                                name="mine.png", size=(64, 48))
    assert other_client.get(reverse("engine:staged_upload", args=[kept.token])).status_code == 404
    response = post_job(other_client, job_form_data("classic", content=None, content_staged=kept.token))
    assert response.status_code == 200
    assert "no longer kept" in response.content.decode()
    assert not StyleJob.objects.exists()


def test_a_token_is_never_a_path(owner, image_bytes):
    staged_uploads.stage(owner, "content", ContentFile(image_bytes("tubingen.jpg", 64, fmt="PNG")),
                         name="a.png", size=(64, 48))
    for token in ("../1/x", "..%2F..%2Fsettings", "a" * 22 + "/..", ""):
        assert staged_uploads.load(owner, token, "content") is None
        with pytest.raises(FileNotFoundError):
            staged_uploads.open_image(owner, token)


def test_a_kept_image_is_only_for_its_field(owner, image_bytes):
    kept = staged_uploads.stage(owner, "style_1", ContentFile(image_bytes("tubingen.jpg", 64, fmt="PNG")),
                                name="a.png", size=(64, 48))
    assert staged_uploads.load(owner, kept.token, "content") is None
    assert staged_uploads.load(owner, kept.token, "style_1") == kept


def test_kept_images_expire(owner, media_root, image_bytes):
    kept = staged_uploads.stage(owner, "content", ContentFile(image_bytes("tubingen.jpg", 64, fmt="PNG")),
                                name="a.png", size=(64, 48))
    assert staged_uploads.purge_expired() == 0
    assert staged_uploads.purge_expired(now=time.time() + staged_uploads.TTL_SECONDS + 5) == 1
    assert staged_uploads.load(owner, kept.token, "content") is None
    assert not list((media_root / "staged").rglob("*"))


# --- "Try another style on this photo" (a job's page, issue 23) -------------------------------------------

def test_another_style_keeps_the_jobs_photo_and_the_form_offers_it(owner, owner_client, make_job):
    job = make_job(mode="fast")
    StyleJob.objects.filter(pk=job.pk).update(content_name="tubingen.jpg")
    response = owner_client.post(reverse("engine:another_style", args=[job.pk]))
    assert response.status_code == 302
    match = re.fullmatch(r"/jobs/new/\?kept=([\w-]{22})&mode=fast#style-card", response["Location"])
    assert match, response["Location"]
    kept = staged_uploads.load(owner, match.group(1), "content")
    assert kept is not None and kept.name == "tubingen.jpg" and kept.size == (96, 72)
    with job.content.open("rb") as fh:
        assert kept.content(owner).read() == fh.read()

    html = owner_client.get(response["Location"]).content.decode()
    assert kept_tokens(html) == {"content": kept.token}  # offered as a kept photo: no need to choose it again
    assert "tubingen.jpg" in html and not re.search(r'<input type="file" name="content"[^>]* required', html)


def test_another_style_is_its_owners_only_and_a_token_is_never_anothers(
        owner, owner_client, other_client, make_job):
    job = make_job(mode="fast")
    assert other_client.post(reverse("engine:another_style", args=[job.pk])).status_code == 404
    assert owner_client.get(reverse("engine:another_style", args=[job.pk])).status_code == 405
    token = owner_client.post(reverse("engine:another_style", args=[job.pk]))["Location"].split("kept=")[1][:22]
    html = other_client.get(reverse("engine:submit") + f"?kept={token}").content.decode()
    assert kept_tokens(html) == {}  # someone else's token is not found in their own folder
    html = owner_client.get(reverse("engine:submit") + "?kept=../../etc/passwd").content.decode()
    assert kept_tokens(html) == {}


def test_another_style_is_not_offered_for_a_clip(owner_client, make_job):
    job = make_job(mode="video", content=b"not really a clip", content_name="content.mp4")
    response = owner_client.post(reverse("engine:another_style", args=[job.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("engine:detail", args=[job.pk])
    assert "A clip cannot be kept" in response.content.decode()
