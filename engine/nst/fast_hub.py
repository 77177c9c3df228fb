"""Fast mode through TensorFlow Hub, and the engine's own fast model exported for it.

The app the platform descends from ran Magenta's model with ``tensorflow_hub``::

    model = hub.load("https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2")
    outputs = model(tf.constant(content), tf.constant(style))   # [1, H, W, 3] floats in [0, 1]
    image = outputs[0]

``HubStylizer`` does the same with a handle the server sets (``NST_FAST_HUB_HANDLE``): a URL where
the internet is reachable, or a local SavedModel folder. ``export`` writes the engine's own fast
model (the int8 style predictor and the fp16 transformer, both rebuilt as TensorFlow ops) as such
a folder, with the same call: so a server without internet access can use the hub path, and the
tests load an export with ``hub.load`` and compare it with the engine (the predictor's style
vectors are bit-exact, engine.nst.tflite_int8).

The hub model's interface has no style vector, so the hub path takes one style image at full
strength, and runs whole images only (FastParams._validate_hub says so before any work).
Nothing heavy at import: TensorFlow and tensorflow_hub are imported when used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.nst import fast, model_files, tflite_int8
from engine.nst.device import describe_device
from engine.nst.errors import ImageError, ModelFileError, ParameterError

HUB_NETWORK = "tfhub"
HANDLE_HINT = ("Set NST_FAST_HUB_HANDLE to a TF-Hub URL (where the internet is reachable) or to a local "
               "SavedModel folder, e.g. one written by `python manage.py export_fast_model DIR`.")


# ---------------------------------------------------------------------------------------------
# The export.


def build_module(model_dir: Path | str) -> Any:
    """A tf.Module whose __call__(content, style) returns [image], like the TF-Hub model: content
    [N, H, W, 3] and style [N, h, w, 3] floats in [0, 1] (the style is resized to 256x256, as the
    engine does); image [N, H, W, 3]."""
    import tensorflow as tf

    predictor = tflite_int8.load(model_files.require(model_dir, model_files.MAGENTA_PREDICTOR))
    transformer = fast.Transformer(model_files.require(model_dir, model_files.MAGENTA_TRANSFER))
    side = fast.STYLE_SIZE

    class FastStyleTransfer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="content_image"),
                                      tf.TensorSpec([None, None, None, 3], tf.float32, name="style_image")])
        def __call__(self, content: Any, style: Any) -> list:
            same = tf.logical_and(tf.shape(style)[1] == side, tf.shape(style)[2] == side)
            style = tf.cond(same, lambda: style, lambda: tf.clip_by_value(
                tf.image.resize(style, (side, side), method="bilinear", antialias=True), 0.0, 1.0))
            vector = tflite_int8.run(predictor, style)  # [N, 1, 1, 100]
            return [transformer.transform(content, vector)]

    return FastStyleTransfer()


def export(model_dir: Path | str, target: Path | str) -> Path:
    """Write the engine's fast model as a TF2 SavedModel into the folder `target` (created; it must
    not exist or be empty). Loadable with tf.saved_model.load or tensorflow_hub.load."""
    import tensorflow as tf

    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ParameterError(f"{target} already exists and is not an empty folder; choose a new one.")
    module = build_module(model_dir)
    tf.saved_model.save(module, str(target))
    return target


# ---------------------------------------------------------------------------------------------
# Running a hub model.


class HubStylizer:
    """A model loaded with tensorflow_hub.load(handle), called as (content, style) -> outputs[0]."""

    def __init__(self, handle: str) -> None:
        if not handle:
            raise ModelFileError("The TF-Hub network is not set up on this server. " + HANDLE_HINT)
        import tensorflow as tf
        import tensorflow_hub as hub

        self.handle = handle
        try:
            self.model = hub.load(handle)
        except (OSError, ValueError, tf.errors.OpError) as exc:
            raise ModelFileError(f"Could not load the TF-Hub model {handle!r}: {_first_line(exc)}. "
                                 + HANDLE_HINT) from exc
        self.device = describe_device()
        self._lock = threading.Lock()  # one call at a time: a SavedModel's functions are not ours to share

    def stylize(self, content: np.ndarray, styles: Sequence[np.ndarray], params: fast.FastParams, *,
                style_keys: Sequence[str | None] | None = None) -> fast.FastResult:
        """As FastStylizer.stylize; a hub model has no style vector to keep, so style_keys changes nothing."""
        import tensorflow as tf

        params.validate(len(styles))
        started = time.perf_counter()
        content = fast.as_image(content, "content")
        height, width = fast.output_shape(*content.shape[:2], params.size)
        if min(height, width) < fast.MIN_SIDE:
            raise ImageError(f"The content image is too narrow: {width}x{height} px at size {params.size}.")
        content = fast.resize(content, height, width)
        style = fast.resize(fast.as_image(styles[0], "style"), fast.STYLE_SIZE, fast.STYLE_SIZE)
        prepared = time.perf_counter()
        with self._lock:
            outputs = self.model(tf.constant(content[None]), tf.constant(style[None]))
        stylized = np.clip(np.asarray(outputs[0])[0], 0.0, 1.0)
        if stylized.shape != content.shape:
            raise ModelFileError(f"The TF-Hub model {self.handle!r} returned a {stylized.shape} image for a "
                                 f"{content.shape} content image; it is not a style-transfer model.")
        image = fast.finish(stylized, content if params.preserve_colors else None)
        done = time.perf_counter()
        seconds = {"prepare": prepared - started, "transfer": done - prepared, "total": done - started}
        return fast.FastResult(image=image, style_vector=np.zeros(0, np.float32), seconds=seconds,
                               device=self.device, network=HUB_NETWORK)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_LOAD_LOCK = threading.Lock()


@cache
def _hub_stylizer_for(handle: str) -> HubStylizer:
    return HubStylizer(handle)


def get_hub_stylizer(handle: str) -> HubStylizer:
    """The process's HubStylizer for `handle`, loaded once (a failed load is not cached)."""
    with _LOAD_LOCK:
        return _hub_stylizer_for(handle)


def get_stylizer(params: fast.FastParams, model_dir: Path | str, hub_handle: str | None) -> Any:
    """The stylizer that runs `params`: the built-in one, or the hub model at `hub_handle`."""
    if params.fast_network == HUB_NETWORK:
        return get_hub_stylizer(hub_handle or "")
    return fast.get_fast_stylizer(model_dir)
