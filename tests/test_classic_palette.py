"""Classic mode's palette term (color_weight, engine.nst.losses.colour_loss): the result takes on the
painting's distribution of colours, not only its textures. Real VGG16, 64 px."""

from __future__ import annotations

import numpy as np

from engine.nst.classic import ClassicParams, objective, stylize_classic
from engine.nst.losses import COLOUR_DIRECTIONS

TINY = dict(size=64, epochs=1, steps_per_epoch=15, multiscale=False, init="content")


def palette_distance(image: np.ndarray, painting: np.ndarray) -> float:
    """Mean gap between the sorted colour projections of two images (a sliced Wasserstein distance)."""
    image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image
    directions = np.asarray(COLOUR_DIRECTIONS, np.float32).T
    a = np.sort(image.reshape(-1, 3) @ directions, axis=0)
    b = np.sort(painting.reshape(-1, 3) @ directions, axis=0)
    ranks = np.linspace(0, 1, len(a))
    b = np.stack([np.interp(ranks, np.linspace(0, 1, len(b)), b[:, k]) for k in range(b.shape[1])], 1)
    return float(np.abs(a - b).mean())


def test_the_palette_term_brings_the_results_colours_towards_the_paintings(content, starry, model_dir):
    without = stylize_classic(content, [starry], ClassicParams(**TINY), model_dir=model_dir)
    with_palette = stylize_classic(content, [starry], ClassicParams(**TINY, color_weight=3.0), model_dir=model_dir)
    assert palette_distance(with_palette.image, starry) < 0.7 * palette_distance(without.image, starry)


def test_the_palette_term_is_part_of_the_style_term_and_zero_for_the_paintings_own_colours(content, starry):
    plain = objective(content, [starry], ClassicParams(**TINY))
    with_palette = objective(content, [starry], ClassicParams(**TINY, color_weight=1.0))
    _, plain_terms, _ = plain(content)
    _, terms, _ = with_palette(content)
    assert terms[1] > 1.05 * plain_terms[1]                 # the photo's palette is not the painting's
    assert terms[0] == plain_terms[0] and terms[2] == plain_terms[2]
    # The painting itself, as the picture, has the painting's palette: nothing to add.
    own = objective(starry, [starry], ClassicParams(**TINY, color_weight=1.0))
    own_plain = objective(starry, [starry], ClassicParams(**TINY))
    assert abs(own(own.content)[1][1] - own_plain(own_plain.content)[1][1]) < 1e-5


def test_keeping_the_photos_colours_turns_the_palette_term_off(content, starry, model_dir):
    params = dict(TINY, steps_per_epoch=3, preserve_colors=True)
    kept = stylize_classic(content, [starry], ClassicParams(**params, color_weight=3.0), model_dir=model_dir)
    plain = stylize_classic(content, [starry], ClassicParams(**params), model_dir=model_dir)
    np.testing.assert_array_equal(kept.image, plain.image)
