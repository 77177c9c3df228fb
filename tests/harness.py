"""The platform's real processes, for the tests and the benchmarks alike.

- `free_port()`, `wait_for()`, `process_env()`: the small pieces every user needs.
- `Process`: one long-running process started by us, its output in a log file; stopped with
  SIGTERM, killed (with everything it started) with SIGKILL, and killed too if this process dies.
- `RedisServer`: redis-server on a free port, with or without an append-only file; stopped,
  killed and started again on the same port and data folder.
- `PostgresServer`: a throw-away PostgreSQL cluster, as .ci/run starts one.
- `SeaweedServer`: SeaweedFS, the S3-compatible object store, as `NST_STORAGE=s3 scripts/run`
  starts it (nstsite/seaweed.py), on a free port with keys of its own and one bucket.
- `Platform`: the processes scripts/run starts, as scripts/lib/processes lists them (read through
  `scripts/run --print-commands`): the proxy (nginx) on a free port, which is the platform's `url`,
  the pages and websocket servers behind it on Unix sockets in a folder of their own (mode 700,
  short: a socket's path has at most 107 bytes), and the workers; with a
  database, media, static and proxy folder of its own in a temporary folder (or those given) and
  its own Redis (or the one given). Every "worker" line may be started any number of times; its
  worker class is `GatedWorker` below.
- `GatedWorker` and `Gate`: the worker side and the driver side of a hold on a job. The platform's
  StyleWorker calls `before_step(job_id, step)` before every engine step; GatedWorker holds the
  run there while a file says so, so that a test can crash a worker, Redis or the machine at a
  known step instead of hoping to catch the job mid-run. It also logs one line when a job starts
  and one when it ends (`job_events()` reads them), which the benchmarks count.

Free of pytest and of Django at import (the benchmarks import it before they set Django up with
the platform's own settings): GatedWorker, which subclasses engine.jobs.worker's StyleWorker (whose
imports need Django's apps loaded), is built on first use (the module's __getattr__), in a worker
process once `manage.py rqworker` has set Django up. Nothing here sets Django up.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]
GATED_WORKER = "tests.harness.GatedWorker"
GATE_DIR_VARIABLE = "NST_TEST_GATE_DIR"   # the folder of the hold files, for GatedWorker
JOB_LINE = "HARNESS-JOB "                 # GatedWorker's log lines: JOB_LINE + JSON


class HarnessError(AssertionError):
    """A process did not start or did not do what was waited for; the message says what and shows
    the logs. An AssertionError, so that a test fails (never errors out or skips) on it."""


# --- small pieces ---------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, timeout: float, every: float = 0.05,
             explain: Callable[[], str] = lambda: ""):
    """Poll until condition() is truthy and return its value; HarnessError after `timeout` s,
    with `what` and whatever explain() says (e.g. the processes' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"Timed out after {timeout:.0f} s waiting for {what}.\n{explain()}")
        time.sleep(every)


def process_env(**values: str) -> dict[str, str]:
    """The environment for a process of the platform: this one's, without the settings meant for
    this process (DJANGO_*, NST_*, DATABASE_URL, REDIS_URL), with this interpreter's folder first on
    PATH (so `python` is the venv's) and unbuffered output; then `values`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "NST_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(values)
    return env


def storage_env() -> dict[str, str]:
    """This process's job-file storage settings (NST_STORAGE, AWS_*: nstsite/object_storage.py), which
    process_env() would drop with the other NST_* ones: the platform's processes must use the same
    storage as the test that reads their files (tests/conftest.py's s3_storage sets them)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("NST_STORAGE", "AWS_"))}


def require_program(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"{name} is not installed; the platform tests need it "
                           f"(scripts/test installs it; Debian: apt-get install {package}).")
    return path


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it when the process that started it dies (a test
    run killed outright), so no worker or server is left behind. Linux only; a no-op elsewhere."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_or_kill(process: Process, answers: Callable[[], object], what: str, timeout: float) -> None:
    """Until a server just started answers; killed (and HarnessError) if it does not in time."""
    try:
        wait_for(answers, what, timeout, every=0.05, explain=process.tail)
    except HarnessError:
        process.kill()
        raise


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket: what the proxy does when it talks to the servers behind it."""

    def __init__(self, path: str, timeout: float = 60):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def unix_request(path: str, method: str, target: str, headers: dict[str, str] | None = None,
                 body: bytes | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one HTTP request to a server listening on the Unix socket `path`."""
    connection = UnixHTTPConnection(path, timeout)
    try:
        connection.request(method, target, body=body, headers={"Host": "127.0.0.1", **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# --- one process ----------------------------------------------------------------------------------

class Process:
    """A process in a session of its own (so that kill() reaches whatever it started), its output
    (stdout and stderr) appended to `log`."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.name, self.command, self.log_path = name, command, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("ab")
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        last = "\n".join(self.log().splitlines()[-lines:])
        return f"--- {self.name} (exit {self.proc.poll()}) ---\n{last}"

    def send_signal(self, sig: int) -> None:
        if self.alive:
            self.proc.send_signal(sig)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM (each process of the platform stops cleanly on it), then kill() after `grace` s."""
        self.send_signal(signal.SIGTERM)
        self.wait_or_kill(grace)

    def wait_or_kill(self, grace: float) -> None:
        """Up to `grace` s for the process to end by itself, then kill()."""
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL to the process and to everything left in its session, and reap it: the clean-up
        for every way a test can end."""
        if self.proc.poll() is None:  # not reaped: its pid (= its session's id) is still ours
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:  # reaped: its pid may only be trusted as long as its session has members
            for pid in _session_members(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait(timeout=30)
        self._log.close()


def _session_members(sid: int) -> list[int]:
    """The processes of session `sid` (Linux: /proc). The kernel never reuses a pid that is still
    some living process's session id, so these are what our process started."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def wait_http(url: str, processes: list[Process], timeout: float = 120) -> None:
    """Until `url` answers HTTP (any status: an error page is an answer too, except a proxy's 502
    or 504, which says that the server behind it is not up yet); HarnessError at once if one of
    `processes` ends meanwhile, with their logs."""
    def answers() -> bool:
        for process in processes:
            if not process.alive:
                raise HarnessError(f"{process.name} ended early:\n" + "\n".join(p.tail() for p in processes))
        try:
            urllib.request.urlopen(url, timeout=2).close()
        except urllib.error.HTTPError as exc:
            return exc.code not in (502, 504)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    wait_for(answers, f"{url} to answer", timeout, every=0.2,
             explain=lambda: "\n".join(p.tail() for p in processes))


# --- Redis ----------------------------------------------------------------------------------------

class RedisServer:
    """redis-server on a free 127.0.0.1 port with its data in `workdir`. With `aof`, an append-only
    file fsynced every second (as docker-compose.yml and scripts/run run it), so that a kill loses
    at most a second; without, nothing is kept."""

    def __init__(self, workdir: Path, *, aof: bool = False):
        self.exe = require_program("redis-server", "redis-server")
        self.workdir, self.aof = workdir, aof
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def start(self, timeout: float = 30) -> RedisServer:
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]
        self.process = Process("redis", [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         *persistence, "--dir", str(self.workdir)],
                               os.environ.copy(), self.workdir / "redis.log")
        wait_or_kill(self.process, self._answers, f"redis-server on port {self.port}", timeout)
        return self

    def _answers(self) -> bool:
        if not self.process.alive:
            raise HarnessError(f"redis-server did not start on port {self.port}:\n{self.process.tail()}")
        return self.ping()

    def ping(self) -> bool:
        client = redis.Redis.from_url(self.url, retry=None, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM, as a clean shutdown; returns once nothing answers on the port any more."""
        if self.alive:
            self.process.stop(grace=10)
        if self.ping():
            raise HarnessError(f"something still answers on port {self.port} after redis-server stopped")

    def kill(self) -> None:
        """SIGKILL, as a crash: only what the append-only file holds survives."""
        if self.process is not None:
            self.process.kill()

    def wipe(self) -> None:
        """Delete the data folder's files (the server must be down): a restart then starts empty."""
        if self.alive:
            raise HarnessError("wipe() needs the server down")
        for path in self.workdir.rglob("*"):
            if path.is_file() and path.name != "redis.log":
                path.unlink()


# --- PostgreSQL ------------------------------------------------------------------------------------

class PostgresServer:
    """A throw-away PostgreSQL cluster on a free 127.0.0.1 port, as .ci/run starts one (initdb as the
    postgres user when we are root, durability off), with a role that may create databases (the
    Django test runner makes its own) and a database; `url` is its DATABASE_URL. For a test that
    needs PostgreSQL where the session's database is SQLite (a plain local scripts/test)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not found:
            raise HarnessError("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does).")
        self.bindir = found[-1].parent
        # Short, not under pytest's folders: the server's Unix socket lives here too.
        self.folder = Path(tempfile.mkdtemp(prefix="nst-pg-"))
        self.port, self.password = free_port(), secrets.token_hex(16)
        self.url = f"postgres://nstsite:{self.password}@127.0.0.1:{self.port}/nstsite"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], cwd="/", capture_output=True, text=True)
        if done.returncode != 0:
            raise HarnessError(f"{' '.join(command[:2])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--auth-local=trust", "--auth-host=scram-sha-256")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-w",
                  "-o", options, "start")
        self._run(str(self.bindir / "psql"), "-h", str(self.folder), "-p", str(self.port), "-U", "postgres", "-q",
                  "-v", "ON_ERROR_STOP=1", "-c", f"CREATE ROLE nstsite LOGIN CREATEDB PASSWORD '{self.password}'",
                  "-c", "CREATE DATABASE nstsite OWNER nstsite")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        except HarnessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


# --- SeaweedFS ------------------------------------------------------------------------------------

class SeaweedServer:
    """SeaweedFS (`weed mini`, as `NST_STORAGE=s3 scripts/run` starts it: nstsite/seaweed.py) with its
    S3 gateway on a free 127.0.0.1 port, its data and generated keys in `workdir`, one bucket.
    `env(prefix)` is the platform's storage settings for it; `prefix` (AWS_LOCATION) keeps a test's
    objects apart from another's in the one bucket. Stopped, killed and started again on the same
    port and data folder, like RedisServer."""

    BUCKET = "nst-test"

    def __init__(self, workdir: Path, bucket: str = BUCKET):
        from nstsite import seaweed

        self.workdir, self.bucket, self.port = workdir, bucket, free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = seaweed.settings_env(workdir, self.port, bucket)
        self.process: Process | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def start(self, timeout: float = 60) -> SeaweedServer:
        from nstsite import seaweed

        try:
            command = seaweed.command(self.workdir, self.port, self.bucket)
        except SystemExit as exc:
            raise HarnessError(str(exc)) from None
        self.process = Process("seaweedfs", command, os.environ.copy(), self.workdir / "seaweedfs.log")
        wait_or_kill(self.process, self._answers, f"SeaweedFS's S3 gateway on port {self.port}", timeout)
        return self

    def _answers(self) -> bool:
        if not self.process.alive:
            raise HarnessError(f"SeaweedFS did not start:\n{self.process.tail()}")
        import botocore.exceptions

        try:
            self.client().head_bucket(Bucket=self.bucket)  # signed: the keys work and the bucket is there
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return False
        return True

    def env(self, prefix: str = "") -> dict[str, str]:
        return {**self.settings, "AWS_LOCATION": prefix}

    def client(self):
        """A boto3 S3 client with the store's keys."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.settings["AWS_S3_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.settings["AWS_S3_SECRET_ACCESS_KEY"], region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def keys(self, prefix: str = "") -> dict[str, int]:
        """{key: size} of the bucket's objects under `prefix`."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def stop(self) -> None:
        if self.alive:
            self.process.stop(grace=15)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()


# --- the platform's processes ---------------------------------------------------------------------

def process_commands(host: str, port: int, pages: str | None = None, sockets: str | None = None
                     ) -> dict[str, list[str]]:
    """{name: command} of scripts/lib/processes, as scripts/run would start them with the proxy on
    host:port and the servers behind it at `pages` and `sockets` (unix:/path or host:port; scripts/run's
    defaults when None)."""
    env = {**os.environ, "NST_HOST": host, "PORT": str(port)}
    for variable, address in (("NST_PAGES_ADDRESS", pages), ("NST_SOCKETS_ADDRESS", sockets)):
        if address is not None:
            env[variable] = address
        else:
            env.pop(variable, None)
    out = subprocess.run(["bash", "scripts/run", "--print-commands"], cwd=REPO, check=True, text=True,
                         capture_output=True, env=env).stdout
    return {name: shlex.split(cmd) for name, cmd in (line.split(": ", 1) for line in out.splitlines())}


def worker_command(command: list[str], name: str, worker_class: str | None = GATED_WORKER) -> list[str]:
    """The worker command of scripts/lib/processes with an RQ worker name and (unless None) another
    worker class."""
    command = list(command)
    if command[0] == "python":
        command[0] = sys.executable
    if worker_class is not None:
        if "--worker-class" in command:
            command[command.index("--worker-class") + 1] = worker_class
        else:
            command[command.index("rqworker") + 1:1] = ["--worker-class", worker_class]
    at = command.index("rqworker") + 1
    return command[:at] + ["--name", name] + command[at:]


class Platform:
    """The processes of scripts/lib/processes on free ports, in `tmp`: a SQLite database there (or
    `database_url`), media, static and proxy folders there, DEBUG off, a secret key of its own, its
    own Redis (or `redis_url`), the model files of `model_dir` (or the settings' default), and a
    Gate (tmp/gate) for its workers. `env` adds to or overrides the processes' environment.

    `url` is the proxy's (what a browser opens); `pages_socket` and `sockets_socket` are the Unix
    sockets of the WSGI and ASGI servers behind it, for what must bypass the proxy (a benchmark's
    proxy-less figure: unix_request() talks to them).

    up() migrates, collects the static files, starts every listed process (the "worker" line
    `workers` times) and waits until the site answers through the proxy; start_worker() starts
    another worker at any time; down() stops them all (SIGTERM, then SIGKILL) and the Redis it
    started.
    """

    def __init__(self, tmp: Path, *, redis_url: str | None = None, database_url: str | None = None,
                 model_dir: Path | None = None, env: dict[str, str] | None = None,
                 worker_class: str | None = GATED_WORKER) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.host, self.port = "127.0.0.1", free_port()
        self.url = f"http://{self.host}:{self.port}"
        # Not under tmp: pytest's folders are too deep for a socket's path.
        self.run_dir = Path(tempfile.mkdtemp(prefix="nst-run-"))   # mode 700, as scripts/run's var/run
        self.pages_socket, self.sockets_socket = str(self.run_dir / "pages.sock"), str(self.run_dir / "sockets.sock")
        self.redis = RedisServer(tmp / "redis") if redis_url is None else None
        self.gate = Gate(tmp / "gate")
        self.worker_class = worker_class
        values = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url or f"sqlite:///{tmp / 'db.sqlite3'}",
            "REDIS_URL": redis_url or self.redis.url,
            "DJANGO_MEDIA_ROOT": str(tmp / "media"),
            "DJANGO_STATIC_ROOT": str(tmp / "static"),
            "NST_PROXY_DIR": str(tmp / "proxy"),
            GATE_DIR_VARIABLE: str(self.gate.folder),
        }
        if model_dir is not None:
            values["NST_MODEL_DIR"] = str(model_dir)
        self.env = process_env(**{**values, **storage_env(), **(env or {})})
        self.processes: dict[str, Process] = {}
        self._commands: dict[str, list[str]] | None = None

    @property
    def commands(self) -> dict[str, list[str]]:
        if self._commands is None:
            self._commands = process_commands(self.host, self.port, f"unix:{self.pages_socket}",
                                              f"unix:{self.sockets_socket}")
        return self._commands

    def manage(self, *args: str) -> str:
        """manage.py in the platform's environment; its output. HarnessError if it fails."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, text=True,
                              capture_output=True)
        if done.returncode != 0:
            raise HarnessError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, label: str, command: list[str], name: str | None = None, **env: str) -> Process:
        """A process of the platform, `processes[label]`, its log in tmp/<label>.log; `env` adds to
        the platform's environment."""
        if label in self.processes and self.processes[label].alive:
            raise HarnessError(f"{label} is already running")
        process = Process(name or label, command, {**self.env, **env}, self.tmp / f"{label}.log")
        self.processes[label] = process
        return process

    def start_worker(self, label: str, **env: str) -> Process:
        """Another worker (the "worker" line), `processes[label]`. Its name, in RQ and so in the
        rows it runs, is `<label>-<random>` (a killed worker's registration outlives it a while)."""
        name = f"{label}-{uuid.uuid4().hex[:8]}"
        return self.start(label, worker_command(self.commands["worker"], name, self.worker_class), name=name, **env)

    def up(self, *, workers: int = 1, migrate: bool = True, timeout: float = 120) -> Platform:
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        if self.redis is not None and not self.redis.alive:
            self.redis.start()
        if migrate:
            self.manage("migrate", "--noinput")
            self.manage("collectstatic", "--noinput")
        for name, command in self.commands.items():
            if name == "worker":
                for n in range(1, workers + 1):
                    self.start_worker(f"worker-{n}")
            else:
                self.start(name, [sys.executable, *command[1:]] if command[0] == "python" else command)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the site answers through the proxy, pages and websocket server alike (an HTTP GET
        under /ws/ reaches the websocket server, which answers 404 to it; every process listed
        must stay up meanwhile)."""
        for path in ("/", "/ws/"):
            wait_http(self.url + path, list(self.processes.values()), timeout)

    def workers(self) -> dict[str, Process]:
        """{label: process} of the workers started."""
        return {label: p for label, p in self.processes.items() if "rqworker" in p.command}

    def assert_alive(self) -> None:
        for process in self.processes.values():
            if not process.alive:
                raise HarnessError(f"{process.name} ended early (status {process.proc.returncode}):\n"
                                   f"{process.tail(80)}")

    def server_tracebacks(self) -> list[str]:
        """The tracebacks in the logs of the servers (pages, sockets, proxy: every process but the
        workers, whose jobs may fail on purpose), each with the 12 lines that end it."""
        found = []
        for label, process in self.processes.items():
            if "rqworker" in process.command:
                continue
            lines = process.log().splitlines()
            for n, line in enumerate(lines):
                if "Traceback (most recent call last)" in line:
                    found.append(f"{label}: " + "\n".join(lines[n:n + 40][-12:]))
        return found

    def logs(self, lines: int = 80) -> str:
        return "\n".join(p.tail(lines) for p in self.processes.values())

    def job_events(self) -> list[dict]:
        """GatedWorker's lines of style jobs from every worker's log, each with "worker" (its label); the
        quality scores' jobs (the "scores" queue, engine.runners.scores) are left out."""
        return [dict(event, worker=label) for label, p in self.workers().items() for event in job_events(p.log())
                if event.get("task") != "engine.tasks.score_result"]

    def down(self, grace: float = 20) -> None:
        """SIGTERM to every process at once (the workers hand their jobs back), SIGKILL to those
        still running after `grace` s; then the Redis this platform started."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            process.wait_or_kill(max(0.0, deadline - time.monotonic()))
        if self.redis is not None:
            self.redis.kill()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc) -> None:
        self.down()


# --- holding a job at a known step ----------------------------------------------------------------

class Gate:
    """The driver side of GatedWorker's holds. In `folder`, `<job id>.hold` names the step before
    which a run of that job must wait; the worker writes `<job id>.held` (the step) while it waits
    and removes it when it goes on. A file, not Redis: several tests kill Redis while a job is held.

        gate.hold(job.pk, 50)        # before the job starts, or while it is held at an earlier step
        gate.wait_held(job.pk, 50)   # the run has done 49 steps and waits
        ... crash something ...
        gate.hold(job.pk, 90)        # or: go on, and wait again before step 90
        gate.release(job.pk)         # or: go on to the end

    A held run also goes on when its worker is told to stop (SIGTERM, lease lost: the engine's own
    stop logic then runs as in production). The hold stays until released: a run of the same job
    on another worker, resumed from a checkpoint, is held at the same step again.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _file(self, job_id: int, kind: str) -> Path:
        return self.folder / f"{job_id}.{kind}"

    def hold(self, job_id: int, step: int) -> None:
        """Runs of the job wait before `step` (1 = before any step). Forgets the last "held" first,
        so that wait_held() sees this hold, not an earlier one (e.g. of a worker since killed)."""
        self._file(job_id, "held").unlink(missing_ok=True)
        _write_step(self._file(job_id, "hold"), step)

    def release(self, job_id: int) -> None:
        self._file(job_id, "hold").unlink(missing_ok=True)

    def held(self, job_id: int) -> int | None:
        """The step a run of the job waits before right now, or None."""
        return _read_step(self._file(job_id, "held"))

    def wait_held(self, job_id: int, step: int, timeout: float,
                  explain: Callable[[], str] = lambda: "") -> None:
        wait_for(lambda: self.held(job_id) == step, f"job {job_id} to be held before step {step}", timeout,
                 every=0.02, explain=explain)

    def wait_gone_on(self, job_id: int, timeout: float, explain: Callable[[], str] = lambda: "") -> None:
        """Until the run held no longer waits (it is computing the next step, or stopping)."""
        wait_for(lambda: self.held(job_id) is None, f"job {job_id} to go on", timeout, every=0.005,
                 explain=explain)


def _write_step(path: Path, step: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(str(step))
    temporary.replace(path)  # atomic: the reader sees the old number or the new one, never half


def _read_step(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _gated_worker_class() -> type:
    """GatedWorker, built the first time it is asked for (see the module's notes)."""
    from engine.jobs.worker import StyleWorker, stop_reason

    class GatedWorker(StyleWorker):
        """The platform's StyleWorker, plus (1) a hold before an engine step while the Gate's file says
        so (GATE_DIR_VARIABLE names its folder; without it nothing is ever held) and (2) a log line when
        a job starts and one when it ends (JOB_LINE + JSON: pid, RQ job id, task arguments, whether
        TensorFlow was already imported at the start; at the end the seconds and how often this
        process has built the fast-mode stylizer; the task's dotted path tells style jobs from
        scores). Nothing else differs from production."""

        POLL_SECONDS = 0.02

        def before_step(self, job_id: int, step: int) -> None:
            folder = os.environ.get(GATE_DIR_VARIABLE)
            if not folder:
                return
            hold_file, held_file = Path(folder) / f"{job_id}.hold", Path(folder) / f"{job_id}.held"
            if _read_step(hold_file) != step:
                return
            _write_step(held_file, step)
            try:
                # Until released (no hold, or a later step), or until the worker must stop: then the
                # task's stop logic (hand back on SIGTERM, abandon on a lost lease) runs right after.
                while stop_reason() is None:
                    time.sleep(self.POLL_SECONDS)
                    now = _read_step(hold_file)
                    if now is None or now > step:
                        break
            finally:
                held_file.unlink(missing_ok=True)

        def execute_job(self, job, queue):
            started, tensorflow_before = time.time(), "tensorflow" in sys.modules
            _log_job("start", id=job.id, task=job.func_name, args=list(job.args), at=started,
                     tensorflow_already_imported=tensorflow_before)
            try:
                return super().execute_job(job, queue)
            finally:
                fast = sys.modules.get("engine.nst.fast")
                cache = fast._stylizer_for.cache_info() if fast is not None else None
                _log_job("end", id=job.id, task=job.func_name, args=list(job.args), at=time.time(),
                         seconds=time.time() - started,
                         tensorflow_already_imported=tensorflow_before,
                         model_loads=cache.misses if cache else 0, model_reuses=cache.hits if cache else 0)

    GatedWorker.__qualname__ = "GatedWorker"  # its name as the worker command spells it
    return GatedWorker


def __getattr__(name: str):
    """tests.harness.GatedWorker (what the worker command's --worker-class names), built on first use."""
    if name == "GatedWorker":
        cls = globals()["GatedWorker"] = _gated_worker_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _log_job(event: str, **fields) -> None:
    print(JOB_LINE + json.dumps({"event": event, "pid": os.getpid(), **fields}), flush=True)


def job_events(log: str) -> list[dict]:
    """GatedWorker's job lines in a worker's log, in order."""
    return [json.loads(line[len(JOB_LINE):]) for line in log.splitlines() if line.startswith(JOB_LINE)]
