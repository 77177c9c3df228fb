"""How much memory a classic run needs, and the largest size that fits in what this machine has.

A classic run holds VGG16's activations and their gradients at its final (largest) level, the
image, L-BFGS's history (2 x 8 image-sized vectors) and, after each epoch, a checkpoint being
serialised. All of that grows with the result's pixel count, so the process's peak RSS is close to
a line in the megapixels of the result:

    peak ~ BASE_GB + PER_MEGAPIXEL_GB[precision] x megapixels

fitted to whole runs measured by `bench/bench_classic.py memory` (docs/benchmarks.md, "Classic
mode"; BASE is TensorFlow and the VGG16 weights). A run is refused, before any work, when that
estimate plus MARGIN does not fit in the memory the process can have, with the size that would fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.nst.errors import ResourceError

# Least-squares line through 512, 1024, 1536 and 2048 px (bfloat16: 1.29, 2.89, 5.11, 8.15 GB);
# float32 measured 2% above bfloat16 at 512 and 1024 px. Host memory on a CPU: a GPU run keeps its
# activations in device memory, which this does not model.
BASE_GB = 0.96
PER_MEGAPIXEL_GB = {"bfloat16": 2.31, "float32": 2.38}
MARGIN = 1.1   # the fit's error, and other processes' ups and downs during a long run
SIDE_STEP = 32  # the size offered instead is rounded down to a multiple of this
MIN_SIDE = 256


def result_dims(shape: Sequence[int], size: int) -> tuple[int, int]:
    h, w = shape[0], shape[1]
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def peak_bytes(dims: tuple[int, int], precision: str) -> int:
    """The estimated peak RSS of a whole classic run whose result is dims = (h, w)."""
    megapixels = dims[0] * dims[1] / 1e6
    return int((BASE_GB + PER_MEGAPIXEL_GB[precision] * megapixels) * 1e9)


def largest_fitting_size(shape: Sequence[int], precision: str, available: int) -> int | None:
    """The largest longest side (a multiple of SIDE_STEP, at least MIN_SIDE) whose run fits in
    `available` bytes for a content image of this shape; None when not even MIN_SIDE fits."""
    budget_mp = (available / MARGIN / 1e9 - BASE_GB) / PER_MEGAPIXEL_GB[precision]
    aspect = min(shape[0], shape[1]) / max(shape[0], shape[1])
    if budget_mp <= 0:
        return None
    side = int(math.sqrt(budget_mp * 1e6 / aspect)) // SIDE_STEP * SIDE_STEP
    while side >= MIN_SIDE and peak_bytes(result_dims(shape, side), precision) * MARGIN > available:
        side -= SIDE_STEP  # rounding of the dims can tip the last step over
    return side if side >= MIN_SIDE else None


def check(size: int, shape: Sequence[int], precision: str, available: int) -> None:
    """Raise ResourceError, saying what would fit, when a run at `size` would not fit."""
    dims = result_dims(shape, size)
    need = peak_bytes(dims, precision) * MARGIN
    if need <= available:
        return
    fits = largest_fitting_size(shape, precision, available)
    what = (f"Classic mode at {size} px ({dims[1]}x{dims[0]}) needs about {need / 1e9:.1f} GB of memory; "
            f"this machine can give it {available / 1e9:.1f} GB now. ")
    if fits is None:
        raise ResourceError(what + "Not even the smallest size fits: please try again later, or use fast mode.")
    raise ResourceError(what + f"{fits} px would fit: choose that size or smaller, or use fast mode, which "
                        "renders large images in tiles.")
