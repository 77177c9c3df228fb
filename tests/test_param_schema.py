"""The parameter schema (engine.nst.schema): each control declared once, and what is derived from
it: the params' defaults and from_dict, the submission form's fields, the presets' check and the
job page's parameter table. The command line's options are tested in test_cli.py."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest
from django import forms
from django.urls import reverse

from engine.models import StyleJob, UserQuota, params_dict
from engine.nst import ClassicParams, FastParams, ParameterError, images, params_class, schema
from engine.nst.optimizers import OPTIMIZERS
from engine.nst.vgg import NETWORKS
from engine.studio import presets
from engine.studio.content_files import STORED_MAX_SIDE
from engine.studio.forms import StyleJobForm


def other_value(control: schema.Control):
    """A value of the control other than its default, within the user's range and every mode's
    engine range (so a control added to the schema is covered without changing this file)."""
    if control.kind == "bool":
        return not control.default
    if control.kind == "choice":
        return next(value for value in control.choice_values if value != control.default)
    lows, highs = zip(*(control.engine_bounds(mode) for mode in control.modes), strict=True)
    low, high = control.user_bounds() or control.engine_bounds()
    low, high = max(low, *lows), min(high, *highs)
    for share in (1 / 3, 2 / 3):
        value = low + (high - low) * share
        value = round(value) if control.kind == "int" else value
        if value != control.default:
            return value
    raise AssertionError(f"{control.name}: no other value found")


def other_values(mode: str, *, but: tuple[str, ...] = ()) -> dict:
    return {c.name: other_value(c) for c in schema.controls(mode) if c.name not in but}


# --- the declarations and the engine's params ---------------------------------------------------------

def test_every_control_is_a_field_of_its_modes_params_with_the_declared_default():
    for mode in schema.MODES:
        params = params_class(mode)()
        names = {f.name for f in fields(params)}
        for control in schema.controls(mode):
            assert control.name in names, (mode, control.name)
            assert getattr(params, control.name) == control.default, (mode, control.name)


def test_choices_are_what_the_engine_implements():
    assert schema.CONTROLS["optimizer"].choice_values == tuple(OPTIMIZERS)
    assert schema.CONTROLS["network"].choice_values == NETWORKS


def test_the_engine_checks_each_control_against_its_engine_range():
    ClassicParams(size=32).validate(1)  # tests run at tiny sizes: wider than the form's 256
    with pytest.raises(ParameterError, match="size must be between 32 and 2048 px"):
        ClassicParams(size=2049).validate(1)
    with pytest.raises(ParameterError, match="size must be between 64 and 8192 px"):
        FastParams(size=32).validate(1)
    with pytest.raises(ParameterError, match="seed must be a whole number"):
        ClassicParams(seed=1.5).validate(1)
    with pytest.raises(ParameterError, match="multiscale must be true or false"):
        ClassicParams(multiscale="yes").validate(1)
    ClassicParams(learning_rate=None).validate(1)  # None: the optimiser's own


@pytest.mark.django_db
def test_uploads_are_kept_up_to_the_users_largest_size_but_at_least_2048_px(owner):
    assert STORED_MAX_SIDE == 2048
    assert StyleJobForm(user=owner).stored_max_side == 2048  # the default quota: 1024 px
    UserQuota.objects.create(user=owner, max_size=6000)
    assert StyleJobForm(user=owner).stored_max_side == 6000  # a print-size quota keeps the photo's pixels
    assert schema.CONTROLS["size"].engine_bounds()[1] == 8192


# --- from_dict --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", schema.MODES)
def test_from_dict_round_trips_params_through_the_stored_json(mode):
    cls = params_class(mode)
    # fast_network "tfhub" takes one style at full strength (test_fast_hub.py): the builtin one here.
    params = cls(**other_values(mode, but=("fast_network",)), style_weights=(2.0, 0.5))
    params.validate(2)
    assert params != cls()
    stored = json.loads(json.dumps(params_dict(params)))  # what StyleJob.params holds
    assert stored["style_weights"] == [2.0, 0.5]
    assert cls.from_dict(stored) == params


@pytest.mark.parametrize("mode", schema.MODES)
def test_from_dict_ignores_unknown_keys_and_fills_in_missing_ones(mode):
    cls = params_class(mode)
    params = cls.from_dict({"size": 300, "a_control_since_removed": 1})
    assert params == cls(size=300)


@pytest.mark.django_db
def test_a_stored_job_reads_back_as_its_modes_params(make_job):
    classic = make_job(mode="classic", epochs=2, tv_weight=3.0)
    fast = make_job(mode="fast", strength=0.5)
    assert classic.engine_params() == ClassicParams(size=64, epochs=2, steps_per_epoch=5, tv_weight=3.0)
    assert fast.engine_params() == FastParams(size=64, strength=0.5)
    fast.params = {"size": 128, "style_weights": [1, 3]}  # a row written before some controls existed
    assert fast.engine_params() == FastParams(size=128, style_weights=(1, 3))


# --- the submission form ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_forms_fields_and_bounds_come_from_the_schema(owner, settings):
    settings.NST_FAST_HUB_HANDLE = "var/fast-model"  # every choice offered (see the tfhub test below)
    form = StyleJobForm(user=owner)
    quota = UserQuota().max_size
    for control in schema.controls():
        if not control.web:
            assert control.name not in form.fields
            continue
        field = form.fields[control.name]
        assert (field.label, field.initial, field.help_text) == (control.label, control.default, control.help)
        if control.kind == "bool":
            assert isinstance(field, forms.BooleanField)
        elif control.kind == "choice":
            assert list(field.choices) == list(control.choices)
        else:
            assert isinstance(field, forms.IntegerField if control.kind == "int" else forms.FloatField)
            low, high = control.user_bounds(quota) or control.engine_bounds()
            assert (field.min_value, field.widget.attrs["max"]) == (low, high), control.name
            if control.user:  # the seed's ranges are said in words (test_bad_input has the exact texts)
                message = field.error_messages["min_value"]
                assert message == field.error_messages["max_value"]
                assert message.startswith(f"{control.label} must be between {low:g} and {high:g}")
    # The size: up to the quota on the page, refused on the field only past what the engine makes.
    size = form.fields["size"]
    assert (size.min_value, size.widget.attrs["max"], size.max_value) == (256, quota, 8192)


@pytest.mark.django_db
def test_the_page_has_a_field_for_every_control_in_its_modes_fieldset(owner_client, settings):
    """The advanced controls of one mode are in that mode's fieldset; the simple view's ones
    (engine.templatetags.studio.SIMPLE_CONTROLS) in a box of their mode's, which the page shows with that mode only."""
    from engine.templatetags.studio import SIMPLE_CONTROLS

    settings.NST_FAST_HUB_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
    html = owner_client.get(reverse("engine:submit")).content.decode()
    # A mode with no control of its own has no fieldset: then no control may be missing from one.
    fieldsets = {mode: found.group(1) if (found := re.search(rf'<fieldset [^>]*id="{mode}-settings">(.*?)</fieldset>',
                                                              html, re.S)) else ""
                 for mode in schema.MODES}
    assert any(fieldsets.values())  # the page has them (the search above finds them)
    for control in schema.controls(web=True):
        assert f'id="id_{control.name}"' in html, control.name
        for mode, fieldset in fieldsets.items():
            # A control every mode has is outside the fieldsets (the simple ones beside mode and preset);
            # another is in its first mode's.
            only_here = (set(control.modes) != set(schema.MODES) and control.modes[0] == mode
                         and control.name not in SIMPLE_CONTROLS)
            assert (f'id="id_{control.name}"' in fieldset) == only_here, (control.name, mode)
        if control.name in SIMPLE_CONTROLS and len(control.modes) == 1:
            box = re.search(rf'<div class="mode-settings" data-mode="{control.modes[0]}">(.*?)</div>\s*</div>',
                            html, re.S)
            assert box and f'id="id_{control.name}"' in box.group(1), control.name


