"""The web server (nstsite.webserver): several daphne processes on one socket, really started,
each answering; stopped together by SIGTERM; all stopped when one of them dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """server(processes) -> (process, url): nstsite.webserver on a free loopback port, answering."""
    started = []

    def start(processes: int):
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DJANGO_", "NST_")) and k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   DJANGO_MEDIA_ROOT=str(tmp_path / "media"), DJANGO_STATIC_ROOT=str(tmp_path / "static"),
                   PYTHONUNBUFFERED="1")
        log = open(tmp_path / "web.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "nstsite.webserver", "--bind", "127.0.0.1",
                                 "--port", str(port), "--processes", str(processes)],
                                cwd=REPO, env=env, stdout=log, stderr=log)
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/accounts/login/", timeout=2)
                return proc, url
            except requests.RequestException:  # refused, or too busy to answer in time yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the web server did not start:\n{(tmp_path / 'web.log').read_text()}",
                                pytrace=False)
                time.sleep(0.2)

    yield start
    for proc, log in started:
        family = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        for p in [proc, *family]:
            try:
                p.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        proc.wait(timeout=10)
        log.close()


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
