"""Real processes for the crash-safety tests (tests/test_crash_safety.py) and their benchmark
(bench/bench_crash_recovery.py): a redis-server with an append-only file that can be killed and
started again on the same port, and RQ workers started with the worker command of
scripts/lib/processes (what scripts/run and docker-compose.yml run). No Django here: the caller
passes the environment (database, Redis, media, models, lease settings)."""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, timeout: float, every: float = 0.05,
             explain: Callable[[], str] = lambda: ""):
    """Poll until condition() is truthy and return its value; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}.\n{explain()}")
        time.sleep(every)


class RedisServer:
    """redis-server on a free port with AOF persistence (fsync every second, as docker-compose's)."""

    def __init__(self, workdir: Path):
        if shutil.which("redis-server") is None:
            raise AssertionError("redis-server is not installed (Debian: apt-get install redis-server).")
        self.port = free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, retry=None)
        try:
            wait_for(lambda: self._answers(client), f"redis-server on port {self.port}", timeout=30)
        finally:
            client.close()

    def _answers(self, client: redis.Redis) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "redis-server exited"
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash: only what the append-only file holds survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def worker_command(name: str) -> list[str]:
    """The worker command of scripts/lib/processes, with this interpreter and a worker name."""
    for line in (REPO / "scripts/lib/processes").read_text().splitlines():
        if line.startswith("worker:"):
            command = shlex.split(line.split(":", 1)[1])
            if command[0] == "python":
                command[0] = sys.executable
            return command[:3] + ["--name", name] + command[3:]
    raise AssertionError("scripts/lib/processes has no worker line")


class WorkerProcess:
    """One `manage.py rqworker` process, its output in a log file."""

    def __init__(self, name: str, env: dict[str, str], log: Path):
        self.name, self.log_path = name, log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(worker_command(name), cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        last = "\n".join(self.log().splitlines()[-lines:])
        return f"--- worker {self.name} (exit {self.proc.poll()}) ---\n{last}"

    def stop(self) -> None:
        """SIGKILL (if still running) and reap: the clean-up for every way a test can end."""
        if self.alive:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._log.close()
