"""Read a float TFLite graph and run it as ordinary TensorFlow ops, at any input size.

Why this exists: the Magenta transformer is published as a TFLite file whose input is fixed at
384x384, and TFLite runs only on the CPU. Fast mode needs arbitrary sizes (and a GPU when there is
one), so we turn the file back into TensorFlow.

Why a generic op-by-op translation and not a hand-written Keras model: the file *is* the
architecture. Walking its op list and mapping each op onto the equivalent ``tf`` op reproduces it
exactly — paddings, strides, fused activations, the order of the instance-norm arithmetic —
without us re-deriving Magenta's layer layout and matching 88 weight tensors to layers by name
(where one transposed kernel or swapped gamma/beta gives plausible-looking but wrong images).
The translation is small because the graph uses only eleven op kinds; any other op raises
``NotImplementedError`` naming it, instead of silently computing something else. A hand-written
model could fuse the instance-norm arithmetic by hand, but TensorFlow's graph optimiser already
fuses conv + bias + ReLU, and the result is well inside fast mode's time budget (see
docs/benchmarks.md, "Fast mode").

What changes relative to the file:

* constants are read once, at load time; float16 weights are converted to float32 then, so
  the ``DEQUANTIZE`` ops cost nothing at run time (int8 graphs, which also quantise
  activations, are refused rather than approximated);
* conv kernels are transposed once from TFLite's OHWI to TensorFlow's HWIO layout;
* the only shape-dependent constants — ``RESIZE_NEAREST_NEIGHBOR`` target sizes — become a scale
  factor (target / traced input size) applied to the dynamic input shape, so 2x upsampling stays
  2x at every size. A scale of exactly 1 becomes the identity.

The flatbuffer is parsed with the schema module that ships inside TensorFlow
(``tensorflow.lite.python.schema_py_generated``), because ``tf.lite.Interpreter`` does not expose
op options (strides, padding, fused activation). That module is not a documented API; the
fast-mode tests compare the result with the TFLite interpreter, so a change would be caught.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# TFLite TensorType codes -> numpy dtypes (only the ones a float graph plausibly holds).
_NUMPY_DTYPES = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    4: np.int64,
    9: np.int8,
    3: np.uint8,
}
# TFLite ActivationFunctionType codes.
_ACT_NONE, _ACT_RELU, _ACT_RELU6 = 0, 1, 3


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: type
    # Quantised tensors only: real value = scale * (q - zero_point), per channel along quantized_dim
    # when there is more than one scale (engine.nst.tflite_int8 uses these).
    scale: np.ndarray | None = field(default=None, compare=False)
    zero_point: np.ndarray | None = field(default=None, compare=False)
    quantized_dim: int = 0


@dataclass(frozen=True)
class Op:
    kind: str  # builtin operator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices; -1 means "optional input not given"
    outputs: tuple[int, ...]
    options: Any  # the flatbuffer's XxxOptionsT object, or None


@dataclass
class Graph:
    """One TFLite subgraph: tensors, ops in execution order, and constant tensor values."""

    tensors: list[Tensor]
    ops: list[Op]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    constants: dict[int, np.ndarray] = field(default_factory=dict)

    def input_index(self, name: str) -> int:
        for index in self.inputs:
            if self.tensors[index].name == name:
                return index
        names = [self.tensors[i].name for i in self.inputs]
        raise KeyError(f"graph has no input named {name!r}; inputs are {names}")

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.kind] = counts.get(op.kind, 0) + 1
        return counts


def read_graph(path: Path | str) -> Graph:
    """Parse a .tflite file into a Graph (first subgraph) with constants as numpy arrays."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    builtin_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    subgraph = model.subgraphs[0]

    tensors, constants = [], {}
    for index, t in enumerate(subgraph.tensors):
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        dtype = _NUMPY_DTYPES.get(t.type)
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else ()))
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            tensors.append(Tensor(name, shape, dtype, np.asarray(q.scale, np.float64),
                                  np.asarray(q.zeroPoint, np.int64), int(q.quantizedDimension)))
        else:
            tensors.append(Tensor(name, shape, dtype))
        data = model.buffers[t.buffer].data if t.buffer > 0 else None
        if data is not None and len(data):
            if dtype is None:
                raise NotImplementedError(f"constant tensor {name} has unsupported TFLite type {t.type}")
            value = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), dtype=dtype).reshape(shape)
            constants[index] = value

    ops = []
    for o in subgraph.operators:
        code = model.operatorCodes[o.opcodeIndex]
        # Builtin codes above 127 live in `builtinCode`; older files only fill the deprecated byte.
        kind = builtin_names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        ops.append(Op(kind, tuple(o.inputs), tuple(o.outputs), o.builtinOptions))
    return Graph(tensors, ops, tuple(subgraph.inputs), tuple(subgraph.outputs), constants)