@pytest.mark.django_db
def test_a_control_the_request_leaves_out_takes_its_default_and_an_empty_one_is_required(
        owner_client, job_form_data, rq_redis, django_capture_on_commit_callbacks):
    data = job_form_data("classic")
    del data["tv_weight"]  # as from a page loaded before the control existed
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(reverse("engine:submit"), data).status_code == 302
    assert StyleJob.objects.get().params["tv_weight"] == schema.CONTROLS["tv_weight"].default
    html = owner_client.post(reverse("engine:submit"), job_form_data("classic", tv_weight="")).content.decode()
    assert "This field is required." in re.search(r'id="field-tv_weight">(.*?)</div>', html, re.S).group(1)
    assert StyleJob.objects.count() == 1


@pytest.mark.django_db
def test_a_control_declared_in_the_schema_appears_on_the_form_and_the_command_line(monkeypatch, owner_client):
    from engine.management.commands.stylize import Command

    grain = schema.Control("grain", "Film grain", "float", 0.5, (schema.CLASSIC,), user=(0.0, 2.0),
                           help="How much grain to add.", row="weights")
    monkeypatch.setitem(schema.CONTROLS, "grain", grain)
    html = owner_client.get(reverse("engine:submit")).content.decode()
    classic = re.search(r'<fieldset [^>]*id="classic-settings">(.*?)</fieldset>', html, re.S).group(1)
    assert re.search(r'<input type="number" name="grain" value="0.5" min="0.0" max="2.0" step="any"', classic)
    assert "How much grain to add." in classic
    response = owner_client.post(reverse("engine:submit"), {"mode": "classic", "grain": "3"})
    assert "Film grain must be between 0 and 2." in response.content.decode()
    help_text = " ".join(Command().create_parser("manage.py", "stylize").format_help().split())
    assert "--grain GRAIN Film grain: how much grain to add (0 to 2; default: 0.5)" in help_text


