"""`manage.py stylize`: the engine from the command line, without Redis or the web."""

from __future__ import annotations

import csv
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from engine.management.commands.stylize import Command
from engine.nst import ClassicParams, FastParams, cli, schema

# The flags the command has always had: scripts use them.
FLAGS = ("--mode", "--out", "--size", "--style-weights", "--preserve-colors", "--model-dir", "--epochs", "--steps",
         "--optimizer", "--learning-rate", "--network", "--content-weight", "--style-weight", "--tv-weight", "--init",
         "--single-scale", "--precision", "--seed", "--checkpoint", "--resume", "--strength")


def _parser():
    return Command().create_parser("manage.py", "stylize")


def test_help_shows_every_option_with_its_default():
    text = " ".join(_parser().format_help().split())
    for flag in FLAGS:
        assert f" {flag}" in text, flag
    for control in schema.controls():
        action = next(a for a in _parser()._actions if a.dest == control.name)
        words = " ".join(action.help.split())
        assert words in text, control.name
        if control.kind == "bool":
            assert f"(default: {'on' if control.default else 'off'})" in words
        else:
            assert f"default: {control.format(control.default)})" in words
    assert "--size SIZE Size: longest side of the result, in pixels (32 to 8192 px; default: 512 px)" in text
    assert "--steps STEPS Steps per epoch (1 to 10000; default: 10)" in text
    assert ("--single-scale Coarse-to-fine (faster at large sizes): most steps at smaller sizes first, from the photo, "
            "noise or a mix; a start from fast mode's result begins at the final size: off (default: on)") in text


def test_without_options_the_params_are_the_defaults():
    opts = vars(_parser().parse_args(["photo.jpg", "style.jpg"]))
    assert cli.params_from_options(opts, "classic") == ClassicParams()
    assert cli.params_from_options(opts, "fast") == FastParams()


def test_options_map_to_params():
    opts = vars(_parser().parse_args([
        "photo.jpg", "a.jpg", "b.jpg", "--size", "300", "--style-weights", "1", "2", "--preserve-colors",
        "--epochs", "3", "--steps", "12", "--optimizer", "adam", "--learning-rate", "0.5", "--network", "vgg19",
        "--content-weight", "500", "--style-weight", "0.05", "--tv-weight", "2.5", "--init", "mix",
        "--single-scale", "--precision", "float32", "--seed", "9", "--strength", "0.25",
    ]))
    assert cli.params_from_options(opts, "classic") == ClassicParams(
        size=300, style_weights=(1.0, 2.0), preserve_colors=True, epochs=3, steps_per_epoch=12, optimizer="adam",
        learning_rate=0.5, network="vgg19", content_weight=500.0, style_weight=0.05, tv_weight=2.5, init="mix",
        multiscale=False, precision="float32", seed=9)
    assert cli.params_from_options(opts, "fast") == FastParams(
        size=300, style_weights=(1.0, 2.0), preserve_colors=True, strength=0.25)


def test_classic_writes_the_image_history_and_plot(images_dir, tmp_path):
    out = tmp_path / "result.png"
    call_command("stylize", str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg"),
                 "--size", "64", "--epochs", "2", "--steps", "5", "--out", str(out), "--checkpoint",
                 str(tmp_path / "run.ckpt"))
    with Image.open(out) as img:
        assert img.format == "PNG" and max(img.size) == 64
    history = json.loads(out.with_suffix(".json").read_text())
    assert len(history["rows"]) == 10
    assert history["network"] == "vgg16" and history["mode"] == "classic"
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    with Image.open(tmp_path / "result_loss.png") as plot:
        assert plot.format == "PNG"
    assert (tmp_path / "run.ckpt").stat().st_size > 0


def test_resume_with_other_parameters_is_refused(images_dir, tmp_path):
    args = [str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg"), "--size", "64", "--steps", "3"]
    call_command("stylize", *args, "--epochs", "1", "--out", str(tmp_path / "a.png"), "--checkpoint",
                 str(tmp_path / "c.ckpt"))
    with pytest.raises(CommandError, match="other parameters"):
        call_command("stylize", *args, "--epochs", "2", "--out", str(tmp_path / "b.png"), "--resume",
                     str(tmp_path / "c.ckpt"))


def test_fast_mode_writes_the_requested_size(images_dir, model_dir, tmp_path):
    out = tmp_path / "fast.png"
    call_command("stylize", str(images_dir / "golden_gate.jpg"), str(images_dir / "shipwreck.jpg"),
                 "--mode", "fast", "--size", "160", "--out", str(out), "--model-dir", str(model_dir))
    with Image.open(out) as img:
        assert max(img.size) == 160
    assert json.loads(out.with_suffix(".json").read_text())["network"].startswith("magenta")


def test_bad_input_is_a_clear_error_not_a_traceback(images_dir, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(CommandError, match="JPEG, PNG or WebP"):
        call_command("stylize", str(text), str(images_dir / "starry_night.jpg"), "--out", str(tmp_path / "x.png"))
    with pytest.raises(CommandError, match="epochs must be between"):
        call_command("stylize", str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg"),
                     "--size", "64", "--epochs", "0", "--out", str(tmp_path / "y.png"))
    with pytest.raises(CommandError, match="missing from"):
        call_command("stylize", str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg"),
                     "--mode", "fast", "--model-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "z.png"))
