"""docs/api.md's client example, run as written against the platform's own processes (proxy,
pages, websockets, a worker, the webhooks worker): a token made on the "API tokens" page, a fast
job submitted, followed and downloaded, its webhooks received and their signatures checked."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from engine.storage import result_settings
from tests.harness import Platform, free_port
from tests.web_client import PASSWORD

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def example_code() -> str:
    text = (REPO / "docs" / "api.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_the_example_is_about_forty_lines_of_requests() -> None:
    code = example_code()
    assert 35 <= len([line for line in code.splitlines() if line.strip()]) <= 60
    imported = set(re.findall(r"^(?:import|from) (\w+)", code, re.M)) | set(
        re.findall(r"^import [\w, ]+", code, re.M)[0].removeprefix("import ").replace(" ", "").split(","))
    assert imported - set(sys.stdlib_module_names) == {"requests"}


def token_from_the_page(site: str, username: str) -> tuple[str, str]:
    """Log in as a person does and make a token on the "API tokens" page: (token, webhook secret)."""
    browser = requests.Session()
    browser.get(f"{site}/accounts/login/")
    login = browser.post(f"{site}/accounts/login/", data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{site}/accounts/login/"})
    assert login.ok and "sessionid" in browser.cookies
    browser.get(f"{site}/accounts/api-tokens/")
    page = browser.post(f"{site}/accounts/api-tokens/", data={
        "name": "example", "scope": "write", "expires": "", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{site}/accounts/api-tokens/"})
    assert page.status_code == 201, page.text[-2000:]
    token = re.search(r'id="new-token-value">([^<]+)<', page.text).group(1)
    secret = re.search(r'id="webhook-secret-value">([^<]+)<', page.text).group(1)
    return token, secret


def test_the_client_example_runs_against_a_live_platform(tmp_path, redis_server, model_dir, images_dir) -> None:
    import redis

    redis_url = redis_server.rsplit("/", 1)[0] + "/2"
    redis.Redis.from_url(redis_url).flushdb()
    hook_port = free_port()
    env = {"NST_WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{hook_port}"}
    with Platform(tmp_path / "platform", redis_url=redis_url, model_dir=model_dir, env=env) as platform:
        platform.up(workers=1)
        platform.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                        f"get_user_model().objects.create_user('ana', 'ana@example.org', {PASSWORD!r})")
        token, secret = token_from_the_page(platform.url, "ana")
        script = tmp_path / "example.py"
        script.write_text(example_code())
        done = subprocess.run(
            [sys.executable, str(script), str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg")],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={"PATH": "/usr/bin:/bin", "NST_URL": platform.url, "NST_TOKEN": token, "NST_WEBHOOK_SECRET": secret,
                 "HOOK_PORT": str(hook_port)})
        assert done.returncode == 0, done.stdout + done.stderr + platform.logs()
        assert "result.png written; webhooks: job.started, job.succeeded" in done.stdout, done.stdout
        assert "BAD SIGNATURE" not in done.stdout
        settings = result_settings.read_png(io.BytesIO((tmp_path / "result.png").read_bytes()))
        assert settings["mode"] == "fast" and settings["params"]["size"] == 512
        assert platform.server_tracebacks() == []
