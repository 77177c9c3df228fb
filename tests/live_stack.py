"""The platform as scripts/run runs it, for tests and benchmarks that need websockets end to end.

Django's live_server is WSGI-only, and a server in a thread of the test process would share its
in-memory test database and its TensorFlow. So this starts the real processes instead, with the
commands of scripts/lib/processes: the web server (daphne, HTTP + websockets) and, when asked, an
RQ worker, on free ports and on a SQLite database file of their own in a temporary folder (migrated
and with collected static files, DEBUG off, as in production). Redis is given (the tests' private
server; a database number of its own). The caller talks to it as a browser would.

Free of pytest on purpose: bench/bench_live.py uses it too.
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_commands(host: str, port: int) -> dict[str, list[str]]:
    """{"web": [...], "worker": [...]}: what scripts/run starts (scripts/lib/processes)."""
    out = subprocess.run(["bash", "scripts/run", "--print-commands"], cwd=REPO, check=True, text=True,
                         capture_output=True, env={**os.environ, "NST_HOST": host, "PORT": str(port)}).stdout
    return {name: shlex.split(cmd) for name, cmd in (line.split(": ", 1) for line in out.splitlines())}


class LiveStack:
    def __init__(self, tmp: Path, redis_url: str, model_dir: Path | None = None) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}
        venv_bin = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "DJANGO_MEDIA_ROOT": str(tmp / "media"),
            "DJANGO_STATIC_ROOT": str(tmp / "static"),
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        if model_dir is not None:
            self.env["NST_MODEL_DIR"] = str(model_dir)
        self.env.pop("DJANGO_DEBUG", None)

    # --- processes --------------------------------------------------------------------------------
    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, text=True,
                              capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name: str, command: list[str]) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def up(self, *, worker: bool = True, timeout: float = 120) -> LiveStack:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        commands = process_commands("127.0.0.1", self.port)
        self.start("web", commands["web"])
        if worker:
            self.start("worker", commands["worker"])
        deadline = time.monotonic() + timeout
        while not self._answers():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} ended early:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not answer within {timeout} s:\n{self.logs()}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/", timeout=2).close()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    def down(self, grace: float = 20) -> None:
        """SIGTERM (RQ: warm shutdown, daphne: stop), then SIGKILL after `grace` seconds."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{(self.tmp / f'{name}.log').read_text(errors='replace')[-6000:]}"
                         for name in self.procs)

    def __enter__(self) -> LiveStack:
        return self

    def __exit__(self, *exc) -> None:
        self.down()
