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
  repeated content at strength < 1 costs no predictor run. A caller that names a style (a
  platform's library painting, ``style_keys``) has its vector kept under that name in a cache of
  its own, which uploads cannot push out: it is computed once per process.
* Print sizes (up to 8192 px, 64 megapixels) run in tiles, in bounded memory. The transformer's
  instance norms make each pixel depend on statistics of the whole image, so the tiles do not
  compute their own: ``Transformer.tiled`` runs the graph one norm at a time over all tiles and
  pools the tiles' statistics into the whole image's before going on. Tiled and whole runs give
  the same image (to ~1e-4); up to UNTILED_MAX_PIXELS the image still runs whole.
* The TF-Hub model can run fast mode too (fast_network "tfhub", engine.nst.fast_hub): the original
  SavedModel (Inception-v3 predictor) where the internet is reachable, or this network exported
  as a SavedModel with the same call (``manage.py export_fast_model``) where it is not.

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

from engine.nst import model_files, schema, tflite_graph, tiling
from engine.nst.classic_params import check_weights
from engine.nst.color import keep_content_colors
from engine.nst.device import describe_device
from engine.nst.errors import ImageError, ParameterError
from engine.nst.images import to_uint8
from engine.nst.schema import default

NETWORK = "magenta-v1-256-fp16"
# Larger images are rendered in tiles (Transformer.tiled): 2048x2048 is the largest fast mode ran
# whole before tiling existed, so up to there the output is exactly what it was.
UNTILED_MAX_PIXELS = 2048 * 2048
TILE = 1024  # core side of a tile, px: peak memory grows with it (docs/benchmarks.md, "Print size")
HALO = 64  # context around a tile's core: the transformer's receptive field reaches ~56 px
BLEND = 16  # half-width of the band where neighbouring tiles are cross-faded
STYLE_SIZE = 256  # the predictor's fixed input size
SIZE_MULTIPLE = 4  # the transformer downsamples twice by 2
# Below this the 1/4-resolution feature maps are too small to mean anything.
MIN_SIDE = 16
STYLE_VECTOR_LEN = 100
HUB_MAX_SIZE = 2048  # a hub model runs whole images only: no tiles, so no print sizes
# 64 vectors of 100 floats: the bound is about a long-lived worker's growth, not memory.
STYLE_CACHE_ENTRIES = 64
KEYED_STYLE_ENTRIES = 256  # named styles (a library of paintings): far more than any library holds

_CONTENT_INPUT = "content_image"
_STYLE_INPUT = "mobilenet_conv/Conv/BiasAdd"  # the transformer's style-vector input


@dataclass(frozen=True)
class FastParams:
    """What a fast-mode job asks for (the controls are declared in engine.nst.schema).

    size: longest side of the output in pixels (above 2048x2048 pixels it runs in tiles).
    strength: 0..1; 1 = the style's vector, 0 = the content's own vector (nearly the content).
    style_weights: one non-negative weight per style image; empty = equal weights.
    preserve_colors: keep the content's colours, take only luminance from the stylisation.
    fast_network: "builtin", or "tfhub" (the model the server's hub handle names; it takes one
    style image at full strength, the hub model's interface, up to HUB_MAX_SIZE px). Not "network":
    classic mode's control of that name chooses its feature network, and the form has one namespace.
    """

    size: int = default("size")
    strength: float = default("strength")
    style_weights: tuple[float, ...] = ()
    preserve_colors: bool = default("preserve_colors")
    fast_network: str = default("fast_network")

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
        if self.fast_network == "tfhub":
            self._validate_hub(n_styles)

    def _validate_hub(self, n_styles: int) -> None:
        """What a hub model's call (content, style) -> image cannot do."""
        if n_styles != 1:
            raise ParameterError("The TF-Hub network takes exactly one style image; use the built-in network "
                                 "to mix styles.")
        if self.strength != 1.0:
            raise ParameterError("The TF-Hub network always applies the full style (strength 1); use the "
                                 "built-in network for a weaker style.")
        if self.size > HUB_MAX_SIZE:
            raise ParameterError(f"The TF-Hub network makes images of up to {HUB_MAX_SIZE} px; use the built-in "
                                 f"network for larger (print) sizes.")

    def normalised_weights(self, n_styles: int) -> np.ndarray:
        weights = np.asarray(self.style_weights or [1.0] * n_styles, np.float64)
        return (weights / weights.sum()).astype(np.float32)


@dataclass(frozen=True)
class FastResult:
    """image: HxWx3 uint8. style_vector: (100,) float32, the blended vector the transformer
    received. seconds: "prepare" (resize), "predict", "transfer", "total". device: where the
    transformer ran ("CPU: <model>, <n> cores" or "GPU: <name>", from engine.nst.device). tiles:
    how many tiles the image was rendered in (1: whole)."""

    image: np.ndarray
    style_vector: np.ndarray
    seconds: dict[str, float]
    device: str
    network: str = NETWORK
    tiles: int = 1


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
    if image.dtype == np.float32 and image.flags.c_contiguous and image.min() >= 0.0 and image.max() <= 1.0:
        return image  # already clean: no copy (at print size a copy is over half a gigabyte)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased bilinear resize; a no-op when the size already matches."""
    if image.shape[:2] == (height, width):
        return image
    import tensorflow as tf

    out = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)



