"""Large uploads for signed-in sessions only (issue 24, finding 2), Django's half
(nstsite/request_limits/anonymous_uploads.py): an anonymous POST to the submission URL goes to log in before
anything reads its body, even with CSRF checks on (the CSRF check reads the body); the proxy's
question (`may_upload`) answers from the session alone. nginx's half, through the real proxy:
tests/test_web_tier.py."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

RECEIVED: list[int] = []


class RecordingUploadHandler(FileUploadHandler):
    """Counts the bytes of uploaded files that reach Django's upload handlers (then passes them on)."""

    def receive_data_chunk(self, raw_data, start):
        RECEIVED.append(len(raw_data))
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def recorded(settings, upload_tmp):
    RECEIVED.clear()
    settings.FILE_UPLOAD_HANDLERS = ["tests.test_anonymous_uploads.RecordingUploadHandler",
                                     *settings.FILE_UPLOAD_HANDLERS]
    return RECEIVED


def csrf_client(user=None) -> Client:
    """A client with CSRF checks on and a CSRF cookie (as a script that fetched the form has): the
    CSRF check then reads the body to find the token."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    if user is not None:
        client.force_login(user)
    return client


def test_an_anonymous_upload_is_sent_to_log_in_before_its_body_is_read(recorded, job_form_data):
    client = csrf_client()
    data = job_form_data("video", content=SimpleUploadedFile("clip.mp4", b"\x00" * (6 * 2**20), "video/mp4"))
    response = client.post(reverse("engine:submit"), data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "next=/jobs/new/" in response["Location"]
    assert recorded == []  # no upload handler saw a byte: nothing parsed, nothing spooled


def test_a_signed_in_upload_is_read(recorded, owner, job_form_data):
    client = csrf_client(owner)
    data = job_form_data("video", content=SimpleUploadedFile("clip.mp4", b"\x00" * 4096, "video/mp4"))
    assert client.post(reverse("engine:submit"), data).status_code == 403  # no CSRF token: but it was read
    assert sum(recorded) >= 4096


def test_the_proxy_asks_whether_the_session_may_upload(client, owner_client):
    url = reverse("may_upload")
    assert client.get(url, HTTP_X_ORIGINAL_METHOD="POST").status_code == 401
    assert client.get(url, HTTP_X_ORIGINAL_METHOD="GET").status_code == 204   # the form itself: anyone
    assert owner_client.get(url, HTTP_X_ORIGINAL_METHOD="POST").status_code == 204


def test_a_programs_token_may_upload_to_the_apis_submission(client, owner, job_form_data, recorded):
    """The API's submission takes a clip too (the larger body limit): a valid token counts as signed
    in, for the proxy's question and for the middleware; no token is a 401, its body unread."""
    from api import tokens

    _, plain = tokens.issue(owner, "uploads", "write")
    url = reverse("may_upload")
    assert client.get(url, HTTP_X_ORIGINAL_METHOD="POST", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 204
    assert client.get(url, HTTP_X_ORIGINAL_METHOD="POST", HTTP_AUTHORIZATION="Bearer nst_nope").status_code == 401
    data = job_form_data("video", content=SimpleUploadedFile("clip.mp4", b"\x00" * (6 * 2**20), "video/mp4"))
    refused = Client().post(reverse("api:jobs"), data)
    assert refused.status_code == 401 and refused["Content-Type"] == "application/problem+json"
    assert recorded == []
    data = job_form_data("video", content=SimpleUploadedFile("clip.mp4", b"\x00" * 4096, "video/mp4"))
    assert Client(headers={"Authorization": f"Bearer {plain}"}).post(reverse("api:jobs"), data).status_code == 400
    assert sum(recorded) >= 4096  # read, and refused by the form (not a real clip)
