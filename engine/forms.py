"""The job submission form: uploads plus every engine control, bounded by the seed's ranges.

Uploaded files are checked by their content (engine.nst.images.open_image, which also refuses
images over 50 megapixels before decoding them), converted to 8-bit sRGB, shrunk to at most
STORED_MAX_SIDE and re-encoded as PNG without metadata (no EXIF/GPS, no ICC profile, no text
chunks) before anything is stored.

The classic-only and fast-only controls are all on the page (it works without JavaScript);
only the chosen mode's controls are validated and used. A preset, when chosen, replaces the
controls it covers (engine.presets), and errors on those controls are dropped with their values.

A remix (the hidden `remix` field: a published gallery artwork) brings that artwork's style
images: they are used when the user uploads no style image of their own, and copied into the
new job's folder. Given the user, the form also checks their quota's size and step limits
(engine.quotas; the limit on active jobs is checked where the job is created).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from engine import presets, quotas
from engine.nst import ClassicParams, FastParams, ImageError, ParameterError, images
from engine.nst.classic_params import INITS, MAX_STYLES, USER_RANGES
from gallery.models import Artwork

from .models import Mode, StyleImage, StyleJob, Visibility, params_dict

# Largest side kept of an upload: the engine never works above 2048 px, so more is only disk.
STORED_MAX_SIDE = 2048
ACCEPT = "image/jpeg,image/png,image/webp"
STYLE_SLOTS = tuple(range(1, MAX_STYLES + 1))

CLASSIC_FIELDS = ("content_weight", "style_weight", "tv_weight", "epochs", "steps_per_epoch", "optimizer",
                  "network", "multiscale", "init", "seed")
FAST_FIELDS = ("strength",)
SHARED_FIELDS = ("size", "preserve_colors")
_DEFAULTS = ClassicParams()


def _range_messages(label: str, low, high, unit: str = "") -> dict[str, str]:
    text = f"{label} must be between {low:g} and {high:g}{unit}."
    return {"min_value": text, "max_value": text}


def _int(name: str, label: str, unit: str = "", **kwargs) -> forms.IntegerField:
    low, high = USER_RANGES[name]
    return forms.IntegerField(label=label, min_value=low, max_value=high, required=False,
                              error_messages=_range_messages(label, low, high, unit), **kwargs)


def _float(name: str, label: str, **kwargs) -> forms.FloatField:
    low, high = USER_RANGES[name]
    return forms.FloatField(label=label, min_value=low, max_value=high, required=False,
                            error_messages=_range_messages(label, low, high), **kwargs)


def _image_field(label: str, required: bool) -> forms.FileField:
    return forms.FileField(label=label, required=required,
                           widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
                           error_messages={"required": f"Choose the {label.lower()}."})


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


class StyleJobForm(forms.Form):
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.CLASSIC)
    preset = forms.ChoiceField(
        choices=presets.CHOICES, initial=presets.CUSTOM, required=False,
        help_text="A preset sets the size, epochs, steps, optimiser and coarse-to-fine for you.",
    )
    content = _image_field("Content image", required=True)
    style_1 = _image_field("Style image 1", required=False)
    style_2 = _image_field("Style image 2", required=False)
    style_3 = _image_field("Style image 3", required=False)
    style_1_weight = forms.FloatField(label="Weight of style 1", min_value=0, max_value=100, initial=1.0,
                                      required=False)
    style_2_weight = forms.FloatField(label="Weight of style 2", min_value=0, max_value=100, initial=1.0,
                                      required=False)
    style_3_weight = forms.FloatField(label="Weight of style 3", min_value=0, max_value=100, initial=1.0,
                                      required=False)

    size = _int("size", "Size", " px", initial=_DEFAULTS.size,
                help_text="Longest side of the result, in pixels.")
    preserve_colors = forms.BooleanField(label="Keep the content's colours", required=False)

    content_weight = _float("content_weight", "Content weight", initial=_DEFAULTS.content_weight)
    style_weight = _float("style_weight", "Style weight", initial=_DEFAULTS.style_weight)
    tv_weight = _float("tv_weight", "Smoothness (total variation) weight", initial=_DEFAULTS.tv_weight)
    epochs = _int("epochs", "Epochs", initial=_DEFAULTS.epochs, help_text="A preview after each epoch.")
    steps_per_epoch = _int("steps_per_epoch", "Steps per epoch", initial=_DEFAULTS.steps_per_epoch)
    optimizer = forms.ChoiceField(label="Optimiser",
                                  choices=[("lbfgs", "L-BFGS (fewer steps)"), ("adam", "Adam")],
                                  initial=_DEFAULTS.optimizer, required=False)
    network = forms.ChoiceField(label="Feature network",
                                choices=[("vgg16", "VGG16"), ("vgg19", "VGG19 (needs its model file)")],
                                initial=_DEFAULTS.network, required=False)
    multiscale = forms.BooleanField(label="Coarse-to-fine (faster at large sizes)",
                                    initial=_DEFAULTS.multiscale, required=False)
    init = forms.ChoiceField(label="Start from", choices=[(i, i.capitalize()) for i in INITS],
                             initial=_DEFAULTS.init, required=False)
    seed = forms.IntegerField(label="Random seed", min_value=0, max_value=2**31 - 1, initial=_DEFAULTS.seed,
                              required=False)

    strength = forms.FloatField(label="Style strength", min_value=0.0, max_value=1.0, initial=1.0,
                                required=False,
                                error_messages=_range_messages("Style strength", 0, 1),
                                widget=forms.NumberInput(attrs={"step": "0.05"}),
                                help_text="0 keeps the photo, 1 is the full style.")

    publish = forms.BooleanField(
        label="Publish it in the gallery when it is finished", required=False,
        help_text="Others can then see it, like it and remix it. You can make it private again at any time.")
    remix = forms.ModelChoiceField(
        queryset=Artwork.objects.public().select_related("job"), required=False, widget=forms.HiddenInput,
        error_messages={"invalid_choice": "The artwork you are remixing is no longer in the gallery. "
                                          "Please upload style images of your own."})

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user  # for the quota checks; None skips them
        for name in ("size", "epochs", "steps_per_epoch"):
            self.fields[name].widget.attrs["step"] = "1"
        for slot in STYLE_SLOTS:
            self.fields[f"style_{slot}_weight"].widget.attrs["step"] = "any"
        max_bytes = settings.NST_MAX_UPLOAD_BYTES
        for name in ("content", *(f"style_{slot}" for slot in STYLE_SLOTS)):
            self.fields[name].widget.attrs["data-max-bytes"] = str(max_bytes)
            self.fields[name].help_text = f"JPEG, PNG or WebP, up to {_megabytes(max_bytes)}."

    # --- uploads --------------------------------------------------------------------------------

    def _clean_image(self, name: str) -> ContentFile | None:
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        limit = settings.NST_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"This file is {_megabytes(upload.size)}; the largest file you can upload is "
                f"{_megabytes(limit)}. Please make it smaller (e.g. save it as JPEG or scale it down) "
                "and try again.",
                code="too_large",
            )
        try:
            img = images.open_image(upload)
        except ImageError as exc:
            raise forms.ValidationError(str(exc), code="invalid_image") from None
        if max(img.size) > STORED_MAX_SIDE:
            img = images.resize_longest(img, STORED_MAX_SIDE)
        return ContentFile(images.encode_png(img), name=f"{name}.png")

    def clean_content(self):
        return self._clean_image("content")

    def clean_style_1(self):
        return self._clean_image("style_1")

    def clean_style_2(self):
        return self._clean_image("style_2")

    def clean_style_3(self):
        return self._clean_image("style_3")

    # --- the whole form -------------------------------------------------------------------------

    def clean(self):
        data = super().clean()
        if "remix" in self._errors:  # a hidden field: say it above the form
            self.add_error(None, self._errors.pop("remix").as_data())
        mode = data.get("mode") or Mode.CLASSIC
        preset_values = presets.values(data.get("preset") or presets.CUSTOM, mode)
        inactive = FAST_FIELDS if mode == Mode.CLASSIC else CLASSIC_FIELDS
        # The other mode's controls and the ones a preset replaces do not count: drop their errors.
        for name in (*inactive, *preset_values):
            self._errors.pop(name, None)
            data.pop(name, None)
        data.update(preset_values)
        active = SHARED_FIELDS + (CLASSIC_FIELDS if mode == Mode.CLASSIC else FAST_FIELDS)
        for name in active:
            if data.get(name) is None and name not in self._errors and not isinstance(
                    self.fields[name], forms.BooleanField):
                self.add_error(name, forms.ValidationError("This field is required.", code="required"))
        self._clean_styles(data)
        self._refuse_extra_files()
        if not self._errors:
            self._build_params(data, mode)
        return data

    def _clean_styles(self, data: dict) -> None:
        given = [slot for slot in STYLE_SLOTS if data.get(f"style_{slot}")]
        data["remix_styles"] = {}
        if not given and data.get("remix"):
            # No style image of the user's own: the remixed artwork's ones, in their slots.
            data["remix_styles"] = {s.position: s for s in data["remix"].job.styles.all()}
            given = sorted(data["remix_styles"])
        if not given:
            if "style_1" not in self._errors:
                self.add_error("style_1",
                               forms.ValidationError("Add at least one style image.", code="no_style"))
            return
        weights = []
        for slot in given:
            weight = data.get(f"style_{slot}_weight")
            if weight is None and f"style_{slot}_weight" not in self._errors:
                self.add_error(f"style_{slot}_weight", "Give this style a weight (1 is normal).")
            weights.append(weight or 0.0)
        if len(weights) == len(given) and sum(weights) <= 0:
            self.add_error(f"style_{given[0]}_weight", "At least one style needs a weight above zero.")
        data["style_slots"] = given
        data["style_weights"] = tuple(float(w) for w in weights)

    def _refuse_extra_files(self) -> None:
        """A hand-made request can carry files the page does not offer (a fourth style, two files
        in one field). Say so, rather than quietly using only some of them."""
        unknown = [name for name in self.files if name not in self.fields]
        repeated = [name for name in self.files if len(self.files.getlist(name)) > 1]
        if unknown or repeated:
            self.add_error(None, forms.ValidationError(
                f"A job takes one content image and at most {MAX_STYLES} style images, one per "
                "field; this request had more. Please use the form on this page.", code="too_many_files"))

    def _build_params(self, data: dict, mode: str) -> None:
        weights = data["style_weights"] if len(data["style_weights"]) > 1 else ()
        try:
            if mode == Mode.CLASSIC:
                params = ClassicParams(
                    size=data["size"], content_weight=data["content_weight"],
                    style_weight=data["style_weight"], tv_weight=data["tv_weight"], epochs=data["epochs"],
                    steps_per_epoch=data["steps_per_epoch"],
                    optimizer=data["optimizer"], network=data["network"], multiscale=bool(data["multiscale"]),
                    init=data["init"], style_weights=weights, preserve_colors=bool(data["preserve_colors"]),
                    seed=data["seed"],
                )
            else:
                params = FastParams(size=data["size"], strength=data["strength"], style_weights=weights,
                                    preserve_colors=bool(data["preserve_colors"]))
            params.validate(len(data["style_slots"]))
        except ParameterError as exc:  # the fields' bounds are inside the engine's: a bug if seen
            raise forms.ValidationError(str(exc)) from None
        data["params"] = params
        if self.user is not None:
            steps = params.total_steps if mode == Mode.CLASSIC else 1
            for problem in quotas.check_params(self.user, mode=mode, size=params.size, total_steps=steps):
                self.add_error(None, forms.ValidationError(problem, code="quota"))

    # --- saving ---------------------------------------------------------------------------------

    def create_job(self, owner, queue: str) -> StyleJob:
        """Create the job and its style images (call inside a transaction). If anything fails on
        the way (a full disk, a database error), the files written so far are removed too: the
        rows roll back with the transaction, files do not."""
        data = self.cleaned_data
        params = data["params"]
        classic = data["mode"] == Mode.CLASSIC
        job = StyleJob(
            owner=owner, mode=data["mode"], params=params_dict(params), size=params.size,
            visibility=Visibility.PUBLIC if data.get("publish") else Visibility.PRIVATE, queue=queue,
            epochs=params.epochs if classic else 1, total_steps=params.total_steps if classic else 1,
        )
        written = []
        try:
            with transaction.atomic():
                job.content.save("content.png", data["content"], save=False)
                written.append(job.content)
                job.save()
                for slot, weight in zip(data["style_slots"], data["style_weights"], strict=True):
                    style = StyleImage(job=job, position=slot, weight=weight)
                    style.image.save(f"style-{slot}.png", self._style_file(slot), save=False)
                    written.append(style.image)
                    style.save()
        except BaseException:
            for field_file in written:
                field_file.storage.delete(field_file.name)
            raise
        return job

    def _style_file(self, slot: int) -> ContentFile:
        """The uploaded style image of a slot, or a copy of the remixed artwork's one (a copy: the
        new job must not lose its input when the artwork's job is deleted)."""
        data = self.cleaned_data
        if slot not in data["remix_styles"]:
            return data[f"style_{slot}"]
        with data["remix_styles"][slot].image.open("rb") as fh:
            return ContentFile(fh.read(), name=f"style_{slot}.png")
