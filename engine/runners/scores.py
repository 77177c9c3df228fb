"""Quality scores of each finished picture (engine.nst.quality: style and contours), for staff in
the admin, next to what the run cost.

The worker scores a job right after it succeeded: the owner already has the result, and only the
worker's next job waits (about a second at SCORE_SIDE on 2 cores: two HED passes and a predictor
run; docs/benchmarks.md, "Quality"). The networks load once per worker process: fast mode's
predictor is the worker's own, HED loads on its first scored job. The scores go into the job's
`measurements` ("scores"), so no migration is needed. Clips are not scored: they have no single
picture, and their frames are fast mode's pictures, which fast jobs already score.

Scoring never fails a job: a picture that cannot be scored is logged and left without scores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from django.conf import settings

from engine.models import Status, StyleJob
from engine.nst.quality import get_judge

logger = logging.getLogger(__name__)


def record(job: StyleJob, picture: np.ndarray, photo: np.ndarray, paintings: Sequence[np.ndarray],
           weights: Sequence[float] = (), painting_keys: Sequence[str | None] | None = None) -> dict | None:
    """Score a succeeded job's picture (made from `photo` and `paintings`, mixed by `weights`) and
    store the scores in its measurements; returns them, or None when the job was not scored."""
    try:
        scores = get_judge(settings.NST_MODEL_DIR).scores(picture, photo, paintings, weights, painting_keys)
    except Exception:  # noqa: BLE001 - the job has succeeded whatever happens here
        logger.exception("Style job %s: its picture could not be scored", job.pk)
        return None
    measurements = {**(job.measurements or {}), "scores": scores.to_dict()}
    if StyleJob.objects.filter(pk=job.pk, status=Status.SUCCEEDED).update(measurements=measurements):
        job.measurements = measurements
    return measurements["scores"]


def shown(job: StyleJob) -> str:
    """The scores as the admin shows them; "—" for a job without."""
    scores = (job.measurements or {}).get("scores")
    if not scores:
        return "—"
    return f"style {scores['style']:.2f} · contours {scores['contours']:.2f}"
