"""How long jobs take: a job's expected run time, and a queued job's position and wait.

Run times come from recent successful runs (RunTimeEstimator): the median of runs with the same
mode, size and steps; else the mode's median rate (seconds per pixel-step); else a default. A
queued job waits for the work left on the running jobs plus the jobs ahead of it, shared among the
live workers. Each estimate costs a fixed number of queries and one Redis call, whatever the
length of the queue.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, Count, Q, When
from django.utils import timezone

from . import queue
from .models import HIGH_QUEUE, Mode, Status, StyleJob

# Fallback costs when no similar job has run yet: seconds per (pixel x step), and a fixed part
# (loading images and networks, writing files). Measured on a 2-core CPU, rounded up.
# Video: a step is a frame; 240 frames at 480 px took 20 s (docs/benchmarks.md, "Video and batches").
DEFAULT_SECONDS_PER_PIXEL_STEP = {Mode.CLASSIC: 7e-6, Mode.FAST: 4e-6, Mode.VIDEO: 3.6e-7}
FIXED_SECONDS = 3.0
RECENT_RUNS = 200


def _work(size: int, steps: int) -> float:
    return float(size * size * max(1, steps))


class RunTimeEstimator:
    """Run time of a job from recent successful runs (see the module notes)."""

    def __init__(self, recent: Iterable[tuple[str, int, int, float]]):
        self.exact: dict[tuple, list[float]] = defaultdict(list)
        self.rates: dict[str, list[float]] = defaultdict(list)
        for mode, size, steps, seconds in recent:
            self.exact[(mode, size, steps)].append(seconds)
            self.rates[mode].append(max(0.0, seconds - FIXED_SECONDS) / _work(size, steps))

    @classmethod
    def from_db(cls) -> RunTimeEstimator:
        recent = (StyleJob.objects.filter(status=Status.SUCCEEDED, run_seconds__isnull=False)
                  .order_by("-finished_at")
                  .values_list("mode", "size", "total_steps", "run_seconds")[:RECENT_RUNS])
        return cls(list(recent))

    def estimate(self, mode: str, size: int, steps: int) -> float:
        if self.exact.get((mode, size, steps)):
            return statistics.median(self.exact[(mode, size, steps)])
        rate = (statistics.median(self.rates[mode]) if self.rates.get(mode)
                else DEFAULT_SECONDS_PER_PIXEL_STEP.get(mode, DEFAULT_SECONDS_PER_PIXEL_STEP[Mode.CLASSIC]))
        return FIXED_SECONDS + rate * _work(size, steps)


@dataclass
class QueueEstimate:
    position: int                  # queued jobs a worker takes before this one (0: next)
    workers: int | None            # None: Redis could not be asked
    wait_seconds: float | None     # until it starts; None without workers
    run_seconds: float             # its own expected run time

    @property
    def finish_seconds(self) -> float | None:
        return None if self.wait_seconds is None else self.wait_seconds + self.run_seconds


def jobs_ahead(job: StyleJob):
    """Queued jobs a worker picks before this one: workers empty the high queue first, each queue in order."""
    queued = StyleJob.objects.filter(status=Status.QUEUED)
    if job.queue == HIGH_QUEUE:
        return queued.filter(queue=HIGH_QUEUE, pk__lt=job.pk)
    return queued.filter(Q(queue=HIGH_QUEUE) | Q(pk__lt=job.pk))


def estimate_queue(job: StyleJob) -> QueueEstimate:
    """Position and ETA of a queued job: three queries and one Redis call, whatever the queue length."""
    estimator = RunTimeEstimator.from_db()
    ahead = list(jobs_ahead(job).values("mode", "size", "total_steps").annotate(n=Count("id")).order_by())
    busy = _busy_seconds(estimator)
    waiting = sum(row["n"] * estimator.estimate(row["mode"], row["size"], row["total_steps"])
                  for row in ahead)
    workers = queue.worker_count()
    wait = (busy + waiting) / workers if workers else None
    return QueueEstimate(
        position=sum(row["n"] for row in ahead), workers=workers, wait_seconds=wait,
        run_seconds=estimator.estimate(job.mode, job.size, job.total_steps),
    )


def estimate_queued_jobs(limit: int) -> list[tuple[int, int, QueueEstimate]]:
    """(job pk, owner pk, estimate) for the first `limit` queued jobs, in the order workers take
    them (the high queue first, then each queue in order): three queries and one Redis call for
    all of them (engine.live tells their pages when the queue has moved)."""
    estimator = RunTimeEstimator.from_db()
    queued = (StyleJob.objects.filter(status=Status.QUEUED)
              .order_by(Case(When(queue=HIGH_QUEUE, then=0), default=1), "pk")
              .values_list("pk", "owner_id", "mode", "size", "total_steps")[:limit])
    busy = _busy_seconds(estimator)
    workers = queue.worker_count()
    out, waiting = [], 0.0
    for position, (pk, owner_id, mode, size, steps) in enumerate(queued):
        run = estimator.estimate(mode, size, steps)
        wait = (busy + waiting) / workers if workers else None
        out.append((pk, owner_id, QueueEstimate(position=position, workers=workers, wait_seconds=wait,
                                                run_seconds=run)))
        waiting += run
    return out


def _busy_seconds(estimator: RunTimeEstimator) -> float:
    """Work left on the running jobs: the engine's ETA where it gave one, else an estimate (one query)."""
    running = StyleJob.objects.filter(status=Status.RUNNING).values_list(
        "mode", "size", "total_steps", "started_at", "eta_seconds")
    now = timezone.now()
    busy = 0.0
    for mode, size, steps, started_at, eta in running:
        if eta is not None:
            busy += eta
        else:
            elapsed = (now - started_at).total_seconds() if started_at else 0.0
            busy += max(0.0, estimator.estimate(mode, size, steps) - elapsed)
    return busy
