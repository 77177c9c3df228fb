"""`manage.py stylize`: the engine from the command line, without Redis or the web."""

from __future__ import annotations

import csv
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image


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
