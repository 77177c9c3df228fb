"""Classic mode: Gatys optimisation (engine.nst.classic), `steps_per_epoch` steps in each of
`epochs` epochs, coarse to fine. Each epoch ends with a preview and a checkpoint; a requeued or
recovered job resumes from its last one. The result is a PNG with the loss history and its plot.

Its cost (bench/bench_estimate.py "calibrate": jobs run on this machine, Intel Xeon with AMX,
2 cores, 24 GiB, no GPU, the coefficients fitted by least squares to what the worker measured):

    seconds = FIXED + sum over the scale plan's levels of steps x (STEP + STEP_MP x the level's megapixels)
              + epochs x EPOCH_MP x the result's megapixels    (preview, checkpoint)
              [+ fast mode's seconds for init="fast"]
    peak memory: engine.nst.classic_memory.peak_bytes, the engine's own model (it refuses runs with it)

(The calibration of 2026-12-01 found no cost per level of the scale plan nor per epoch beyond
what grows with the image: both fitted to ~0 s, so the shape leaves them out.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings

from engine.nst import (
    Checkpoint,
    EpochReport,
    FastParams,
    ParameterError,
    StepReport,
    classic_memory,
    images,
    stylize_classic,
)
from engine.nst.classic import plan_for
from engine.nst.schema import CLASSIC
from engine.runners import scores as job_scores
from engine.runners.base import Reporter, Runner, WorkUnits, megapixels, read_checkpoint
from engine.runners.fast import FastRunner
from engine.storage import renditions

if TYPE_CHECKING:
    from engine.models import StyleJob

logger = logging.getLogger(__name__)

FIXED = 0.27         # s: images, writing result, history and plot
STEP = 0.022         # s per step
STEP_MP = 1.41       # s per step and megapixel of its level
EPOCH_MP = 1.05      # s per epoch and megapixel of the result: preview JPEG, checkpoint


class ClassicRunner(Runner):
    mode = CLASSIC
    unit = "step"
    group = "epoch"
    memory_advice = " or use fast mode"

    def work_units(self, params, frames: int | None = None) -> WorkUnits:
        return WorkUnits(groups=params.epochs, units=params.total_steps)

    def quota_steps(self, params) -> int:
        return params.total_steps

    def typical_params(self, size: int, units: int) -> dict:
        epochs = 10 if units >= 10 and units % 10 == 0 else 1
        return {"size": size, "epochs": epochs, "steps_per_epoch": max(1, units // epochs)}

    def network_name(self, job: StyleJob) -> str:
        return job.params.get("network", "")

    def loaded_key(self, job: StyleJob) -> tuple:
        return (*super().loaded_key(job), job.params.get("init") == "fast")  # a fast start loads fast mode's too

    def progress_text(self, job: StyleJob, *, group: int | None = None, unit: int | None = None,
                      fps: float | None = None) -> str:
        group = job.epoch if group is None else group
        unit = job.step if unit is None else unit
        return f"Epoch {group} of {job.epochs}, step {unit} of {job.total_steps}"

    # --- running -----------------------------------------------------------------------------------

    def run(self, job: StyleJob, progress: Reporter) -> None:
        params = job.engine_params()
        content, styles, keys = self.inputs(job, params)
        result = self._stylize(job, progress, content, styles, params, keys)
        progress.ensure_still_ours()
        # started_from: a fast start falls back to the photo on a worker without fast mode's model
        # (the job page says so, engine.studio.describe).
        if job.finish(image_png=images.encode_png(result.image), history=result.history, device=result.device,
                      network=result.network, seconds=progress.seconds(), renditions=renditions.make(result.image),
                      measurements=progress.measurements(dims=list(result.image.shape[:2]),
                                                         precision=result.precision, levels=_levels(result.history),
                                                         started_from=result.started_from)):
            job_scores.schedule(job)

    def _stylize(self, job: StyleJob, progress: Reporter, content, styles, params, keys):
        """From the job's checkpoint when it has one (a requeued or recovered job), else from the
        start. A checkpoint that cannot be used (other engine version) costs the steps it held,
        never the job."""

        def on_step(report: StepReport) -> None:
            eta = progress.eta(report.row.seconds, report.step, report.total_steps)
            epoch_end = report.step % (report.total_steps // report.epochs) == 0
            progress.unit_done(report.step, group=report.epoch, eta_seconds=eta, loss=report.row.point(),
                               group_end=epoch_end)

        def on_epoch(report: EpochReport) -> None:
            progress.group_done(report.epoch, report.step, image=report.image, eta_seconds=report.eta_seconds,
                                checkpoint=report.checkpoint().to_bytes())

        kwargs = dict(model_dir=settings.NST_MODEL_DIR, on_step=on_step, on_epoch=on_epoch,
                      should_stop=progress.should_stop, style_keys=keys)
        resume = read_checkpoint(job, Checkpoint)
        if resume is not None:
            progress.resume_at(resume.step)
            try:
                return stylize_classic(content, styles, params, resume_from=resume, **kwargs)
            except ParameterError as exc:
                if progress.unit != resume.step:  # it failed later than the restore: a real error
                    raise
                progress.resume_at(0)
                logger.warning("Style job %s: checkpoint not usable (%s); starting again.", job.pk, exc)
        return stylize_classic(content, styles, params, **kwargs)

    # --- cost --------------------------------------------------------------------------------------

    def seconds(self, params, dims: tuple[int, int], units: int) -> float:
        seconds = FIXED + params.epochs * EPOCH_MP * megapixels(dims)
        for side, steps in plan_for(params):
            level = classic_memory.result_dims(dims, side)
            seconds += steps * (STEP + STEP_MP * megapixels(level))
        if params.init == "fast":
            seconds += FastRunner().seconds(FastParams(size=params.size), dims, 1)
        return seconds

    def peak_bytes(self, params, dims: tuple[int, int], precision: str) -> int:
        return classic_memory.peak_bytes(dims, precision if precision in classic_memory.PER_MEGAPIXEL_GB else "float32")


def _levels(history) -> list[list[float]]:
    """[scale, steps, seconds] of each level of the run's scale plan, for the estimates."""
    levels: list[list[float]] = []
    previous = level_start = 0.0
    for row in history.rows:
        if not levels or levels[-1][0] != row.scale:
            levels.append([row.scale, 0, 0.0])
            level_start = previous
        levels[-1][1] += 1
        levels[-1][2] = round(row.seconds - level_start, 4)
        previous = row.seconds
    return levels
