"""The engine's command line: `python manage.py stylize` (or `python -m engine.nst.cli`).

Runs a classic or fast stylisation without Redis or the web, with a progress bar, and writes
the image plus, next to it, the loss history (.json, .csv) and the loss plot (_loss.png).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import EngineError, ParameterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .classic_params import INITS, ClassicParams

    d = ClassicParams()
    parser.add_argument("content", help="content photo (JPEG, PNG or WebP)")
    parser.add_argument("styles", nargs="+", metavar="style", help="1 to 3 style images")
    parser.add_argument("--mode", choices=("classic", "fast"), default="classic")
    parser.add_argument("--out", default="result.png", help="output PNG (default: result.png)")
    parser.add_argument("--size", type=int, default=d.size, help="longest side of the result, px")
    parser.add_argument("--style-weights", type=float, nargs="+", default=(), help="one per style (mixing)")
    parser.add_argument("--preserve-colors", action="store_true", help="keep the content's colours")
    parser.add_argument("--model-dir", help="where the model files are (default: $NST_MODEL_DIR or ./models)")
    classic = parser.add_argument_group("classic mode")
    classic.add_argument("--epochs", type=int, default=d.epochs)
    classic.add_argument("--steps", type=int, default=d.steps_per_epoch, help="steps per epoch")
    classic.add_argument("--optimizer", choices=("lbfgs", "adam"), default=d.optimizer)
    classic.add_argument("--learning-rate", type=float, default=None)
    classic.add_argument("--network", choices=("vgg16", "vgg19"), default=d.network)
    classic.add_argument("--content-weight", type=float, default=d.content_weight)
    classic.add_argument("--style-weight", type=float, default=d.style_weight)
    classic.add_argument("--tv-weight", type=float, default=d.tv_weight)
    classic.add_argument("--init", choices=INITS, default=d.init,
                         help="where the optimisation starts (fast: from fast mode's result)")
    classic.add_argument("--single-scale", action="store_true", help="no coarse-to-fine")
    classic.add_argument("--precision", choices=("auto", "bfloat16", "float32"), default=d.precision)
    classic.add_argument("--seed", type=int, default=d.seed)
    classic.add_argument("--checkpoint", help="save the run's state here after every epoch")
    classic.add_argument("--resume", help="continue from a checkpoint saved with --checkpoint")
    fast = parser.add_argument_group("fast mode")
    fast.add_argument("--strength", type=float, default=1.0, help="0 (content) .. 1 (full style)")


def run(opts: dict, stdout=sys.stdout) -> dict[str, Path]:
    """Run one stylisation from parsed options; returns the paths written. Raises EngineError
    (with a message for the user) on bad input."""
    from . import images, model_files

    out = Path(opts["out"])
    if out.suffix.lower() != ".png":
        raise ParameterError(f"--out must name a .png file (got {out}).")
    model_dir = opts.get("model_dir") or model_files.default_model_dir()
    content = images.load_array(opts["content"], opts["size"])
    styles = [images.load_array(s, max(opts["size"], 256)) for s in opts["styles"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    if opts["mode"] == "fast":
        return _run_fast(opts, content, styles, model_dir, out, stdout)
    return _run_classic(opts, content, styles, model_dir, out, stdout)


def _run_fast(opts, content, styles, model_dir, out, stdout) -> dict[str, Path]:
    from . import images
    from .fast import FastParams, get_fast_stylizer

    params = FastParams(size=opts["size"], strength=opts["strength"], style_weights=tuple(opts["style_weights"]),
                        preserve_colors=opts["preserve_colors"])
    params.validate(len(styles))
    result = get_fast_stylizer(model_dir).stylize(content, styles, params)
    images.save_png(result.image, out)
    meta = {"mode": "fast", "params": vars(params) | {"style_weights": list(params.style_weights)},
            "network": result.network, "device": result.device, "seconds": result.seconds}
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"{out}: {result.image.shape[1]}x{result.image.shape[0]} in {result.seconds['total']:.2f} s "
          f"({result.network}, {result.device})", file=stdout)
    return {"image": out, "json": meta_path}


def _run_classic(opts, content, styles, model_dir, out, stdout) -> dict[str, Path]:
    from tqdm import tqdm

    from . import images
    from .checkpoint import Checkpoint
    from .classic import stylize_classic
    from .classic_params import ClassicParams

    params = ClassicParams(
        size=opts["size"], content_weight=opts["content_weight"], style_weight=opts["style_weight"],
        tv_weight=opts["tv_weight"], epochs=opts["epochs"], steps_per_epoch=opts["steps"],
        optimizer=opts["optimizer"], learning_rate=opts["learning_rate"], network=opts["network"],
        multiscale=not opts["single_scale"], init=opts["init"], style_weights=tuple(opts["style_weights"]),
        preserve_colors=opts["preserve_colors"], seed=opts["seed"], precision=opts["precision"],
    )
    resume = Checkpoint.load(opts["resume"]) if opts.get("resume") else None
    bar = tqdm(total=params.total_steps, initial=resume.step if resume else 0, unit="step", file=sys.stderr)

    def on_step(report):
        bar.update(1)
        bar.set_postfix(epoch=f"{report.epoch}/{report.epochs}", loss=f"{report.row.total:.4g}")

    def on_epoch(report):
        if opts.get("checkpoint"):
            report.checkpoint().save(opts["checkpoint"])

    try:
        result = stylize_classic(content, styles, params, model_dir=model_dir, on_step=on_step,
                                 on_epoch=on_epoch, resume_from=resume)
    finally:
        bar.close()
    images.save_png(result.image, out)
    paths = {"image": out, **result.history.save(out)}
    meta = json.loads(paths["json"].read_text())
    meta.update(mode="classic", params=params.to_dict(), network=result.network, device=result.device,
                precision=result.precision, seconds=result.seconds)
    paths["json"].write_text(json.dumps(meta))
    for event in result.history.events:
        print(f"note: {event}", file=stdout)
    last = result.history.last()
    print(f"{out}: {result.image.shape[1]}x{result.image.shape[0]}, {result.steps} steps in "
          f"{result.seconds:.1f} s, final loss {last.total:.4g} ({result.network}, {result.precision}, "
          f"{result.device})", file=stdout)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.nst.cli", description=__doc__)
    add_arguments(parser)
    try:
        run(vars(parser.parse_args(argv)))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
