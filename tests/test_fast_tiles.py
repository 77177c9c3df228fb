"""Print-size fast mode: tiles that share the whole image's instance-norm statistics
(engine.nst.fast.Transformer.tiled, engine.nst.tiling). Real model files and photos, at small
sizes with small tiles, so that many tiles and all their borders are exercised cheaply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.nst import fast, tflite_graph, tiling
from engine.nst.color import keep_content_colors
from engine.nst.errors import ParameterError
from engine.nst.images import to_uint8

TILE = 64  # small tiles: a 200x264 image makes 20 of them


@pytest.fixture(scope="module")
def stylizer(model_dir: Path) -> fast.FastStylizer:
    return fast.get_fast_stylizer(model_dir)


def photo(images_dir: Path, name: str, height: int, width: int) -> np.ndarray:
    with Image.open(images_dir / name) as im:
        small = im.convert("RGB").resize((width, height), Image.LANCZOS)
    return np.asarray(small, np.float32) / 255.0


@pytest.fixture(scope="module")
def content(images_dir) -> np.ndarray:
    return photo(images_dir, "tubingen.jpg", 201, 266)  # not multiples of 4: the edge tiles are padded


@pytest.fixture(scope="module")
def vector(stylizer, images_dir) -> np.ndarray:
    return stylizer.style_vector(photo(images_dir, "starry_night.jpg", 256, 256))


@pytest.fixture(scope="module")
def whole(stylizer, content, vector) -> np.ndarray:
    return stylizer.transformer(content, vector)


@pytest.fixture(scope="module")
def tiled(stylizer, content, vector) -> np.ndarray:
    return stylizer.transformer.tiled(content, vector, tile=TILE)


def border_mask(shape: tuple[int, int], tile: int, within: int = 2) -> np.ndarray:
    height, width = shape
    plan = tiling.plan(-(-height // 4) * 4, -(-width // 4) * 4, tile, fast.HALO, fast.BLEND)
    mask = np.zeros(shape, bool)
    for edge in {t.core.top for t in plan} - {0}:
        mask[edge - within:edge + within] = True
    for edge in {t.core.left for t in plan} - {0}:
        mask[:, edge - within:edge + within] = True
    return mask


def naive_tiles(stylizer, content, vector, tile) -> np.ndarray:
    """Tiling without shared statistics: every window run on its own, its core pasted."""
    height, width = content.shape[:2]
    out = np.zeros_like(content)
    for t in tiling.plan(-(-height // 4) * 4, -(-width // 4) * 4, tile, fast.HALO, 0):
        image = stylizer.transformer(tiling.pad_window(content, t.window), vector)
        inside = t.core.relative_to(t.window)
        rows, cols = min(t.core.bottom, height) - t.core.top, min(t.core.right, width) - t.core.left
        out[t.core.top:t.core.top + rows, t.core.left:t.core.left + cols] = \
            image[inside.top:inside.top + rows, inside.left:inside.left + cols]
    return out


def test_tiles_give_the_whole_image_result(tiled, whole, content):
    assert tiled.shape == whole.shape == content.shape
    assert whole.std() > 0.1  # a real picture
    diff = np.abs(tiled - whole)
    assert diff.mean() < 1e-4
    assert diff.max() < 2e-3  # under one uint8 level anywhere


def test_tile_borders_differ_no_more_than_elsewhere(tiled, whole):
    diff = np.abs(tiled - whole).mean(axis=-1)
    mask = border_mask(diff.shape, TILE)
    assert mask.mean() > 0.1  # many borders in so small an image
    assert diff[mask].mean() < 1e-4
    assert diff[mask].mean() < diff[~mask].mean() + 5e-5


def test_tiles_normalised_on_their_own_would_show(stylizer, content, vector, whole, tiled):
    # What the shared statistics are for: without them the same tiles differ from the whole run by
    # far more than the tolerance above, so the tests above can tell the two apart.
    naive = naive_tiles(stylizer, content, vector, TILE)
    assert np.abs(naive - whole).mean() > 100 * np.abs(tiled - whole).mean()
    assert np.abs(naive - whole).mean() > 0.01


def test_stylize_tiles_images_over_the_limit_by_itself(stylizer, content, images_dir, monkeypatch):
    style = photo(images_dir, "woman-with-hat-matisse.jpg", 200, 160)
    params = fast.FastParams(size=266, preserve_colors=True)
    whole = stylizer.stylize(content, [style], params)
    monkeypatch.setattr(fast, "UNTILED_MAX_PIXELS", 128 * 128)
    monkeypatch.setattr(fast, "TILE", 96)
    tiled = stylizer.stylize(content, [style], params)
    assert whole.tiles == 1
    assert tiled.tiles == 9
    assert tiled.image.shape == whole.image.shape == (201, 266, 3)
    assert np.abs(tiled.image.astype(int) - whole.image.astype(int)).max() <= 1


def test_finishing_in_bands_gives_the_same_pixels(whole, content):
    at_once = to_uint8(keep_content_colors(whole, content))
    np.testing.assert_array_equal(fast.finish(whole, content, rows=7), at_once)
    np.testing.assert_array_equal(fast.finish(whole, None, rows=7), to_uint8(whole))


def test_the_graph_has_thirteen_norms_and_every_op_runs_once(stylizer):
    transformer = stylizer.transformer
    graph = transformer._graph
    assert len(transformer.norms) == 13
    assert len(transformer.segments) == 14
    stats = {t for n in transformer.norms for t in (n.mean, n.variance)}
    made = [t for seg in transformer.segments for t in seg.makes]
    assert len(made) == len(set(made))
    # Run the segments' ops in turn: together they are the whole graph minus the statistics ops.
    available, ran = set(graph.inputs) | stats, []
    for seg in transformer.segments:
        assert set(seg.reads) <= available
        ops = tflite_graph.needed_ops(graph, [seg.target], available)
        ran += ops
        available |= {op.outputs[0] for op in ops}
    statistics_ops = [op for op in graph.ops if op.outputs[0] in stats or op.kind == "SQUARED_DIFFERENCE"]
    assert len(ran) + len(statistics_ops) == len(graph.ops)


def test_pooled_moments_are_the_whole_sets():
    rng = np.random.default_rng(3)
    values = rng.normal(2.0, 3.0, (1000, 4))
    parts = [values[:10], values[10:400], values[400:]]
    pooled = tiling.Moments.merge_all(
        tiling.Moments(len(p), p.mean(axis=0), p.var(axis=0)) for p in parts
    )
    assert pooled.count == 1000
    np.testing.assert_allclose(pooled.mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pooled.variance, values.var(axis=0), rtol=1e-12)


@pytest.mark.parametrize(("height", "width", "tile"), [(200, 268, 64), (64, 64, 64), (1024, 516, 256)])
def test_tile_plan_partitions_the_image_and_the_blend_weights_add_up_to_one(height, width, tile):
    plan = tiling.plan(height, width, tile, 64, 16)
    covered = np.zeros((height, width), int)
    total = np.zeros((height, width, 1), np.float64)
    for t in plan:
        covered[t.core.slices] += 1
        for edge in (t.core.top, t.core.bottom, t.core.left, t.core.right, t.window.top, t.window.left):
            assert edge % tiling.ALIGN == 0
        assert t.window.top <= t.keep.top <= t.core.top and t.core.bottom <= t.keep.bottom <= t.window.bottom
        total[t.keep.slices] += tiling.weights(t, 16, height, width)
    assert (covered == 1).all()
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_pad_window_reflects_past_the_edge_as_the_whole_image_run_pads():
    import tensorflow as tf

    image = np.arange(5 * 6 * 3, dtype=np.float32).reshape(5, 6, 3)
    window = tiling.pad_window(image, tiling.Box(0, 8, 4, 8))  # 3 rows and 2 columns past the edge
    padded = tf.pad(image[None], [[0, 0], [0, 3], [0, 2], [0, 0]], mode="REFLECT")[0].numpy()
    np.testing.assert_array_equal(window, padded[0:8, 4:8])


def test_print_sizes_are_accepted_up_to_8192():
    fast.FastParams(size=8192).validate(1)
    with pytest.raises(ParameterError, match="8192"):
        fast.FastParams(size=8193).validate(1)


@pytest.mark.django_db
def test_a_print_size_result_gets_its_gallery_thumbnail(make_job):
    # 8192x6144 (a 4:3 photo at fast mode's largest size) is 50.3 MP: over the uploads' limit, and
    # still the engine's own result, which the gallery must be able to read to publish it.
    from engine.models import Visibility
    from engine.nst import images
    from gallery.models import Artwork

    big = Image.new("RGB", (8192, 6144), (40, 90, 160))
    png = images.encode_png(big)
    job = make_job(mode="fast", size=64, visibility=Visibility.PUBLIC)
    assert job.start(worker="test")
    assert job.finish(image_png=png, history=None, device="CPU", network="", seconds=0.1)
    artwork = Artwork.objects.get(job=job)
    assert "result" in artwork.thumbnails
    assert artwork.thumb_width * 3 == artwork.thumb_height * 4
