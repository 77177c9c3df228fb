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
