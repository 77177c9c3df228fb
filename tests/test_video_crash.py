"""A video job survives its worker: real RQ worker processes (the worker command of
scripts/lib/processes with tests.harness.GatedWorker), held before a chosen frame (video frames are
the engine's steps), killed with SIGKILL or stopped with SIGTERM there; the next worker resumes
after the last finished chunk, and every frame of the clip is in the output exactly once. Short
lease settings so that a recovery takes seconds (production: settings.py)."""

from __future__ import annotations

import signal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import VideoCheckpoint, video_io
from engine.storage.job_files import job_folder
from engine.storage.workspace import Workspace
from tests import clips, harness
from tests.harness import Platform, RedisServer

SHORT_LEASE = {"NST_WORKER_HEARTBEAT_SECONDS": "1", "NST_WORKER_LEASE_SECONDS": "5",
               "NST_WORKER_MAINTENANCE_SECONDS": "2"}
WAIT = 240.0
FRAMES, CHUNK = 17, 5
HELD_AT = 13  # 12 frames done: chunks 1 and 2 whole (frames 1-10), 2 frames into chunk 3

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def platform(tmp_path, settings, media_root, model_dir):
    server = RedisServer(tmp_path / "redis", aof=True).start()
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {name: {**config, "URL": server.url} for name, config in settings.RQ_QUEUES.items()}
    settings.NST_MODEL_DIR = model_dir
    stack = Platform(tmp_path / "platform", redis_url=server.url, database_url=_database_url(), model_dir=model_dir,
                     env={"DJANGO_MEDIA_ROOT": str(media_root), **SHORT_LEASE})
    yield stack
    for worker in stack.workers().values():
        worker.kill()
    server.kill()


@pytest.fixture
def video_job(make_job, tmp_path, images_dir):
    source = clips.make_clip(tmp_path / "pan.mp4", images_dir / "tubingen.jpg", frames=FRAMES, audio="aac")
    job = make_job(mode="video", content=source.read_bytes(), content_name="content.mp4", frames=FRAMES,
                   chunk_frames=CHUNK)
    return job, source


def _row(job) -> StyleJob:
    return StyleJob.objects.get(pk=job.pk)


def _final(job, platform) -> StyleJob:
    return harness.wait_for(lambda: (r := _row(job)).status not in (Status.QUEUED, Status.RUNNING) and r,
                            f"job {job.pk} to end", WAIT, every=0.2, explain=platform.logs)


def _checkpoint(job) -> VideoCheckpoint:
    with job.checkpoint.open("rb") as fh:
        return VideoCheckpoint.from_bytes(fh.read())


def _stored_chunks(job) -> list[str]:
    """The chunk files stored for the job (local disk or the bucket): a worker stores each as it ends."""
    try:
        return sorted(name for name in default_storage.listdir(f"{job_folder(job)}/video")[1]
                      if name.startswith("chunk-"))
    except FileNotFoundError:
        return []


def _assert_every_frame_once(job, source: Path) -> None:
    assert job.status == Status.SUCCEEDED, job.error
    with Workspace("test") as ws:  # the result wherever it is stored (local disk or the bucket)
        out = video_io.clip_facts(ws.fetch(job.result.name))
    assert out["times"] == pytest.approx(video_io.clip_facts(source)["times"], abs=1e-4)  # each frame once
    assert out["audio"] == "aac" and job.step == job.total_steps == FRAMES


def test_a_worker_killed_mid_video_is_replaced_by_one_that_resumes_after_the_last_chunk(video_job, platform):
    job, source = video_job
    platform.gate.hold(job.pk, HELD_AT)
    first = platform.start_worker("a")
    jobs.enqueue(job)
    platform.gate.wait_held(job.pk, HELD_AT, WAIT, explain=platform.logs)
    held = _row(job)
    assert held.status == Status.RUNNING and held.worker == first.name
    checkpoint = _checkpoint(held)
    assert (checkpoint.chunks, checkpoint.frames) == (2, 10)
    assert _stored_chunks(held) == ["chunk-00000.mp4", "chunk-00001.mp4"]

    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=30)
    platform.gate.release(job.pk)
    second = platform.start_worker("b")
    job = _final(job, platform)

    _assert_every_frame_once(job, source)
    assert f"Style job {job.pk} resumes at step 10" in second.log(), second.tail()
    assert f"its worker {first.name} was lost" in second.log(), second.tail()
    with job.history.open("rb") as fh:
        assert b"Resumed at frame 10 (chunk 2)." in fh.read()
    assert _stored_chunks(job) == []  # removed once the result was stored


def test_sigterm_mid_video_hands_the_job_back_and_the_next_worker_goes_on_from_the_last_chunk(
        video_job, platform):
    job, source = video_job
    platform.gate.hold(job.pk, HELD_AT)
    first = platform.start_worker("a")
    jobs.enqueue(job)
    platform.gate.wait_held(job.pk, HELD_AT, WAIT, explain=platform.logs)
    first.proc.send_signal(signal.SIGTERM)  # the hold ends on it: the task's own stop logic runs
    first.proc.wait(timeout=60)
    platform.gate.release(job.pk)
    row = _row(job)
    assert (row.status, row.step, _checkpoint(row).frames) == (Status.QUEUED, 10, 10)
    assert f"Style job {job.pk}: back on its queue after step 10" in first.log(), first.tail()

    second = platform.start_worker("b")
    job = _final(job, platform)
    _assert_every_frame_once(job, source)
    assert f"Style job {job.pk} resumes at step 10" in second.log(), second.tail()


def test_a_video_cancelled_mid_run_keeps_its_chunks_and_a_requeue_goes_on_from_them(video_job, platform):
    job, source = video_job
    platform.gate.hold(job.pk, HELD_AT)
    worker = platform.start_worker("a")
    jobs.enqueue(job)
    platform.gate.wait_held(job.pk, HELD_AT, WAIT, explain=platform.logs)
    assert jobs.cancel(_row(job))
    platform.gate.release(job.pk)  # the engine's next stop check sees the cancel

    def stopped() -> bool:  # the RQ job is over: a requeue now cannot run the job twice at once
        try:
            return jobs.requeue(_row(job))
        except jobs.RequeueRefused:
            return False

    harness.wait_for(lambda: f"Style job {job.pk} cancelled after step 10" in worker.log(),
                     "the worker to stop the cancelled job", WAIT, every=0.2, explain=platform.logs)
    row = _row(job)
    assert (row.status, row.step, _checkpoint(row).frames) == (Status.CANCELLED, 10, 10)
    assert _stored_chunks(row) == ["chunk-00000.mp4", "chunk-00001.mp4"]

    harness.wait_for(stopped, "the cancelled job to be requeued", WAIT, every=0.2, explain=platform.logs)
    job = _final(job, platform)
    _assert_every_frame_once(job, source)
    assert worker.log().count(f"Style job {job.pk} resumes at step 10") == 1, worker.tail()