def finish(stylized: np.ndarray, content: np.ndarray | None, rows: int = 512) -> np.ndarray:
    """The uint8 result, with the content's colours put back when `content` is given. Done in
    bands of rows: at print size a whole-image temporary is over half a gigabyte, and the colour
    transfer makes several (the ops are per pixel, so the bands give the same pixels)."""
    out = np.empty(stylized.shape, np.uint8)
    for top in range(0, stylized.shape[0], rows):
        band = stylized[top:top + rows]
        if content is not None:
            band = keep_content_colors(band, content[top:top + rows])
        out[top:top + rows] = to_uint8(band)
    return out


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
    """The fp16 TFLite transformer rebuilt as a TensorFlow function over any image size, run on the
    whole image (`__call__`) or tile by tile with the whole image's normalisation (`tiled`)."""

    def __init__(
        self, path: Path, *, jit_compile: bool = False, translations: Mapping[str, Callable] | None = None
    ) -> None:
        """`jit_compile` and `translations` exist for bench/bench_fast.py; the defaults are the
        fastest exact setting measured on CPU."""
        import tensorflow as tf

        graph, (content_index, style_index) = tflite_graph.load(path, [_CONTENT_INPUT, _STYLE_INPUT])
        self._graph, self._content_index, self._style_index = graph, content_index, style_index
        self._translations = translations
        self.norms = tflite_graph.find_instance_norms(graph)
        self.segments = tflite_graph.split_at_norms(graph, self.norms)

        def padded_transform(content: Any, style: Any) -> Any:
            # Pad bottom/right to a multiple of 4 by reflection, run, crop back to the input size.
            height, width = tf.shape(content)[1], tf.shape(content)[2]
            pad_h, pad_w = (-height) % SIZE_MULTIPLE, (-width) % SIZE_MULTIPLE
            padded = tf.pad(content, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")
            feeds = {content_index: padded, style_index: style}
            out = tflite_graph.run_graph(graph, feeds, translations)[0]
            return out[:, :height, :width, :]

        # The whole-image network as plain TensorFlow ops, for building into other functions
        # (engine.nst.fast_hub exports it): batch [N, H, W, 3] content, [N, 1, 1, 100] style vectors.
        self.transform = padded_transform
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
        # Traced on first use only: most processes never tile.
        self._segment_fns = [self._segment_function(seg) for seg in self.segments]

    def __call__(self, content: np.ndarray, style_vector: np.ndarray) -> np.ndarray:
        style = np.asarray(style_vector, np.float32).reshape(1, 1, 1, STYLE_VECTOR_LEN)
        return self._fn(content[None], style)[0].numpy()

    # --- tiles ----------------------------------------------------------------------------------

    def tiled(
        self, content: np.ndarray, style_vector: np.ndarray, *, tile: int = TILE, halo: int = HALO,
        blend: int = BLEND,
    ) -> np.ndarray:
        """The stylised image, computed tile by tile in memory bounded by the tile size.

        Instance normalisation makes every output pixel depend on statistics of the *whole* image:
        tiles normalised on their own each get their own contrast and colour cast, hence seams. So
        the graph runs one segment at a time (tflite_graph.split_at_norms): all tiles run segment k,
        which ends with norm k's input; the tiles' moments of it over their cores are pooled into
        the whole image's mean and variance, which segment k + 1 is given. Each tile keeps its state
        between segments, so nothing is computed twice. With a halo as wide as the receptive field,
        every core then gets what the whole image gets; overlaps are cross-faded all the same.
        """
        import tensorflow as tf

        height, width = content.shape[:2]
        padded = _round_up(height), _round_up(width)
        tiles = tiling.plan(*padded, tile, halo, blend)
        given = {self._style_index: tf.constant(np.asarray(style_vector, np.float32).reshape(1, 1, 1, -1))}
        states: list[dict[int, Any]] = [{} for _ in tiles]
        # Every segment but the last ends with a norm's input: run it on all tiles, pool, go on.
        for k, norm in enumerate(self.norms):
            pooled = self._run_segment(k, tiles, states, given, content)
            given[norm.mean] = tf.constant(pooled.mean.reshape(1, 1, 1, -1), tf.float32)
            given[norm.variance] = tf.constant(pooled.variance.reshape(1, 1, 1, -1), tf.float32)

        out = np.zeros((height, width, 3), np.float32)
        last, run = self.segments[-1], self._segment_fns[-1]
        for i, t in enumerate(tiles):
            image = run(self._feeds(last, states[i], given, content, t), _core_tensor(t))[0][0].numpy()[0]
            states[i] = {}  # done with this tile: free its state
            keep = tiling.Box(t.keep.top, min(t.keep.bottom, height), t.keep.left, min(t.keep.right, width))
            weight = tiling.weights(t, blend, *padded)[: keep.height, : keep.width]
            out[keep.slices] += weight * image[keep.relative_to(t.window).slices]
        return out

    def _run_segment(
        self, k: int, tiles: list[tiling.Tile], states: list[dict[int, Any]], given: dict[int, Any],
        content: np.ndarray,
    ) -> tiling.Moments:
        """Segment k on every tile (each tile's state moves on); the whole image's moments of its target."""
        segment, run = self.segments[k], self._segment_fns[k]
        stride = self._stride(segment.target)
        parts = []
        for t, state in zip(tiles, states, strict=True):
            made, (mean, variance) = run(self._feeds(segment, state, given, content, t), _core_tensor(t))
            state.update(zip(segment.makes, made, strict=True))
            for index in set(state) - set(segment.keeps):
                del state[index]
            count = (t.core.height // stride) * (t.core.width // stride)
            parts.append(tiling.Moments(count, mean.numpy(), variance.numpy()))
        return tiling.Moments.merge_all(parts)

    def _stride(self, tensor: int) -> int:
        """How many input pixels one position of a feature map spans (1, 2 or 4)."""
        shapes = self._graph.tensors
        return shapes[self._content_index].shape[1] // shapes[tensor].shape[1]

    def _feeds(
        self, segment: tflite_graph.Segment, state: dict[int, Any], given: dict[int, Any], content: np.ndarray,
        tile: tiling.Tile,
    ) -> list[Any]:
        """A segment's inputs for one tile: its own state, the shared style vector and statistics,
        and (for the first segment) the tile's window of the content."""
        import tensorflow as tf

        feeds = []
        for index in segment.reads:
            if index == self._content_index:
                feeds.append(tf.constant(tiling.pad_window(content, tile.window)[None]))
            else:
                feeds.append(state[index] if index in state else given[index])
        return feeds

    def _segment_function(self, segment: tflite_graph.Segment) -> Callable:
        """A tf.function running one segment on one tile: (reads, core) -> (makes, moments of the
        target over the core: mean and variance per channel). The last segment's target is the image:
        its "moments" are empty."""
        import tensorflow as tf

        graph, translations = self._graph, self._translations
        final = segment.target == graph.outputs[0]
        wanted = list(segment.makes) if not final else [segment.target]
        target_at = wanted.index(segment.target)
        stride = self._stride(segment.target)

        def run(reads: list, core: Any) -> Any:
            outputs = tflite_graph.run_graph(graph, dict(zip(segment.reads, reads, strict=True)), translations,
                                             outputs=wanted)
            if final:
                return outputs, ()
            x = outputs[target_at][:, core[0] // stride:core[1] // stride, core[2] // stride:core[3] // stride, :]
            return outputs, tf.nn.moments(x, axes=[0, 1, 2])

        specs = [_spec(graph.tensors[i].shape) for i in segment.reads]
        return tf.function(run, input_signature=[specs, tf.TensorSpec([4], tf.int32)])


def _round_up(n: int) -> int:
    return -(-n // SIZE_MULTIPLE) * SIZE_MULTIPLE


def _core_tensor(tile: tiling.Tile) -> Any:
    """The tile's core in window pixels, as the int32 [top, bottom, left, right] a segment takes."""
    import tensorflow as tf

    core = tile.core.relative_to(tile.window)
    return tf.constant([core.top, core.bottom, core.left, core.right], tf.int32)


def _spec(shape: tuple[int, ...]) -> Any:
    """A feature map's TensorSpec with free height and width; statistics and the style vector
    (spatially 1x1) keep their shape."""
    import tensorflow as tf

    if len(shape) == 4 and shape[1] > 1:
        return tf.TensorSpec([1, None, None, shape[3]], tf.float32)
    return tf.TensorSpec(shape, tf.float32)


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
        self._keyed: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def style_vector(self, image: np.ndarray, key: str | None = None) -> np.ndarray:
        """The predictor's 100-number vector for an image, from the cache when seen before: under
        `key` when the caller names the image (the same name must always mean the same image),
        else under a hash of its pixels."""
        image = as_image(image, "style")
        cache, name, bound = ((self._keyed, key, KEYED_STYLE_ENTRIES) if key is not None
                              else (self._vectors, image_key(image), STYLE_CACHE_ENTRIES))
        with self._cache_lock:
            if name in cache:
                cache.move_to_end(name)
                return cache[name]
        vector = self.predictor(image)
        vector.setflags(write=False)  # shared between jobs: nobody may change it in place
        with self._cache_lock:
            cache[name] = vector
            while len(cache) > bound:
                cache.popitem(last=False)
        return vector

    def blended_vector(
        self, content: np.ndarray, styles: Sequence[np.ndarray], params: FastParams,
        style_keys: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Weighted mix of the styles' vectors, then pulled towards the content's own vector
        by (1 - strength)."""
        weights = params.normalised_weights(len(styles))
        keys = style_keys or [None] * len(styles)
        mixed = sum(w * self.style_vector(s, k) for w, s, k in zip(weights, styles, keys, strict=True))
        if params.strength < 1.0:
            mixed = params.strength * mixed + (1.0 - params.strength) * self.style_vector(content)
        return np.asarray(mixed, np.float32)

    def stylize(
        self, content: np.ndarray, styles: Sequence[np.ndarray], params: FastParams, *, tile: int | None = None,
        style_keys: Sequence[str | None] | None = None,
    ) -> FastResult:
        """Stylise `content` (HxWx3 floats in [0, 1]) with `styles`; the output's longest side is
        params.size (the content is resized here when it is not already that size). `style_keys`
        names styles whose vectors are kept under that name (see style_vector).

        Images of up to UNTILED_MAX_PIXELS run whole; larger ones in tiles of `tile` px (default
        TILE). Passing `tile` tiles any image: tests and benchmarks compare the two ways."""
        params.validate(len(styles))
        started = time.perf_counter()
        content = as_image(content, "content")
        height, width = output_shape(*content.shape[:2], params.size)
        if min(height, width) < MIN_SIDE:
            raise ImageError(f"The content image is too narrow: {width}x{height} px at size {params.size}.")
        content = resize(content, height, width)

        prepared = time.perf_counter()
        vector = self.blended_vector(content, styles, params, style_keys)
        predicted = time.perf_counter()
        if tile is None and height * width <= UNTILED_MAX_PIXELS:
            stylized, tiles = self.transformer(content, vector), 1
        else:
            tile = tile or TILE
            stylized = self.transformer.tiled(content, vector, tile=tile)
            tiles = len(tiling.plan(_round_up(height), _round_up(width), tile, HALO, BLEND))
        image = finish(stylized, content if params.preserve_colors else None)
        done = time.perf_counter()
        seconds = {
            "prepare": prepared - started,
            "predict": predicted - prepared,
            "transfer": done - predicted,
            "total": done - started,
        }
        return FastResult(image=image, style_vector=vector, seconds=seconds, device=self.device, tiles=tiles)


_LOAD_LOCK = threading.Lock()


@cache
def _stylizer_for(resolved_dir: str) -> FastStylizer:
    return FastStylizer(resolved_dir)


def get_fast_stylizer(model_dir: Path | str) -> FastStylizer:
    """The process's FastStylizer for `model_dir`, loaded on first use and reused afterwards
    (an RQ SimpleWorker thus loads the models once, not per job). A failed load is not cached."""
    with _LOAD_LOCK:  # two threads asking at once must not load the models twice
        return _stylizer_for(str(Path(model_dir).resolve()))
