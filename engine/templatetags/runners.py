"""A job's mode-specific wording in templates, from its runner (engine.runners):

    {% load runners %}
    {{ job|progress_text }}          "Epoch 2 of 5, step 40 of 100", "Frame 120 of 240", "Stylising"
    {{ progress|rate_text }}         " · stylising 11.5 frames/s" (a live event's `fps`; "" without)
    {% with runner=job|runner %}{{ runner.unit }} {{ runner.result_kind }}{% endwith %}
"""

from __future__ import annotations

from django import template

from engine.runners import Runner, runner_for

register = template.Library()


@register.filter
def runner(job) -> Runner:
    return runner_for(job.mode)


@register.filter
def progress_text(job) -> str:
    return runner_for(job.mode).progress_text(job)


@register.filter
def rate_text(progress) -> str:
    """The run's speed as its runner words it, from a live event's numbers
    (engine.live.job_page.ProgressState.fps); "" for a job's row, which keeps no rate."""
    return runner_for(progress.mode).rate_text(getattr(progress, "fps", None))
