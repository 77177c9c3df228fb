"""Fast mode: one forward pass of a feed-forward network (engine.nst.fast; the hub model with
fast_network="tfhub"). One unit in one group; the result is a PNG with a history of timings only
(no losses, so no plot).

Its cost (bench/bench_estimate.py "calibrate" fits these on this machine: Intel Xeon with AMX,
2 cores, 24 GiB, no GPU): seconds = FIXED + MP x megapixels (MP_TILED above
engine.nst.fast.UNTILED_MAX_PIXELS, where the image goes through in tiles); peak memory = BASE +
PER_MP x megapixels, whole or tiled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from engine.nst import LossHistory, images
from engine.nst import fast as fast_engine
from engine.nst.fast_hub import HUB_NETWORK, get_stylizer
from engine.nst.schema import FAST
from engine.runners import scores as job_scores
from engine.runners.base import (
    MIN_STYLE_SIDE,
    Reporter,
    Runner,
    WorkUnits,
    megapixels,
    timings,
)
from engine.storage import renditions

if TYPE_CHECKING:
    from engine.models import StyleJob

FIXED = 0.09            # s: images, style vectors, writing the PNG
MP = 0.47               # s per megapixel, whole
MP_TILED = 0.55         # s per megapixel, in tiles
BASE_GB, PER_MP_GB = 0.94, 0.17                 # peak, whole
TILED_BASE_GB, TILED_PER_MP_GB = 0.95, 0.079    # peak, tiled (docs/benchmarks.md, "Print size")


class FastRunner(Runner):
    mode = FAST
    unit = "image"
    group = "pass"

    def work_units(self, params, frames: int | None = None) -> WorkUnits:
        return WorkUnits(groups=1, units=1)

    def network_name(self, job: StyleJob) -> str:
        return HUB_NETWORK if job.params.get("fast_network") == HUB_NETWORK else fast_engine.NETWORK

    def run(self, job: StyleJob, progress: Reporter) -> None:
        params = job.engine_params()
        content, styles, keys = self.inputs(job, params)
        stylizer = get_stylizer(params, settings.NST_MODEL_DIR, settings.NST_FAST_HUB_HANDLE)
        result = self.stylize(stylizer, content, styles, params, keys)
        history = LossHistory(events=[f"Fast mode, one forward pass: {timings(result.seconds)}."])
        progress.ensure_still_ours()
        if job.finish(image_png=images.encode_png(result.image), history=history, device=result.device,
                      network=result.network, seconds=progress.seconds(), renditions=renditions.make(result.image),
                      measurements=progress.measurements(dims=list(result.image.shape[:2]),
                                                         precision=getattr(result, "precision", "float32"), levels=[])):
            job_scores.schedule(job)

    def library_side(self, params) -> int:
        # The style predictor only ever sees a 256x256 image: a library painting at one size, whatever the job's.
        return MIN_STYLE_SIDE

    def stylize(self, stylizer, content, styles, params, keys):
        """The forward pass (a mode built on this one changes what goes in or comes out here)."""
        return stylizer.stylize(content, styles, params, style_keys=keys)

    def seconds(self, params, dims: tuple[int, int], units: int) -> float:
        tiled = dims[0] * dims[1] > fast_engine.UNTILED_MAX_PIXELS
        return FIXED + (MP_TILED if tiled else MP) * megapixels(dims)

    def peak_bytes(self, params, dims: tuple[int, int], precision: str) -> int:
        if dims[0] * dims[1] > fast_engine.UNTILED_MAX_PIXELS:
            return int((TILED_BASE_GB + TILED_PER_MP_GB * megapixels(dims)) * 1e9)
        return int((BASE_GB + PER_MP_GB * megapixels(dims)) * 1e9)
