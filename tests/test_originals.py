"""A user's originals stay theirs (issue 14, finding 9: anonymous visitors could download the full
stored content photo of any public job, and the history JSON told anyone the worker's hardware).

The rule (engine/models.py, may_see_originals / may_see_placement): the content photo and style
images of a job, and their thumbnails, are for its owner and staff, and for everyone who may see
the job only when the owner shared them (StyleJob.share_originals); where a job ran (worker,
device) is for its owner and staff only, on pages, downloads and sockets (tests/test_socket_access.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from engine.models import StyleJob, Visibility
from gallery.models import Artwork

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]
WORKER, DEVICE = "gpu-box-7.internal", "NVIDIA A100-SXM4-80GB"
ORIGINALS = ("content", "style-1")


@pytest.fixture
def public_job(make_job, image_bytes) -> StyleJob:
    from engine.nst.history import LossHistory, LossRow

    job = make_job(visibility=Visibility.PUBLIC)
    assert job.start(worker=WORKER)
    history = LossHistory([LossRow(step=1, epoch=1, scale=64, content=1.0, style=2.0, tv=0.1, total=3.1, seconds=0.1)])
    assert job.finish(image_png=image_bytes("tubingen.jpg", 64, fmt="PNG"), history=history, device=DEVICE,
                      network="vgg16", seconds=1.0)
    return StyleJob.objects.get(pk=job.pk)


@pytest.fixture
def clients(owner, other_user, staff_user) -> dict[str, Client]:
    out = {"anonymous": Client()}
    for role, user in (("owner", owner), ("other", other_user), ("staff", staff_user)):
        out[role] = Client()
        out[role].force_login(user)
    return out


def download(client: Client, job: StyleJob, kind: str) -> int:
    return client.get(reverse("engine:download", args=[job.pk, kind])).status_code


def thumbnail(client: Client, job: StyleJob, kind: str) -> int:
    return client.get(reverse("gallery:thumbnail", args=[Artwork.objects.get(job=job).pk, kind])).status_code


def test_originals_of_a_public_job_are_the_owners_and_staffs_only(public_job, clients):
    expected = {"anonymous": 404, "other": 404, "owner": 200, "staff": 200}
    for role, client in clients.items():
        for kind in ORIGINALS:
            assert download(client, public_job, kind) == expected[role], (role, kind)
            assert thumbnail(client, public_job, kind) == expected[role], (role, kind)
        assert download(client, public_job, "png") == 200  # the result is what was published
        assert thumbnail(client, public_job, "result") == 200


def test_the_owner_may_share_them(public_job, clients):
    StyleJob.objects.filter(pk=public_job.pk).update(share_originals=True)
    for role, client in clients.items():
        for kind in ORIGINALS:
            assert download(client, public_job, kind) == 200, (role, kind)
            assert thumbnail(client, public_job, kind) == 200, (role, kind)


def test_pages_show_the_originals_only_to_those_who_may_have_them(public_job, clients):
    artwork = Artwork.objects.get(job=public_job)
    content_url = reverse("engine:download", args=[public_job.pk, "content"])
    content_thumb = reverse("gallery:thumbnail", args=[artwork.pk, "content"])
    for role, client in clients.items():
        job_page = client.get(reverse("engine:detail", args=[public_job.pk])).content.decode()
        gallery_page = client.get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
        shown = role in ("owner", "staff")
        assert (content_url in job_page) == shown, role
        assert (content_thumb in gallery_page) == shown, role


def test_hardware_stays_off_public_pages_and_downloads(public_job, clients):
    for role, client in clients.items():
        page = client.get(reverse("engine:detail", args=[public_job.pk])).content.decode()
        history = json.loads(client.get(reverse("engine:download", args=[public_job.pk, "json"])).content)
        shown = role in ("owner", "staff")
        assert (DEVICE in page) == shown and (WORKER in page) == shown, role
        assert ("device" in history) == shown, role
        assert history["network"] == "vgg16" and history["rows"], role  # the rest is there for all


def test_a_remix_of_an_artwork_whose_originals_are_not_shared_brings_no_style_images(
        public_job, clients, job_form_data, rq_redis):
    artwork = Artwork.objects.get(job=public_job)
    page = clients["other"].get(reverse("engine:submit") + f"?remix={artwork.pk}").content.decode()
    assert reverse("gallery:thumbnail", args=[artwork.pk, "style-1"]) not in page
    response = clients["other"].post(reverse("engine:submit"),
                                     job_form_data("fast", style_1=None, remix=str(artwork.pk)))
    assert response.status_code == 200
    assert "keeps their own style image to themselves" in response.content.decode()
    assert StyleJob.objects.count() == 1
