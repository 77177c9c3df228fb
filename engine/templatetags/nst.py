"""Small template filters for job pages."""

from django import template

from engine.live.job_page import preview_url
from engine.storage.job_files import preview_epochs
from engine.studio.describe import style_credit

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12.3 -> "12 s", 125 -> "2 min 5 s", 7300 -> "2 h 1 min", 0.2 -> "1 s" (never "about 0 s" for
    something that takes time); "" for None."""
    if seconds is None or seconds == "":
        return ""
    total = max(1 if float(seconds) > 0 else 0, round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@register.filter
def mode_partial(mode: str, name: str) -> list[str]:
    """The job page's partial `name` for a job of `mode`: engine/modes/<mode>/_<name>.html, or,
    when the mode has none of its own, engine/modes/_default/_<name>.html. {% include %} takes the
    first of the list that exists, so what a mode's page shows differently (its live parts, its
    scripts) is chosen in the templates, by the job's mode: {% include job.mode|mode_partial:"live" %}."""
    return [f"engine/modes/{mode}/_{name}.html", f"engine/modes/_default/_{name}.html"]


@register.filter
def latest_preview(job) -> str:
    """The URL of a running job's newest preview (an epoch's, a chunk's latest frame); "" when it has none."""
    epochs = preview_epochs(job)
    return preview_url(job, epochs[-1]) if epochs else ""


@register.filter
def credit(job) -> str:
    """Whose style the job wears ("Katsushika Hokusai, The Great Wave off Kanagawa"): its styles,
    prefetched with their paintings where a list shows many jobs."""
    return style_credit(job.styles.all())
