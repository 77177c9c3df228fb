"""Tiles for running a fully convolutional network on an image too large to run whole.

Pure NumPy geometry and bookkeeping, no TensorFlow: fast mode (engine.nst.fast) uses it.

Each tile has three nested rectangles, in the coordinates of the (padded) image:

* its *core*: the cores of all tiles partition the image. A tile counts the instance-norm
  statistics of its core only, so the tiles' statistics add up to the whole image's exactly once.
  Core edges are multiples of ``ALIGN``, so a core maps onto whole positions of the network's
  1/2- and 1/4-resolution feature maps;
* its *window*: the core plus a halo of context on each side that has a neighbour. The network
  runs on the window; with a halo as wide as the network's receptive field, the core's output is
  what the whole image would have given there (when every tile is normalised with the whole
  image's statistics);
* its *keep* region: the core plus a blend band on each side that has a neighbour. Neighbouring
  keep regions overlap by twice the band, and there the two tiles' outputs are cross-faded with
  linear weights that add up to exactly 1 (``weights``), so any difference left between two tiles
  is spread over the band instead of showing as a step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

ALIGN = 4  # the network downsamples twice by 2


@dataclass(frozen=True)
class Box:
    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def relative_to(self, outer: Box) -> Box:
        return Box(self.top - outer.top, self.bottom - outer.top, self.left - outer.left, self.right - outer.left)


@dataclass(frozen=True)
class Tile:
    core: Box
    window: Box
    keep: Box


def split(length: int, parts: int) -> list[int]:
    """Edges 0 = e0 < e1 < ... < e_parts = length, multiples of ALIGN, as even as that allows."""
    if length % ALIGN:
        raise ValueError(f"length {length} is not a multiple of {ALIGN}")
    units = length // ALIGN
    return [round(units * k / parts) * ALIGN for k in range(parts + 1)]


def plan(height: int, width: int, tile: int, halo: int, blend: int) -> list[Tile]:
    """Tiles covering a height x width image (both multiples of ALIGN) with cores of at most about
    `tile` px a side (never below 2 * blend, so the bands of one core do not overlap)."""
    if tile < max(ALIGN, 2 * blend) or blend > halo or halo % ALIGN:
        raise ValueError(f"bad tiling: tile {tile}, halo {halo}, blend {blend}")
    rows = split(height, max(1, math.ceil(height / tile)))
    cols = split(width, max(1, math.ceil(width / tile)))
    tiles = []
    for top, bottom in zip(rows, rows[1:], strict=False):
        for left, right in zip(cols, cols[1:], strict=False):
            core = Box(top, bottom, left, right)
            tiles.append(Tile(core, _grow(core, halo, height, width), _grow(core, blend, height, width)))
    return tiles


def _grow(box: Box, by: int, height: int, width: int) -> Box:
    return Box(max(0, box.top - by), min(height, box.bottom + by), max(0, box.left - by), min(width, box.right + by))


def weights(tile: Tile, blend: int, height: int, width: int) -> np.ndarray:
    """Blend weights over the tile's keep region, [h, w, 1] float32: 1 in the core's middle, a
    linear ramp across each band shared with a neighbour. The ramps of two neighbours (and the
    products of ramps of the four tiles at a corner) sum to exactly 1 in every pixel."""
    rows = _ramp(tile.keep.top, tile.keep.bottom, tile.core.top, tile.core.bottom, blend, height)
    cols = _ramp(tile.keep.left, tile.keep.right, tile.core.left, tile.core.right, blend, width)
    return (rows[:, None] * cols[None, :])[..., None].astype(np.float32)


def _ramp(start: int, stop: int, core_start: int, core_stop: int, blend: int, length: int) -> np.ndarray:
    centres = np.arange(start, stop, dtype=np.float64) + 0.5
    w = np.ones_like(centres)
    if blend and core_start > 0:  # a neighbour before: fade in across [core_start - blend, core_start + blend)
        w = np.minimum(w, np.clip((centres - (core_start - blend)) / (2 * blend), 0.0, 1.0))
    if blend and core_stop < length:  # a neighbour after: fade out
        w = np.minimum(w, np.clip((core_stop + blend - centres) / (2 * blend), 0.0, 1.0))
    return w


@dataclass
class Moments:
    """Per-channel count, mean and variance of a set of values; `merge` pools two sets exactly
    (Chan et al.'s parallel formula, in float64), so tiles' statistics combine into the image's."""

    count: int
    mean: np.ndarray
    variance: np.ndarray

    @staticmethod
    def merge_all(parts: Iterable[Moments]) -> Moments:
        parts = list(parts)
        count = sum(p.count for p in parts)
        mean = sum(p.count * p.mean.astype(np.float64) for p in parts) / count
        spread = sum(p.count * (p.variance.astype(np.float64) + (p.mean - mean) ** 2) for p in parts) / count
        return Moments(count, mean, spread)


def pad_window(image: np.ndarray, window: Box) -> np.ndarray:
    """The window's pixels from `image` (HxWx3). Where the window reaches past the image's bottom
    or right edge (the image is padded to a multiple of ALIGN), the missing rows and columns are the
    image's reflection, as the whole-image run pads it (TensorFlow's REFLECT: the edge row itself
    is not repeated)."""
    height, width = image.shape[:2]
    rows = _reflect(np.arange(window.top, window.bottom), height)
    cols = _reflect(np.arange(window.left, window.right), width)
    return np.ascontiguousarray(image[np.ix_(rows, cols)], dtype=np.float32)


def _reflect(indices: np.ndarray, length: int) -> np.ndarray:
    return np.where(indices < length, indices, 2 * (length - 1) - indices)
