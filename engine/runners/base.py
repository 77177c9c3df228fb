"""What every runner is and shares. A runner is one mode's way of running a job, in the shape of
NetBox's JobRunner (netbox/jobs.py): the RQ task (engine.tasks) loads the job, picks its runner
(engine.runners.runner_for) and calls `run(job, progress)`; the outcomes every mode shares (a stop,
an engine error, a time-out, a lost lease) stay with the task.

A runner owns what differs between modes:

- its work units: a job counts `units` (the row's step / total_steps) in `groups` (its epoch /
  epochs); a group ends with a preview and a checkpoint. Classic counts steps in epochs, video
  frames in chunks, fast mode one image in one pass. `work_units()` turns params (and a clip's
  frames) into the row's counters when the job is created;
- `run(job, progress)`: load the inputs, call engine.nst, report through `progress` (the one
  reporter of every mode, engine.runners.progress.Progress: throttled saves, live events,
  checkpoints), store the result with the row's `finish()`;
- its progress wording (`progress_text`, `rate_text`, `unit` / `group` names) for the job page
  and its live events;
- its result kind and files: "image" (result PNG, loss history, plot) or "video" (MP4, poster);
- its cost-model entry (`seconds`, `peak_bytes`: the calibrated run time and peak memory, which
  engine.costs.cost_model scales by what recent jobs measured).

This package imports neither the live events nor the estimates (engine.costs.cost_model imports it):
a runner gets its reporter as an argument, and knows it only by the `Reporter` protocol below.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from engine.nst import ParameterError, images, params_class

if TYPE_CHECKING:
    import numpy as np

    from engine.models import StyleJob

logger = logging.getLogger(__name__)

# A style image is used at the content's size (classic) or 256 px (fast's predictor); never below
# the predictor's size, so a small job still sees the painting's texture.
MIN_STYLE_SIDE = 256

# The (mode, network, ...) of the jobs this worker process has run: their networks are loaded.
_LOADED: set[tuple] = set()


@dataclass(frozen=True)
class WorkUnits:
    """A job's counters as the row keeps them: `units` (step, total_steps) in `groups` (epoch, epochs)."""

    groups: int
    units: int


class Reporter(Protocol):
    """What a runner tells while it runs (engine.runners.progress.Progress is the one there is)."""

    unit: int
    group: int

    def should_stop(self) -> bool: ...

    def resume_at(self, unit: int, group: int = 0) -> None: ...

    def unit_done(self, unit: int, *, eta_seconds: float | None, group: int | None = None,
                  loss: list[float] | None = None, rate: float | None = None,
                  image: np.ndarray | None = None, group_end: bool = False) -> None: ...

    def group_done(self, group: int, unit: int, *, image: np.ndarray, checkpoint: bytes | None,
                   eta_seconds: float | None = None) -> None: ...

    def eta(self, elapsed: float, unit: int, total: int) -> float | None: ...

    def ensure_still_ours(self) -> None: ...

    def measurements(self, **facts: Any) -> dict: ...

    def seconds(self) -> float: ...


