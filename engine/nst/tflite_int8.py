"""Run a fully int8-quantised TFLite graph (Magenta's style predictor) as TensorFlow ops.

Why: the engine runs the predictor with ``tf.lite.Interpreter``, which lives in Python and cannot go
into a SavedModel. ``manage.py export_fast_model`` writes fast mode as one SavedModel (the TF-Hub
model's interface: content and style image in, image out), so the predictor has to be TensorFlow
ops too, and give the interpreter's style vectors: the int8 output moves in steps of 0.02, and one
step in a few of the 100 numbers moves the stylised image by up to 0.05.

How: each int8 tensor is carried as its integers minus the zero point (``q - z``), in float64, which
holds every int8 x int8 product sum exactly. Each op then rescales and rounds as the kernels the
interpreter runs on x86 do (XNNPACK, checked op by op against the interpreter's intermediate
tensors): convolutions multiply the exact int32 accumulator by a float32 scale
``input_scale * weight_scale / output_scale`` in float32 and round half to even; QUANTIZE divides in
float32 and rounds half to even; ADD and MEAN round half away from zero (MEAN on the stored integers). Any op
outside the predictor's six raises NotImplementedError naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.nst import tflite_graph
from engine.nst.tflite_graph import Graph, Op

_ACT_NONE, _ACT_RELU, _ACT_RELU6 = 0, 1, 3
_INT8_MIN, _INT8_MAX = -128, 127


def _scale(graph: Graph, index: int) -> np.ndarray:
    return graph.tensors[index].scale.astype(np.float32)


def _zero(graph: Graph, index: int) -> int:
    return int(graph.tensors[index].zero_point[0])


def _clamp_range(graph: Graph, index: int, activation: int) -> tuple[float, float]:
    """The output's integer range minus its zero point, narrowed by a fused ReLU/ReLU6 as TFLite's
    CalculateActivationRangeQuantized does."""
    zero, scale = _zero(graph, index), float(_scale(graph, index)[0])
    low, high = _INT8_MIN, _INT8_MAX
    if activation in (_ACT_RELU, _ACT_RELU6):
        low = max(low, zero)
    if activation == _ACT_RELU6:
        high = min(high, zero + int(np.round(6.0 / scale)))
    elif activation not in (_ACT_NONE, _ACT_RELU):
        raise NotImplementedError(f"fused activation code {activation}")
    return float(low - zero), float(high - zero)


def _round_half_away(x: Any) -> Any:
    import tensorflow as tf

    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def _from_accumulator(acc: Any, graph: Graph, op: Op) -> Any:
    """A convolution's exact accumulator (float64 holding int32 values) to the output's integers:
    float32 accumulator x float32 per-channel scale, clamped, rounded half to even."""
    import tensorflow as tf

    multiplier = _scale(graph, op.inputs[0]) * _scale(graph, op.inputs[1]) / _scale(graph, op.outputs[0])
    low, high = _clamp_range(graph, op.outputs[0], op.options.fusedActivationFunction)
    scaled = tf.clip_by_value(tf.cast(acc, tf.float32) * multiplier.astype(np.float32), low, high)
    return tf.cast(tf.round(scaled), tf.float64)  # tf.round rounds half to even


def _from_real(real: Any, graph: Graph, index: int, activation: int = _ACT_NONE) -> Any:
    """A real (float64) result to tensor `index`'s integers, rounded half away from zero."""
    import tensorflow as tf

    low, high = _clamp_range(graph, index, activation)
    return tf.clip_by_value(_round_half_away(real / float(_scale(graph, index)[0])), low, high)


def _real(x: Any, graph: Graph, index: int) -> Any:
    return x * float(_scale(graph, index)[0])


def _ints(graph: Graph, index: int, shape: tuple[int, ...] | None = None) -> Any:
    """A constant int8 filter (or int32 bias) as float64, cast in the graph: a SavedModel then
    stores the weights as int8, not eight times larger."""
    import tensorflow as tf

    values = graph.constants[index]
    return tf.cast(tf.constant(values.reshape(shape) if shape else values), tf.float64)


