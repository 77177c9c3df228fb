"""Rate limits (issue 14, findings 2 and 3; nstsite/request_limits/rate_limits.py): sign-ups, failed log-ins per
address across usernames, password-reset requests and e-mails, job submissions; a friendly 429
page with Retry-After; the client's address from X-Forwarded-For only through a trusted proxy;
counters shared by the web processes (Redis); and what the account pages do not tell about other
people's accounts.

The counters live in the session's Redis (tests/conftest.py: limits_cache), emptied per test. The
Django test client's address is 127.0.0.1; another REMOTE_ADDR is another browser.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from engine.models import StyleJob
from tests.harness import Platform
from tests.web_client import PASSWORD

pytestmark = pytest.mark.django_db


def signup(client: Client, n: int):
    return client.post(reverse("signup"), {"username": f"newbie{n}", "email": f"newbie{n}@example.org",
                                           "password1": PASSWORD, "password2": PASSWORD})


@pytest.fixture
def rates(settings):
    """rates(name=rate, ...): lower limits for one test (the defaults are tens per hour)."""
    def set_rates(**values: str) -> None:
        settings.NST_RATE_LIMITS = {**settings.NST_RATE_LIMITS, **values}
    return set_rates


def assert_friendly_429(response, limit: str) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert f'data-limit="{limit}"' in html and "Please try again in" in html
    assert 'class="site-header"' in html  # the site's own page


def test_every_limit_has_a_default_rate():
    assert set(django_settings.NST_RATE_LIMITS) == {
        "signup_ip", "login_failures_ip", "password_reset_ip", "password_reset_email", "submit_user", "submit_ip"}
    assert django_settings.CACHES["limits"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert django_settings.RATELIMIT_USE_CACHE == "limits"


# --- sign-up ----------------------------------------------------------------------------------------

def test_sign_ups_from_one_address_are_limited(rates):
    # Finding 2: 30 sign-ups from one address in 9.9 s were all accepted.
    rates(signup_ip="3/h")
    client = Client()
    codes = [signup(Client(), n).status_code for n in range(3)]
    assert codes == [302, 302, 302]
    refused = signup(client, 3)
    assert_friendly_429(refused, "signup_ip")
    assert "sign-ups" in refused.content.decode()
    assert not get_user_model().objects.filter(username="newbie3").exists()
    # Another address is not affected.
    assert signup(Client(REMOTE_ADDR="198.51.100.9"), 4).status_code == 302


def test_failed_sign_ups_count_too_so_the_form_cannot_list_usernames_quickly(rates, owner):
    rates(signup_ip="3/h")
    client = Client()
    for _ in range(3):
        taken = client.post(reverse("signup"), {"username": owner.username, "email": "x@example.org",
                                                "password1": PASSWORD, "password2": PASSWORD})
        assert taken.status_code == 200 and "already exists" in taken.content.decode()
    assert client.post(reverse("signup"), {"username": owner.username}).status_code == 429


# --- log-in ------------------------------------------------------------------------------------------

def test_failed_logins_across_usernames_from_one_address_are_limited(rates, django_user_model):
    # Finding 3: 48 failed log-ins across 12 usernames from one address were all answered; the
    # lockout (django-axes) counted (username, address) pairs only.
    rates(login_failures_ip="30/h")
    users = [django_user_model.objects.create_user(f"user{n}", f"u{n}@example.org", PASSWORD) for n in range(12)]
    client = Client()
    codes = [client.post(reverse("login"), {"username": user.username, "password": f"guess-{k}"}).status_code
             for k in range(4) for user in users]
    assert codes[:30] == [200] * 30 and set(codes[30:]) == {429}
    refused = client.post(reverse("login"), {"username": users[0].username, "password": PASSWORD})
    assert_friendly_429(refused, "login_failures_ip")
    assert "_auth_user_id" not in client.session
    assert reverse("password_reset") in refused.content.decode()
    # The same account from another address logs in (the limit is the address's, not the account's).
    elsewhere = Client(REMOTE_ADDR="203.0.113.5")
    assert elsewhere.post(reverse("login"), {"username": users[0].username, "password": PASSWORD}).status_code == 302


def test_successful_logins_do_not_count(rates, owner):
    rates(login_failures_ip="2/h")
    client = Client()
    for _ in range(4):
        assert client.post(reverse("login"), {"username": owner.username, "password": PASSWORD}).status_code == 302
        client.post(reverse("logout"))


def test_the_admin_login_counts_failures_per_address_too(rates, staff_user, other_user):
    rates(login_failures_ip="3/h")
    client = Client()
    for name in (staff_user.username, other_user.username, "nobody"):
        client.post(reverse("admin:login"), {"username": name, "password": "wrong"})
    assert client.post(reverse("admin:login"), {"username": staff_user.username,
                                                "password": PASSWORD}).status_code == 429
    assert client.post(reverse("login"), {"username": other_user.username, "password": PASSWORD}).status_code == 429


# --- password reset -----------------------------------------------------------------------------------

def test_reset_emails_to_one_address_are_limited_without_saying_so(owner):
    # Finding 2: 20 reset e-mails to one address in 0.4 s.
    limit = int(django_settings.NST_RATE_LIMITS["password_reset_email"].split("/")[0])
    answers = [Client(REMOTE_ADDR=f"198.51.100.{n}").post(reverse("password_reset"), {"email": owner.email})
               for n in range(1, 21)]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, reverse("password_reset_done"))}
    assert len(mail.outbox) == limit


def test_reset_requests_from_one_address_are_limited(rates, owner):
    rates(password_reset_ip="3/h")
    client = Client()
    for n in range(3):
        assert client.post(reverse("password_reset"), {"email": f"someone{n}@example.org"}).status_code == 302
    assert_friendly_429(client.post(reverse("password_reset"), {"email": owner.email}), "password_reset_ip")
    assert mail.outbox == []


def test_an_address_over_its_reset_limit_looks_like_an_unknown_address(rates, owner):
    # The answer for a registered address over its limit is the answer for an unknown address:
    # the same redirect, the same page, no e-mail either way.
    rates(password_reset_email="1/h")
    client = Client()
    client.post(reverse("password_reset"), {"email": owner.email})
    assert len(mail.outbox) == 1
    over = client.post(reverse("password_reset"), {"email": owner.email}, follow=True)
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.org"}, follow=True)
    assert over.redirect_chain == unknown.redirect_chain
    assert over.content == unknown.content and len(mail.outbox) == 1


# --- job submissions ----------------------------------------------------------------------------------

def test_job_submissions_per_account_are_limited_with_the_form_kept(rates, owner_client, job_form_data,
                                                                  rq_redis, media_root):
    rates(submit_user="2/h")
    for _ in range(2):
        assert owner_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302
    refused = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast", size="300"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    html = refused.content.decode()
    assert "too many job submissions from your account" in html
    assert 'id="job-form"' in html and 'value="300"' in html  # the form again, with what was sent
    assert StyleJob.objects.count() == 2


def test_job_submissions_per_address_are_limited(rates, owner_client, other_client, job_form_data,
                                                 rq_redis, media_root):
    rates(submit_ip="2/h")
    assert owner_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302
    assert other_client.post(reverse("engine:submit"), job_form_data(mode="fast")).status_code == 302
    refused = owner_client.post(reverse("engine:submit"), job_form_data(mode="fast"))
    assert refused.status_code == 429 and "from your network" in refused.content.decode()


# --- the client's address --------------------------------------------------------------------------------

def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored(rates):
    rates(signup_ip="2/h")
    codes = [Client(HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(reverse("signup"), {"username": ""}).status_code
             for n in range(4)]
    assert codes == [200, 200, 429, 429]  # a made-up header does not make a new address


def test_a_trusted_proxys_forwarded_for_names_the_browser(rates, settings):
    import ipaddress

    from nstsite.security.client_ip import client_ip

    settings.NST_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
    rates(signup_ip="2/h")
    for n in range(3):  # three browsers behind the proxy: each has its own count
        browser = Client(HTTP_X_FORWARDED_FOR=f"1.2.3.4, 192.0.2.{n}, 10.1.1.1")
        assert [browser.post(reverse("signup"), {"username": ""}).status_code for _ in range(3)] == [200, 200, 429]

    class Request:
        def __init__(self, remote: str, forwarded: str = ""):
            self.META = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}

    assert client_ip(Request("127.0.0.1", "198.51.100.1, 192.0.2.7")) == "192.0.2.7"   # rightmost untrusted
    assert client_ip(Request("192.0.2.50", "198.51.100.1")) == "192.0.2.50"            # peer not a proxy
    assert client_ip(Request("127.0.0.1", "not-an-address")) == "127.0.0.1"             # garbage: the proxy
    assert client_ip(Request("::ffff:192.0.2.8")) == "192.0.2.8"                        # IPv4 over IPv6
    assert client_ip(Request("")) == "0.0.0.0"


def test_the_trusted_proxies_setting_comes_from_the_environment_and_refuses_garbage():
    import os
    import subprocess
    import sys
    from pathlib import Path

    def run(value: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NST_"))}
        env.update(DJANGO_SETTINGS_MODULE="nstsite.settings", DJANGO_SECRET_KEY="k" * 50, NST_TRUSTED_PROXIES=value,
                   NST_RATE_SUBMIT_USER="5/m")
        code = "from django.conf import settings as s; print(s.NST_TRUSTED_PROXIES, s.NST_RATE_LIMITS['submit_user'])"
        return subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env=env,
                              capture_output=True, text=True)

    good = run("127.0.0.1, 10.0.0.0/8")
    assert good.returncode == 0, good.stderr
    assert "IPv4Network('127.0.0.1/32'), IPv4Network('10.0.0.0/8')" in good.stdout and "5/m" in good.stdout
    bad = run("proxy.example")
    assert bad.returncode != 0 and "NST_TRUSTED_PROXIES" in bad.stderr


# --- who has an account -----------------------------------------------------------------------------------

def test_an_authors_page_is_404_unless_they_published_something(client, owner):
    # Finding 3: /gallery/by/<name>/ was 200 for every account and 404 otherwise: a list of usernames.
    assert client.get(reverse("gallery:user", args=[owner.username])).status_code == 404
    assert client.get(reverse("gallery:user", args=["nobody-at-all"])).status_code == 404


# --- several web processes ----------------------------------------------------------------------------------

def _post_form(base: str, path: str, data: dict) -> int:
    """GET the form for its CSRF cookie and token, then POST it, each on a new connection (so the
    kernel may hand each to another web process); the POST's status."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + path, timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(base + path, data=body, headers={"Referer": base + path})
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_counts_are_shared_by_the_web_processes(tmp_path):
    # Two daphne processes on one port (SO_REUSEPORT spreads the connections), counting in Redis:
    # the limit holds for the site, not per process.
    with Platform(tmp_path, env={"NST_WEB_PROCESSES": "2", "NST_RATE_SIGNUP_IP": "3/h"}) as platform:
        platform.up(workers=0)
        codes = [_post_form(platform.url, "/accounts/signup/", {"username": ""}) for _ in range(10)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429] * 7


def test_a_cache_each_process_keeps_to_itself_is_refused_for_the_counts(settings):
    from nstsite import checks

    assert checks.rate_limit_cache(None) == []
    settings.CACHES = {**settings.CACHES, "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert [e.id for e in checks.rate_limit_cache(None)] == ["nstsite.E002"]
