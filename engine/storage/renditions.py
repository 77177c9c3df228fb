"""Renditions of a job's result: what pages show instead of the result itself.

A result is a PNG at the size its owner asked for, up to 8192 px (about 100 MB): the file to
download, never one to put in a page. When a picture job succeeds, its worker makes two JPEGs from
the picture it holds in memory and the row's finish() stores them through Django's storage, beside
the result (engine.storage.job_files: display.jpg, thumb.jpg):

- the display rendition, at most DISPLAY_SIDE px: the job page's hero, the artwork's page;
- the thumbnail, at most THUMB_SIDE px: "My jobs", a batch's page.

Neither is ever enlarged. A video's are made from its poster frame (the video plays on its page).
JPEG rather than WebP: both renditions of a 2048 px result take ~65 ms as JPEG, its display
rendition alone 75-255 ms as WebP (fastest to default setting), for files 20-35 % smaller;
every browser shows both (bench/bench_renditions.py, docs/benchmarks.md "Renditions").

Jobs that succeeded before renditions existed get theirs made once, the first time a page asks
(`ensure`, which reads the result through the storage API), and kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from engine.nst import ImageError, images

DISPLAY_SIDE = 2048
# "My jobs" shows a card ~15rem wide: 480 px is sharp on a high-density screen.
THUMB_SIDE = 480
DISPLAY_QUALITY = 88
THUMB_QUALITY = 82

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Renditions:
    display: bytes    # JPEG, longest side at most DISPLAY_SIDE
    thumbnail: bytes  # JPEG, longest side at most THUMB_SIDE


def make(picture: np.ndarray | Image.Image) -> Renditions:
    """Both renditions of a picture (an HxWx3 array as the engine returns it, or an image). The
    thumbnail is made from the display rendition, not from the full picture: one large reduction."""
    img = Image.fromarray(images.to_uint8(picture)) if isinstance(picture, np.ndarray) else images.to_rgb(picture)
    display = _shrunk(img, DISPLAY_SIDE)
    return Renditions(display=images.encode_jpeg(display, quality=DISPLAY_QUALITY),
                      thumbnail=images.encode_jpeg(_shrunk(display, THUMB_SIDE), quality=THUMB_QUALITY))


def _shrunk(img: Image.Image, side: int) -> Image.Image:
    return images.resize_longest(img, side) if max(img.size) > side else img


def ensure(job: Any) -> bool:
    """Make the renditions of a succeeded engine.models.StyleJob that has none (one that finished
    before they existed), from its poster (a video) or its result; False when there is nothing to
    make them from. (The job is not annotated as one: engine.models imports this module.)"""
    if job.display and job.thumbnail:
        return True
    source = job.poster or job.result
    if job.result_is_video and not job.poster:
        return False
    if not source:
        return False
    try:
        with source.open("rb") as fh:
            # Decoded shrunk (open_image reduces a band of rows at a time): never the full 8192 px in memory.
            picture = images.open_image(fh, max_pixels=images.MAX_RESULT_PIXELS, max_side=DISPLAY_SIDE)
    except (FileNotFoundError, ImageError) as exc:
        logger.warning("No renditions for job %s: %s", job.pk, exc)
        return False
    return job.store_renditions(make(picture))
