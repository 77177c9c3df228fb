"""The engine's command line: `python manage.py stylize` (or `python -m engine.nst.cli`).

Runs a classic or fast stylisation without Redis or the web, with a progress bar, and writes
the image plus, next to it, the loss history (.json, .csv) and the loss plot (_loss.png).

A clip as content (MP4, MOV, WebM, animated GIF/WebP) runs in video mode whatever --mode says and
writes an MP4 (`stylize clip.mp4 painting.jpg --out out.mp4`). Several contents, or a folder of
them, make a batch: give the styles with --style and a folder as --out, which gets one result per
content file (`stylize photos/ clip.mp4 --style painting.jpg --out results/`); a file that fails is
reported and the others go on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.nst import schema
from engine.nst.errors import EngineError, ParameterError

if TYPE_CHECKING:
    from engine.nst.classic_params import ClassicParams
    from engine.nst.fast import FastParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; one option per control of engine.nst.schema, default in its help."""
    parser.add_argument("content", help="content photo (JPEG, PNG or WebP), clip, or folder of them")
    parser.add_argument("styles", nargs="*", metavar="style",
                        help="1 to 3 style images; with --style, more content files instead")
    parser.add_argument("--style", action="append", default=[], metavar="STYLE",
                        help="a style image (repeat for up to 3); then every positional file is content (a batch)")
    parser.add_argument("--mode", choices=schema.MODES, default=schema.CLASSIC,
                        help="classic (optimises the image) or fast (one pass); clips always run in video mode "
                             "(default: classic)")
    parser.add_argument("--out", default="result.png",
                        help="output PNG, MP4 for a clip, or a folder for several contents (default: result.png)")
    parser.add_argument("--style-weights", type=float, nargs="+", default=(),
                        help="one per style (mixing; default: equal)")
    parser.add_argument("--model-dir", help="where the model files are (default: $NST_MODEL_DIR or ./models)")
    classic = parser.add_argument_group("classic mode")
    fast = parser.add_argument_group("fast mode")
    video = parser.add_argument_group("video mode (clips)")
    groups = {schema.CLASSIC: classic, schema.FAST: fast, schema.VIDEO: video}
    for control in schema.controls():
        group = parser if set(control.modes) == set(schema.MODES) else groups[control.modes[0]]
        _add_option(group, control)
    classic.add_argument("--checkpoint", help="save the run's state here after every epoch")
    classic.add_argument("--resume", help="continue from a checkpoint saved with --checkpoint")
    fast.add_argument("--hub-handle", default=os.environ.get("NST_FAST_HUB_HANDLE", ""),
                      help="with --fast-network tfhub: the model for tensorflow_hub.load, a TF-Hub URL or a "
                           "SavedModel folder (default: $NST_FAST_HUB_HANDLE)")


def _add_option(group, control: schema.Control) -> None:
    flag = control.cli_flag or "--" + control.name.replace("_", "-")
    about = control.label
    if control.help:  # "Label: help text" with the help's first letter lowered and its full stop dropped
        about += f": {control.help[0].lower()}{control.help[1:].rstrip('.')}"
    if control.kind == "bool":  # a switch that turns the default round
        now, default = ("off", "on") if control.default else ("on", "off")
        group.add_argument(flag, dest=control.name, action="store_false" if control.default else "store_true",
                           help=_escape(f"{about}: {now} (default: {default})"))
        return
    default = f"default: {control.format(control.default)}"
    if control.kind == "choice":
        kwargs: dict = {"choices": control.choice_values}
    else:
        kwargs = {"type": int if control.kind == "int" else float, "metavar": flag[2:].replace("-", "_").upper()}
        low, high = control.engine_bounds()
        default = f"{control.format(low, unit=False)} to {control.format(high)}; {default}"
    group.add_argument(flag, dest=control.name, default=control.default, help=_escape(f"{about} ({default})"),
                       **kwargs)


def _escape(help_text: str) -> str:
    return help_text.replace("%", "%%")  # argparse formats help strings with %


def params_from_options(opts: dict, mode: str) -> ClassicParams | FastParams:
    """ClassicParams or FastParams from parsed options (not yet validated)."""
    from engine.nst import params_class

    values = {control.name: opts[control.name] for control in schema.controls(mode)}
    return params_class(mode).from_dict({**values, "style_weights": tuple(opts["style_weights"])})


def _contents_and_styles(opts: dict) -> tuple[list[Path], list[str]]:
    """The content files (a folder stands for the files in it) and the style images."""
    if opts.get("style"):
        given, styles = [opts["content"], *opts["styles"]], list(opts["style"])
    else:
        given, styles = [opts["content"]], list(opts["styles"])
    if not styles:
        raise ParameterError("Give at least one style image (after the content, or with --style).")
    contents: list[Path] = []
    for name in given:
        path = Path(name)
        if path.is_dir():
            contents += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            contents.append(path)
    if not contents:
        raise ParameterError(f"There is no content file in {', '.join(given)}.")
    return contents, styles


def _is_clip(path: Path) -> bool:
    from engine.nst.video_io import media_kind

    return path.is_file() and media_kind(path, path.name) == "video"


