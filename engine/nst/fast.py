"""Fast mode: one forward pass of Magenta's arbitrary-image-stylization-v1-256 (Ghiasi et al. 2017,
"Exploring the structure of a real-time, arbitrary neural artistic stylization network").

Two stages:

1. the *style predictor* (TFLite, int8 weights, run by ``tf.lite.Interpreter``) maps a 256x256
   style image to a 100-number style vector;
2. the *transformer* turns content image + style vector into the stylised image. The published
   TFLite transformer only accepts 384x384, so ``tflite_graph`` rebuilds it from the fp16 file as
   ordinary TensorFlow ops in a ``tf.function`` over ``[1, None, None, 3]``: any size, one trace,
   and a GPU when TensorFlow sees one. It matches the TFLite interpreter to ~2e-5 at 384x384.

Choices, and why:

* ``stylize`` resizes the content itself when its longest side is not ``params.size``, so the
  output size is always what the params say (a caller that already resized pays nothing).
* Sizes that are not multiples of 4 (two stride-2 convs in, two 2x upsamplings out) are padded
  reflectively to the next multiple of 4 and cropped back, so the output has exactly the input's
  size; reflection avoids the dark border zero padding would put into the instance-norm statistics.
* Style images are resized (not cropped) to 256x256, as in the TF Hub example for this model: the
  whole painting contributes to the style. Resizing is antialiased so a large painting's fine
  texture is averaged, not aliased.
* ``strength`` blends the style vector with the content image's own style vector, the model's
  documented way to control stylisation strength (TFLite style-transfer tutorial); several styles
  are mixed the same way, by a weighted average of their vectors.
* Style vectors are cached per image (hash of the pixels, bounded LRU), so a repeated style or a
  repeated content at strength < 1 costs no predictor run.
* The TF Hub SavedModel variant ("magenta-hub", Inception-v3 predictor) is not offered: it is not
  available offline and would make tensorflow-hub a dependency. ``FastResult.network`` names the
  network so one can be added later without changing callers.

Nothing heavy happens at import: TensorFlow is imported inside functions, and models are loaded
by ``FastStylizer`` (``get_fast_stylizer`` keeps one per model directory and process).
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from . import model_files, schema, tflite_graph
from .classic_params import check_weights
from .color import keep_content_colors
from .device import describe_device
from .errors import ImageError, ParameterError
from .images import to_uint8
from .schema import default

NETWORK = "magenta-v1-256-fp16"
STYLE_SIZE = 256  # the predictor's fixed input size
SIZE_MULTIPLE = 4  # the transformer downsamples twice by 2
# Below this the 1/4-resolution feature maps are too small to mean anything.
MIN_SIDE = 16
STYLE_VECTOR_LEN = 100
# 64 vectors of 100 floats: the bound is about a long-lived worker's growth, not memory.
STYLE_CACHE_ENTRIES = 64

_CONTENT_INPUT = "content_image"
_STYLE_INPUT = "mobilenet_conv/Conv/BiasAdd"  # the transformer's style-vector input


@dataclass(frozen=True)
class FastParams:
    """What a fast-mode job asks for (the controls are declared in engine.nst.schema).

    size: longest side of the output in pixels.
    strength: 0..1; 1 = the style's vector, 0 = the content's own vector (nearly the content).
    style_weights: one non-negative weight per style image; empty = equal weights.
    preserve_colors: keep the content's colours, take only luminance from the stylisation.
    """

    size: int = default("size")
    strength: float = default("strength")
    style_weights: tuple[float, ...] = ()
    preserve_colors: bool = default("preserve_colors")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FastParams:
        return schema.from_dict(cls, data)

    def validate(self, n_styles: int) -> None:
        """Raise ParameterError for anything the stylizer cannot honour."""
        schema.check(self, schema.FAST)
        if n_styles < 1:
            raise ParameterError("Fast mode needs at least one style image.")
        check_weights("style_weights", self.style_weights, n_styles)

    def normalised_weights(self, n_styles: int) -> np.ndarray:
        weights = np.asarray(self.style_weights or [1.0] * n_styles, np.float64)
        return (weights / weights.sum()).astype(np.float32)


@dataclass(frozen=True)
class FastResult:
    """image: HxWx3 uint8. style_vector: (100,) float32, the blended vector the transformer
    received. seconds: "prepare" (resize), "predict", "transfer", "total". device: where the
    transformer ran ("CPU: <model>, <n> cores" or "GPU: <name>", from engine.nst.device)."""

    image: np.ndarray
    style_vector: np.ndarray
    seconds: dict[str, float]
    device: str
    network: str = NETWORK


# ---------------------------------------------------------------------------------------------
# Image helpers (pure functions on HxWx3 float32 arrays).


def output_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the longest side == size and the aspect ratio kept (rounded)."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def as_image(array: np.ndarray, what: str) -> np.ndarray:
    """Check an HxWx3 image in [0, 1] and return it as contiguous float32."""
    image = np.asarray(array)
    if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
        raise ImageError(f"The {what} image must be an HxWx3 RGB array, got shape {image.shape}.")
    if not np.issubdtype(image.dtype, np.floating):
        raise ImageError(f"The {what} image must hold floats in [0, 1], got {image.dtype}.")
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased bilinear resize; a no-op when the size already matches."""
    if image.shape[:2] == (height, width):
        return image
    import tensorflow as tf

    out = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)



