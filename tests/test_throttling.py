"""Login throttling (django-axes, settings "reliability and security"): after AXES_FAILURE_LIMIT
failed logins for one username from one IP address, that pair is refused for a cool-off period,
even with the right password, with a friendly 429 page; a successful login resets the count."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.web_client import PASSWORD

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[1]


def log_in(client: Client, username: str, password: str, url: str | None = None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int) -> list[int]:
    return [log_in(client, username, "wrong-password").status_code for _ in range(times)]


def test_the_defaults_are_on_with_a_limit_and_a_cool_off():
    assert settings.AXES_ENABLED is True
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_the_attempt_after_the_limit_is_refused_even_with_the_right_password(client, owner):
    limit = settings.AXES_FAILURE_LIMIT
    # The first limit-1 failures show the ordinary form error; the limit-th locks the pair out.
    assert fail(client, owner.username, limit - 1) == [200] * (limit - 1)
    assert log_in(client, owner.username, "wrong-password").status_code == 429
    response = log_in(client, owner.username, PASSWORD)
    assert response.status_code == 429 and not logged_in(client)
    html = response.content.decode()
    assert 'id="login-locked"' in html and "Too many failed log-ins" in html
    assert f"paused for {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in html
    assert reverse("password_reset") in html  # a way out that does not need the password
    assert "<html" in html and 'class="site-header"' in html  # the site's own page, not a bare text


def test_a_successful_login_resets_the_count(client, owner):
    limit = settings.AXES_FAILURE_LIMIT
    assert fail(client, owner.username, limit - 1) == [200] * (limit - 1)
    assert log_in(client, owner.username, PASSWORD).status_code == 302 and logged_in(client)
    client.post(reverse("logout"))
    # A fresh count: limit-1 more failures are again ordinary, and the right password still works.
    assert fail(client, owner.username, limit - 1) == [200] * (limit - 1)
    assert log_in(client, owner.username, PASSWORD).status_code == 302 and logged_in(client)


def test_the_lockout_is_per_username_and_address(client, owner, other_user):
    fail(client, owner.username, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, owner.username, PASSWORD).status_code == 429
    # Another account from the same address, and the same account from another address, still work:
    # a guesser cannot lock a user out of their account everywhere.
    assert log_in(Client(), other_user.username, PASSWORD).status_code == 302
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert log_in(elsewhere, owner.username, PASSWORD).status_code == 302 and logged_in(elsewhere)


def test_the_lockout_ends_after_the_cool_off(client, owner, monkeypatch):
    """The clock is moved past the cool-off rather than slept through: with a 1 s cool-off, the
    log-ins themselves (password hashing) took longer than that on a loaded machine, and the
    lockout had ended before it was checked."""
    import axes.attempts
    import axes.handlers.proxy
    from django.utils import timezone

    fail(client, owner.username, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, owner.username, PASSWORD).status_code == 429
    real_now = timezone.now
    assert log_in(client, owner.username, PASSWORD).status_code == 429   # still within it
    later = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for module in (timezone, axes.attempts, axes.handlers.proxy):  # the last two import it by name
        monkeypatch.setattr(module, "now", lambda: real_now() + later)
    assert log_in(client, owner.username, PASSWORD).status_code == 302 and logged_in(client)


def test_the_admin_login_is_throttled_too(client, staff_user):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": staff_user.username, "password": "wrong-password"})
    response = log_in(client, staff_user.username, PASSWORD, url)
    assert response.status_code == 429 and not logged_in(client)


def test_failed_logins_of_unknown_usernames_are_throttled_as_well(client):
    # Otherwise the page would tell a guesser which usernames exist.
    codes = fail(client, "nobody-by-this-name", settings.AXES_FAILURE_LIMIT + 1)
    assert codes[-2:] == [429, 429]


def test_signing_up_and_the_tests_forced_logins_do_not_go_through_the_throttle(client, owner_client):
    assert owner_client.get(reverse("engine:my_jobs")).status_code == 200
    response = client.post(reverse("signup"), {"username": "newbie", "email": "newbie@example.org",
                                               "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and logged_in(client)


def run_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NST_"))}
    clean.update(DJANGO_SETTINGS_MODULE="nstsite.settings", DJANGO_SECRET_KEY="k" * 50, **env)
    code = ("from django.conf import settings as s; "
            "print(s.AXES_ENABLED, s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True)


def test_the_limits_come_from_the_environment():
    result = run_settings(NST_LOGIN_FAILURE_LIMIT="3", NST_LOGIN_COOLOFF_MINUTES="60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "3", "3600"]
    assert run_settings(NST_LOGIN_THROTTLING="0").stdout.split()[0] == "False"
    bad = run_settings(NST_LOGIN_FAILURE_LIMIT="0")
    assert bad.returncode != 0 and "NST_LOGIN_FAILURE_LIMIT" in bad.stderr
