"""Crash safety with real processes: RQ workers started as `manage.py rqworker` subprocesses with
the command from scripts/lib/processes (engine.worker.StyleWorker), killed with SIGKILL or stopped
with SIGTERM in the middle of a classic job; a redis-server with an append-only file, killed and
started again under a running job. The jobs run the real engine at 64 px; the test database is a
real file (SQLite) or PostgreSQL, shared with the workers.

The workers run with short lease settings (heartbeat 1 s, lease 5 s, maintenance every 2 s) so that
recoveries take seconds; production uses 10 s / 60 s / 30 s (settings.py). The figures each test
measures are written to test-artifacts/crash-safety.json and reported in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import django_rq
import pytest
from django.db import connection
from django.urls import reverse
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from engine import jobs, queue
from engine.models import Status, StyleJob
from engine.nst import Checkpoint, LossHistory
from tests import processes
from tests.processes import RedisServer, WorkerProcess

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SHORT_LEASE = {"NST_WORKER_HEARTBEAT_SECONDS": "1", "NST_WORKER_LEASE_SECONDS": "5",
               "NST_WORKER_MAINTENANCE_SECONDS": "2"}
WAIT = 240.0  # seconds any one thing may take on a loaded 2-core machine before the test fails

pytestmark = pytest.mark.django_db(transaction=True)  # the workers must see the test's rows


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT, every: float = 0.05,
             explain: Callable[[], str] = lambda: ""):
    return processes.wait_for(condition, what, timeout=timeout, every=every, explain=explain)


def _record(test: str, **figures) -> None:
    """Keep a test's measurements for docs/reliability.md (test-artifacts/ is not in git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "crash-safety.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[test] = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@pytest.fixture
def aof_redis(tmp_path, settings):
    """A private redis-server with AOF persistence (as in docker-compose.yml); RQ_QUEUES point at it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {name: {**config, "URL": server.url} for name, config in settings.RQ_QUEUES.items()}
    yield server
    server.kill()


def _test_database_url() -> str:
    """The test database as the worker processes must reach it (pytest-django made it for us)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        assert "memory" not in str(db["NAME"]), "the test database must be a file that workers can open"
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    return f"postgres://{user}:{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(aof_redis, media_root, model_dir, tmp_path, settings):
    """start(label, **env) -> a worker process on the test's Redis, database, media and models.
    Every worker is killed at the end of the test, whatever happened."""
    settings.NST_MODEL_DIR = model_dir
    base_env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    base_env.update({
        "DJANGO_SECRET_KEY": "crash-safety-tests-only", "DATABASE_URL": _test_database_url(),
        "REDIS_URL": aof_redis.url, "DJANGO_MEDIA_ROOT": str(media_root), "NST_MODEL_DIR": str(model_dir),
        "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **SHORT_LEASE,
    })
    started: list[WorkerProcess] = []

    def start(label: str, **env: str) -> WorkerProcess:
        name = f"crash-{label}-{uuid.uuid4().hex[:8]}"
        worker = WorkerProcess(name, {**base_env, **env}, tmp_path / f"worker-{label}.log")
        started.append(worker)
        return worker

    start.all = started  # type: ignore[attr-defined]
    yield start
    for worker in started:
        worker.stop()


def _registered(worker: WorkerProcess) -> bool:
    from rq import Worker

    return worker.name in {w.name for w in Worker.all(connection=queue.redis_connection())}


def _wait_registered(worker: WorkerProcess) -> None:
    wait_for(lambda: _registered(worker) or not worker.alive, f"worker {worker.name} to register",
             explain=worker.tail)
    assert worker.alive, worker.tail()


def _row(job: StyleJob) -> StyleJob:
    return StyleJob.objects.get(pk=job.pk)


def _history_steps(job: StyleJob) -> list[int]:
    with job.history.open("rb") as fh:
        return [row.step for row in LossHistory.from_dict(json.loads(fh.read())).rows]