def fold_constants(graph: Graph) -> Graph:
    """Run the load-time work once: DEQUANTIZE of fp16 constants becomes a float32 constant, and
    conv kernels are stored in TensorFlow's HWIO layout. Returns a new Graph without those ops."""
    constants = dict(graph.constants)
    ops = []
    for op in graph.ops:
        source = constants.get(op.inputs[0]) if op.kind == "DEQUANTIZE" else None
        if source is not None and source.dtype == np.float16:
            # float16 -> float32 is exact, and is all TFLite's DEQUANTIZE does for fp16 weights.
            # (int8 graphs also quantise activations; they are left unfolded and refused.)
            constants[op.outputs[0]] = source.astype(np.float32)
        else:
            ops.append(op)
    # A filter may be shared by several convs: transpose each tensor once, not once per use.
    filters = {op.inputs[1] for op in ops if op.kind == "CONV_2D" and op.inputs[1] in constants}
    for index in filters:
        constants[index] = np.ascontiguousarray(constants[index].transpose(1, 2, 3, 0))
    return Graph(graph.tensors, ops, graph.inputs, graph.outputs, constants)


# ---------------------------------------------------------------------------------------------
# Op translations. Each takes (op, args, graph) where args are tf tensors or numpy constants,
# and returns the op's single output.


def _activation(x: Any, code: int) -> Any:
    import tensorflow as tf

    if code == _ACT_NONE:
        return x
    if code == _ACT_RELU:
        return tf.nn.relu(x)
    if code == _ACT_RELU6:
        return tf.nn.relu6(x)
    raise NotImplementedError(f"fused activation code {code}")


