"""Every refusal of the submission form is the API's too, with the same message (one path:
api/submit.py runs the page's admission and form). Each case is sent to the page and to the API;
the page's form errors and the API's problem `errors` must be the same, field by field."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engine.models import StyleJob, UserQuota

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "rq_redis")]


def messages(errors: dict) -> dict[str, list[str]]:
    return {name: [e["message"] for e in errors[name]] for name in errors}


def page_refusal(owner_client, data) -> dict[str, list[str]]:
    response = owner_client.post(reverse("engine:submit"), data)
    assert response.status_code in (200, 429), response.status_code
    return messages(response.context["form"].errors.get_json_data())


def api_refusal(client, data, status: int = 400) -> dict:
    response = client.post(reverse("api:jobs"), data)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def text_file(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"not a picture at all", "image/jpeg")


CASES = {
    "no content": dict(content=None),
    "no style": dict(style_1=None),
    "not an image": dict(content_factory=lambda: text_file("photo.jpg")),
    "size too large": dict(size="999999"),
    "size not a number": dict(size="big"),
    "size left empty": dict(size=""),
    "unknown mode": dict(mode="cubist"),
    "unknown preset": dict(preset="sepia"),
    "weight negative": dict(style_1_weight="-1"),
    "all weights zero": dict(style_1_weight="0"),
    "a file and a painting in one slot": dict(style_1_library="LIBRARY"),
    "a painting no longer offered": dict(style_1=None, style_1_library="999999"),
    "a remix not in the gallery": dict(remix="999999"),
    "steps over the quota": dict(mode="classic", epochs="100", steps_per_epoch="1000"),
    "a fourth style file": dict(style_4_factory=lambda: text_file("s4.jpg")),
}


@pytest.mark.parametrize("case", CASES)
def test_the_api_refuses_what_the_form_refuses_with_its_messages(case, owner_client, api_client, job_form_data):
    from engine.models import LibraryStyle
    from engine.studio import style_library

    style_library.create_bundled_rows()
    overrides = dict(CASES[case])

    def data():
        values = {k: v for k, v in overrides.items() if not k.endswith("_factory")}
        if values.get("style_1_library") == "LIBRARY":
            values["style_1_library"] = str(LibraryStyle.objects.first().pk)
        made = job_form_data(**{"mode": "fast", **values})
        if "content_factory" in overrides:
            made["content"] = overrides["content_factory"]()
        if "style_4_factory" in overrides:
            made["style_4"] = overrides["style_4_factory"]()
        return made

    expected = page_refusal(owner_client, data())
    assert expected, "the page took it: not a refusal"
    problem = api_refusal(api_client(), data())
    assert messages(problem["errors"]) == expected
    assert problem["type"].endswith("#invalid-submission") and problem["status"] == 400
    for field_messages in expected.values():
        for message in field_messages:
            assert message in problem["detail"]
    assert not StyleJob.objects.exists()


def test_the_active_jobs_quota_is_the_apis_too(owner, owner_client, api_client, job_form_data, make_job):
    UserQuota.objects.create(user=owner, max_active_jobs=1)
    make_job()
    expected = page_refusal(owner_client, job_form_data(mode="fast"))["__all__"]
    problem = api_refusal(api_client(), job_form_data(mode="fast"), status=409)
    assert [problem["detail"]] == expected and problem["type"].endswith("#quota-exceeded")


def test_the_submission_rate_is_counted_for_the_page_and_the_api_together(
        owner_client, api_client, job_form_data, settings):
    settings.NST_RATE_LIMITS = {**settings.NST_RATE_LIMITS, "submit_user": "1/h"}
    assert owner_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302
    response = api_client().post(reverse("api:jobs"), job_form_data(mode="fast"))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    page = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast"))
    assert response.json()["detail"] == messages(page.context["form"].errors.get_json_data())["__all__"][0]
    assert response.json()["detail"].startswith("There were too many job submissions from your account")


def test_the_pixel_budget_is_the_apis_too(owner_client, api_client, job_form_data, settings):
    settings.NST_MAX_SUBMISSION_PIXELS = 50_000
    expected = page_refusal(owner_client, job_form_data(mode="fast"))["__all__"]
    problem = api_refusal(api_client(), job_form_data(mode="fast"))
    assert [problem["detail"]] == expected and "megapixels" in problem["detail"]


def test_an_upload_cut_off_at_its_limit_is_refused_with_the_pages_message(owner_client, api_client,
                                                                          job_form_data, settings, image_bytes):
    settings.NST_MAX_UPLOAD_BYTES = 10_000

    def data():
        return job_form_data(mode="fast", style_1=SimpleUploadedFile("big.png", image_bytes("starry_night.jpg", 400,
                                                                                            fmt="PNG"), "image/png"))

    expected = page_refusal(owner_client, data())
    assert messages(api_refusal(api_client(), data())["errors"]) == expected


def test_a_webhook_url_that_may_not_receive_is_refused_before_anything_else(api_client, job_form_data):
    for url, words in (("http://example.org/hook", "must use https"),
                       ("https://127.0.0.1/hook", "public internet addresses"),
                       ("https://169.254.169.254/latest/meta-data", "public internet addresses"),
                       ("https://user:pw@example.org/", "user name or password")):
        problem = api_refusal(api_client(), job_form_data(mode="fast", webhook_url=url))
        assert words in problem["errors"]["webhook_url"][0]["message"], url
    problem = api_refusal(api_client(), job_form_data(mode="fast", webhook_events="started,exploded"))
    assert "Unknown webhook events: exploded" in problem["detail"]
    assert not StyleJob.objects.exists()
