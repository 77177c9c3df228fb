"""Fast mode through TensorFlow Hub (engine.nst.fast_hub): `manage.py export_fast_model DIR`
writes the engine's own fast model as a SavedModel with the TF-Hub model's call; tensorflow_hub
loads that folder offline, and its images are the engine's. Real model files, small images."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from engine.nst import fast, fast_hub, model_files, tflite_int8
from engine.nst.errors import ModelFileError, ParameterError

STYLES = ("starry_night.jpg", "woman-with-hat-matisse.jpg", "shipwreck.jpg")


def photo(images_dir: Path, name: str, height: int, width: int) -> np.ndarray:
    with Image.open(images_dir / name) as im:
        small = im.convert("RGB").resize((width, height), Image.LANCZOS)
    return np.asarray(small, np.float32) / 255.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory, model_dir, django_db_blocker) -> Path:
    target = tmp_path_factory.mktemp("export") / "fast-model"
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as mp:
        from django.conf import settings

        mp.setattr(settings, "NST_MODEL_DIR", model_dir)
        call_command("export_fast_model", str(target))
    return target


@pytest.fixture(scope="module")
def stylizer(model_dir) -> fast.FastStylizer:
    return fast.get_fast_stylizer(model_dir)


@pytest.mark.slow
def test_the_export_is_a_savedmodel_folder_of_a_few_megabytes(exported):
    assert (exported / "saved_model.pb").is_file()
    size = sum(f.stat().st_size for f in exported.rglob("*") if f.is_file())
    assert 1e6 < size < 10e6  # int8 and fp16 weights kept small, not eight times larger


@pytest.mark.slow
@pytest.mark.parametrize("style_name", STYLES)
def test_tensorflow_hub_loads_the_export_and_gives_the_engines_image(exported, stylizer, images_dir, style_name):
    import tensorflow as tf
    import tensorflow_hub as hub

    model = hub.load(str(exported))  # a local folder: no network involved
    content = photo(images_dir, "tubingen.jpg", 150, 201)
    style = photo(images_dir, style_name, 300, 240)  # not 256x256: the model resizes it as the engine does
    outputs = model(tf.constant(content[None]), tf.constant(style[None]))
    ours = outputs[0][0].numpy()
    engine = stylizer.transformer(content, stylizer.style_vector(style))
    assert ours.shape == engine.shape == (150, 201, 3)
    assert engine.std() > 0.1
    assert np.abs(ours - engine).max() <= 2e-3


@pytest.mark.slow
def test_the_hub_network_stylizes_like_the_built_in_one(exported, stylizer, model_dir, images_dir):
    content, style = photo(images_dir, "tubingen.jpg", 96, 128), photo(images_dir, "starry_night.jpg", 200, 252)
    hub_params = fast.FastParams(size=128, preserve_colors=True, fast_network="tfhub")
    hub_stylizer = fast_hub.get_stylizer(hub_params, model_dir, str(exported))
    assert isinstance(hub_stylizer, fast_hub.HubStylizer)
    assert fast_hub.get_hub_stylizer(str(exported)) is hub_stylizer  # loaded once per process
    params = fast.FastParams(size=128, preserve_colors=True)
    assert fast_hub.get_stylizer(params, model_dir, str(exported)) is stylizer
    via_hub = hub_stylizer.stylize(content, [style], hub_params)
    built_in = stylizer.stylize(content, [style], params)
    assert via_hub.network == "tfhub"
    assert via_hub.image.shape == built_in.image.shape == (96, 128, 3)
    assert np.abs(via_hub.image.astype(int) - built_in.image.astype(int)).max() <= 1


@pytest.mark.parametrize("style_name", STYLES)
def test_the_rebuilt_int8_predictor_gives_the_interpreters_style_vectors(stylizer, model_dir, images_dir,
                                                                         style_name):
    import tensorflow as tf

    graph = tflite_int8.load(model_files.require(model_dir, model_files.MAGENTA_PREDICTOR))
    style = fast.resize(photo(images_dir, style_name, 320, 280), 256, 256)
    ours = tflite_int8.run(graph, tf.constant(style[None])).numpy().reshape(-1)
    np.testing.assert_array_equal(ours, stylizer.predictor(style))


@pytest.mark.parametrize(
    ("params", "n_styles", "message"),
    [
        (fast.FastParams(fast_network="tfhub"), 2, "exactly one style image"),
        (fast.FastParams(fast_network="tfhub", strength=0.5), 1, "full style"),
        (fast.FastParams(fast_network="tfhub", size=4096), 1, "up to 2048 px"),
        (fast.FastParams(fast_network="hubble"), 1, "fast_network must be one of builtin, tfhub"),
    ],
)
def test_what_the_hub_model_cannot_do_is_refused_before_any_work(params, n_styles, message):
    with pytest.raises(ParameterError, match=message):
        params.validate(n_styles)


def test_a_missing_handle_names_the_setting_and_the_export_command(tmp_path):
    with pytest.raises(ModelFileError, match="NST_FAST_HUB_HANDLE.*export_fast_model"):
        fast_hub.get_stylizer(fast.FastParams(fast_network="tfhub"), "unused", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelFileError, match="Could not load the TF-Hub model"):
            fast_hub.HubStylizer(str(tmp_path / "no-such-model"))


def test_export_refuses_a_folder_that_is_not_empty(tmp_path, settings, model_dir):
    settings.NST_MODEL_DIR = model_dir
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("export_fast_model", str(tmp_path))
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
@pytest.mark.django_db
def test_a_tfhub_job_runs_on_a_worker_with_the_servers_handle(make_job, burst_worker, settings, exported):
    from engine.jobs import service as jobs
    from engine.models import Status

    settings.NST_FAST_HUB_HANDLE = str(exported)
    job = make_job(mode="fast", size=96, fast_network="tfhub")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.network == "tfhub"
    with Image.open(job.result) as img:
        assert max(img.size) == 96


@pytest.mark.django_db
def test_a_tfhub_job_on_a_server_without_a_handle_fails_saying_what_to_set(make_job, burst_worker, settings):
    from engine.jobs import service as jobs
    from engine.models import Status

    settings.NST_FAST_HUB_HANDLE = ""
    job = make_job(mode="fast", size=96, fast_network="tfhub")
    jobs.enqueue(job)
    burst_worker()
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "NST_FAST_HUB_HANDLE" in job.error and "Traceback" not in job.error
