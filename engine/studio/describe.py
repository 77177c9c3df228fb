"""A job in words, for the job page, "My jobs" and the gallery: its parameters as (label, value) rows
(one per control of the job's mode, engine.nst.schema, in the order they are declared), its title
and the credit of the painting it was made after."""

from __future__ import annotations

import re
from pathlib import PurePath

from engine.models import StyleJob
from engine.nst import schema

# What the "Start from" row adds when the run could not start where the job asked (a fast start on
# a worker without fast mode's model: engine.nst.classic.FAST_START_FALLBACK).
FELL_BACK = "{asked}, but this worker did not have fast mode's model, so it started from the photo"
# The coarse-to-fine row of a fast start: it begins at the final size (engine.nst.classic.plan_for),
# whatever the box said.
NOT_AFTER_A_FAST_START = "not used: a fast start begins at the final size"


def param_rows(job: StyleJob) -> list[tuple[str, str]]:
    params = job.engine_params()  # a row stored before a control existed shows its default
    shown = schema.controls(job.mode, web=True)
    started_from = (job.measurements or {}).get("started_from")
    rows = [("Mode", job.get_mode_display())]
    for control in shown:
        if control.shown_with:
            continue  # in the row of the control it is shown with
        values = [control.display(getattr(params, control.name))]
        values += [c.display(getattr(params, c.name)) for c in shown if c.shown_with == control.name]
        value = " × ".join(values)
        if control.name == "init" and started_from not in (None, params.init):
            value = FELL_BACK.format(asked=value)
        if control.name == "multiscale" and params.init == "fast":
            value = NOT_AFTER_A_FAST_START
        rows.append((control.table_label or control.label, value))
    return rows


# --- what a picture is called and whose style it wears (job pages, "My jobs", the gallery) -------------

def photo_title(content_name: str) -> str:
    """An uploaded file's name as words: "my_holiday-photo.jpeg" -> "My holiday photo"; "" for none."""
    stem = PurePath(content_name.replace("\\", "/")).stem if content_name else ""
    words = " ".join(re.sub(r"[_.\s-]+", " ", stem).split())[:80].strip()
    return words[:1].upper() + words[1:]


def _paintings(styles) -> list:
    return [s.library_style for s in styles if s.library_style is not None]


def style_credit(styles) -> str:
    """Whose style a job wears, in a line: "Katsushika Hokusai, The Great Wave off Kanagawa", several
    joined by " + ", "an uploaded image" for a style of the user's own (its name is not kept)."""
    paintings = _paintings(styles)
    parts = [f"{p.painter}, {p.title}" for p in paintings]
    uploads = len(styles) - len(paintings)
    if uploads:
        parts.append("an uploaded image" if uploads == 1 else f"{uploads} uploaded images")
    return " + ".join(parts)


def picture_title(content_name: str, styles) -> str:
    """A title from the photo's name and the painting: "Tubingen, after The Starry Night"; the photo's
    name alone when its style was uploaded; "After The Starry Night" without a name (older jobs); ""
    with neither (the page says what it is instead: "Job #12", "Untitled")."""
    photo, paintings = photo_title(content_name), _paintings(styles)
    if paintings:
        after = f"after {paintings[0].title}"
        return f"{photo}, {after}" if photo else after[:1].upper() + after[1:]
    return photo
