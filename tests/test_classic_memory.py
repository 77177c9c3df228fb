"""Classic mode up to 2048 px where memory allows: a run that would not fit is refused before any
work, with the size that would (engine.nst.classic_memory). The refusal is caused by giving the
run a memory limit, not by exhausting the machine."""

from __future__ import annotations

import psutil
import pytest

from engine.nst import classic_memory
from engine.nst.classic import ClassicParams, stylize_classic
from engine.nst.device import memory_available
from engine.nst.errors import ResourceError

GB = 10**9


def test_a_size_that_does_not_fit_is_refused_with_the_size_that_does(content, starry):
    steps = []
    with pytest.raises(ResourceError) as refused:
        stylize_classic(content, [starry], ClassicParams(size=2048, epochs=1, steps_per_epoch=1),
                        memory_limit=3 * GB, on_step=steps.append)
    message = str(refused.value)
    assert "Classic mode at 2048 px (2048x1536) needs about" in message
    assert "3.0 GB" in message
    fits = classic_memory.largest_fitting_size(content.shape, "bfloat16", 3 * GB)
    assert f"{fits} px would fit" in message
    assert steps == []  # refused before any work


@pytest.mark.parametrize("precision", ["bfloat16", "float32"])
@pytest.mark.parametrize("limit_gb", [2, 3, 6])
def test_the_size_offered_fits_and_the_next_one_does_not(content, precision, limit_gb):
    fits = classic_memory.largest_fitting_size(content.shape, precision, limit_gb * GB)
    assert fits is not None and fits % classic_memory.SIDE_STEP == 0
    classic_memory.check(fits, content.shape, precision, limit_gb * GB)
    with pytest.raises(ResourceError):
        classic_memory.check(fits + classic_memory.SIDE_STEP, content.shape, precision, limit_gb * GB)


def test_a_wide_image_may_be_larger_than_a_square_one():
    square = classic_memory.largest_fitting_size((1000, 1000, 3), "bfloat16", 4 * GB)
    panorama = classic_memory.largest_fitting_size((500, 2000, 3), "bfloat16", 4 * GB)
    assert panorama > square


def test_when_nothing_fits_it_says_so():
    with pytest.raises(ResourceError, match="Not even the smallest size fits"):
        classic_memory.check(1024, (768, 1024, 3), "bfloat16", int(0.5 * GB))


def test_a_run_that_fits_is_not_refused(content, starry):
    result = stylize_classic(content, [starry], ClassicParams(size=64, epochs=1, steps_per_epoch=2,
                                                             multiscale=False), memory_limit=3 * GB)
    assert result.steps == 2


def test_the_memory_available_is_what_the_machine_has():
    available = memory_available()
    assert psutil.Process().memory_info().rss < available <= psutil.virtual_memory().total + \
        psutil.Process().memory_info().rss
