"""The web server (nstsite.webserver): several daphne processes on one socket, really started,
each answering; stopped together by SIGTERM; all stopped when one of them dies."""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from tests.harness import HarnessError, Process, free_port, process_env, wait_http


@pytest.fixture
def server(tmp_path):
    """server(processes) -> (process, url): nstsite.webserver on a free loopback port, answering
    (tests/harness.py starts it; each is killed at the end with everything it started)."""
    started: list[Process] = []

    def start(processes: int):
        port = free_port()
        env = process_env(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                          DJANGO_MEDIA_ROOT=str(tmp_path / "media"), DJANGO_STATIC_ROOT=str(tmp_path / "static"))
        web = Process("web", [sys.executable, "-m", "nstsite.webserver", "--bind", "127.0.0.1", "--port", str(port),
                              "--processes", str(processes)], env, tmp_path / "web.log")
        started.append(web)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/accounts/login/", [web], timeout=60)
        except HarnessError as exc:
            pytest.fail(f"the web server did not start:\n{exc}", pytrace=False)
        return web.proc, url

    yield start
    for web in started:
        web.kill()


def daphnes(proc: subprocess.Popen) -> list[psutil.Process]:
    return [p for p in psutil.Process(proc.pid).children() if "daphne" in " ".join(p.cmdline())]


def test_n_daphne_processes_share_the_socket_and_each_answers(server) -> None:
    proc, url = server(2)
    workers = daphnes(proc)
    assert len(workers) == 2
    # Concurrent connections: while one process is busy with a request the other accepts the next,
    # which shows in each one's own CPU time (measured before and after).
    before = {p.pid: sum(p.cpu_times()[:2]) for p in workers}
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: requests.get(url + "/accounts/login/", timeout=30).status_code,
                              range(200)))
    assert codes == [200] * 200
    busy = [p.pid for p in workers if sum(p.cpu_times()[:2]) - before[p.pid] > 0.05]
    assert len(busy) == 2, busy


def test_sigterm_stops_every_process(server) -> None:
    proc, _ = server(2)
    workers = daphnes(proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_when_one_process_dies_the_server_stops_and_says_so(server) -> None:
    proc, _ = server(2)
    first, second = daphnes(proc)
    first.kill()
    assert proc.wait(timeout=20) == 1   # scripts/run and the container's restart policy notice
    second.wait(timeout=5)
    assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE


def test_one_process_is_plain_daphne(server) -> None:
    proc, url = server(1)
    assert "daphne" in " ".join(psutil.Process(proc.pid).cmdline())   # exec'd: no supervisor
    assert requests.get(url + "/accounts/login/", timeout=10).status_code == 200
