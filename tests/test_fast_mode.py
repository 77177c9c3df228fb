"""Fast mode (engine.nst.fast): the rebuilt transformer, sizes, strength, style mixing, colour
preservation, caching and errors. Real model files and real images at tiny sizes; a missing
model file fails these tests (ModelFileError), it never skips them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.nst import fast, model_files
from engine.nst.color import rgb_to_yiq
from engine.nst.errors import ModelFileError, ParameterError

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def image(images_dir: Path) -> Callable[[str, int, int], np.ndarray]:
    """image("tubingen.jpg", h, w): a tiny copy of a test photo at exactly h x w, as HxWx3
    float32 in [0, 1] (exact shapes, unlike load_test_image, which keeps the aspect ratio)."""

    @cache
    def load(name: str, height: int, width: int) -> np.ndarray:
        with Image.open(images_dir / name) as im:
            small = im.convert("RGB").resize((width, height), Image.LANCZOS)
        return np.asarray(small, np.float32) / 255.0

    return lambda name, height, width: load(name, height, width).copy()


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def as_float(result: fast.FastResult) -> np.ndarray:
    return result.image.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def stylizer(model_dir: Path) -> fast.FastStylizer:
    return fast.get_fast_stylizer(model_dir)


@pytest.fixture(scope="module")
def content(image) -> np.ndarray:
    return image("tubingen.jpg", 96, 128)


@pytest.fixture(scope="module")
def starry(image) -> np.ndarray:
    return image("starry_night.jpg", 200, 252)


@pytest.fixture(scope="module")
def matisse(image) -> np.ndarray:
    return image("woman-with-hat-matisse.jpg", 200, 160)


def tflite_transfer(model_dir: Path, content: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The reference: the fp16 transformer run by the TFLite interpreter (fixed 384x384)."""
    return fast.TFLiteTransformer(model_files.require(model_dir, model_files.MAGENTA_TRANSFER))(content, vector)


@pytest.mark.parametrize("style_name", ["starry_night.jpg", "woman-with-hat-matisse.jpg"])
def test_rebuilt_transformer_matches_tflite_at_384(stylizer, model_dir, image, style_name):
    content_384 = image("tubingen.jpg", 384, 384)
    vector = stylizer.style_vector(image(style_name, 256, 256))
    ours = stylizer.transformer(content_384, vector)
    reference = tflite_transfer(model_dir, content_384, vector)
    assert ours.shape == reference.shape == (384, 384, 3)
    assert reference.std() > 0.1  # a real picture, so agreeing on it means something
    assert np.abs(ours - reference).max() <= 2e-3


def test_a_graph_with_untranslated_ops_is_refused(model_dir):
    # The int8 transfer file quantises activations (QUANTIZE ops): refuse it, don't approximate.
    path = model_files.require(model_dir, model_files.MAGENTA_TRANSFER_INT8)
    with pytest.raises(NotImplementedError, match="QUANTIZE"):
        fast.Transformer(path)


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((197, 301), 301, (197, 301)),  # odd sizes, not multiples of 4, already at size
        ((301, 197), 150, (150, 98)),  # portrait, resized by stylize
        ((64, 128), 100, (50, 100)),  # landscape, downscaled
        ((70, 66), 67, (67, 63)),  # near-square, both sides odd after resizing
    ],
)
def test_output_has_requested_size(stylizer, image, starry, shape, size, expected):
    result = stylizer.stylize(image("tubingen.jpg", *shape), [starry], fast.FastParams(size=size))
    assert result.image.shape == (*expected, 3)
    assert result.image.dtype == np.uint8
    assert result.image.std() > 10  # a picture, not a flat fill
    assert result.network == "magenta-v1-256-fp16"
    assert result.device.startswith(("CPU", "GPU"))
    assert set(result.seconds) >= {"predict", "transfer"}


def test_odd_size_output_agrees_with_the_multiple_of_4_run(stylizer, image, starry):
    # Padding to a multiple of 4 and cropping back must not shift or smear the picture:
    # a 101x129 run and a 100x128 run agree away from the padded bottom/right edges.
    odd = image("tubingen.jpg", 101, 129)
    vector = stylizer.style_vector(starry)
    out_odd = stylizer.transformer(odd, vector)
    out_even = stylizer.transformer(odd[:100, :128], vector)
    assert out_odd.shape == (101, 129, 3)
    assert mean_abs(out_odd[:90, :118], out_even[:90, :118]) < 0.02


def test_strength_zero_stays_close_to_the_content(stylizer, content, starry):
    def distance(strength: float) -> float:
        params = fast.FastParams(size=128, strength=strength)
        return mean_abs(as_float(stylizer.stylize(content, [starry], params)), content)

    weak, half, full = distance(0.0), distance(0.5), distance(1.0)
    assert weak < half < full
    assert weak < 0.8 * full


def test_strength_zero_uses_the_contents_own_style_vector(stylizer, content, starry):
    result = stylizer.stylize(content, [starry], fast.FastParams(size=128, strength=0.0))
    np.testing.assert_allclose(result.style_vector, stylizer.style_vector(content), atol=1e-6)


