"""The terms of the Gatys objective, each normalised so one set of weights fits every network
and every image size.

Raw Gatys terms scale with the network's activation magnitudes and with the number of pixels,
so weights tuned for VGG19 at 512 px give a blur with VGG16 or at 1024 px. Here every term is
a *relative* error (divided by the squared norm of its target), Gram matrices are averaged over
positions, and total variation is a per-pixel mean: all are O(1) whatever the network or size.
"""

from __future__ import annotations

import tensorflow as tf

_EPS = 1e-8


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Channel correlations of a [1, H, W, C] activation, averaged over the H*W positions:
    what is left of an image's texture once *where* things are is thrown away."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))
    positions = tf.cast(tf.shape(flat)[0], features.dtype)
    return tf.matmul(flat, flat, transpose_a=True) / positions


def relative_sq_error(value: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """||value - target||^2 / ||target||^2: 0 when equal, about 1 when value is unrelated."""
    return tf.reduce_sum(tf.square(value - target)) / (tf.reduce_sum(tf.square(target)) + _EPS)


def content_loss(features: dict, targets: dict) -> tf.Tensor:
    """Keep the content image's arrangement: deep activations of the result should match the
    content photo's at the same positions. Averaged over the content layers."""
    return tf.add_n([relative_sq_error(features[n], t) for n, t in targets.items()]) / len(targets)


def style_loss(features: dict, target_grams: dict, layer_weights: dict) -> tf.Tensor:
    """Take on the style image's textures: the result's Gram matrices should match the style's,
    layer by layer (shallow layers: colours and fine strokes; deep ones: larger motifs)."""
    return tf.add_n(
        [layer_weights[n] * relative_sq_error(gram_matrix(features[n]), g) for n, g in target_grams.items()]
    )


def total_variation(image: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference between neighbouring pixels: a smoothness prior that removes
    the high-frequency checkerboard noise pixel optimisation otherwise leaves."""
    dy = tf.reduce_mean(tf.abs(image[:, 1:, :, :] - image[:, :-1, :, :]))
    dx = tf.reduce_mean(tf.abs(image[:, :, 1:, :] - image[:, :, :-1, :]))
    return dx + dy


# Directions of RGB space along which colour_loss compares the palettes: the three channels,
# brightness and two opponent-colour axes (red-green, yellow-blue). Fixed, so runs repeat.
COLOUR_DIRECTIONS = (
    (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0),
    (0.57735, 0.57735, 0.57735), (0.70711, -0.70711, 0.0), (0.40825, 0.40825, -0.8165),
)


def colour_loss(image: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Take on the painting's palette, not only its textures: the distribution of the result's
    pixel colours along each of COLOUR_DIRECTIONS should be the painting's (a sliced Wasserstein
    distance: in one dimension the best matching of two distributions pairs their sorted values).
    `target` holds the painting's sorted projections resampled to the result's pixel count
    ([pixels, directions]); relative to the painting's own spread of colours."""
    flat = tf.reshape(image, (-1, 3))
    projected = tf.sort(tf.matmul(flat, tf.constant(COLOUR_DIRECTIONS, flat.dtype), transpose_b=True), axis=0)
    mean = tf.reduce_mean(target, axis=0)
    return relative_sq_error(projected - mean, target - mean)
