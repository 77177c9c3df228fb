"""Crash safety with real processes: RQ workers started as `manage.py rqworker` subprocesses with
the worker command of scripts/lib/processes (tests/harness.py; the worker class is
tests.harness.GatedWorker, the platform's StyleWorker plus a hold before a chosen engine step),
killed with SIGKILL or stopped with SIGTERM in the middle of a classic job; a redis-server with an
append-only file, killed and started again under a running job. The jobs run the real engine at
64 px; the test database is a real file (SQLite) or PostgreSQL, shared with the workers.

A test never hopes to catch a job mid-run: it holds the job before a known step (a file the
worker reads, not Redis, which several tests kill), crashes something there, and lets it go on.
The hold ends by itself when the worker must stop (SIGTERM, a lost lease), so the engine's own
stop logic runs exactly as in production.

The workers run with short lease settings (heartbeat 1 s, lease 5 s, maintenance every 2 s) so that
recoveries take seconds; production uses 10 s / 60 s / 30 s (settings.py). The figures each test
measures are written to test-artifacts/crash-safety.json and reported in docs/reliability.md.
The last three tests do the same recovery in this process, without worker processes.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import django_rq
import pytest
from django.db import connection
from django.urls import reverse
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from engine.jobs import queue
from engine.jobs import service as jobs
from engine.models import Status, StyleJob
from engine.nst import Checkpoint, LossHistory
from engine.runners import progress
from tests import harness
from tests.harness import Gate, Platform, Process, RedisServer

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SHORT_LEASE = {"NST_WORKER_HEARTBEAT_SECONDS": "1", "NST_WORKER_LEASE_SECONDS": "5",
               "NST_WORKER_MAINTENANCE_SECONDS": "2"}
WAIT = 240.0  # seconds any one thing may take on a loaded 2-core machine before the test fails
# The crash tests' job: 400 steps at 64 px, a checkpoint at every epoch's end (every 40 steps).
EPOCHS, STEPS_PER_EPOCH = 10, 40
MID_EPOCH_2 = 50  # held before step 50: 49 steps done, 9 since the checkpoint at step 40

pytestmark = pytest.mark.django_db(transaction=True)  # the workers must see the test's rows


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT, every: float = 0.05,
             explain: Callable[[], str] = lambda: ""):
    return harness.wait_for(condition, what, timeout=timeout, every=every, explain=explain)


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
    server = RedisServer(tmp_path / "redis", aof=True).start()
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
def platform(aof_redis, media_root, model_dir, tmp_path, settings):
    """The platform's workers (no web server) on the test's Redis, database, media and models, with
    the short lease settings; its `gate` holds a job at a step. Every worker is killed at the end of
    the test, whatever happened."""
    settings.NST_MODEL_DIR = model_dir
    stack = Platform(tmp_path / "platform", redis_url=aof_redis.url, database_url=_test_database_url(),
                     model_dir=model_dir, env={"DJANGO_MEDIA_ROOT": str(media_root), **SHORT_LEASE})
    yield stack
    for worker in stack.workers().values():
        worker.kill()


@pytest.fixture
def workers(platform):
    """start(label, **env) -> a worker process (tests.harness.GatedWorker, started with the worker
    command of scripts/lib/processes); `.name` is its RQ name, the one the rows record."""
    def start(label: str, **env: str) -> Process:
        return platform.start_worker(label, **env)

    start.all = lambda: list(platform.workers().values())  # type: ignore[attr-defined]
    return start


@pytest.fixture
def gate(platform) -> Gate:
    return platform.gate


def _registered(worker: Process) -> bool:
    from rq import Worker

    return worker.name in {w.name for w in Worker.all(connection=queue.redis_connection())}


def _wait_registered(worker: Process) -> None:
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


def _starts(job: StyleJob, *workers: Process) -> int:
    line = f"Style job {job.pk} started on worker"
    return sum(w.log().count(line) for w in workers)


def _explain(*workers: Process) -> Callable[[], str]:
    return lambda: "\n".join(w.tail() for w in workers)


def _held(gate: Gate, job: StyleJob, step: int, worker: Process) -> StyleJob:
    """The row once `worker` runs the job and waits before `step` (the gate holds it there)."""
    gate.wait_held(job.pk, step, WAIT, explain=_explain(worker))
    row = _row(job)
    assert (row.status, row.worker) == (Status.RUNNING, worker.name), (row.status, row.worker, row.error)
    return row


def _just_renewed(job: StyleJob) -> None:
    """Until the job's lease has just been renewed (the score of its StartedJobRegistry entry moved):
    what the test does next has a whole heartbeat before the next renewal."""
    client = queue.redis_connection()
    key = StartedJobRegistry(queue=django_rq.get_queue(job.queue)).key
    before = client.zrange(key, 0, -1, withscores=True)
    wait_for(lambda: client.zrange(key, 0, -1, withscores=True) != before, f"job {job.pk}'s lease to be renewed",
             timeout=30, every=0.01)


def _wait_final(job: StyleJob, *workers: Process) -> StyleJob:
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
    # Nothing left waiting or running in RQ: waited for, since another job of the test (ended as a
    # row already) may still be in its worker's bookkeeping; one left there for good still fails.
    rq_queue = django_rq.get_queue(job.queue)
    wait_for(lambda: rq_queue.job_ids == [] and StartedJobRegistry(queue=rq_queue).count == 0,
             "RQ's queue and its started registry to be empty", timeout=30)


# --- the tests ------------------------------------------------------------------------------------
# Each test holds its job at a known step (tests/harness.py: Gate, GatedWorker) before it crashes
# something, and releases it after: it never depends on catching the job mid-run by polling.

@pytest.mark.slow
def test_a_worker_killed_mid_job_is_noticed_and_another_resumes_from_the_last_checkpoint(
        make_job, workers, gate, settings):
    job = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    # In the third epoch, after the checkpoint at step 80: held before step 82 for longer than the
    # engine's progress interval (so that it saves step 82 to the row: steps past the checkpoint
    # that the kill will lose), then before step 100 until the kill.
    gate.hold(job.pk, 82)
    first = workers("a")
    jobs.enqueue(job)
    _held(gate, job, 82, first)
    held_at = time.monotonic()
    second = workers("b")
    _wait_registered(second)
    time.sleep(max(0.0, held_at + progress.PROGRESS_INTERVAL - time.monotonic()))
    gate.hold(job.pk, 100)
    row = _held(gate, job, 100, first)

    first.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    first.proc.wait(timeout=30)
    gate.release(job.pk)  # the second worker's run goes through
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


@pytest.mark.slow
def test_sigterm_hands_the_job_back_with_a_checkpoint_and_the_worker_exits(
        make_job, workers, gate, owner_client):
    job = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    gate.hold(job.pk, MID_EPOCH_2)
    first = workers("a")
    jobs.enqueue(job)
    _held(gate, job, MID_EPOCH_2, first)

    first.proc.send_signal(signal.SIGTERM)  # the hold ends on it: the engine's own stop logic runs
    signalled = time.monotonic()
    first.proc.wait(timeout=60)
    exit_seconds = time.monotonic() - signalled
    gate.release(job.pk)
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


@pytest.mark.slow
def test_a_job_survives_redis_being_killed_and_restarted_under_it(make_job, workers, gate, aof_redis):
    """Redis (AOF) down for a few seconds, shorter than the lease: the engine goes on without it,
    the worker reconnects, the job ends once, and the worker takes the next job."""
    job = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    # Held right after the checkpoint at step 40 (so the row says 40), then let go while Redis is
    # down and held again right after the next checkpoint (the row says 80): the engine went on
    # 40 steps without Redis, and is still running when Redis comes back.
    gate.hold(job.pk, 41)
    first = workers("a", NST_WORKER_HEARTBEAT_SECONDS="2", NST_WORKER_LEASE_SECONDS="30")
    jobs.enqueue(job)
    _held(gate, job, 41, first)

    aof_redis.kill()
    down_at = time.monotonic()
    step_at_kill = _row(job).step
    gate.hold(job.pk, 81)
    _held(gate, job, 81, first)
    wait_for(lambda: _row(job).step >= step_at_kill + 40, "the engine to go on without Redis",
             explain=_explain(first))
    time.sleep(max(0.0, 4.0 - (time.monotonic() - down_at)))  # at least 4 s down
    steps_while_down = _row(job).step - step_at_kill
    aof_redis.start()
    down_seconds = time.monotonic() - down_at
    # Still held: the lease thread's next renewal (every 2 s) reaches the Redis that is back.
    wait_for(lambda: "lease renewed again" in first.log(), "the lease to be renewed after the outage",
             explain=_explain(first))
    gate.release(job.pk)

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


@pytest.mark.slow
def test_a_worker_cut_off_from_redis_longer_than_its_lease_stops_and_the_job_resumes_once(
        make_job, workers, gate, aof_redis):
    """Redis down longer than the lease: the worker cannot know whether its job has been recovered
    elsewhere, so it stops working on it (within a step of the fence, 3 s after its last renewal)
    and writes nothing more; once Redis is back, the lapsed lease is recovered like a dead worker's,
    and the job resumes from its last checkpoint, never on two workers at once."""
    job = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    gate.hold(job.pk, MID_EPOCH_2)
    first = workers("a")
    jobs.enqueue(job)
    _held(gate, job, MID_EPOCH_2, first)

    aof_redis.kill()
    down_at = time.monotonic()
    wait_for(lambda: "lease not renewed" in first.log(), "the worker to fence itself", timeout=60,
             explain=_explain(first))
    fenced_after = time.monotonic() - down_at
    wait_for(lambda: "abandoned after step" in first.log(), "the engine to stop", timeout=30,
             explain=_explain(first))
    gate.release(job.pk)  # the run after the recovery goes through
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


@pytest.mark.slow
def test_jobs_come_back_when_redis_restarts_without_its_data(make_job, workers, gate, aof_redis):
    """The worst Redis failure: it restarts empty (its append-only file lost). The running job's
    worker finds its lease gone and stops; the maintenance sweep finds the running and the queued
    job on no queue, puts both back, and they end once each (the first from its checkpoint)."""
    running = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    waiting = make_job(epochs=1, steps_per_epoch=5)
    gate.hold(running.pk, MID_EPOCH_2)
    first = workers("a")
    jobs.enqueue(running)
    jobs.enqueue(waiting)
    _held(gate, running, MID_EPOCH_2, first)

    # Right after a renewal, so that the next one (1 s later) finds the new, empty Redis: one
    # that failed and retried into the fence (3 s after the last renewal) would stop the job as
    # "not renewed" instead.
    _just_renewed(running)
    aof_redis.kill()
    aof_redis.wipe()
    aof_redis.start()
    restarted_at = time.time()
    wait_for(lambda: "lease was taken away" in first.log(), "the worker to give the job up", timeout=60,
             explain=_explain(first))
    gate.release(running.pk)
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


@pytest.mark.slow
def test_a_job_that_keeps_losing_its_worker_fails_with_a_clear_message(make_job, workers, gate, settings):
    settings.NST_JOB_MAX_RECOVERIES = 1  # jobs.enqueue gives the job this many recoveries
    job = make_job(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    jobs.enqueue(job)
    doomed = []
    for label in ("a", "b"):
        gate.hold(job.pk, MID_EPOCH_2)  # the second run resumes from step 40 and is held there too
        worker = workers(label)
        _held(gate, job, MID_EPOCH_2, worker)
        worker.proc.send_signal(signal.SIGKILL)  # e.g. the kernel's OOM killer
        worker.proc.wait(timeout=30)
        doomed.append(worker)
    gate.release(job.pk)
    witness = workers("c")
    job = _wait_final(job, *workers.all())

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


# --- the same recovery in this process: RQ's maintenance pass on a lapsed lease -------------------
# RQ's own clean_registries (what a worker's maintenance pass runs) on a StartedJobRegistry entry
# made to look like a dead worker's, and the sweep of rows RQ has no trace of: the failure callback
# and recover_orphans, without worker processes.

def _worker_dies_running(job, rq_redis, worker_name: str) -> None:
    """What RQ's state looks like after a worker took `job`, started it and was killed: the job is
    off its queue, "started", and its StartedJobRegistry entry (its lease) expired long ago."""
    from rq.job import Job, JobStatus
    from rq.registry import StartedJobRegistry

    rq_queue = django_rq.get_queue(job.queue)
    assert rq_queue.remove(job.rq_job_id) == 1  # a worker took it ...
    assert job.start(worker=worker_name)         # ... started it, and died: nothing more happened
    rq_job = Job.fetch(job.rq_job_id, connection=rq_redis)
    rq_job.worker_name = worker_name
    rq_job.set_status(JobStatus.STARTED)
    rq_job.save()
    registry = StartedJobRegistry(queue=rq_queue)
    rq_redis.zadd(registry.key, {f"{job.rq_job_id}:{worker_name}-execution": 1})  # lapsed long ago


@pytest.mark.django_db
def test_a_job_whose_worker_died_goes_back_to_the_front_of_its_queue_then_fails_when_it_keeps_dying(
        make_job, rq_redis, settings):
    """RQ's maintenance pass finds the lapsed lease and calls the failure callback the job was
    enqueued with: the row goes back to "queued" with its checkpoint and RQ puts the same RQ job at
    the front of its queue, NST_JOB_MAX_RECOVERIES times; after that the job fails with a message.
    (The tests above do this with real worker processes and kill -9.)"""
    from django.core.files.base import ContentFile
    from rq.job import Job
    from rq.registry import FailedJobRegistry, StartedJobRegistry, clean_registries

    from engine.jobs import service as jobs

    settings.NST_JOB_MAX_RECOVERIES = 1
    waiting, job = make_job(), make_job()
    jobs.enqueue(job)
    jobs.enqueue(waiting)
    rq_queue = django_rq.get_queue("default")
    _worker_dies_running(job, rq_redis, "doomed-1")
    job.checkpoint.save("checkpoint-e01.npz", ContentFile(b"the engine's state"), save=False)
    StyleJob.objects.filter(pk=job.pk).update(step=3, epoch=1, checkpoint=job.checkpoint.name)

    clean_registries(rq_queue)
    job.refresh_from_db()
    assert (job.status, job.error, job.worker, job.step) == (Status.QUEUED, "", "", 3)
    assert job.checkpoint.name.endswith("checkpoint-e01.npz")   # the next run resumes from it
    assert rq_queue.job_ids == [job.rq_job_id, waiting.rq_job_id]  # one entry, at the front
    assert Job.fetch(job.rq_job_id, connection=rq_redis).retries_left == 0
    assert StartedJobRegistry(queue=rq_queue).count == 0

    _worker_dies_running(job, rq_redis, "doomed-2")
    clean_registries(rq_queue)
    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, jobs.worker_lost_error(2))
    assert "stopped unexpectedly 2 times" in job.error
    assert rq_queue.job_ids == [waiting.rq_job_id]
    assert job.rq_job_id in FailedJobRegistry(queue=rq_queue)


@pytest.mark.django_db
def test_a_finished_job_whose_rq_entry_lapsed_is_not_run_again(make_job, rq_redis):
    """E.g. its worker finished the row but could not tell Redis (down at that moment)."""
    from rq.registry import clean_registries

    from engine.jobs import service as jobs

    job = make_job()
    jobs.enqueue(job)
    _worker_dies_running(job, rq_redis, "unlucky")
    StyleJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    rq_queue = django_rq.get_queue("default")
    clean_registries(rq_queue)
    assert rq_queue.job_ids == []
    assert StyleJob.objects.get(pk=job.pk).status == Status.SUCCEEDED


@pytest.mark.django_db
def test_jobs_that_redis_lost_are_put_back_on_their_queues_by_the_sweep(make_job, rq_redis, burst_worker):
    """Rows RQ has no trace of (an enqueue lost after the commit; a running job whose registry
    entry Redis lost) are enqueued again once two sweeps have seen them so; jobs RQ knows about
    are left alone, and nothing gets two queue entries."""
    from datetime import timedelta

    from django.utils import timezone
    from rq.registry import StartedJobRegistry

    from engine.jobs import service as jobs

    healthy, never_enqueued, lost_running, alive = make_job(), make_job(), make_job(), make_job()
    jobs.enqueue(healthy)
    for job, worker in ((lost_running, "gone"), (alive, "busy")):
        jobs.enqueue(job)
        assert django_rq.get_queue("default").remove(job.rq_job_id) == 1
        assert job.start(worker=worker)
    StyleJob.objects.filter(pk=lost_running.pk).update(progress_at=timezone.now() - timedelta(hours=1))
    registry = StartedJobRegistry(queue=django_rq.get_queue("default"))
    rq_redis.zadd(registry.key, {f"{alive.rq_job_id}:its-execution": 2e9})  # its lease is current

    assert jobs.recover_orphans(settle_seconds=0) == 0  # first sighting: maybe just in between
    assert jobs.recover_orphans(settle_seconds=0) == 2
    assert sorted(django_rq.get_queue("default").job_ids) == sorted(
        [healthy.rq_job_id, never_enqueued.rq_job_id, lost_running.rq_job_id])
    assert StyleJob.objects.get(pk=alive.pk).status == Status.RUNNING
    assert jobs.recover_orphans(settle_seconds=0) == 0  # nothing left to do

    burst_worker()
    for job in (healthy, never_enqueued, lost_running):
        job.refresh_from_db()
        assert job.status == Status.SUCCEEDED, job.error