def _conv_2d(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    o = op.options
    x, kernel = args[0], args[1]
    dilations = [1, o.dilationHFactor or 1, o.dilationWFactor or 1, 1]
    y = tf.nn.conv2d(
        x,
        kernel,
        strides=[1, o.strideH, o.strideW, 1],
        padding="SAME" if o.padding == 0 else "VALID",
        dilations=dilations,
    )
    if len(args) > 2 and args[2] is not None:
        y = tf.nn.bias_add(y, args[2])
    return _activation(y, o.fusedActivationFunction)


def _binary(fn_name: str) -> Callable:
    def translate(op: Op, args: list, graph: Graph) -> Any:
        import tensorflow as tf

        y = getattr(tf.math, fn_name)(args[0], args[1])
        fused = getattr(op.options, "fusedActivationFunction", _ACT_NONE) if op.options else _ACT_NONE
        return _activation(y, fused)

    return translate


def _mean(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    keep = bool(op.options.keepDims) if op.options is not None else False
    return tf.reduce_mean(args[0], axis=[int(a) for a in np.ravel(args[1])], keepdims=keep)


def _mirror_pad(op: Op, args: list, graph: Graph) -> Any:
    import tensorflow as tf

    mode = "SYMMETRIC" if op.options is not None and op.options.mode == 1 else "REFLECT"
    return tf.pad(args[0], np.asarray(args[1]), mode=mode)


def _resize_nearest(op: Op, args: list, graph: Graph) -> Any:
    """The file's target size was computed for the traced input; keep its ratio instead."""
    import tensorflow as tf

    x = args[0]
    traced_in = graph.tensors[op.inputs[0]].shape[1:3]
    target = np.ravel(args[1])
    scale = [int(t) // int(s) for t, s in zip(target, traced_in, strict=True)]
    if any(int(t) != k * int(s) for t, k, s in zip(target, scale, traced_in, strict=True)):
        raise NotImplementedError(f"non-integer resize {tuple(traced_in)} -> {tuple(target)}")
    if scale == [1, 1]:
        return x
    size = tf.shape(x)[1:3] * tf.constant(scale, tf.int32)
    o = op.options
    return tf.raw_ops.ResizeNearestNeighbor(
        images=x,
        size=size,
        align_corners=bool(o.alignCorners) if o else False,
        half_pixel_centers=bool(o.halfPixelCenters) if o else False,
    )


def _unary(fn_name: str) -> Callable:
    def translate(op: Op, args: list, graph: Graph) -> Any:
        import tensorflow as tf

        return getattr(tf.math, fn_name)(args[0])

    return translate


TRANSLATIONS: dict[str, Callable] = {
    "CONV_2D": _conv_2d,
    "ADD": _binary("add"),
    "SUB": _binary("subtract"),
    "MUL": _binary("multiply"),
    "SQUARED_DIFFERENCE": _binary("squared_difference"),
    "MEAN": _mean,
    "RSQRT": _unary("rsqrt"),
    "LOGISTIC": _unary("sigmoid"),
    "MIRROR_PAD": _mirror_pad,
    "RESIZE_NEAREST_NEIGHBOR": _resize_nearest,
}


def check_supported(graph: Graph) -> None:
    unknown = sorted({op.kind for op in graph.ops} - set(TRANSLATIONS))
    if unknown:
        raise NotImplementedError(f"TFLite ops without a TensorFlow translation: {', '.join(unknown)}")


def run_graph(
    graph: Graph,
    feeds: Mapping[int, Any],
    translations: Mapping[str, Callable] | None = None,
    outputs: Sequence[int] | None = None,
) -> list[Any]:
    """Evaluate the (constant-folded) graph on `feeds` {tensor index: tf tensor} and return the
    tensors `outputs` (default: the graph's outputs). Only the ops those outputs need are run, and a
    fed tensor is never computed: feeding an intermediate tensor (an instance norm's statistics, say)
    replaces the op that makes it. Meant to be called inside a tf.function, so it runs once per trace.
    `translations` replaces TRANSLATIONS (benchmarks use it to try e.g. bfloat16 convs)."""
    translations = TRANSLATIONS if translations is None else translations
    wanted = tuple(graph.outputs if outputs is None else outputs)
    values: dict[int, Any] = dict(feeds)

    def arg(index: int) -> Any:
        if index < 0:
            return None
        if index in values:
            return values[index]
        if index in graph.constants:
            return graph.constants[index]
        raise KeyError(f"tensor {graph.tensors[index].name} is used before it is computed")

    for op in needed_ops(graph, wanted, set(values)):
        values[op.outputs[0]] = translations[op.kind](op, [arg(i) for i in op.inputs], graph)
    return [values[i] for i in wanted]


def needed_ops(graph: Graph, outputs: Sequence[int], given: set[int]) -> list[Op]:
    """The ops, in execution order, that compute `outputs` from the inputs, constants and `given`."""
    producer = {op.outputs[0]: op for op in graph.ops}
    needed: set[int] = set()  # ids of needed ops
    stack = [t for t in outputs if t not in given]
    while stack:
        op = producer.get(stack.pop())
        if op is None or id(op) in needed:
            continue  # an input or a constant, or already visited
        needed.add(id(op))
        stack.extend(i for i in op.inputs if i >= 0 and i not in given)
    return [op for op in graph.ops if id(op) in needed]


@dataclass(frozen=True)
class InstanceNorm:
    """One instance normalisation in a graph, as TensorFlow's `tf.nn.moments` leaves it:
    mean = MEAN(x, axes 1, 2); variance = MEAN(SQUARED_DIFFERENCE(x, mean), axes 1, 2).
    Tensor indices of x and of the two statistics (each [1, 1, 1, C])."""

    source: int
    mean: int
    variance: int
    channels: int


def find_instance_norms(graph: Graph) -> list[InstanceNorm]:
    """Every instance normalisation of the graph, in execution order. Tiled inference feeds their
    statistics, computed for the whole image, so that each tile is normalised like the whole."""
    spatial_means = {
        op.outputs[0]: op.inputs[0]
        for op in graph.ops
        if op.kind == "MEAN" and sorted(np.ravel(graph.constants.get(op.inputs[1], [])).tolist()) == [1, 2]
    }
    norms = []
    for op in graph.ops:
        if op.kind != "SQUARED_DIFFERENCE":
            continue
        x, mean = op.inputs
        if spatial_means.get(mean) != x:
            continue
        variance = next(
            (out for out, src in spatial_means.items() if src == op.outputs[0]), None
        )
        if variance is not None:
            norms.append(InstanceNorm(x, mean, variance, int(graph.tensors[mean].shape[-1])))
    return norms


@dataclass(frozen=True)
class Segment:
    """The ops from one instance norm's input to the next one's (or to the graph's output), for
    running a graph one stretch at a time with each norm's statistics supplied from outside.

    reads: the tensors it needs that are neither constants nor made by its own ops (graph inputs,
    the fed statistics of earlier norms, tensors earlier segments made). makes: the tensors it makes
    that later segments read (its target among them, unless it is the graph's output). keeps: every
    tensor made so far that a later segment reads: the state to hold on to after this segment."""

    target: int
    reads: tuple[int, ...]
    makes: tuple[int, ...]
    keeps: tuple[int, ...]


def split_at_norms(graph: Graph, norms: Sequence[InstanceNorm]) -> list[Segment]:
    """Cut the graph just before each norm computes its statistics: segment k ends with norm k's
    input; the last segment ends with the graph's (first) output. Every op lands in one segment."""
    stats = {t for n in norms for t in (n.mean, n.variance)}
    targets = [n.source for n in norms] + [graph.outputs[0]]
    made: set[int] = set(graph.inputs)
    stretches = []
    for target in targets:
        ops = needed_ops(graph, [target], made | stats)
        produced = {op.outputs[0] for op in ops}
        reads = {i for op in ops for i in op.inputs if i >= 0 and i not in graph.constants and i not in produced}
        stretches.append((target, produced, reads))
        made |= produced
    segments = []
    made = set()
    for k, (target, produced, reads) in enumerate(stretches):
        made |= produced
        later = set().union(*(r for _, _, r in stretches[k + 1:]))
        segments.append(Segment(target, tuple(sorted(reads)), tuple(sorted(produced & later)),
                                tuple(sorted(made & later))))
    return segments


def load(path: Path | str, input_names: Sequence[str]) -> tuple[Graph, list[int]]:
    """Read, fold and check a graph; return it with the tensor indices of `input_names`."""
    graph = fold_constants(read_graph(path))
    check_supported(graph)
    return graph, [graph.input_index(n) for n in input_names]
