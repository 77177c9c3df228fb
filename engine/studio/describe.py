"""A job's parameters as (label, value) rows, for the job page and the gallery's artwork page: one
row per control of the job's mode (engine.nst.schema), in the order they are declared."""

from __future__ import annotations

from engine.models import StyleJob
from engine.nst import schema


def param_rows(job: StyleJob) -> list[tuple[str, str]]:
    params = job.engine_params()  # a row stored before a control existed shows its default
    shown = schema.controls(job.mode, web=True)
    rows = [("Mode", job.get_mode_display())]
    for control in shown:
        if control.shown_with:
            continue  # in the row of the control it is shown with
        values = [control.format(getattr(params, control.name))]
        values += [c.format(getattr(params, c.name)) for c in shown if c.shown_with == control.name]
        rows.append((control.table_label or control.label, " × ".join(values)))
    return rows