class Runner(ABC):
    """One mode's runner (see the module notes). Runners keep no state between jobs: one instance
    per mode serves every job of the process (engine.runners.RUNNERS)."""

    mode: ClassVar[str]
    unit: ClassVar[str] = "step"          # what total_steps counts
    group: ClassVar[str] = "epoch"        # what epochs counts
    result_kind: ClassVar[str] = "image"  # "image": result PNG (+ history, plot); "video": MP4 + poster
    content_kinds: ClassVar[tuple[str, ...]] = ("image",)  # what a content file of this mode may be
    # Appended to the form's refusal of a job too large for any worker's memory.
    memory_advice: ClassVar[str] = ""

    # --- a new job -----------------------------------------------------------------------------

    def params(self, values: Mapping[str, Any]):
        """The mode's params dataclass from a dict (engine.nst.schema's from_dict)."""
        return params_class(self.mode).from_dict(dict(values))

    @abstractmethod
    def work_units(self, params, frames: int | None = None) -> WorkUnits:
        """The row's counters of a job with `params` (`frames`: its clip's, when it has one)."""

    def for_content(self, kind: str, params) -> tuple[Runner, Any]:
        """The runner and params a content file of `kind` ("image" or "video") runs with in a
        submission of this mode: this one, unless the mode hands that kind to another."""
        return self, params

    def quota_steps(self, params) -> int:
        """What counts against the user's max_steps (engine.studio.quotas): 0 for a mode without steps."""
        return 0

    def typical_params(self, size: int, units: int) -> dict:
        """Params of a job known only by its size and work units (a queued row, for the estimates)."""
        return {"size": size}

    # --- running -------------------------------------------------------------------------------

    @abstractmethod
    def run(self, job: StyleJob, progress: Reporter) -> None:
        """Run `job` to its result (stored with job.finish) or raise engine.nst.Stopped/EngineError."""

    def library_side(self, params) -> int:
        """The side a library painting is loaded at for a job of `params` (load_styles): the
        result's, never below the predictor's. Fast mode's predictor sees MIN_STYLE_SIDE only."""
        return max(params.size, MIN_STYLE_SIDE)

    def inputs(self, job: StyleJob, params) -> tuple[np.ndarray, list[np.ndarray], list[str | None]]:
        """The photo, the paintings and their cache keys as the engine gets them for `job` (an
        image job): what run() stylises, and what its picture is scored against later
        (engine.runners.scores.score_stored)."""
        styles, keys = load_styles(job, params.size, library_side=self.library_side(params))
        return load_content(job, params.size), styles, keys

    @abstractmethod
    def network_name(self, job: StyleJob) -> str:
        """The network the job runs on, known before it runs (its page shows it during the run)."""

    def loaded_key(self, job: StyleJob) -> tuple:
        """What a worker loads to run the job: its first job of a key also loads the network."""
        return (self.mode, self.network_name(job))

    def warm_for(self, job: StyleJob) -> bool:
        """Whether this worker process has run a job of the same network before: a first job's time
        also loads it (and TensorFlow), so the estimates do not learn from it."""
        key = self.loaded_key(job)
        warm = key in _LOADED
        _LOADED.add(key)
        return warm

    # --- wording -------------------------------------------------------------------------------

    def progress_text(self, job: StyleJob, *, group: int | None = None, unit: int | None = None,
                      fps: float | None = None) -> str:
        """The job page's progress line: "Epoch 2 of 5, step 40 of 100" ... (`group`/`unit`: an
        event's, else the row's; `fps`: a rate the runner measures, shown when it has one)."""
        return "Stylising"

    def rate_text(self, fps: float | None) -> str:
        """The run's speed, when the mode measures one ("" when it does not)."""
        return ""

    def group_label(self, group: int) -> str:
        """A preview's caption: "Epoch 3"."""
        return f"{self.group.capitalize()} {group}"

    # --- cost -----------------------------------------------------------------------------------

    @abstractmethod
    def seconds(self, params, dims: tuple[int, int], units: int) -> float:
        """The calibrated run time of a job whose result is dims = (h, w), of `units` work units."""

    @abstractmethod
    def peak_bytes(self, params, dims: tuple[int, int], precision: str) -> int:
        """The calibrated peak memory of a job whose result is dims = (h, w)."""


# --- what the runners share --------------------------------------------------------------------------

def megapixels(dims: tuple[int, int]) -> float:
    return dims[0] * dims[1] / 1e6


def load_content(job: StyleJob, size: int) -> np.ndarray:
    with job.content.open("rb") as fh:
        return images.load_array(fh, size)


def load_styles(job: StyleJob, size: int, library_side: int) -> tuple[list, list[str | None]]:
    """The job's style images for a result of `size` px, and the names under which the engine may
    cache what it computes from them (engine.nst's style_keys): a library painting's, with the side
    it is loaded at (`library_side`), so its style vector (fast) and Gram targets (classic, per
    scale) are computed once per worker and size. An upload is used at the result's size."""
    styles, keys = [], []
    for style in job.styles.select_related("library_style"):
        library = style.library_style
        with style.image.open("rb") as fh:
            styles.append(images.load_array(fh, library_side if library else max(size, MIN_STYLE_SIDE)))
        keys.append(f"{library.cache_key}@{library_side}" if library else None)
    return styles, keys


def read_checkpoint(job: StyleJob, kind: type):
    """The job's checkpoint as `kind` (Checkpoint, VideoCheckpoint), or None when it has none or
    it cannot be read (then the run starts again: a checkpoint costs the steps it held, never the job)."""
    if not job.checkpoint:
        return None
    try:
        with job.checkpoint.open("rb") as fh:
            checkpoint = kind.from_bytes(fh.read())
    except (OSError, ParameterError) as exc:
        logger.warning("Style job %s: cannot read its checkpoint (%s); starting again.", job.pk, exc)
        return None
    logger.info("Style job %s resumes at step %s", job.pk, checkpoint.step)
    return checkpoint


def timings(seconds: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items())
