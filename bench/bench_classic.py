"""Classic-mode benchmarks (a script, not a test). Results: docs/benchmarks.md.

    python bench/bench_classic.py objective   # seed recipe vs engine defaults, 512 px, objective vs time
    python bench/bench_classic.py steps       # per-step time and objective, 256/512/1024 px
    python bench/bench_classic.py memory      # peak RSS of classic runs at 512..2048 px (the memory estimate)
    python bench/bench_classic.py all

The seed's recipe (a): one scale, Adam (lr 0.02, beta_1 0.99, epsilon 0.1), a plain
tf.function step, float32. The engine (b): its defaults. Both minimise the same objective,
the engine's default loss, always evaluated in float32 at the full size so the two can be
compared. Writes a JSON file per part to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import RESULTS, SHARED  # noqa: E402
from engine.nst import images  # noqa: E402
from engine.nst.classic import ClassicParams, objective, resize, stylize_classic  # noqa: E402


def load_pair(size: int):
    content = images.load_array(SHARED / "images" / "tubingen.jpg", size)
    style = images.load_array(SHARED / "images" / "starry_night.jpg", size)
    return content, style


def seed_recipe(obj, steps: int, record_every: int = 25):
    """The seed's loop: a tf.Variable image, Keras Adam, clip to [0, 1], one tf.function per step."""
    import keras
    import tensorflow as tf

    image = tf.Variable(obj.content[None])
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)

    @tf.function
    def train_step():
        total, terms, grad = obj.loss_and_grad(image, *obj.targets)
        opt.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return total

    curve, step_times = [], []
    elapsed = 0.0
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        float(train_step())
        spent = time.perf_counter() - t0
        elapsed += spent
        step_times.append(spent)
        if step % record_every == 0 or step == steps:
            curve.append({"step": step, "seconds": elapsed, "objective": obj(image.numpy()[0])[0]})
    return curve, step_times, image.numpy()[0]


def engine_run(content, style, params: ClassicParams, obj):
    """Run the engine; after every epoch evaluate the float32 full-size objective of its image."""
    curve = []

    def on_epoch(report):
        x = resize(report.checkpoint().image, obj.dims)
        curve.append({"step": report.step, "seconds": report.seconds, "scale": report.scale,
                      "objective": obj(x)[0]})

    result = stylize_classic(content, [style], params, on_epoch=on_epoch)
    return curve, result


def part_objective(args) -> dict:
    content, style = load_pair(512)
    # The photo start, 10 x 30 coarse-to-fine: the recipe this part compares with the seed's (the
    # default until issue 25 made it a fast start of 40 steps; bench_quality.py measures that one).
    params = ClassicParams(size=512, init="content", epochs=10, steps_per_epoch=30)
    obj = objective(content, [style], params)
    print(f"objective: 512 px ({obj.dims[1]}x{obj.dims[0]}), seed recipe {args.seed_steps} steps ...", flush=True)
    seed_curve, _, seed_image = seed_recipe(obj, args.seed_steps)
    target = seed_curve[-1]["objective"]
    print(f"  seed: {seed_curve[-1]['seconds']:.1f} s, final objective {target:.4f}", flush=True)
    engine_curve, result = engine_run(content, style, params, obj)
    reached = next((p for p in engine_curve if p["objective"] <= target), None)
    out = {
        "size": 512, "dims": obj.dims, "seed_steps": args.seed_steps, "seed_curve": seed_curve,
        "engine_params": params.to_dict(), "engine_curve": engine_curve, "engine_precision": result.precision,
        "seed_seconds": seed_curve[-1]["seconds"], "seed_final": target,
        "engine_seconds": result.seconds, "engine_final": engine_curve[-1]["objective"],
        "engine_seconds_to_seed_final": reached["seconds"] if reached else None,
    }
    if reached:
        out["ratio"] = reached["seconds"] / out["seed_seconds"]
    images.save_png(result.image, RESULTS / "objective_engine.png")
    images.save_png(images.to_uint8(seed_image), RESULTS / "objective_seed.png")
    print(f"  engine: {result.seconds:.1f} s, final objective {out['engine_final']:.4f}; reached the seed's final "
          f"value after {out['engine_seconds_to_seed_final']} s (ratio {out.get('ratio')})", flush=True)
    return out


def part_steps(args) -> dict:
    rows = []
    for size, n in ((256, 30), (512, 20), (1024, 10)):
        content, style = load_pair(size)
        base = ClassicParams(size=size, epochs=1, steps_per_epoch=n, multiscale=False)
        obj = objective(content, [style], base)
        _, seed_times, seed_image = seed_recipe(obj, n, record_every=n)
        row = {"size": size, "dims": obj.dims, "steps": n,
               "seed_step_s": float(np.median(seed_times[1:])), "seed_objective": obj(seed_image)[0]}
        for optimizer in ("adam", "lbfgs"):
            params = replace(base, optimizer=optimizer)
            curve, result = engine_run(content, style, params, obj)
            seconds = [r.seconds for r in result.history.rows]
            row[f"engine_{optimizer}_step_s"] = float(np.median(np.diff(seconds)))
            row[f"engine_{optimizer}_objective"] = curve[-1]["objective"]
            row["engine_precision"] = result.precision
        row["speedup_adam"] = row["seed_step_s"] / row["engine_adam_step_s"]
        row["objective_diff_adam"] = row["engine_adam_objective"] / row["seed_objective"] - 1
        print(json.dumps(row), flush=True)
        rows.append(row)
    return {"rows": rows}


MEMORY_RUNS = ((512, "bfloat16"), (1024, "bfloat16"), (1536, "bfloat16"), (2048, "bfloat16"),
               (512, "float32"), (1024, "float32"))


def part_memory(args) -> dict:
    """Peak RSS of whole classic runs, each in a fresh process: the figures behind the engine's
    memory estimate (engine.nst.classic_memory) and its refusal of sizes that do not fit."""
    out = {}
    for size, precision in MEMORY_RUNS:
        child = subprocess.run([sys.executable, __file__, "_memory_child", str(size), precision],
                               capture_output=True, text=True, check=True)
        out[f"{size}-{precision}"] = row = json.loads(child.stdout.strip().splitlines()[-1])
        print(size, precision, row, flush=True)
    return out


def memory_child(size: int, precision: str) -> None:
    """The coarse-to-fine plan (a photo start) with 3 epochs x 15 steps: the final level gets 9 or more steps,
    so L-BFGS's history (2 x 8 image-sized vectors) is full, and a checkpoint is serialised after
    every epoch, as the worker does: the peak is a real job's."""
    content, style = load_pair(size)
    params = ClassicParams(size=size, init="content", epochs=3, steps_per_epoch=15, precision=precision)
    result = stylize_classic(content, [style], params, on_epoch=lambda report: report.checkpoint().to_bytes())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    h, w = result.image.shape[:2]
    print(json.dumps({"peak_rss_mb": round(peak_mb), "dims": [h, w], "megapixels": h * w / 1e6,
                      "steps": result.steps, "precision": result.precision, "seconds": round(result.seconds, 1)}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_memory_child":
        memory_child(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("objective", "steps", "memory", "all"))
    parser.add_argument("--seed-steps", type=int, default=1000)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = ("objective", "steps", "memory") if args.part == "all" else (args.part,)
    for part in parts:
        result = globals()[f"part_{part}"](args)
        (RESULTS / f"classic_{part}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
