"""Crash-recovery benchmark (a script, not a test). Results: docs/reliability.md, "Crash safety".

    python bench/bench_crash_recovery.py                       # the production lease settings
    python bench/bench_crash_recovery.py --runs 1 --heartbeat 1 --lease 5 --maintenance 2

What it measures, with real processes (the crash-safety tests' harness, tests/harness.py): a
redis-server with an append-only file, RQ workers started with the worker command of
scripts/lib/processes (tests.harness.GatedWorker: the platform's StyleWorker, which it can hold
at a chosen engine step), a SQLite database in a temporary folder and the real engine on classic
jobs. Each crash happens at a chosen step, never by catching the job mid-run.

- "kill -9": a worker runs a classic job (64 px, 10 epochs of 40 steps) while a second one idles;
  the first is held before step 100 (99 steps done, the last checkpoint at step 80) and killed
  there with SIGKILL. Figures: seconds from the kill until the second worker has started the job
  again (the detection delay: the lease has to lapse and a maintenance pass has to find it), and
  the steps redone (those after the last epoch checkpoint: 19 by this choice). The job then runs
  to its end on the second worker.
- "SIGTERM": a worker runs a classic job at --sigterm-size px (20 epochs of 10 steps); it is held
  before step 15, let go, and gets SIGTERM as soon as it has begun that step. Figures: seconds from
  the signal until the process has exited with the job back on its queue, and the engine's seconds
  per step at that size (the bulk of the wait is finishing the step begun: here nearly a whole
  one, the worst case). The job is then cancelled.

The lease settings default to settings.py's (heartbeat 10 s, lease 60 s, maintenance 30 s);
expect a detection delay between about lease - heartbeat and lease + maintenance + a dequeue wait.
Writes bench/results/crash_recovery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness import Platform, Process, RedisServer, wait_for  # noqa: E402

SHARED_IMAGES = Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared") / "images"
WAIT = 900.0
KILL_BEFORE_STEP = 100  # kill -9: 99 steps done, the last checkpoint at step 80
SIGTERM_AT_STEP = 15    # SIGTERM: in the step after epoch 1's checkpoint (10 steps per epoch)


class Lab:
    """A temporary folder with its own database, Redis (with an append-only file) and media, the
    platform's workers started on demand (tests.harness.Platform, no web server), and Django set up
    in this process on the same database and Redis (to make jobs and read their rows)."""

    def __init__(self, tmp: Path, args: argparse.Namespace):
        self.redis = RedisServer(tmp / "redis", aof=True)
        self.platform = Platform(tmp / "platform", redis_url=self.redis.url, model_dir=args.model_dir, env={
            "NST_WORKER_HEARTBEAT_SECONDS": str(args.heartbeat), "NST_WORKER_LEASE_SECONDS": str(args.lease),
            "NST_WORKER_MAINTENANCE_SECONDS": str(args.maintenance)})
        self.gate = self.platform.gate

    def __enter__(self) -> Lab:
        os.environ.update(self.platform.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "nstsite.settings"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.redis.start()
        return self

    def __exit__(self, *exc) -> None:
        self.platform.down(grace=0)
        self.redis.kill()

    def worker(self, label: str) -> Process:
        """A worker, once it has registered with RQ."""
        worker = self.platform.start_worker(f"{label}-{uuid.uuid4().hex[:4]}")
        from rq import Worker

        from engine.jobs.queue import redis_connection

        def registered() -> bool:
            return not worker.alive or worker.name in {w.name for w in Worker.all(connection=redis_connection())}

        wait_for(registered, f"worker {worker.name} to register", WAIT, explain=worker.tail)
        assert worker.alive, worker.tail()
        return worker

    def make_job(self, size: int, epochs: int, steps_per_epoch: int):
        from django.contrib.auth import get_user_model
        from django.core.files.base import ContentFile

        from engine.models import StyleImage, StyleJob, params_dict
        from engine.nst import ClassicParams, images

        owner, _ = get_user_model().objects.get_or_create(username="bench")
        params = ClassicParams(size=size, epochs=epochs, steps_per_epoch=steps_per_epoch)
        job = StyleJob(owner=owner, mode="classic", params=params_dict(params), size=size, epochs=epochs,
                       total_steps=params.total_steps)
        content = images.encode_png(images.load_array(SHARED_IMAGES / "tubingen.jpg", size))
        job.content.save("content.png", ContentFile(content), save=False)
        job.save()
        style = StyleImage(job=job, position=1, weight=1.0)
        painting = images.encode_png(images.load_array(SHARED_IMAGES / "starry_night.jpg", max(size, 256)))
        style.image.save("style-1.png", ContentFile(painting), save=False)
        style.save()
        return job


def row(job):
    from engine.models import StyleJob

    return StyleJob.objects.get(pk=job.pk)


def checkpoint(job):
    from engine.nst import Checkpoint

    with job.checkpoint.open("rb") as fh:
        return Checkpoint.from_bytes(fh.read())


def checkpoint_step(job) -> int:
    return checkpoint(job).step


def kill_nine(lab: Lab) -> dict:
    from engine.jobs import service as jobs

    first = lab.worker("a")
    job = lab.make_job(64, 10, 40)
    lab.gate.hold(job.pk, KILL_BEFORE_STEP)
    jobs.enqueue(job)
    lab.gate.wait_held(job.pk, KILL_BEFORE_STEP, WAIT, explain=first.tail)
    second = lab.worker("b")
    first.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    first.proc.wait(timeout=60)
    lab.gate.release(job.pk)
    at_kill = row(job)
    assert at_kill.status == "running" and at_kill.worker == first.name, (at_kill.status, at_kill.worker)
    redone = KILL_BEFORE_STEP - 1 - checkpoint_step(at_kill)  # the engine's steps since its checkpoint
    resumed = wait_for(lambda: (r := row(job)).worker == second.name and r,
                       "the second worker to take the job", WAIT, every=0.1, explain=second.tail)
    detected = resumed.started_at.timestamp() - killed_at
    done = wait_for(lambda: (r := row(job)).status not in ("queued", "running") and r, "the job to end", WAIT,
                    every=0.2, explain=second.tail)
    assert done.status == "succeeded", done.error
    for worker in (first, second):
        worker.kill()
    return {"detected_after_s": round(detected, 2), "steps_redone": redone}


def sigterm(lab: Lab, size: int) -> dict:
    from engine.jobs import service as jobs

    worker = lab.worker("t")
    job = lab.make_job(size, 20, 10)
    lab.gate.hold(job.pk, SIGTERM_AT_STEP)
    jobs.enqueue(job)
    lab.gate.wait_held(job.pk, SIGTERM_AT_STEP, WAIT, explain=worker.tail)
    lab.gate.release(job.pk)
    lab.gate.wait_gone_on(job.pk, WAIT, explain=worker.tail)  # the engine has begun the step
    worker.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    worker.proc.wait(timeout=WAIT)
    exited = time.monotonic() - signalled
    handed_back = row(job)
    assert worker.proc.returncode == 0, worker.tail()
    saved = checkpoint(handed_back)
    assert handed_back.status == "queued" and saved.step == handed_back.step == SIGTERM_AT_STEP, worker.tail()
    per_step = saved.elapsed / saved.step  # the engine's own time, without loading
    jobs.cancel(handed_back)
    worker.kill()
    return {"sigterm_to_exit_s": round(exited, 2), "seconds_per_step": round(per_step, 3),
            "handed_back_at_step": handed_back.step}


def summary(values: list[float]) -> str:
    return f"median {median(values):.2f} (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario (default 3)")
    parser.add_argument("--heartbeat", type=int, default=10, help="NST_WORKER_HEARTBEAT_SECONDS (10)")
    parser.add_argument("--lease", type=int, default=60, help="NST_WORKER_LEASE_SECONDS (60)")
    parser.add_argument("--maintenance", type=int, default=30, help="NST_WORKER_MAINTENANCE_SECONDS (30)")
    parser.add_argument("--sigterm-size", type=int, default=256, help="job size for the SIGTERM runs (256)")
    parser.add_argument("--model-dir", type=Path,
                        default=Path(os.environ.get("NST_MODEL_DIR") or REPO / "models"),
                        help="model files (default: NST_MODEL_DIR or models/, as scripts/test fills it)")
    parser.add_argument("--only", choices=("kill", "sigterm"), help="run one scenario")
    args = parser.parse_args()

    settings = {"heartbeat": args.heartbeat, "lease": args.lease, "maintenance": args.maintenance}
    results: dict = {"settings": settings,
                     "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                     "kill -9": [], "SIGTERM": []}
    with tempfile.TemporaryDirectory(prefix="nst-crash-bench-") as tmp, Lab(Path(tmp), args) as lab:
        for i in range(args.runs):
            if args.only in (None, "kill"):
                results["kill -9"].append(kill_nine(lab))
                print(f"kill -9 run {i + 1}: {results['kill -9'][-1]}", flush=True)
            if args.only in (None, "sigterm"):
                results["SIGTERM"].append(sigterm(lab, args.sigterm_size))
                print(f"SIGTERM run {i + 1}: {results['SIGTERM'][-1]}", flush=True)

    out = REPO / "bench" / "results" / "crash_recovery.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nsettings: {results['settings']}")
    if results["kill -9"]:
        delays = [r["detected_after_s"] for r in results["kill -9"]]
        print("kill -9 -> restarted elsewhere, s:", summary(delays))
    if results["SIGTERM"]:
        print("SIGTERM -> exited, s:", summary([r["sigterm_to_exit_s"] for r in results["SIGTERM"]]),
              f"at {args.sigterm_size} px")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
