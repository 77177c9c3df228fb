"""What a job will cost before it runs: seconds and peak memory on a worker.

The model has a shape and a calibration (bench/bench_estimate.py, "calibrate": jobs run on this
machine, the coefficients fitted by least squares to what the worker measured):

    classic: seconds = FIXED + sum over the scale plan's levels of steps x (STEP + STEP_MP x the level's megapixels)
                       + epochs x EPOCH_MP x the result's megapixels    (preview, checkpoint)
                       [+ fast mode's seconds for init="fast"]
    fast:    seconds = FIXED + MP x megapixels   (MP_TILED above UNTILED_MAX_PIXELS: tiles)
    video:   seconds = FIXED + frames x FRAME_MP x a frame's megapixels   (bench/bench_video.py)
    peak memory, classic: engine.nst.classic_memory.peak_bytes, the engine's own model (it refuses
             runs with it); fast: BASE + PER_MP x megapixels, whole or tiled; video: fast's, per frame
             (frames go one at a time, chunks are written as they fill).

Finished jobs refresh it: each records what it cost (StyleJob.measurements, written by the worker;
its device in StyleJob.device), and the model's prediction is scaled by the median ratio of
measured to predicted over recent jobs of the same mode, on the same device when it has
MIN_SAMPLES of them (another device, another speed), else over all devices; seconds and memory
separately. The calibration says what a step costs on this machine; the ratios follow the
machines that actually run the jobs.

engine.estimates builds one of these from recent jobs (one query) for the queue's waits, the
estimate the submission page asks for as the user changes the form (engine.views.estimate), and
the form's refusal of a job whose peak would fit in no live worker's memory.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.nst import classic_memory
from engine.nst import fast as fast_engine
from engine.nst.classic import plan_for
from engine.nst.classic_params import ClassicParams
from engine.nst.fast import FastParams
from engine.nst.video import VideoParams

# --- calibration (this machine: Intel Xeon with AMX, 2 cores, 24 GiB, no GPU; bench_estimate.py) ---
# (The calibration of 2026-12-01 found no cost per level of the scale plan nor per epoch beyond
# what grows with the image: both fitted to ~0 s, so the shape leaves them out.)
CLASSIC_FIXED = 0.27         # s: images, writing result, history and plot
CLASSIC_STEP = 0.022         # s per step
CLASSIC_STEP_MP = 1.41       # s per step and megapixel of its level
CLASSIC_EPOCH_MP = 1.05      # s per epoch and megapixel of the result: preview JPEG, checkpoint
FAST_FIXED = 0.09            # s: images, style vectors, writing the PNG
FAST_MP = 0.47               # s per megapixel, whole
FAST_MP_TILED = 0.55         # s per megapixel, in tiles
FAST_BASE_GB, FAST_PER_MP_GB = 0.94, 0.17               # peak, whole
VIDEO_FIXED = 2.0            # s: the style vector, opening the clip, joining the chunks, copying the sound
VIDEO_FRAME_MP = 0.65        # s per frame and megapixel: decode, network, two DIS flows, blend, encode
                             # (docs/benchmarks.md, "Video and batches": 480 px 11.5 frames/s, 720 px 5.7)
FAST_TILED_BASE_GB, FAST_TILED_PER_MP_GB = 0.95, 0.079  # peak, tiled (docs/benchmarks.md, "Print size")

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
    frames: int = 1  # video: the clip's frames (its total_steps)


def result_dims(content_size: tuple[int, int] | None, size: int) -> tuple[int, int]:
    """(h, w) of a result of longest side `size` for content of (width, height); 4:3 if unknown."""
    width, height = content_size if content_size else (1000, round(1000 * DEFAULT_ASPECT))
    return classic_memory.result_dims((height, width), size)


def _mp(dims: tuple[int, int]) -> float:
    return dims[0] * dims[1] / 1e6


def params_of(mode: str, values: Mapping) -> ClassicParams | FastParams | VideoParams:
    kind = {"classic": ClassicParams, "video": VideoParams}.get(mode, FastParams)
    return kind.from_dict(dict(values))


def base_seconds(mode: str, params: ClassicParams | FastParams | VideoParams, dims: tuple[int, int],
                 frames: int = 1) -> float:
    """The calibrated run time of a job whose result is dims = (h, w) (a video's: `frames` of them)."""
    if mode == "video":
        return VIDEO_FIXED + max(1, frames) * VIDEO_FRAME_MP * _mp(dims)
    if mode != "classic":
        tiled = dims[0] * dims[1] > fast_engine.UNTILED_MAX_PIXELS
        return FAST_FIXED + (FAST_MP_TILED if tiled else FAST_MP) * _mp(dims)
    seconds = CLASSIC_FIXED + params.epochs * CLASSIC_EPOCH_MP * _mp(dims)
    for side, steps in plan_for(params):
        level = classic_memory.result_dims(dims, side)
        seconds += steps * (CLASSIC_STEP + CLASSIC_STEP_MP * _mp(level))
    if params.init == "fast":
        seconds += base_seconds("fast", FastParams(size=params.size), dims)
    return seconds


def base_peak(mode: str, params: ClassicParams | FastParams, dims: tuple[int, int], precision: str) -> int:
    """The calibrated peak memory (bytes) of a job whose result is dims = (h, w)."""
    if mode == "classic":
        return classic_memory.peak_bytes(dims, precision if precision in classic_memory.PER_MEGAPIXEL_GB
                                         else "float32")
    if dims[0] * dims[1] > fast_engine.UNTILED_MAX_PIXELS:
        return int((FAST_TILED_BASE_GB + FAST_TILED_PER_MP_GB * _mp(dims)) * 1e9)
    return int((FAST_BASE_GB + FAST_PER_MP_GB * _mp(dims)) * 1e9)


class CostModel:
    """The calibrated model scaled by what recent finished jobs measured (see the module notes)."""

    def __init__(self, finished: Iterable[Finished] = ()):
        self.time_ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.memory_ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
        for job in finished:
            self._learn(job)

    def _learn(self, job: Finished) -> None:
        try:
            params = params_of(job.mode, job.params)
        except (TypeError, ValueError):
            return  # a row from an older engine whose params no longer load
        dims = job.dims or result_dims(None, params.size)
        predicted = base_seconds(job.mode, params, dims, job.frames)
        for key in ((job.mode, job.device), (job.mode, "")):
            if job.typical and predicted > 0 and job.seconds and job.seconds > 0:
                self.time_ratios[key].append(job.seconds / predicted)
            if job.peak_bytes:
                self.memory_ratios[key].append(job.peak_bytes / base_peak(job.mode, params, dims, job.precision))
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

    def estimate(self, mode: str, params: ClassicParams | FastParams | VideoParams,
                 content_size: tuple[int, int] | None, *, device: str = "", precision: str = "float32",
                 frames: int = 1) -> Estimate:
        dims = result_dims(content_size, params.size)
        seconds = base_seconds(mode, params, dims, frames) * self.time_ratio(mode, device)
        peak = int(base_peak(mode, params, dims, precision) * self.memory_ratio(mode, device))
        return Estimate(seconds, peak)


def fits(peak_bytes: int, memory_bytes: int) -> bool:
    """Whether a job of this estimated peak fits in a worker that can give it memory_bytes."""
    return peak_bytes * MARGIN <= memory_bytes


