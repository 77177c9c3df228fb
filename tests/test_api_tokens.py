"""Personal API tokens (api/tokens.py, the "API tokens" page): made with a name, a scope and an
optional expiry, shown once, kept as a hash, their last use recorded, revoked by their owner."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api import tokens
from api.models import ApiToken

pytestmark = pytest.mark.django_db


def make_on_the_page(owner_client, **fields) -> tuple[str, str]:
    response = owner_client.post(reverse("api_tokens"), {"name": "booth", "scope": "write", "expires": "", **fields})
    assert response.status_code == 201, response.content
    html = response.content.decode()
    return re.search(r'id="new-token-value">([^<]+)<', html).group(1), html


def test_a_token_is_shown_once_and_kept_only_as_its_hash(owner_client, owner):
    plain, _ = make_on_the_page(owner_client)
    token = ApiToken.objects.get(user=owner)
    assert token.digest == hashlib.sha256(plain.encode()).hexdigest() and token.name == "booth"
    assert plain not in str(ApiToken.objects.values().get())
    again = owner_client.get(reverse("api_tokens")).content.decode()
    assert plain not in again and token.prefix in again


def test_a_token_works_and_records_its_last_use(owner_client, owner):
    plain, _ = make_on_the_page(owner_client)
    assert ApiToken.objects.get().last_used_at is None
    assert Client(headers={"Authorization": f"Bearer {plain}"}).get(reverse("api:jobs")).status_code == 200
    first_use = ApiToken.objects.get().last_used_at
    assert first_use is not None
    Client(headers={"Authorization": f"Bearer {plain}"}).get(reverse("api:jobs"))
    assert ApiToken.objects.get().last_used_at == first_use  # at most one write a minute


def test_a_revoked_token_is_refused(owner_client, owner):
    plain, _ = make_on_the_page(owner_client)
    token = ApiToken.objects.get()
    assert owner_client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 302
    response = Client(headers={"Authorization": f"Bearer {plain}"}).get(reverse("api:jobs"))
    assert response.status_code == 401 and response.json()["type"].endswith("#invalid-token")
    assert "revoked" in owner_client.get(reverse("api_tokens")).content.decode()


def test_an_expired_token_is_refused(owner):
    _, plain = tokens.issue(owner, "short", "read", expires_at=timezone.now() + timedelta(days=1))
    assert Client(headers={"Authorization": f"Bearer {plain}"}).get(reverse("api:jobs")).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client(headers={"Authorization": f"Bearer {plain}"}).get(reverse("api:jobs")).status_code == 401


def test_the_page_offers_an_expiry(owner_client):
    make_on_the_page(owner_client, expires="30", scope="read")
    token = ApiToken.objects.get()
    assert token.scope == "read" and timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_a_form_without_a_name_is_refused(owner_client):
    response = owner_client.post(reverse("api_tokens"), {"name": "", "scope": "write"})
    assert response.status_code == 400 and not ApiToken.objects.exists()


def test_there_is_a_limit_to_the_tokens_one_may_hold(owner, owner_client, settings):
    settings.NST_API_MAX_TOKENS = 2
    for _ in range(2):
        make_on_the_page(owner_client)
    response = owner_client.post(reverse("api_tokens"), {"name": "third", "scope": "read"})
    assert response.status_code == 400 and "revoke one" in response.content.decode()


def test_the_session_works_for_the_sites_own_pages_with_csrf(owner):
    """The site's scripts call the API with the log-in session: a write needs the CSRF header."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(reverse("api:jobs")).status_code == 200
    refused = client.post(reverse("api:settings"))
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def test_the_webhook_secret_is_shown_to_its_owner_and_can_be_replaced(owner_client, owner):
    from api.models import WebhookSecret

    page = owner_client.get(reverse("api_tokens")).content.decode()
    secret = WebhookSecret.objects.get(user=owner).secret
    assert secret.startswith("whsec_") and secret in page
    owner_client.post(reverse("api_webhook_secret"))
    assert WebhookSecret.objects.get(user=owner).secret != secret
