"""A job's parameters as (label, value) rows, for the job page and the gallery's artwork page."""

from __future__ import annotations

from .models import Mode, StyleJob


def param_rows(job: StyleJob) -> list[tuple[str, str]]:
    p = job.params
    rows = [("Mode", job.get_mode_display()), ("Size", f"{p.get('size')} px")]
    if job.mode == Mode.CLASSIC:
        rows += [
            ("Epochs × steps", f"{p.get('epochs')} × {p.get('steps_per_epoch')}"),
            ("Content weight", f"{p.get('content_weight'):g}"),
            ("Style weight", f"{p.get('style_weight'):g}"),
            ("Smoothness (TV) weight", f"{p.get('tv_weight'):g}"),
            ("Optimiser", p.get("optimizer")),
            ("Feature network", p.get("network")),
            ("Coarse-to-fine", "yes" if p.get("multiscale") else "no"),
            ("Start from", p.get("init")),
            ("Seed", str(p.get("seed"))),
        ]
    else:
        rows.append(("Style strength", f"{p.get('strength'):g}"))
    rows.append(("Keep the content's colours", "yes" if p.get("preserve_colors") else "no"))
    return rows
