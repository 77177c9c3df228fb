"""How long jobs take and what they need: a job's expected run time and peak memory, a queued
job's position and wait, and the wait a job submitted now would have.

Costs come from engine.costs.cost_model: a model calibrated on this machine, scaled by what recent
successful runs measured (RunTimeEstimator, one query over the last RECENT_RUNS of them). A queued
job waits for the work left on the running jobs plus the jobs ahead of it, shared among the live
workers. Each estimate costs a fixed number of queries and Redis round trips, whatever the length
of the queue or the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.db.models import Case, When
from django.utils import timezone
from redis.exceptions import RedisError

from engine.costs.cost_model import MARGIN, CostModel, Estimate, Finished, fits
from engine.jobs import queue, worker_info
from engine.models import HIGH_QUEUE, Status, StyleJob
from engine.runners import runner_for

RECENT_RUNS = 200
SIZE_STEP = 32  # the sizes offered instead of one that does not fit


def finished_from_row(mode: str, size: int, steps: int, seconds: float, params: Mapping | None = None,
                      device: str = "", measurements: Mapping | None = None) -> Finished:
    measured = measurements or {}
    dims = measured.get("dims")
    return Finished(mode=mode, params=params or runner_for(mode).typical_params(size, steps), seconds=seconds,
                    device=device or "", dims=tuple(dims) if dims else None,
                    peak_bytes=measured.get("peak_bytes"), precision=measured.get("precision", "float32"),
                    typical=measured.get("warm", True) and not measured.get("resumed", False),
                    units=steps)


class RunTimeEstimator:
    """Run time of jobs from the cost model, refreshed by recent successful runs: rows of
    (mode, size, steps, seconds[, params, device, measurements])."""

    def __init__(self, recent: Iterable[tuple]):
        self.model = CostModel(finished_from_row(*row) for row in recent)

    @classmethod
    def from_db(cls) -> RunTimeEstimator:
        recent = (StyleJob.objects.filter(status=Status.SUCCEEDED, run_seconds__isnull=False)
                  .order_by("-finished_at")
                  .values_list("mode", "size", "total_steps", "run_seconds", "params", "device", "measurements")
                  [:RECENT_RUNS])
        return cls(list(recent))

    def estimate(self, mode: str, size: int, steps: int, params: Mapping | None = None) -> float:
        """A job of `mode` and `size` with `steps` work units (its row's total_steps)."""
        runner = runner_for(mode)
        try:
            values = runner.params(params or runner.typical_params(size, steps))
        except (TypeError, ValueError):
            values = runner.params(runner.typical_params(size, steps))
        return self.model.estimate(mode, values, None, units=steps).seconds


@dataclass
class QueueEstimate:
    position: int                  # queued jobs a worker takes before this one (0: next)
    workers: int | None            # None: Redis could not be asked
    wait_seconds: float | None     # until it starts; None without workers
    run_seconds: float             # its own expected run time

    @property
    def finish_seconds(self) -> float | None:
        return None if self.wait_seconds is None else self.wait_seconds + self.run_seconds


@dataclass(frozen=True)
class Waiting:
    """A queued job, as the queue's estimates need it."""
    pk: int
    rq_id: str
    owner_id: int
    queue: str
    mode: str
    size: int
    steps: int


def queued_in_turn_order() -> list[Waiting]:
    """Every queued job, in the order workers take them: the high queue's list, then the default
    one's, each in turn order (engine.jobs.turns), then the queued rows that are on no list (just
    committed and not enqueued yet, or lost by Redis until the orphan sweep puts them back; all of
    them when Redis cannot be asked), the high queue's first, oldest first. One query, one Redis
    round trip."""
    rows = [Waiting(pk, StyleJob.rq_job_id_for(uuid), owner_id, queue_name, mode, size, steps)
            for pk, uuid, owner_id, queue_name, mode, size, steps in (
                StyleJob.objects.filter(status=Status.QUEUED)
                .order_by(Case(When(queue=HIGH_QUEUE, then=0), default=1), "pk")
                .values_list("pk", "uuid", "owner_id", "queue", "mode", "size", "total_steps"))]
    if not rows:
        return rows
    try:
        order = {rq_id: i for i, rq_id in enumerate(queue.waiting_order())}
    except RedisError:
        return rows
    return sorted(rows, key=lambda w: order.get(w.rq_id, len(order)))  # stable: the rest keep their order


class _RunTimes:
    """Each (mode, size, steps) estimated once, however many queued jobs share it."""

    def __init__(self, estimator: RunTimeEstimator):
        self.estimator, self.known = estimator, {}

    def __call__(self, w: Waiting) -> float:
        key = (w.mode, w.size, w.steps)
        if key not in self.known:
            self.known[key] = self.estimator.estimate(*key)
        return self.known[key]


def estimate_queue(job: StyleJob) -> QueueEstimate:
    """Position and ETA of a queued job, by the order workers take the queued jobs (their turns):
    three queries and two Redis calls, whatever the queue length."""
    estimator = RunTimeEstimator.from_db()
    order = queued_in_turn_order()
    position = next((i for i, w in enumerate(order) if w.pk == job.pk), len(order))
    run_time = _RunTimes(estimator)
    busy = _busy_seconds(estimator)
    waiting = sum(run_time(w) for w in order[:position])
    workers = queue.worker_count()
    wait = (busy + waiting) / workers if workers else None
    return QueueEstimate(
        position=position, workers=workers, wait_seconds=wait,
        run_seconds=estimator.estimate(job.mode, job.size, job.total_steps, job.params),
    )


def estimate_queued_jobs(limit: int) -> list[tuple[int, int, QueueEstimate]]:
    """(job pk, owner pk, estimate) for the first `limit` queued jobs, in the order workers take
    them (queued_in_turn_order): three queries and two Redis calls for all of them
    (engine.live.updates tells their pages when the queue has moved)."""
    estimator = RunTimeEstimator.from_db()
    order = queued_in_turn_order()[:limit]
    run_time = _RunTimes(estimator)
    busy = _busy_seconds(estimator)
    workers = queue.worker_count()
    out, waiting = [], 0.0
    for position, w in enumerate(order):
        run = run_time(w)
        wait = (busy + waiting) / workers if workers else None
        out.append((w.pk, w.owner_id, QueueEstimate(position=position, workers=workers, wait_seconds=wait,
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


# --- a job not submitted yet: the submission page's estimate -------------------------------------

QUICK_SECONDS = 3.0   # "a few seconds": the form opens at the largest size whose run takes no longer
QUICK_SIZE_STEP = 128


def quick_size(mode: str, low: int, high: int, estimator: RunTimeEstimator | None = None) -> int | None:
    """The largest size from `low` to `high` px (the user's range in `mode`), in steps of
    QUICK_SIZE_STEP, whose run (the mode's default settings, a 4:3 photo) the cost model puts within
    QUICK_SECONDS: what the form opens at, so that a first try shows a result at a useful size (one
    query). None when even `low` takes longer (classic mode: the form keeps its default size)."""
    model = (estimator or RunTimeEstimator.from_db()).model
    runner = runner_for(mode)
    sizes = sorted({*range(-(-low // QUICK_SIZE_STEP) * QUICK_SIZE_STEP, high + 1, QUICK_SIZE_STEP), low, high})
    best = None
    for size in sizes:
        if model.estimate(mode, runner.params({"size": size}), None).seconds > QUICK_SECONDS:
            break
        best = size
    return best


@dataclass
class WorkerContext:
    estimator: RunTimeEstimator
    workers: list[worker_info.WorkerInfo]   # the live workers that described themselves ([]: none, or no Redis)

    @property
    def model(self) -> CostModel:
        return self.estimator.model


def worker_context(workers: list[worker_info.WorkerInfo] | None = None) -> WorkerContext:
    """The refreshed cost model and the live workers (`workers`, when the caller has asked already):
    one query and one Redis round trip."""
    return WorkerContext(RunTimeEstimator.from_db(), live_workers() if workers is None else workers)


def live_workers() -> list[worker_info.WorkerInfo]:
    """The live workers that described themselves; [] without any, or without Redis."""
    try:
        connection = queue.redis_connection()
    except Exception:  # noqa: BLE001 - a misconfigured Redis URL must not break the form
        return []
    return worker_info.live_workers(connection) or []


@dataclass
class WorkerEstimate:
    device: str
    workers: int              # live workers with this device
    seconds: float
    peak_bytes: int
    memory_bytes: int         # the most one of them can give a job
    fits: bool


@dataclass
class NewJobEstimate:
    per_device: list[WorkerEstimate]   # [] without live workers: `fallback` is then the estimate
    fallback: Estimate
    wait_seconds: float | None         # the queue's wait before it would start (None: no worker)
    workers: int | None                # live workers (None: Redis could not be asked)
    largest_fitting_size: int | None   # when it fits no worker: the largest size that would
    jobs: int = 1                      # the jobs it is for (a batch: one per file), run one after the other

    @property
    def fits_somewhere(self) -> bool:
        return not self.per_device or any(w.fits for w in self.per_device)

    @property
    def fits_everywhere(self) -> bool:
        return all(w.fits for w in self.per_device)


def estimate_new_job(mode: str, params, content_size: tuple[int, int] | None, *, queue_name: str,
                     context: WorkerContext | None = None, units: int = 1,
                     owner_id: int | None = None) -> NewJobEstimate:
    """Run time and peak memory of a job not submitted yet (of `units` work units: a video's frames),
    on each kind of live worker, and the wait it would have in `queue_name` at `owner_id`'s turn
    (engine.jobs.turns; without an owner, behind every queued job): three queries and four Redis
    round trips."""
    return estimate_new_jobs([(mode, params, units)], content_size, queue_name=queue_name, context=context,
                             owner_id=owner_id)


def estimate_new_jobs(planned: list[tuple[str, object, int]], content_size: tuple[int, int] | None, *,
                      queue_name: str, context: WorkerContext | None = None,
                      owner_id: int | None = None) -> NewJobEstimate:
    """The same for a submission of several jobs, (mode, params, units) each (a batch: a photo's
    job, a clip's with its frames): their run times added up (one worker runs them one after the
    other), the largest peak. As many queries and Redis round trips as for one job."""
    context = context or worker_context()
    model = context.model
    by_device: dict[str, list[worker_info.WorkerInfo]] = {}
    for worker in context.workers:
        by_device.setdefault(worker.device, []).append(worker)
    per_device = []
    for device, workers in by_device.items():
        roomiest = max(workers, key=lambda w: w.memory_bytes)
        costs = [model.estimate(mode, params, content_size, device=device, precision=roomiest.precision, units=units)
                 for mode, params, units in planned]
        peak = max(cost.peak_bytes for cost in costs)
        per_device.append(WorkerEstimate(device, len(workers), sum(cost.seconds for cost in costs), peak,
                                         roomiest.memory_bytes, fits(peak, roomiest.memory_bytes)))
    costs = [model.estimate(mode, params, content_size, units=units) for mode, params, units in planned]
    fallback = Estimate(sum(cost.seconds for cost in costs), max(cost.peak_bytes for cost in costs))
    result = NewJobEstimate(per_device, fallback, None, None, None, jobs=len(planned))
    result.wait_seconds, result.workers = _wait_for_new_job(context.estimator, queue_name, owner_id)
    if not result.fits_somewhere:
        mode, params, _ = max(planned, key=lambda job: job[1].size)
        result.largest_fitting_size = _largest_fitting_size(mode, params, content_size, model, context.workers)
    return result


def _wait_for_new_job(estimator: RunTimeEstimator, queue_name: str,
                      owner_id: int | None) -> tuple[float | None, int | None]:
    workers = queue.worker_count()
    if not workers:
        return None, workers
    run_time = _RunTimes(estimator)
    waiting = sum(run_time(w) for w in _ahead_of_new_job(queue_name, owner_id))
    return (_busy_seconds(estimator) + waiting) / workers, workers


def _ahead_of_new_job(queue_name: str, owner_id: int | None) -> list[Waiting]:
    """The queued jobs a job of `owner_id` submitted now to `queue_name` would wait for: the high
    queue's (for a job of the default queue) and those before its owner's turn in its own queue.
    Without an owner, or without Redis, every queued job of those queues."""
    order = queued_in_turn_order()
    ahead = [w for w in order if w.queue == HIGH_QUEUE] if queue_name != HIGH_QUEUE else []
    same = [w for w in order if w.queue == queue_name]  # its list first, in turn order
    if owner_id is None:
        return ahead + same
    try:
        place = queue.place_for_new_job(owner_id, queue_name)
    except RedisError:
        return ahead + same
    return ahead + same[:place]


def _largest_fitting_size(mode, params, content_size, model: CostModel,
                          workers: list[worker_info.WorkerInfo]) -> int | None:
    best = None
    for worker in workers:
        for size in range(params.size - SIZE_STEP, 255, -SIZE_STEP):
            cost = model.estimate(mode, replace(params, size=size), content_size, device=worker.device,
                                  precision=worker.precision)
            if fits(cost.peak_bytes, worker.memory_bytes):
                best = max(best or 0, size)
                break
    return best


def memory_problem(mode: str, params, content_size: tuple[int, int] | None) -> str:
    """Why the form must refuse this job ("" when it may go): its estimated peak memory fits in no
    live worker. Without a live worker, or without Redis, nothing is refused here (the engine still
    refuses a classic run that does not fit where it runs, when it runs)."""
    workers = live_workers()  # first: without a worker nothing is refused, and no query is needed
    if not workers:
        return ""
    context = worker_context(workers)
    model = context.model
    roomiest = max(context.workers, key=lambda w: w.memory_bytes)
    cost = model.estimate(mode, params, content_size, device=roomiest.device, precision=roomiest.precision)
    if fits(cost.peak_bytes, roomiest.memory_bytes):
        return ""
    smaller = _largest_fitting_size(mode, params, content_size, model, context.workers)
    what = (f"This job would need about {cost.peak_bytes * MARGIN / 1e9:.1f} GB of memory, more than any "
            f"worker can give it right now ({roomiest.memory_bytes / 1e9:.1f} GB). ")
    advice = runner_for(mode).memory_advice
    if smaller:
        return what + f"Please choose {smaller} px or smaller{advice}."
    return what + f"Please try again later{advice}."