def run(opts: dict, stdout=sys.stdout) -> dict[str, Path]:
    """Run one stylisation from parsed options, or one per content file (a batch); returns the paths
    written. Raises EngineError (with a message for the user) on bad input."""
    contents, styles = _contents_and_styles(opts)
    out = Path(opts["out"])
    if len(contents) > 1:
        return _run_batch(opts, contents, styles, out, stdout)
    if _is_clip(contents[0]):
        out = out.with_suffix(".mp4") if opts["out"] == "result.png" else out
        if out.suffix.lower() != ".mp4":
            raise ParameterError(f"--out must name a .mp4 file for a clip (got {out}).")
        return _run_video(opts, contents[0], styles, out, stdout)
    if out.suffix.lower() != ".png":
        raise ParameterError(f"--out must name a .png file (got {out}).")
    return _run_image(opts, contents[0], styles, out, stdout)


def _run_image(opts: dict, content_path: Path, style_paths: list[str], out: Path, stdout) -> dict[str, Path]:
    from engine.nst import images, model_files

    model_dir = opts.get("model_dir") or model_files.default_model_dir()
    content = images.load_array(content_path, opts["size"])
    styles = [images.load_array(s, max(opts["size"], 256)) for s in style_paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    if opts["mode"] in (schema.FAST, schema.VIDEO):
        return _run_fast(opts, content, styles, model_dir, out, stdout)
    return _run_classic(opts, content, styles, model_dir, out, stdout)


def _run_batch(opts: dict, contents: list[Path], styles: list[str], out: Path, stdout) -> dict[str, Path]:
    """One result per content file in the folder `out`; a file that fails is reported, the rest go on.
    Raises EngineError at the end when any failed."""
    from engine.nst.errors import EngineError

    if out.suffix.lower() in (".png", ".mp4"):
        raise ParameterError(f"With several content files --out must name a folder (got {out}).")
    out.mkdir(parents=True, exist_ok=True)
    written, failed = {}, []
    for path in contents:
        try:
            if _is_clip(path):
                written.update({f"{path.name}:{k}": v for k, v in
                                _run_video(opts, path, styles, out / f"{path.stem}.mp4", stdout).items()})
            else:
                written.update({f"{path.name}:{k}": v for k, v in
                                _run_image(opts, path, styles, out / f"{path.stem}.png", stdout).items()})
        except EngineError as exc:
            failed.append(path.name)
            print(f"error: {path}: {exc}", file=stdout)
    if failed:
        raise EngineError(f"{len(failed)} of {len(contents)} files failed: {', '.join(failed)}.")
    return written


def _run_video(opts: dict, content: Path, style_paths: list[str], out: Path, stdout) -> dict[str, Path]:
    import shutil

    from tqdm import tqdm

    from engine.nst import images, model_files
    from engine.nst.fast import get_fast_stylizer
    from engine.nst.video import stylize_video

    params = params_from_options(opts, schema.VIDEO)
    styles = [images.load_array(s, max(params.size, 256)) for s in style_paths]
    params.validate(len(styles))
    model_dir = opts.get("model_dir") or model_files.default_model_dir()
    work = out.parent / f".{out.stem}-chunks"
    bar = tqdm(unit="frame", file=sys.stderr)

    def on_frame(report):
        bar.total = report.frames
        bar.update(report.frame - bar.n)
        bar.set_postfix(fps=f"{report.fps:.1f}")

    try:
        result = stylize_video(content, styles, params, stylizer=get_fast_stylizer(model_dir), work_dir=work,
                               out=out, on_frame=on_frame)
    finally:
        bar.close()
    shutil.rmtree(work, ignore_errors=True)
    meta = {"mode": "video", "params": params.to_dict(), "network": result.network, "device": result.device,
            "seconds": result.seconds, "frames": result.frames, "events": result.events}
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"{out}: {result.width}x{result.height}, {result.frames} frames in {result.seconds['total']:.1f} s "
          f"({result.device})", file=stdout)
    return {"video": out, "json": meta_path}


def _run_fast(opts, content, styles, model_dir, out, stdout) -> dict[str, Path]:
    from engine.nst import images
    from engine.nst.fast_hub import get_stylizer

    params = params_from_options(opts, schema.FAST)
    params.validate(len(styles))
    result = get_stylizer(params, model_dir, opts.get("hub_handle")).stylize(content, styles, params)
    images.save_png(result.image, out)
    meta = {"mode": "fast", "params": params.to_dict(),
            "network": result.network, "device": result.device, "seconds": result.seconds}
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"{out}: {result.image.shape[1]}x{result.image.shape[0]} in {result.seconds['total']:.2f} s "
          f"({result.network}, {result.device})", file=stdout)
    return {"image": out, "json": meta_path}


def _run_classic(opts, content, styles, model_dir, out, stdout) -> dict[str, Path]:
    from tqdm import tqdm

    from engine.nst import images
    from engine.nst.checkpoint import Checkpoint
    from engine.nst.classic import stylize_classic

    params = params_from_options(opts, schema.CLASSIC)
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