def test_mixing_two_styles_lands_between_them(stylizer, content, starry, matisse):
    def run(styles, weights=()):
        params = fast.FastParams(size=128, style_weights=weights)
        return stylizer.stylize(content, styles, params)

    only_starry, only_matisse = as_float(run([starry])), as_float(run([matisse]))
    mixed = run([starry, matisse], (1.0, 3.0))

    expected = 0.25 * stylizer.style_vector(starry) + 0.75 * stylizer.style_vector(matisse)
    np.testing.assert_allclose(mixed.style_vector, expected, atol=1e-5)
    apart = mean_abs(only_starry, only_matisse)
    to_starry, to_matisse = mean_abs(as_float(mixed), only_starry), mean_abs(as_float(mixed), only_matisse)
    assert 0.02 < to_matisse < to_starry < apart  # differs from both, nearer the heavier style


def test_equal_weights_when_none_given(stylizer, content, starry, matisse):
    result = stylizer.stylize(content, [starry, matisse], fast.FastParams(size=64))
    expected = 0.5 * (stylizer.style_vector(starry) + stylizer.style_vector(matisse))
    np.testing.assert_allclose(result.style_vector, expected, atol=1e-5)


def test_preserve_colors_keeps_the_contents_chroma(stylizer, content, starry):
    def chroma_change(preserve: bool) -> float:
        params = fast.FastParams(size=128, preserve_colors=preserve)
        out = as_float(stylizer.stylize(content, [starry], params))
        return mean_abs(rgb_to_yiq(out)[..., 1:], rgb_to_yiq(content)[..., 1:])

    kept, changed = chroma_change(True), chroma_change(False)
    assert changed > 0.03  # Starry Night does recolour the photo...
    assert kept < 0.005  # ...unless asked not to (uint8 rounding and clipping remain)


class CountingPredictor:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, style_image):
        self.calls += 1
        return self.inner(style_image)


def test_a_repeated_style_is_not_predicted_again(stylizer, content, monkeypatch):
    counter = CountingPredictor(stylizer.predictor)
    monkeypatch.setattr(stylizer, "predictor", counter)
    # Noise no other test uses, so the cache starts without it.
    style = np.random.default_rng(7).random((80, 80, 3), dtype=np.float32)
    params = fast.FastParams(size=64)
    first = stylizer.stylize(content, [style], params)
    second = stylizer.stylize(content, [style.copy()], params)  # equal pixels, new array
    assert counter.calls == 1
    np.testing.assert_array_equal(first.image, second.image)


def test_style_cache_is_bounded(model_dir, monkeypatch):
    stylizer = fast.FastStylizer(model_dir)  # its own, empty cache; no transformer trace
    counter = CountingPredictor(stylizer.predictor)
    monkeypatch.setattr(stylizer, "predictor", counter)
    monkeypatch.setattr(fast, "STYLE_CACHE_ENTRIES", 2)
    rng = np.random.default_rng(11)
    a, b, c = (rng.random((32, 32, 3), dtype=np.float32) for _ in range(3))
    for style in (a, b, a, c):  # using a again makes b the least recently used...
        stylizer.style_vector(style)
    assert counter.calls == 3
    stylizer.style_vector(a)  # ...so c evicted b, not a
    assert counter.calls == 3
    stylizer.style_vector(b)
    assert counter.calls == 4


def test_one_stylizer_per_model_dir_and_process(stylizer, model_dir):
    assert fast.get_fast_stylizer(model_dir) is stylizer
    assert fast.get_fast_stylizer(f"{model_dir}/.") is stylizer


def test_missing_model_files_are_named(model_dir, tmp_path):
    with pytest.raises(ModelFileError, match=model_files.MAGENTA_PREDICTOR.name):
        fast.FastStylizer(tmp_path)
    # With the predictor in place, the error moves on to the transformer file.
    predictor = model_files.require(model_dir, model_files.MAGENTA_PREDICTOR)
    (tmp_path / predictor.name).symlink_to(predictor)
    with pytest.raises(ModelFileError, match=model_files.MAGENTA_TRANSFER.name):
        fast.FastStylizer(tmp_path)


@pytest.mark.parametrize(
    ("params", "n_styles"),
    [
        (fast.FastParams(size=63), 1),
        (fast.FastParams(size=8193), 1),
        (fast.FastParams(size=512.0), 1),
        (fast.FastParams(size=True), 1),
        (fast.FastParams(strength=-0.1), 1),
        (fast.FastParams(strength=1.5), 1),
        (fast.FastParams(strength=float("nan")), 1),
        (fast.FastParams(), 0),
        (fast.FastParams(style_weights=(1.0,)), 2),
        (fast.FastParams(style_weights=(1.0, -0.5)), 2),
        (fast.FastParams(style_weights=(0.0, 0.0)), 2),
        (fast.FastParams(style_weights=(1.0, float("inf"))), 2),
    ],
)
def test_invalid_params_are_refused(params, n_styles):
    with pytest.raises(ParameterError):
        params.validate(n_styles)


def test_valid_params_pass():
    fast.FastParams(size=64, strength=0, style_weights=(0, 2)).validate(2)
    fast.FastParams(size=2048, strength=1).validate(1)


def test_stylize_refuses_bad_params_before_working(stylizer, content, starry, monkeypatch):
    counter = CountingPredictor(stylizer.predictor)
    monkeypatch.setattr(stylizer, "predictor", counter)
    with pytest.raises(ParameterError):
        stylizer.stylize(content, [starry], fast.FastParams(size=10))
    with pytest.raises(ParameterError):
        stylizer.stylize(content, [], fast.FastParams())
    assert counter.calls == 0


def test_importing_fast_mode_loads_no_tensorflow():
    code = "import sys, engine.nst.fast; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