def _checkpoint_step(job: StyleJob) -> int:
    with job.checkpoint.open("rb") as fh:
        return Checkpoint.from_bytes(fh.read()).step


def _starts(job: StyleJob, *workers: WorkerProcess) -> int:
    line = f"Style job {job.pk} started on worker"
    return sum(w.log().count(line) for w in workers)


def _explain(*workers: WorkerProcess) -> Callable[[], str]:
    return lambda: "\n".join(w.tail() for w in workers)


def _running_mid_epoch(job: StyleJob, worker: WorkerProcess, min_epoch: int):
    """The row once `worker` runs it past `min_epoch` epochs (so it has a checkpoint), between two
    epoch ends (so the steps since the checkpoint are lost on a kill)."""
    def check():
        row = _row(job)
        spe = job.params["steps_per_epoch"]
        if row.status == Status.RUNNING and row.worker == worker.name and row.checkpoint \
                and row.step > min_epoch * spe and row.step % spe not in (0, spe - 1):
            return row
        assert row.status in (Status.QUEUED, Status.RUNNING), (row.status, row.error)
        return None
    return wait_for(check, f"job {job.pk} to run past epoch {min_epoch} on {worker.name}",
                    explain=_explain(worker))


def _wait_final(job: StyleJob, *workers: WorkerProcess) -> StyleJob:
    return wait_for(lambda: (row := _row(job)).status not in (Status.QUEUED, Status.RUNNING) and row,
                    f"job {job.pk} to end", every=0.2, explain=_explain(*workers))


def _assert_one_complete_run(job: StyleJob) -> None:
    assert job.status == Status.SUCCEEDED, job.error
    assert job.step == job.total_steps and job.result
    assert _history_steps(job) == list(range(1, job.total_steps + 1))  # every step exactly once
    # RQ's own record follows the row (the worker's bookkeeping after the task returned).
    rq_job = Job.fetch(job.rq_job_id, connection=queue.redis_connection())
    wait_for(lambda: rq_job.get_status() == JobStatus.FINISHED, "RQ to record the job as finished",
             timeout=30)
    rq_queue = django_rq.get_queue(job.queue)
    assert rq_queue.job_ids == [] and StartedJobRegistry(queue=rq_queue).count == 0


# --- the tests ------------------------------------------------------------------------------------

def test_a_worker_killed_mid_job_is_noticed_and_another_resumes_from_the_last_checkpoint(
        make_job, workers, settings):
    job = make_job(epochs=10, steps_per_epoch=40)  # 400 steps at 64 px, a checkpoint every 40
    first = workers("a")
    jobs.enqueue(job)
    _running_mid_epoch(job, first, min_epoch=1)
    second = workers("b")
    _wait_registered(second)
    row = _running_mid_epoch(job, first, min_epoch=2)

    first.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    first.proc.wait(timeout=30)
    at_kill = _row(job)  # nothing writes to it any more
    resume_step = _checkpoint_step(at_kill)
    assert at_kill.status == Status.RUNNING and resume_step < at_kill.step  # steps were lost with it

    resumed = wait_for(lambda: (r := _row(job)).worker == second.name and r, "the second worker to take it",
                       explain=_explain(first, second))
    detected_after = resumed.started_at.timestamp() - killed_at
    job = _wait_final(job, first, second)

    _assert_one_complete_run(job)
    assert f"Style job {job.pk} resumes at step {resume_step}" in second.log(), second.tail()
    assert f"Style job {job.pk}: its worker {first.name} was lost" in second.log(), second.tail()
    assert _starts(job, first, second) == 2
    assert Job.fetch(job.rq_job_id, connection=queue.redis_connection()).retries_left == \
        settings.NST_JOB_MAX_RECOVERIES - 1
    # Not before the lease could have lapsed (5 s after the last renewal, which is at most 1 s old),
    # and soon after: lease + maintenance interval + a dequeue wait, with room for a loaded machine.
    assert 3.0 < detected_after < 5 + 2 + 2 + 20, detected_after
    _record("kill -9 mid job", detected_after_s=detected_after, killed_at_step=at_kill.step,
            resumed_from_step=resume_step, steps_redone=at_kill.step - resume_step,
            total_steps=job.total_steps, row_steps_before_kill=row.step)


