"""Workers anywhere (issue 21): a worker needs only DATABASE_URL (PostgreSQL), REDIS_URL, the storage
settings and the model files, no shared folder. Two "hosts": two worker processes (the worker
command of scripts/lib/processes, tests.harness.GatedWorker), each with a media and a working folder
of its own, and the site (web, websockets, nginx) with a third; one PostgreSQL, one Redis, one
SeaweedFS. The worker on host A is held at a known step (Gate), after a stored checkpoint (classic)
or two stored chunks (video), and killed with SIGKILL; the worker on host B takes the job when A's
lease lapses, fetches the checkpoint or chunks from the bucket, and finishes it: every step (frame)
exactly once. The site then serves the result from the bucket, and no host's folder holds a job file.

The session's database when it is PostgreSQL (.ci/run); otherwise the test runs itself again in a
child pytest on a PostgreSQL cluster the harness starts (tests/harness.py's PostgresServer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import LossHistory, video_io
from engine.storage.job_files import job_folder
from engine.storage.workspace import Workspace
from gallery.models import Artwork
from tests import clips, harness
from tests.harness import REPO, Platform, PostgresServer, RedisServer

SHORT_LEASE = {"NST_WORKER_HEARTBEAT_SECONDS": "1", "NST_WORKER_LEASE_SECONDS": "5",
               "NST_WORKER_MAINTENANCE_SECONDS": "2"}
WAIT = 300.0
# classic: 4 epochs of 5 steps, held before step 13 (checkpoint at step 10); video: 17 frames in
# chunks of 5, held before frame 13 (chunks 1 and 2 stored, frames 1-10).
PLAN = {"classic": dict(epochs=4, steps_per_epoch=5, hold=13, resumes=10, checkpoint="checkpoint-e02.npz"),
        "video": dict(frames=17, chunk_frames=5, hold=13, resumes=10, checkpoint="video/chunk-00001.mp4")}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _database_url() -> str:
    db = connection.settings_dict
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def hosts(tmp_path, s3_storage, settings, model_dir):
    """The site and its Redis on the session's PostgreSQL and the bucket; start_worker(host) starts
    a worker "on" host A or B: its own media and working folders, nothing shared but the URLs."""
    server, prefix = s3_storage
    redis = RedisServer(tmp_path / "redis", aof=True).start()
    settings.REDIS_URL = redis.url
    settings.RQ_QUEUES = {name: {**config, "URL": redis.url} for name, config in settings.RQ_QUEUES.items()}
    settings.NST_MODEL_DIR = model_dir
    site = Platform(tmp_path / "site", redis_url=redis.url, database_url=_database_url(), model_dir=model_dir,
                    env=SHORT_LEASE)

    def start_worker(host: str) -> harness.Process:
        folder = tmp_path / f"host-{host}"
        return site.start_worker(f"host-{host}", DJANGO_MEDIA_ROOT=str(folder / "media"),
                                 NST_WORK_DIR=str(folder / "work"), TMPDIR=str(folder / "tmp"))

    for host in ("a", "b"):
        (tmp_path / f"host-{host}" / "tmp").mkdir(parents=True)
    try:
        site.up(workers=0)
        yield site, start_worker, server, prefix
    finally:
        site.down()
        redis.kill()
    # A's working folder may keep what the killed run had fetched (nothing ran to clean it up):
    # that is the system's temporary folder of a dead process, never a job's only copy.
    kept = [tmp_path / "host-a" / "media", tmp_path / "host-b" / "media", tmp_path / "host-b" / "work",
            tmp_path / "site" / "media"]
    leftovers = [str(p) for folder in kept for p in folder.rglob("*") if p.is_file()]
    assert not leftovers, f"job files left on a host's disk: {leftovers}"


def _on_postgresql(request) -> None:
    """This test again, in a child pytest whose database is a PostgreSQL cluster of the harness's."""
    server = PostgresServer().start()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", request.node.nodeid, "-q", "-p", "no:cacheprovider"],
                              cwd=REPO, env={**os.environ, "DATABASE_URL": server.url}, capture_output=True,
                              text=True, timeout=1200)
    finally:
        server.stop()
    assert done.returncode == 0, f"on PostgreSQL:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert " passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]


def _row(job) -> StyleJob:
    return StyleJob.objects.get(pk=job.pk)


def _make(kind: str, make_job, tmp_path, images_dir):
    plan = PLAN[kind]
    if kind == "classic":
        return make_job(mode="classic", visibility="public", epochs=plan["epochs"],
                        steps_per_epoch=plan["steps_per_epoch"]), None
    source = clips.make_clip(tmp_path / "pan.mp4", images_dir / "tubingen.jpg", frames=plan["frames"], audio="aac")
    return make_job(mode="video", visibility="public", content=source.read_bytes(), content_name="content.mp4",
                    frames=plan["frames"], chunk_frames=plan["chunk_frames"]), source


def _every_unit_once(kind: str, job: StyleJob, source) -> bytes:
    """Asserts that the result holds every step (frame) once; returns the result's bytes."""
    assert job.status == Status.SUCCEEDED, job.error
    assert job.step == job.total_steps
    with job.result.open("rb") as fh:
        data = fh.read()
    if kind == "classic":
        with job.history.open("rb") as fh:
            steps = [row.step for row in LossHistory.from_dict(json.loads(fh.read())).rows]
        assert steps == list(range(1, job.total_steps + 1))
    else:
        with Workspace("test") as ws:
            out = video_io.clip_facts(ws.fetch(job.result.name))
        assert out["times"] == pytest.approx(video_io.clip_facts(source)["times"], abs=1e-4)
    return data


@pytest.mark.parametrize("kind", ["classic", "video"])
def test_a_job_killed_on_host_a_is_finished_on_host_b_from_the_bucket(kind, request, make_job, tmp_path,
                                                                      images_dir):
    if connection.vendor != "postgresql":
        _on_postgresql(request)
        return
    site, start_worker, server, prefix = request.getfixturevalue("hosts")
    plan = PLAN[kind]
    job, source = _make(kind, make_job, tmp_path, images_dir)
    site.gate.hold(job.pk, plan["hold"])
    a = start_worker("a")
    jobs.enqueue(job)
    site.gate.wait_held(job.pk, plan["hold"], WAIT, explain=site.logs)
    held = _row(job)
    assert held.status == Status.RUNNING and held.worker == a.name
    assert f"{prefix}/{job_folder(job)}/{plan['checkpoint']}" in server.keys(f"{prefix}/{job_folder(job)}/")

    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=30)
    site.gate.release(job.pk)
    b = start_worker("b")
    job = harness.wait_for(lambda: (r := _row(job)).status not in (Status.QUEUED, Status.RUNNING) and r,
                           f"job {job.pk} to end on host B", WAIT, every=0.2, explain=site.logs)

    body = _every_unit_once(kind, job, source)
    assert job.worker == b.name
    assert f"Style job {job.pk} resumes at step {plan['resumes']}" in b.log(), b.tail()
    assert f"its worker {a.name} was lost" in b.log(), b.tail()
    # The worker publishes it (a public job) right after the row says succeeded: thumbnails first.
    artwork = harness.wait_for(lambda: Artwork.objects.filter(job=job).first(), "the artwork", WAIT, every=0.2,
                               explain=site.logs)
    download = requests.get(f"{site.url}/gallery/{artwork.pk}/download/", timeout=60)
    assert download.status_code == 200 and download.content == body
    assert not [k for k in server.keys(f"{prefix}/{job_folder(job)}/") if "/video/" in k or "checkpoint" in k]