def image_key(image: np.ndarray) -> str:
    """Cache key of an image: its shape and pixels (so equal arrays share a style vector)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(image.shape).encode())
    digest.update(np.ascontiguousarray(image, np.float32).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# The two networks.


class StylePredictor:
    """The int8 TFLite style predictor: 256x256x3 in [0, 1] -> 100-number style vector."""

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        with warnings.catch_warnings():
            # tf.lite.Interpreter is deprecated in favour of ai_edge_litert, which is not a
            # dependency here; it still works in TF 2.21, so the warning is only noise.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            self._interpreter = tf.lite.Interpreter(model_path=str(path))
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        # An Interpreter holds one set of buffers; concurrent invoke() calls would mix them.
        self._lock = threading.Lock()

    def __call__(self, style_image: np.ndarray) -> np.ndarray:
        batch = resize(style_image, STYLE_SIZE, STYLE_SIZE)[None]
        with self._lock:
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            vector = self._interpreter.get_tensor(self._output)
        return vector.reshape(STYLE_VECTOR_LEN).astype(np.float32)


class TFLiteTransformer:
    """The published fp16 transformer run by the TFLite interpreter, fixed at 384x384: the
    reference the rebuilt Transformer is checked against (tests) and timed against (bench)."""

    SIZE = 384

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the interpreter's deprecation notice
            self._interpreter = tf.lite.Interpreter(model_path=str(path))
        self._interpreter.allocate_tensors()
        self._inputs = {d["name"]: d["index"] for d in self._interpreter.get_input_details()}
        self._output = self._interpreter.get_output_details()[0]["index"]

    def __call__(self, content: np.ndarray, style_vector: np.ndarray) -> np.ndarray:
        """content: 384x384x3 floats in [0, 1]; returns the 384x384x3 stylised image."""
        self._interpreter.set_tensor(self._inputs[_CONTENT_INPUT], np.asarray(content, np.float32)[None])
        self._interpreter.set_tensor(
            self._inputs[_STYLE_INPUT], np.asarray(style_vector, np.float32).reshape(1, 1, 1, STYLE_VECTOR_LEN)
        )
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0]


class Transformer:
    """The fp16 TFLite transformer rebuilt as a TensorFlow function over any image size."""

    def __init__(
        self, path: Path, *, jit_compile: bool = False, translations: Mapping[str, Callable] | None = None
    ) -> None:
        """`jit_compile` and `translations` exist for bench/bench_fast.py; the defaults are the
        fastest exact setting measured on CPU."""
        import tensorflow as tf

        graph, (content_index, style_index) = tflite_graph.load(path, [_CONTENT_INPUT, _STYLE_INPUT])

        def padded_transform(content: Any, style: Any) -> Any:
            # Pad bottom/right to a multiple of 4 by reflection, run, crop back to the input size.
            height, width = tf.shape(content)[1], tf.shape(content)[2]
            pad_h, pad_w = (-height) % SIZE_MULTIPLE, (-width) % SIZE_MULTIPLE
            padded = tf.pad(content, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")
            feeds = {content_index: padded, style_index: style}
            out = tflite_graph.run_graph(graph, feeds, translations)[0]
            return out[:, :height, :width, :]

        # One signature with unknown H and W: traced once, never retraced per image size.
        # (XLA jit_compile was slower on CPU and recompiles for every new size: see benchmarks.)
        self._fn = tf.function(
            padded_transform,
            jit_compile=jit_compile,
            input_signature=[
                tf.TensorSpec([1, None, None, 3], tf.float32),
                tf.TensorSpec([1, 1, 1, STYLE_VECTOR_LEN], tf.float32),
            ],
        )

    def __call__(self, content: np.ndarray, style_vector: np.ndarray) -> np.ndarray:
        style = np.asarray(style_vector, np.float32).reshape(1, 1, 1, STYLE_VECTOR_LEN)
        return self._fn(content[None], style)[0].numpy()


# ---------------------------------------------------------------------------------------------
# The stylizer.


class FastStylizer:
    """Loaded predictor + transformer. Build one per process (see get_fast_stylizer) and reuse it:
    loading (plus the one-off trace on the first image, about a second) costs several times a
    512x512 stylisation (about 0.1 s on 2 CPU cores)."""

    def __init__(self, model_dir: Path | str) -> None:
        predictor_path = model_files.require(model_dir, model_files.MAGENTA_PREDICTOR)
        transfer_path = model_files.require(model_dir, model_files.MAGENTA_TRANSFER)
        self.predictor = StylePredictor(predictor_path)
        self.transformer = Transformer(transfer_path)
        self.device = describe_device()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def style_vector(self, image: np.ndarray) -> np.ndarray:
        """The predictor's 100-number vector for an image, from the cache when seen before."""
        image = as_image(image, "style")
        key = image_key(image)
        with self._cache_lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vector = self.predictor(image)
        vector.setflags(write=False)  # shared between jobs: nobody may change it in place
        with self._cache_lock:
            self._vectors[key] = vector
            while len(self._vectors) > STYLE_CACHE_ENTRIES:
                self._vectors.popitem(last=False)
        return vector

    def blended_vector(
        self, content: np.ndarray, styles: Sequence[np.ndarray], params: FastParams
    ) -> np.ndarray:
        """Weighted mix of the styles' vectors, then pulled towards the content's own vector
        by (1 - strength)."""
        weights = params.normalised_weights(len(styles))
        mixed = sum(w * self.style_vector(s) for w, s in zip(weights, styles, strict=True))
        if params.strength < 1.0:
            mixed = params.strength * mixed + (1.0 - params.strength) * self.style_vector(content)
        return np.asarray(mixed, np.float32)

    def stylize(self, content: np.ndarray, styles: Sequence[np.ndarray], params: FastParams) -> FastResult:
        """Stylise `content` (HxWx3 floats in [0, 1]) with `styles`; the output's longest side is
        params.size (the content is resized here when it is not already that size)."""
        params.validate(len(styles))
        started = time.perf_counter()
        content = as_image(content, "content")
        height, width = output_shape(*content.shape[:2], params.size)
        if min(height, width) < MIN_SIDE:
            raise ImageError(f"The content image is too narrow: {width}x{height} px at size {params.size}.")
        content = resize(content, height, width)

        prepared = time.perf_counter()
        vector = self.blended_vector(content, styles, params)
        predicted = time.perf_counter()
        stylized = self.transformer(content, vector)
        if params.preserve_colors:
            stylized = keep_content_colors(stylized, content)
        image = to_uint8(stylized)
        done = time.perf_counter()
        seconds = {
            "prepare": prepared - started,
            "predict": predicted - prepared,
            "transfer": done - predicted,
            "total": done - started,
        }
        return FastResult(image=image, style_vector=vector, seconds=seconds, device=self.device)


_LOAD_LOCK = threading.Lock()


@cache
def _stylizer_for(resolved_dir: str) -> FastStylizer:
    return FastStylizer(resolved_dir)


def get_fast_stylizer(model_dir: Path | str) -> FastStylizer:
    """The process's FastStylizer for `model_dir`, loaded on first use and reused afterwards
    (an RQ SimpleWorker thus loads the models once, not per job). A failed load is not cached."""
    with _LOAD_LOCK:  # two threads asking at once must not load the models twice
        return _stylizer_for(str(Path(model_dir).resolve()))