def test_sigterm_hands_the_job_back_with_a_checkpoint_and_the_worker_exits(
        make_job, workers, owner_client):
    job = make_job(epochs=10, steps_per_epoch=40)
    first = workers("a")
    jobs.enqueue(job)
    _running_mid_epoch(job, first, min_epoch=1)

    first.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    first.proc.wait(timeout=60)
    exit_seconds = time.monotonic() - signalled
    assert first.proc.returncode == 0, first.tail()

    row = _row(job)
    assert (row.status, row.error, row.worker) == (Status.QUEUED, "", "")
    assert _checkpoint_step(row) == row.step > job.params["steps_per_epoch"]  # exactly where it stopped
    assert django_rq.get_queue(job.queue).job_ids == [job.rq_job_id]  # one entry, at the front
    page = owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode()
    assert 'data-status="queued"' in page
    assert f"Style job {job.pk}: back on its queue after step {row.step}" in first.log()

    second = workers("b")
    job = _wait_final(job, first, second)
    _assert_one_complete_run(job)
    assert f"Style job {job.pk} resumes at step {row.step}" in second.log(), second.tail()
    assert _starts(job, first, second) == 2
    assert exit_seconds < 15, exit_seconds
    _record("SIGTERM mid job", sigterm_to_exit_s=exit_seconds, handed_back_at_step=row.step,
            total_steps=job.total_steps)


def test_a_job_survives_redis_being_killed_and_restarted_under_it(make_job, workers, aof_redis):
    """Redis (AOF) down for a few seconds, shorter than the lease: the engine goes on without it,
    the worker reconnects, the job ends once, and the worker takes the next job."""
    job = make_job(epochs=10, steps_per_epoch=40)
    first = workers("a", NST_WORKER_HEARTBEAT_SECONDS="2", NST_WORKER_LEASE_SECONDS="30")
    jobs.enqueue(job)
    _running_mid_epoch(job, first, min_epoch=1)

    aof_redis.kill()
    down_at = time.monotonic()
    step_at_kill = _row(job).step
    wait_for(lambda: _row(job).step >= step_at_kill + 40, "the engine to go on without Redis",
             explain=_explain(first))
    time.sleep(max(0.0, 4.0 - (time.monotonic() - down_at)))  # at least 4 s down
    steps_while_down = _row(job).step - step_at_kill
    aof_redis.start()
    down_seconds = time.monotonic() - down_at

    job = _wait_final(job, first)
    _assert_one_complete_run(job)
    assert _starts(job, first) == 1
    assert first.alive, first.tail()
    assert "lease renewed again" in first.log(), first.tail()

    after = make_job(epochs=1, steps_per_epoch=3)
    jobs.enqueue(after)
    after = _wait_final(after, first)
    assert after.status == Status.SUCCEEDED and after.worker == first.name, after.error
    _record("Redis killed and restarted under a job", redis_down_s=down_seconds,
            engine_steps_while_redis_down=steps_while_down)


