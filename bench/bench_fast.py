"""Fast-mode benchmark (a script, not a test). Results: docs/benchmarks.md, "Fast mode".

    python bench/bench_fast.py                 # default variant, 5 runs per size
    python bench/bench_fast.py --variants default xla bf16-conv --runs 5
    python bench/bench_fast.py --sizes 2048x2048 --runs 3

Measures, with the models loaded and warm (one untimed run per size first; median of --runs):
the style predictor (cache bypassed; with and without resizing the painting to 256x256), the
transformer at 512x512 and 1024x768 (W x H; --sizes for others), and a whole stylize() call
with a cached style vector. Variants of the transformer:

    default     float32 tf.function over [1, None, None, 3] (what the engine uses)
    xla         the same with jit_compile=True (XLA compiles once per new image size)
    bf16-conv   spatial convolutions in bfloat16 (inputs and kernels cast), the rest float32

Each variant is also compared with the TFLite interpreter at 384x384 (tubingen + starry_night):
the engine's acceptance bound is a max abs difference of 2e-3 on a 0..1 scale. The TFLite
interpreter's own 384x384 time is printed for reference. Writes bench/results/fast.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import MODEL_DIR, RESULTS, SHARED  # noqa: E402
from engine.nst import fast, images, model_files, tflite_graph  # noqa: E402

DEFAULT_SIZES = ["512x512", "1024x768"]  # W x H, as images are usually described


def array_shape(size: str) -> tuple[int, int]:
    width, height = (int(n) for n in size.lower().split("x"))
    return height, width


def machine() -> dict[str, str]:
    import tensorflow as tf

    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line)
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown"
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
    }


def timed(fn, runs: int) -> float:
    """Median wall time of `runs` calls after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times)


def conv_bf16(op, args, graph):
    """Spatial CONV_2D with bfloat16 inputs and kernel; the 1x1 convs that turn the style vector
    into normalisation parameters stay float32 (they cost nothing and set every layer's scale)."""
    import tensorflow as tf

    if graph.tensors[op.inputs[1]].shape[1:3] == (1, 1):
        return tflite_graph.TRANSLATIONS["CONV_2D"](op, args, graph)
    o = op.options
    x, kernel = tf.cast(args[0], tf.bfloat16), tf.cast(args[1], tf.bfloat16)
    padding = "SAME" if o.padding == 0 else "VALID"
    y = tf.cast(tf.nn.conv2d(x, kernel, [1, o.strideH, o.strideW, 1], padding), tf.float32)
    if len(args) > 2 and args[2] is not None:
        y = tf.nn.bias_add(y, args[2])
    return tflite_graph._activation(y, o.fusedActivationFunction)


def make_transformer(variant: str) -> fast.Transformer:
    path = model_files.require(MODEL_DIR, model_files.MAGENTA_TRANSFER)
    if variant == "default":
        return fast.Transformer(path)
    if variant == "xla":
        return fast.Transformer(path, jit_compile=True)
    if variant == "bf16-conv":
        return fast.Transformer(path, translations={**tflite_graph.TRANSLATIONS, "CONV_2D": conv_bf16})
    raise SystemExit(f"unknown variant {variant}")


def tflite_reference(content: np.ndarray, vector: np.ndarray, runs: int) -> tuple[np.ndarray, float]:
    reference = fast.TFLiteTransformer(model_files.require(MODEL_DIR, model_files.MAGENTA_TRANSFER))
    seconds = timed(lambda: reference(content, vector), runs)
    return reference(content, vector), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=["default"])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="W x H, e.g. 2048x2048")
    args = parser.parse_args()

    started = time.perf_counter()
    stylizer = fast.FastStylizer(MODEL_DIR)
    report: dict = {"machine": machine(), "runs": args.runs, "load_seconds": time.perf_counter() - started}
    print(report["machine"], f"load {report['load_seconds']:.2f} s (includes importing TensorFlow)")

    photo, painting = SHARED / "images" / "tubingen.jpg", SHARED / "images" / "starry_night.jpg"
    style = images.load_array(painting, 512)
    style_256 = fast.resize(style, 256, 256)
    report["predict_seconds"] = timed(lambda: stylizer.predictor(style), args.runs)
    report["predict_invoke_seconds"] = timed(lambda: stylizer.predictor(style_256), args.runs)
    print(
        f"predictor (int8 TFLite): {report['predict_seconds'] * 1000:.1f} ms including the resize of a "
        f"{style.shape[1]}x{style.shape[0]} painting to 256x256, "
        f"{report['predict_invoke_seconds'] * 1000:.1f} ms for the network alone"
    )

    vector = stylizer.style_vector(style)
    content_384 = fast.resize(images.load_array(photo, 2048), 384, 384)
    reference, report["tflite_384_seconds"] = tflite_reference(content_384, vector, args.runs)
    print(
        f"TFLite interpreter transformer at 384x384 (its fixed size, default threads): "
        f"{report['tflite_384_seconds']:.3f} s"
    )

    report["variants"] = {}
    for variant in args.variants:
        transformer = make_transformer(variant)
        row = {"max_abs_diff_384": float(np.abs(transformer(content_384, vector) - reference).max())}
        for name in args.sizes:
            content = fast.resize(images.load_array(photo, 2048), *array_shape(name))
            row[f"transfer_{name}"] = timed(lambda t=transformer, c=content: t(c, vector), args.runs)
        report["variants"][variant] = row
        print(variant, {k: round(v, 6) if k.startswith("max") else round(v, 3) for k, v in row.items()})

    for name in args.sizes:  # the whole call, as a job sees it
        content = fast.resize(images.load_array(photo, 2048), *array_shape(name))
        params = fast.FastParams(size=max(content.shape[:2]))
        call = lambda c=content, p=params: stylizer.stylize(c, [style], p)  # noqa: E731
        report[f"stylize_{name}"] = timed(call, args.runs)
        print(f"stylize() {name}, style vector cached: {report[f'stylize_{name}']:.3f} s")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fast.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS / 'fast.json'}")


if __name__ == "__main__":
    main()
