"""The two servers behind the proxy (nstsite.webtier.webserver): gunicorn (gthread) for the pages, daphne for
the websockets, as scripts/lib/processes starts them. Their command lines, and the pages server
really started: its worker processes answer, a worker that dies is replaced, SIGTERM stops them all.
The whole tier behind nginx: tests/test_web_tier.py."""

from __future__ import annotations

import signal
import sys

import psutil
import pytest
import requests

from nstsite.webtier import webserver
from tests.harness import HarnessError, Process, free_port, process_env, wait_for, wait_http


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_pages_run_on_gunicorn_gthread_with_the_configured_processes_and_threads(monkeypatch) -> None:
    monkeypatch.setenv("NST_WEB_PROCESSES", "3")
    monkeypatch.setenv("NST_WEB_THREADS", "12")
    command = webserver.pages_command("127.0.0.1:8001", [])
    assert command[1:3] == ["-m", "gunicorn"] and command[-1] == "nstsite.wsgi:application"
    assert (option(command, "--bind"), option(command, "--worker-class")) == ("127.0.0.1:8001", "gthread")
    assert (option(command, "--workers"), option(command, "--threads")) == ("3", "12")
    monkeypatch.delenv("NST_WEB_PROCESSES")
    monkeypatch.delenv("NST_WEB_THREADS")
    command = webserver.pages_command("127.0.0.1:8001", [])
    assert 1 <= int(option(command, "--workers")) <= webserver.MAX_DEFAULT_PROCESSES
    assert option(command, "--threads") == str(webserver.DEFAULT_THREADS)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5", "²"])
def test_a_bad_process_count_is_a_clear_message(monkeypatch, value: str) -> None:
    monkeypatch.setenv("NST_WEB_PROCESSES", value)
    with pytest.raises(SystemExit, match="NST_WEB_PROCESSES=.* must be a whole number of at least 1"):
        webserver.pages_command("127.0.0.1:8001", [])


@pytest.mark.parametrize("bind", ["8001", "127.0.0.1", "127.0.0.1:http", ":8001"])
def test_a_bad_address_is_a_clear_message(bind: str) -> None:
    with pytest.raises(SystemExit, match="expected unix:/path or host:port"):
        webserver.pages_command(bind, [])


def test_sockets_run_on_daphne_believing_the_proxys_headers() -> None:
    command = webserver.sockets_command("[::1]:8002", [])
    assert command[1:3] == ["-m", "daphne"] and command[-1] == "nstsite.asgi:sockets_application"
    assert (option(command, "--bind"), option(command, "--port")) == ("::1", "8002")
    assert "--proxy-headers" in command


def test_behind_the_proxy_both_servers_listen_on_unix_sockets() -> None:
    pages = webserver.pages_command("unix:/run/x/pages.sock", [])
    assert option(pages, "--bind") == "unix:/run/x/pages.sock"
    sockets = webserver.sockets_command("unix:/run/x/sockets.sock", [])
    assert option(sockets, "-u") == "/run/x/sockets.sock" and "--port" not in sockets


@pytest.fixture
def pages(tmp_path):
    """The pages server (two worker processes) on a free loopback port, answering: (process, url)."""
    port = free_port()
    env = process_env(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      DJANGO_MEDIA_ROOT=str(tmp_path / "media"), DJANGO_STATIC_ROOT=str(tmp_path / "static"),
                      NST_WEB_PROCESSES="2", NST_WEB_THREADS="4")
    web = Process("web", [sys.executable, "-m", "nstsite.webtier.webserver", "pages", "--bind", f"127.0.0.1:{port}"],
                  env,
                  tmp_path / "web.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/accounts/login/", [web], timeout=60)
    except HarnessError as exc:
        web.kill()
        pytest.fail(f"the pages server did not start:\n{exc}", pytrace=False)
    yield web, url
    web.kill()


def workers_of(web: Process) -> list[psutil.Process]:
    return psutil.Process(web.proc.pid).children()


@pytest.mark.slow
def test_the_pages_server_answers_and_a_dead_worker_is_replaced(pages) -> None:
    web, url = pages
    assert "gunicorn" in " ".join(psutil.Process(web.proc.pid).cmdline())   # exec'd: no supervisor of ours
    first, second = workers_of(web)
    assert requests.get(url + "/accounts/login/", timeout=30).status_code == 200
    first.kill()
    wait_for(lambda: len(workers_of(web)) == 2 and first.pid not in [w.pid for w in workers_of(web)],
             "gunicorn to replace its worker", timeout=60)
    assert web.alive
    assert requests.get(url + "/accounts/login/", timeout=30).status_code == 200


@pytest.mark.slow
def test_sigterm_stops_the_pages_server_and_its_workers(pages) -> None:
    web, _ = pages
    workers = workers_of(web)
    web.proc.send_signal(signal.SIGTERM)
    assert web.proc.wait(timeout=30) == 0
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
