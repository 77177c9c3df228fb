"""What a job will cost before it runs: seconds and peak memory on a worker.

Each mode's runner holds its calibrated entry (engine.runners: `seconds(params, dims, units)` and
`peak_bytes(params, dims, precision)`, with the constants bench/bench_estimate.py "calibrate" fits
on this machine: jobs run, the coefficients fitted by least squares to what the worker measured).
This module scales them by what recent jobs measured.

Finished jobs refresh it: each records what it cost (StyleJob.measurements, written by the worker;
its device in StyleJob.device), and the runner's prediction is scaled by the median ratio of
measured to predicted over recent jobs of the same mode, on the same device when it has
MIN_SAMPLES of them (another device, another speed), else over all devices; seconds and memory
separately. The calibration says what a unit costs on this machine; the ratios follow the
machines that actually run the jobs.

engine.costs.estimates builds one of these from recent jobs (one query) for the queue's waits, the
estimate the submission page asks for as the user changes the form (engine.views.estimate), and
the form's refusal of a job whose peak would fit in no live worker's memory.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.nst import classic_memory
from engine.runners import runner_for

DEFAULT_ASPECT = 0.75        # a job whose content's shape is not known: 4:3
MIN_SAMPLES = 3              # finished jobs of a device before its own ratio counts
RATIO_BOUNDS = (0.2, 5.0)    # a ratio outside is a bad measurement, not a slower machine
MARGIN = classic_memory.MARGIN


@dataclass(frozen=True)
class Estimate:
    seconds: float
    peak_bytes: int


@dataclass(frozen=True)
class Finished:
    """What a finished job tells the model: its mode, params, content shape, device and costs."""
    mode: str
    params: Mapping
    seconds: float
    device: str = ""
    dims: tuple[int, int] | None = None   # the result's (h, w), when the worker recorded it
    peak_bytes: int | None = None
    precision: str = "float32"
    # Its time says what a job costs: not a worker's first job of its network (which loads it, and
    # TensorFlow with the first of all) nor one resumed from a checkpoint (which ran part of its steps).
    typical: bool = True
    units: int = 1  # its work units (the row's total_steps: a video's frames)


def result_dims(content_size: tuple[int, int] | None, size: int) -> tuple[int, int]:
    """(h, w) of a result of longest side `size` for content of (width, height); 4:3 if unknown."""
    width, height = content_size if content_size else (1000, round(1000 * DEFAULT_ASPECT))
    return classic_memory.result_dims((height, width), size)


class CostModel:
    """The calibrated model scaled by what recent finished jobs measured (see the module notes)."""

    def __init__(self, finished: Iterable[Finished] = ()):
        self.time_ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.memory_ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
        for job in finished:
            self._learn(job)

    def _learn(self, job: Finished) -> None:
        try:
            runner = runner_for(job.mode)
            params = runner.params(job.params)
        except (TypeError, ValueError):
            return  # a row from an older engine whose params no longer load (or a mode since removed)
        dims = job.dims or result_dims(None, params.size)
        predicted = runner.seconds(params, dims, job.units)
        for key in ((job.mode, job.device), (job.mode, "")):
            if job.typical and predicted > 0 and job.seconds and job.seconds > 0:
                self.time_ratios[key].append(job.seconds / predicted)
            if job.peak_bytes:
                self.memory_ratios[key].append(job.peak_bytes / runner.peak_bytes(params, dims, job.precision))
            if not job.device:
                break

    @staticmethod
    def _ratio(ratios: dict[tuple[str, str], list[float]], mode: str, device: str) -> float:
        for key in ((mode, device), (mode, "")):
            if len(ratios.get(key, ())) >= (MIN_SAMPLES if key[1] else 1):
                low, high = RATIO_BOUNDS
                return min(high, max(low, statistics.median(ratios[key])))
        return 1.0

    def time_ratio(self, mode: str, device: str = "") -> float:
        return self._ratio(self.time_ratios, mode, device)

    def memory_ratio(self, mode: str, device: str = "") -> float:
        # Memory only ever learns upwards from the calibration: a job that used less than predicted
        # shared a warm process, and refusing on an optimistic figure fails the job later instead.
        return max(1.0, self._ratio(self.memory_ratios, mode, device))

    def estimate(self, mode: str, params, content_size: tuple[int, int] | None, *, device: str = "",
                 precision: str = "float32", units: int = 1) -> Estimate:
        """A job of `mode` with `params` and `units` work units (its row's total_steps)."""
        runner = runner_for(mode)
        dims = result_dims(content_size, params.size)
        seconds = runner.seconds(params, dims, units) * self.time_ratio(mode, device)
        peak = int(runner.peak_bytes(params, dims, precision) * self.memory_ratio(mode, device))
        return Estimate(seconds, peak)


def fits(peak_bytes: int, memory_bytes: int) -> bool:
    """Whether a job of this estimated peak fits in a worker that can give it memory_bytes."""
    return peak_bytes * MARGIN <= memory_bytes