# --- presets ------------------------------------------------------------------------------------------

def test_each_preset_fits_the_schema_and_the_default_quota():
    assert presets.problems() == []
    assert {name for name in presets.PRESETS} == {"quick", "balanced", "high"}


def test_a_preset_naming_an_unknown_control_or_an_out_of_range_value_is_caught(monkeypatch):
    monkeypatch.setitem(presets.PRESETS, "broken", ("Broken", {
        "classic": {"size": 4096, "epochs": 0, "sharpness": 3, "strength": 0.5, "optimizer": "sgd",
                    "multiscale": "yes", "precision": "float32"},
        "fast": {"size": 200.5},
        "sketch": {"size": 256},
    }))
    problems = presets.problems()
    expected = [
        "'broken', classic mode: size must be between 256 and 1024 px (got 4096).",
        "'broken', classic mode: epochs must be between 1 and 20 (got 0).",
        "'broken', classic mode: sharpness is not a control a user sets in classic mode.",
        "'broken', classic mode: strength is not a control a user sets in classic mode.",
        "'broken', classic mode: optimizer must be one of lbfgs, adam (got 'sgd').",
        "'broken', classic mode: multiscale must be true or false (got 'yes').",
        "'broken', classic mode: precision is not a control a user sets in classic mode.",  # not on the form
        "'broken', fast mode: size must be a whole number (got 200.5).",
        "'broken': there is no mode 'sketch'.",
    ]
    assert len(problems) == len(expected)
    for problem, words in zip(problems, expected, strict=True):
        assert problem.endswith(words), problem


# --- the job page's parameter table -------------------------------------------------------------------

def _table(html: str, table_id: str) -> dict[str, str]:
    body = re.search(rf'<table class="kv" id="{table_id}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', body)
    return {label.replace("&#x27;", "'"): value for label, value in rows}


@pytest.mark.django_db
@pytest.mark.parametrize("mode", schema.MODES)
def test_the_job_page_table_lists_every_control_of_the_jobs_mode(mode, make_job, owner_client, image_bytes):
    job = make_job(mode=mode, visibility="public", **other_values(mode, but=("size",)))
    params = job.engine_params()
    expected = {"Mode": job.get_mode_display()}
    for control in schema.controls(mode, web=True):
        if not control.shown_with:
            expected[control.table_label or control.label] = control.display(getattr(params, control.name))
    if mode == schema.CLASSIC:  # steps per epoch is shown in the epochs' row
        assert params.epochs != 1 and params.steps_per_epoch != 5  # not make_job's
        expected["Epochs × steps"] = f"{params.epochs} × {params.steps_per_epoch}"
    assert _table(owner_client.get(reverse("engine:detail", args=[job.pk])).content.decode(), "job-params") \
        == expected
    # The gallery's artwork page shows the same table.
    result = images.encode_png(images.open_image(image_bytes("tubingen.jpg")))
    assert job.start() and job.finish(image_png=result, history=None, device="CPU", network="", seconds=0.1)
    html = owner_client.get(reverse("gallery:detail", args=[job.artwork.pk])).content.decode()
    assert _table(html, "artwork-params") == expected


@pytest.mark.django_db
def test_the_tfhub_network_is_offered_only_where_the_server_has_a_hub_model(
        owner_client, job_form_data, settings, rq_redis, django_capture_on_commit_callbacks):
    settings.NST_FAST_HUB_HANDLE = ""
    assert 'id="id_fast_network"' not in owner_client.get(reverse("engine:submit")).content.decode()
    html = owner_client.post(reverse("engine:submit"), job_form_data("fast", fast_network="tfhub")).content.decode()
    assert "Select a valid choice. tfhub is not one of the available choices." in html
    with django_capture_on_commit_callbacks(execute=True):  # not sent at all: the built-in network
        assert owner_client.post(reverse("engine:submit"), job_form_data("fast")).status_code == 302
    assert StyleJob.objects.get().params["fast_network"] == "builtin"
    settings.NST_FAST_HUB_HANDLE = "var/fast-model"
    page = owner_client.get(reverse("engine:submit")).content.decode()
    assert '<option value="tfhub">TF-Hub model</option>' in page
