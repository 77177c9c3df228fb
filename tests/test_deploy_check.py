"""`manage.py check --deploy` passes with production settings and no warning at all, while the
local run (scripts/run: a key, no debug, plain http on 127.0.0.1:8000) keeps working over http.

Each case is a fresh Python process (settings are read once per process), with the environment
cleared of DJANGO_*/NST_* variables first."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRINT_SECURITY = ("from django.conf import settings as s; "
                  "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
                  "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, sep='|')")


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "nst.example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://nst.example.org",
        "DJANGO_HTTPS": "1",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
        "DJANGO_HSTS_PRELOAD": "1",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DJANGO_EMAIL_HOST": "smtp.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "NST_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    clean.update(DJANGO_SETTINGS_MODULE="nstsite.settings", **env)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=clean, capture_output=True, text=True,
                          timeout=120)


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


@pytest.mark.slow
def test_production_settings_pass_check_deploy_without_any_warning(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_production_settings_are_what_check_deploy_wants(tmp_path):
    result = run(["-c", PRINT_SECURITY], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("|") == ["False", "True", "True", "True", "31536000",
                                                 "('HTTP_X_FORWARDED_PROTO', 'https')"]


@pytest.mark.slow
@pytest.mark.parametrize("variable, value, warning", [
    ("DJANGO_HTTPS", "0", "security.W008"),                 # no SSL redirect ...
    ("DJANGO_SSL_REDIRECT", "0", "security.W008"),
    ("DJANGO_SESSION_COOKIE_SECURE", "0", "security.W012"),
    ("DJANGO_CSRF_COOKIE_SECURE", "0", "security.W016"),
    ("DJANGO_HSTS_SECONDS", "0", "security.W004"),
    ("DJANGO_DEBUG", "1", "security.W018"),
    ("DJANGO_SECRET_KEY", "short-and-guessable", "security.W009"),
    ("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend", "nstsite.W001"),
])
def test_check_deploy_fails_when_one_part_is_missing(tmp_path, variable, value, warning):
    # The check is not a rubber stamp: each setting it wants is env-driven, and leaving one out fails.
    result = check_deploy(production_env(tmp_path, **{variable: value}))
    assert result.returncode != 0 and warning in result.stdout + result.stderr


@pytest.mark.slow
def test_the_proxy_header_can_be_renamed_or_turned_off(tmp_path):
    renamed = run(["-c", PRINT_SECURITY],
                  production_env(tmp_path, DJANGO_PROXY_SSL_HEADER="X-Forwarded-Scheme"))
    assert renamed.stdout.strip().endswith("('HTTP_X_FORWARDED_SCHEME', 'https')"), renamed.stderr
    # daphne speaking TLS itself: no header is trusted (a client could send it).
    off = run(["-c", PRINT_SECURITY], production_env(tmp_path, DJANGO_PROXY_SSL_HEADER=""))
    assert off.stdout.strip().endswith("|None"), off.stderr
    assert check_deploy(production_env(tmp_path, DJANGO_PROXY_SSL_HEADER="")).returncode == 0


@pytest.mark.parametrize("env", [
    {"DJANGO_SECRET_KEY": "k" * 50},   # what scripts/run sets (var/secret_key), no debug
    {"DJANGO_DEBUG": "1"},             # a developer's shell
])
def test_the_local_http_run_keeps_plain_http_cookies_and_no_redirect(env):
    result = run(["-c", PRINT_SECURITY], env)
    assert result.returncode == 0, result.stderr
    debug, redirect, session_secure, csrf_secure, hsts, proxy = result.stdout.strip().split("|")
    assert (redirect, session_secure, csrf_secure, hsts, proxy) == ("False", "False", "False", "0", "None")


def test_scripts_run_does_not_ask_for_https():
    # scripts/run must keep working on http://127.0.0.1:8000: it must not turn DJANGO_HTTPS on.
    text = (REPO / "scripts" / "run").read_text()
    assert "DJANGO_HTTPS" not in text and "DJANGO_DEBUG=" not in text


@pytest.mark.slow
def test_email_to_the_console_is_a_loud_warning_at_start_and_in_check_deploy(tmp_path):
    # Issue 14, finding 2: with no e-mail backend set, reset links went to the server's log, and
    # `check --deploy` said nothing about it.
    # Neither a backend nor a server named: the console.
    env = production_env(tmp_path, DJANGO_EMAIL_BACKEND=None, DJANGO_EMAIL_HOST=None)
    result = check_deploy(env)
    report = result.stdout + result.stderr
    assert result.returncode != 0 and "nstsite.W001" in report and "password-reset links" in report
    assert "DJANGO_EMAIL_HOST" in report  # the hint says what to set
    started = run(["-c", "import django; django.setup()"], env)
    assert "password-reset links" in started.stderr and "DJANGO_EMAIL_BACKEND" in started.stderr
    quiet = run(["-c", "import django; django.setup()"], production_env(tmp_path))
    assert "password-reset links" not in quiet.stderr
    # A server named without a backend: SMTP to it (settings.py), no warning.
    smtp = check_deploy(production_env(tmp_path, DJANGO_EMAIL_BACKEND=None))
    assert smtp.returncode == 0 and "nstsite.W001" not in smtp.stdout + smtp.stderr
    debug = check_deploy(production_env(tmp_path, DJANGO_EMAIL_BACKEND=None, DJANGO_EMAIL_HOST=None, DJANGO_DEBUG="1"))
    assert "nstsite.W001" not in debug.stdout + debug.stderr  # a developer's machine