def _bias(graph: Graph, op: Op) -> Any:
    return _ints(graph, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else 0.0


def _quantize(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    out = op.outputs[0]
    q = tf.round(tf.cast(args[0], tf.float32) / _scale(graph, out)[0])
    low, high = _clamp_range(graph, out, _ACT_NONE)
    return tf.clip_by_value(tf.cast(q, tf.float64), low, high)


def _dequantize(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    return tf.cast(_real(args[0], graph, op.inputs[0]), tf.float32)


def _conv_2d(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    o = op.options
    acc = tf.nn.conv2d(args[0], _ints(graph, op.inputs[1]), strides=[1, o.strideH, o.strideW, 1],
                       padding="SAME" if o.padding == 0 else "VALID",
                       dilations=[1, o.dilationHFactor or 1, o.dilationWFactor or 1, 1])
    return _from_accumulator(acc + _bias(graph, op), graph, op)


def _depthwise_conv_2d(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    o = op.options
    _, kh, kw, channels = graph.tensors[op.inputs[1]].shape
    multiplier = o.depthMultiplier or 1
    # TFLite's [1, kh, kw, C * m] filter is TensorFlow's [kh, kw, C, m].
    kernel = _ints(graph, op.inputs[1], (kh, kw, channels // multiplier, multiplier))
    acc = tf.nn.depthwise_conv2d(args[0], kernel, strides=[1, o.strideH, o.strideW, 1],
                                 padding="SAME" if o.padding == 0 else "VALID",
                                 dilations=[o.dilationHFactor or 1, o.dilationWFactor or 1])
    return _from_accumulator(acc + _bias(graph, op), graph, op)


def _add(op: Op, args: list, graph: Graph) -> Any:
    fused = getattr(op.options, "fusedActivationFunction", _ACT_NONE) if op.options else _ACT_NONE
    real = _real(args[0], graph, op.inputs[0]) + _real(args[1], graph, op.inputs[1])
    return _from_real(real, graph, op.outputs[0], fused)


def _mean(op: Op, args: list, graph: Graph) -> Any:
    """The mean of the stored integers (zero point included), moved to the output's scale and zero
    point, rounded half away from zero: the rounding of a tie then depends on the zero point, as
    the interpreter's does (checked on every channel of the predictor's one MEAN)."""
    import tensorflow as tf

    keep = bool(op.options.keepDims) if op.options is not None else False
    axes = [int(a) for a in np.ravel(graph.constants[op.inputs[1]])]
    zero_in, zero_out = _zero(graph, op.inputs[0]), _zero(graph, op.outputs[0])
    ratio = float(_scale(graph, op.inputs[0])[0]) / float(_scale(graph, op.outputs[0])[0])
    stored = tf.reduce_mean(args[0] + zero_in, axis=axes, keepdims=keep)
    q = _round_half_away((stored - zero_in) * ratio + zero_out)
    low, high = _clamp_range(graph, op.outputs[0], _ACT_NONE)
    return tf.clip_by_value(q - zero_out, low, high)


INT8_TRANSLATIONS: dict[str, Callable] = {
    "QUANTIZE": _quantize,
    "DEQUANTIZE": _dequantize,
    "CONV_2D": _conv_2d,
    "DEPTHWISE_CONV_2D": _depthwise_conv_2d,
    "ADD": _add,
    "MEAN": _mean,
}


def load(path: Path | str) -> Graph:
    """Read an int8 graph (conv filters transposed to TensorFlow's layout) and check its ops."""
    graph = tflite_graph.fold_constants(tflite_graph.read_graph(path))
    unknown = sorted({op.kind for op in graph.ops} - set(INT8_TRANSLATIONS))
    if unknown:
        raise NotImplementedError(f"int8 TFLite ops without a translation: {', '.join(unknown)}")
    return graph


def run(graph: Graph, image: Any) -> Any:
    """The graph's first output for its first input (a float32 tensor)."""
    return tflite_graph.run_graph(graph, {graph.inputs[0]: image}, INT8_TRANSLATIONS)[0]
