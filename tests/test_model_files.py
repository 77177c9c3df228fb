"""Model files: `manage.py fetch_models` installs them from the mirror, checks them, and every
failure names the file and what to run. Uses the real mirror (the `model_dir` fixture), which
fails these tests, never skips them, when it is missing."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from engine.nst import model_files
from engine.nst.errors import ModelFileError

DEFAULTS = model_files.DEFAULT_FILES


@pytest.fixture
def target(tmp_path, settings) -> Path:
    """An empty model folder that the command installs into; no mirror configured."""
    settings.NST_MODEL_DIR = tmp_path / "models"
    settings.NST_MODEL_MIRROR = None
    return settings.NST_MODEL_DIR


def fetch_models(*args: str) -> str:
    out = io.StringIO()
    call_command("fetch_models", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def corrupt_copy(source: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / source.name
    shutil.copyfile(source, dest)
    with open(dest, "r+b") as fh:
        fh.truncate(dest.stat().st_size // 2)
    return dest


def test_it_copies_the_default_files_from_the_mirror(target, model_dir):
    out = fetch_models("--from", str(model_dir), "--no-download")
    for mf in DEFAULTS:
        assert f"copied     {mf.name} from {model_dir}" in out
        assert model_files.require(target, mf) == target / mf.name
    assert sorted(p.name for p in target.iterdir()) == sorted(mf.name for mf in DEFAULTS)  # no temp files


def test_running_it_again_changes_nothing(target, model_dir):
    fetch_models("--from", str(model_dir), "--no-download")
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    out = fetch_models("--from", str(model_dir), "--no-download")
    assert out.splitlines() == [f"present    {mf.name}" for mf in DEFAULTS]
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before


def test_the_mirror_defaults_to_the_setting(target, model_dir, settings):
    settings.NST_MODEL_MIRROR = model_dir
    assert "copied" in fetch_models("--no-download")
    for mf in DEFAULTS:
        model_files.require(target, mf)


def test_a_corrupt_installed_file_is_refused_by_name_and_repaired_by_the_command(target, model_dir):
    bad = corrupt_copy(model_dir / model_files.MAGENTA_TRANSFER.name, target)
    with pytest.raises(ModelFileError) as caught:
        model_files.require(target, model_files.MAGENTA_TRANSFER)
    assert bad.name in str(caught.value) and "corrupt" in str(caught.value)
    assert "python manage.py fetch_models" in str(caught.value)

    with pytest.raises(CommandError) as caught:
        fetch_models("--check")
    assert bad.name in str(caught.value) and "fetch_models" in str(caught.value)

    out = fetch_models("--from", str(model_dir), "--no-download")
    assert f"copied     {bad.name} from {model_dir} (replacing a corrupt copy)" in out
    assert model_files.require(target, model_files.MAGENTA_TRANSFER) == bad
    assert "ok" in fetch_models("--check")


def test_a_corrupt_file_in_the_mirror_is_not_installed(target, model_dir, tmp_path):
    mirror = tmp_path / "mirror"
    for mf in DEFAULTS:
        mirror.mkdir(exist_ok=True)
        shutil.copyfile(model_dir / mf.name, mirror / mf.name)
    bad = corrupt_copy(model_dir / model_files.MAGENTA_PREDICTOR.name, mirror)
    with pytest.raises(CommandError) as caught:
        fetch_models("--from", str(mirror), "--no-download")
    message = str(caught.value)
    assert "1 of 3 model files could not be installed" in message
    assert bad.name in message and "wrong md5" in message
    assert not (target / bad.name).exists()
    model_files.require(target, model_files.MAGENTA_TRANSFER)  # the good ones are still installed


def test_a_missing_file_names_the_file_and_the_command(target):
    with pytest.raises(ModelFileError) as caught:
        model_files.require(target, model_files.MAGENTA_PREDICTOR)
    message = str(caught.value)
    assert model_files.MAGENTA_PREDICTOR.name in message and "is missing" in message
    assert "python manage.py fetch_models" in message

    with pytest.raises(CommandError) as caught:
        fetch_models("--check")
    for mf in DEFAULTS:
        assert mf.name in str(caught.value)


def test_no_download_with_an_empty_mirror_fails_naming_each_file(target, tmp_path):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    with pytest.raises(CommandError) as caught:
        fetch_models("--from", str(empty), "--no-download")
    message = str(caught.value)
    assert "3 of 3 model files could not be installed" in message
    for mf in DEFAULTS:
        assert f"{mf.name} is not in mirror folder {empty} and downloads are off" in message
    assert not target.exists() or not any(target.iterdir())


def test_no_download_without_a_mirror_says_what_is_missing(target):
    with pytest.raises(CommandError, match="--no-download needs a mirror folder"):
        fetch_models("--no-download")


def test_a_mirror_that_does_not_exist_is_an_error(target, tmp_path):
    with pytest.raises(CommandError, match=f"Mirror folder {tmp_path / 'nowhere'} does not exist"):
        fetch_models("--from", str(tmp_path / "nowhere"))


def test_vgg19_is_only_fetched_when_asked_and_fails_clearly_offline(target, model_dir):
    with pytest.raises(CommandError) as caught:
        fetch_models("--from", str(model_dir), "--no-download", "--vgg19")
    message = str(caught.value)
    assert "1 of 4 model files could not be installed" in message
    assert model_files.VGG19_NOTOP.name in message
    for mf in DEFAULTS:
        model_files.require(target, mf)
    assert not (target / model_files.VGG19_NOTOP.name).exists()