def test_a_worker_cut_off_from_redis_longer_than_its_lease_stops_and_the_job_resumes_once(
        make_job, workers, aof_redis):
    """Redis down longer than the lease: the worker cannot know whether its job has been recovered
    elsewhere, so it stops working on it (within a step of the fence, 3 s after its last renewal)
    and writes nothing more; once Redis is back, the lapsed lease is recovered like a dead worker's,
    and the job resumes from its last checkpoint, never on two workers at once."""
    job = make_job(epochs=10, steps_per_epoch=40)
    first = workers("a")
    jobs.enqueue(job)
    _running_mid_epoch(job, first, min_epoch=1)

    aof_redis.kill()
    down_at = time.monotonic()
    wait_for(lambda: "lease not renewed" in first.log(), "the worker to fence itself", timeout=60,
             explain=_explain(first))
    fenced_after = time.monotonic() - down_at
    wait_for(lambda: "abandoned after step" in first.log(), "the engine to stop", timeout=30,
             explain=_explain(first))
    stopped = _row(job)
    time.sleep(2.0)
    assert _row(job).step == stopped.step and stopped.status == Status.RUNNING  # no write after the fence
    resume_step = _checkpoint_step(stopped)
    aof_redis.start()

    job = _wait_final(job, first)
    _assert_one_complete_run(job)
    assert _starts(job, first) == 2
    assert f"Style job {job.pk} resumes at step {resume_step}" in first.log(), first.tail()
    assert fenced_after < 5.0, fenced_after  # before the lease (5 s) could lapse anywhere
    _record("Redis down longer than the lease", fenced_after_s=fenced_after, stopped_at_step=stopped.step,
            resumed_from_step=resume_step)


def test_jobs_come_back_when_redis_restarts_without_its_data(make_job, workers, aof_redis):
    """The worst Redis failure: it restarts empty (its append-only file lost). The running job's
    worker finds its lease gone and stops; the maintenance sweep finds the running and the queued
    job on no queue, puts both back, and they end once each (the first from its checkpoint)."""
    running, waiting = make_job(epochs=10, steps_per_epoch=40), make_job(epochs=1, steps_per_epoch=5)
    first = workers("a")
    jobs.enqueue(running)
    jobs.enqueue(waiting)
    _running_mid_epoch(running, first, min_epoch=1)

    aof_redis.kill()
    for path in aof_redis.workdir.rglob("*"):
        if path.is_file():
            path.unlink()
    aof_redis.start()
    restarted_at = time.time()
    wait_for(lambda: "lease was taken away" in first.log(), "the worker to give the job up", timeout=60,
             explain=_explain(first))
    stopped = _row(running)
    resume_step = _checkpoint_step(stopped)

    running, waiting = _wait_final(running, first), _wait_final(waiting, first)
    back_after = running.started_at.timestamp() - restarted_at
    _assert_one_complete_run(running)
    assert waiting.status == Status.SUCCEEDED, waiting.error
    assert f"Style job {running.pk} resumes at step {resume_step}" in first.log(), first.tail()
    assert _starts(running, first) == 2 and _starts(waiting, first) == 1
    assert first.alive and _registered(first), first.tail()
    _record("Redis restarted empty", running_job_restarted_after_s=back_after,
            stopped_at_step=stopped.step, resumed_from_step=resume_step)


def test_a_job_that_keeps_losing_its_worker_fails_with_a_clear_message(make_job, workers, settings):
    settings.NST_JOB_MAX_RECOVERIES = 1  # enqueue_job gives the job this many recoveries
    job = make_job(epochs=10, steps_per_epoch=40)
    jobs.enqueue(job)
    doomed = []
    for label in ("a", "b"):
        worker = workers(label)
        wait_for(lambda w=worker: (r := _row(job)).status == Status.RUNNING and r.worker == w.name,
                 f"worker {label} to run the job", explain=_explain(*workers.all))
        worker.proc.send_signal(signal.SIGKILL)  # e.g. the kernel's OOM killer
        worker.proc.wait(timeout=30)
        doomed.append(worker)
    witness = workers("c")
    job = _wait_final(job, *workers.all)

    assert job.status == Status.FAILED
    assert job.error == jobs.worker_lost_error(2)
    assert "stopped unexpectedly 2 times" in job.error and "smaller size" in job.error
    rq_queue = django_rq.get_queue(job.queue)
    # RQ runs the failure callback (which fails the row) before it files the job as failed: wait
    # for the second step too, or the check races the surviving worker's cleanup.
    wait_for(lambda: job.rq_job_id in rq_queue.failed_job_registry, "RQ to file the job as failed",
             timeout=10)
    assert rq_queue.job_ids == [] and job.rq_job_id in rq_queue.failed_job_registry
    assert witness.alive and _starts(job, *doomed, witness) == 2
