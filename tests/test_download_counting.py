"""An artwork's download count counts visitors, not requests (issue 14, finding 5: 25 anonymous GETs
of /gallery/<id>/download/ with `Range: bytes=0-0` added 25 to the count shown). Each account, or
each address, counts once per artwork per day; requests for part of the file (Range) and HEAD never
count (gallery/downloads.py). The marks are in the limits cache (the session's Redis)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from engine.models import Visibility
from gallery import downloads
from gallery.models import Artwork

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def artwork(make_job, image_bytes) -> Artwork:
    job = make_job(mode="fast", visibility=Visibility.PUBLIC)
    assert job.start(worker="test")
    assert job.finish(image_png=image_bytes("tubingen.jpg", 64, fmt="PNG"), history=None, device="CPU",
                      network="", seconds=0.1)
    return Artwork.objects.get(job=job)


def count(artwork: Artwork) -> int:
    artwork.refresh_from_db()
    return artwork.download_count


def get(client: Client, artwork: Artwork, **headers):
    response = client.get(reverse("gallery:download", args=[artwork.pk]), **headers)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return response


def test_range_requests_do_not_count(artwork):
    for _ in range(25):
        get(Client(), artwork, HTTP_RANGE="bytes=0-0")
    assert count(artwork) == 0
    assert Client().head(reverse("gallery:download", args=[artwork.pk])).status_code == 200
    assert count(artwork) == 0


def test_one_address_counts_once_a_day_however_often_it_downloads(artwork):
    for _ in range(25):
        get(Client(), artwork)
    assert count(artwork) == 1
    get(Client(REMOTE_ADDR="198.51.100.20"), artwork)
    assert count(artwork) == 2
    page = Client().get(reverse("gallery:detail", args=[artwork.pk])).content.decode()
    assert "2 downloads<" in page


def test_an_account_counts_once_a_day_from_anywhere(artwork, other_user):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        client = Client(REMOTE_ADDR=address)
        client.force_login(other_user)
        get(client, artwork)
    assert count(artwork) == 1


def test_the_next_day_counts_again(artwork, monkeypatch):
    get(Client(), artwork)
    monkeypatch.setattr(downloads, "_today", lambda: date(2100, 1, 2))  # a day cannot be waited for
    get(Client(), artwork)
    get(Client(), artwork)
    assert count(artwork) == 2


def test_the_address_is_not_what_is_stored():
    request = Client().get("/").wsgi_request
    key = downloads.visitor_key(request)
    assert key.startswith("ip:") and "127.0.0.1" not in key
