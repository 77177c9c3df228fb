"""nstsite.settings: environment variables decide, and a bad or missing value stops the process
with a message naming the variable. Each case starts a fresh Python outside pytest, because
settings are read once per process (and under pytest a development key is allowed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[1]
PRINT_SETTINGS = ("from django.conf import settings as s; "
                  "print(s.DEBUG, s.NST_MODEL_DIR, s.DATABASES['default']['ENGINE'], s.REDIS_URL)")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "NST_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    clean.update(DJANGO_SETTINGS_MODULE="nstsite.settings", **env)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=clean, capture_output=True, text=True)


def test_debug_is_off_by_default():
    assert settings.DEBUG is False


def test_a_secret_key_is_required_outside_debug_and_tests():
    result = run(["-c", PRINT_SETTINGS])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_defaults_with_a_key():
    result = run(["-c", PRINT_SETTINGS], DJANGO_SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", str(REPO / "models"), "django.db.backends.sqlite3",
                                     "redis://127.0.0.1:6379/0"]


def test_debug_needs_no_key_and_paths_are_relative_to_the_repository():
    result = run(["-c", PRINT_SETTINGS], DJANGO_DEBUG="1", NST_MODEL_DIR="elsewhere/models",
                 DATABASE_URL="postgres://u:p@db:5432/nst")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["True", str(REPO / "elsewhere" / "models"),
                                         "django.db.backends.postgresql"]


@pytest.mark.parametrize("name, value", [
    ("DJANGO_DEBUG", "maybe"),
    ("DATABASE_CONN_MAX_AGE", "ten"),
    ("DATABASE_URL", "nosuchdb://x/y"),
    ("REDIS_URL", "localhost:6379"),
])
def test_a_bad_value_stops_the_process_and_names_the_variable(name, value):
    result = run(["-c", PRINT_SETTINGS], DJANGO_SECRET_KEY="k" * 50, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
