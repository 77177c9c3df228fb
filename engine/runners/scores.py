"""Quality scores of each finished picture (engine.nst.quality: style and contours), for staff in
the admin, next to what the run cost.

Scores are computed when a worker has nothing better to do, never in a user job's way. A score
takes about 1.3 s at SCORE_SIDE on 2 cores (two HED passes and a predictor run), ten times a 512 px
fast job: scored inline, right after each job, a busy worker ran 42 such jobs a minute instead of
369 (bench/bench_scores.py; docs/benchmarks.md, "Quality", "What scoring costs the workers").
Instead, when a classic or fast job has succeeded, its runner calls `schedule(job)`:
once the succeeded row is committed, a small RQ job (engine.tasks.score_result) goes on the
"scores" queue, which a style worker takes only when the high and default queues are empty
(engine.models.WORKER_QUEUES). That task reads the result, the photo and the paintings back through
Django's storage, prepared as the runner prepared them (Runner.inputs: the same sizes and painting
keys; the job's weights), and `score_stored` stores the scores in the job's `measurements`
("scores"), so no migration is needed. The networks load once per worker process: fast mode's
predictor is the worker's own, HED loads on its first score. Clips are not scored: they have no
single picture, and their frames are fast mode's pictures, which fast jobs already score.
NST_SCORE_RESULTS off: nothing is scheduled.

Scoring never fails anything visible: a job deleted meanwhile, or without a result, is skipped;
a picture that cannot be scored is logged and left without scores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from engine.jobs import queue
from engine.models import Status, StyleJob
from engine.nst import images
from engine.nst.quality import SCORE_SIDE, get_judge

if TYPE_CHECKING:
    from engine.runners.base import Runner

logger = logging.getLogger(__name__)


def schedule(job: StyleJob) -> None:
    """Score `job` (just succeeded) later, on the scores queue, once its row is committed."""
    if settings.NST_SCORE_RESULTS:
        transaction.on_commit(partial(_enqueue, job))


def _enqueue(job: StyleJob) -> None:
    try:
        queue.enqueue_score(job)
    except RedisError:
        logger.warning("Style job %s: Redis unreachable, its picture will not be scored.", job.pk)


def score_stored(job: StyleJob, runner: Runner) -> dict | None:
    """Score a succeeded job from its stored files (the scores queue's task, engine.tasks.score_result);
    returns the scores, or None when the job was not scored."""
    try:
        params = job.engine_params()
        photo, paintings, keys = runner.inputs(job, params)
        with job.result.open("rb") as fh:
            picture = _picture(fh)
    except Exception:  # noqa: BLE001 - the job has succeeded whatever happens here
        if StyleJob.objects.filter(pk=job.pk).exists():
            logger.exception("Style job %s: its files could not be read for scoring", job.pk)
        else:
            logger.info("Style job %s was deleted before it was scored.", job.pk)
        return None
    return record(job, picture, photo, paintings, params.style_weights, keys)


def _picture(fh) -> np.ndarray:
    """The result as the scores see it: at SCORE_SIDE, or its own size when smaller (a print-size
    result is reduced while it is decoded, not after)."""
    return images.to_array(images.open_image(fh, max_pixels=images.MAX_RESULT_PIXELS, max_side=SCORE_SIDE))


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
