"""One runner per mode (engine.runners.base says what a runner owns). `runner_for(job.mode)` is how
the task, the job service, the estimates and the pages find a mode's work units, wording, result
kind and cost; adding a mode means a runner here, its controls in engine.nst.schema and its params
dataclass in engine.nst, and a template partial for what its page shows differently."""

from __future__ import annotations

from engine.runners.base import Runner, WorkUnits
from engine.runners.classic import ClassicRunner
from engine.runners.fast import FastRunner
from engine.runners.video import VideoRunner

RUNNERS: dict[str, Runner] = {runner.mode: runner for runner in (ClassicRunner(), FastRunner(), VideoRunner())}


def runner_for(mode: str) -> Runner:
    """The runner of `mode`; ValueError for a mode there is none of."""
    try:
        return RUNNERS[mode]
    except KeyError:
        raise ValueError(f"No runner for mode {mode!r}.") from None


__all__ = ["RUNNERS", "Runner", "WorkUnits", "runner_for"]
