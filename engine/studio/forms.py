"""The job submission form: it validates one request's fields and files and gives a Submission
(engine.studio.submission), which the job service (engine.jobs.service.submit) turns into rows. The view
first runs the admission (engine.studio.admission: active jobs, storage, rate, pixel budget, all
before any upload is decoded), and renders the page's layout with engine.templatetags.studio.

The controls' fields come from the parameter schema (engine.nst.schema): label, bounds, range
message, initial value and help. The size's upper bound is the user's quota (engine.studio.quotas): the
field says "between 256 and <quota> px" and refuses what no engine could make; a size the engine
could make but the quota does not allow gets the quota's own message above the form.

Content files are checked by their kind (engine.studio.content_files: a photo decoded and re-encoded, a
clip probed once); the mode's runner (engine.runners) says which kinds its mode takes and builds
its params. The controls of every mode are on the page (it works without JavaScript); only the
chosen mode's controls are validated and used. A control left empty is an error; one the request
does not send at all (a page loaded before the control was added) takes its default. A preset,
when chosen, replaces the controls it covers (engine.studio.presets), and errors on those controls are
dropped with their values.

A remix (the hidden `remix` field: a published work, found through engine.hooks) starts from that
work (engine.studio.remix): its paintings come back as the slots' library choices, its shared
images as ticked `style_<n>_remix` boxes (copied into the new job's folder when the slot gets
nothing else; a request naming no style at all takes all that may carry over), and the new job
records the job it remixed. Given the user, the form also checks their quota's size and step limits
(engine.studio.quotas; the active-job slot is reserved where the job is created): the size field's
bounds are the user's quota within the chosen mode's engine range.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.forms.utils import ErrorDict

from engine import hooks
from engine.costs import estimates
from engine.models import LibraryStyle, Mode, UserQuota
from engine.nst import ParameterError, schema
from engine.nst.classic_params import MAX_STYLES
from engine.runners import Runner, runner_for
from engine.studio import presets, quotas, staged_uploads
from engine.studio import remix as remixing
from engine.studio.content_files import (  # noqa: F401 - the form's figure, as tests and docs name it
    STORED_MAX_SIDE,
    Content,
    ContentRefused,
    check_clip,
    check_photo,
    detect_kind,
    display_name,
    megabytes,
    stored_max_side,
)
from engine.studio.submission import StyleChoice, Submission
from nstsite.parsing import whole_number

ACCEPT = "image/jpeg,image/png,image/webp"
REMIX_PRIVATE_STYLES = ("The author of this artwork keeps their own style image to themselves: pick a painting "
                        "from the library, or add a style image of your own.")
STYLE_SLOTS = tuple(range(1, MAX_STYLES + 1))
IMAGE_FIELDS = ("content", *(f"style_{slot}" for slot in STYLE_SLOTS))
DEFAULT_MODE = Mode.FAST  # the form's first choice: a result in seconds shows what the site does


def control_field(control: schema.Control, quota: UserQuota) -> forms.Field:
    """The form field of a control of the parameter schema, for a user with this quota."""
    common = {"label": control.label, "required": False, "initial": control.default, "help_text": control.help}
    if control.kind == "bool":
        return forms.BooleanField(**common)
    if control.kind == "choice":
        return forms.ChoiceField(choices=control.choices, **common)
    allowed = control.user_bounds(quota.max_size)  # None: any value the engine takes
    low, high = allowed or control.engine_bounds()
    messages = {}
    if allowed:  # the seed's ranges, in words; bare validity bounds (the seed) keep Django's wording
        unit = f" {control.unit}" if control.unit else ""
        messages["min_value"] = messages["max_value"] = f"{control.label} must be between {low:g} and {high:g}{unit}."
    # An open upper bound is the quota: the page shows it, the field refuses only what the engine
    # cannot make, and the quota check (engine.studio.quotas) refuses the rest in its own words.
    refuse_above = control.engine_bounds()[1] if allowed and control.user[1] is None else high
    field_class = forms.IntegerField if control.kind == "int" else forms.FloatField
    field = field_class(min_value=low, max_value=refuse_above, error_messages=messages, **common)
    field.widget.attrs["max"] = high
    field.widget.attrs["step"] = "any" if control.ui_step is None else f"{control.ui_step:g}"
    if allowed:  # static/js/sliders.js puts a slider over the user's range beside the box
        field.widget.attrs["data-slider"] = control.scale
    return field


def control_value(control: schema.Control, raw: str):
    """A control's value from its text, parsed as the form's field parses it (no bounds: the engine's
    params check them); django.forms.ValidationError when it is not one."""
    return control_field(control, UserQuota()).to_python(raw)


class RemixField(forms.CharField):
    """The published work a submission remixes (hidden; engine.hooks finds it): its number on the
    page, the work itself once cleaned (None: no remix)."""

    widget = forms.HiddenInput
    default_error_messages = {"invalid_choice": "The artwork you are remixing is no longer in the gallery. "
                                                "Please upload style images of your own."}

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        pk = whole_number(text)
        found = hooks.remix_source(pk) if pk is not None else None
        if found is None:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return found


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): cleans to a list, empty when none."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            if not data:
                return [super().clean(None, initial)] if self.required else []
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        cleaned = super().clean(data, initial)
        return [cleaned] if cleaned else []


CLIP_ACCEPT = "video/mp4,video/quicktime,video/webm,image/gif,.mp4,.mov,.m4v,.webm,.gif"


def _image_field(label: str, required: bool) -> forms.FileField:
    return forms.FileField(label=label, required=required,
                           widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
                           error_messages={"required": f"Choose the {label.lower()}."})


def _staged_field() -> forms.CharField:
    """The token of an image kept from an earlier try (engine.studio.staged_uploads): a checkbox that is
    ticked while the page offers the kept image, so it can be dropped without JavaScript too."""
    return forms.CharField(required=False, widget=forms.HiddenInput)


def _remix_field(slot: int) -> forms.BooleanField:
    """Ticked: the slot takes the remixed work's own image (engine.studio.remix), unless it is given
    a file or a painting."""
    return forms.BooleanField(required=False, label=f"Use the artwork's style image {slot}")


def _library_field(slot: int) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=LibraryStyle.objects.offered(), required=False, label=f"or a painting for style {slot}",
        empty_label="(none)",
        error_messages={"invalid_choice": "That painting is not in the style library any more; please "
                                          "choose another."})


class StyleJobForm(forms.Form):
    mode = forms.ChoiceField(choices=Mode.choices, initial=DEFAULT_MODE)
    preset = forms.ChoiceField(
        choices=presets.CHOICES, initial=presets.CUSTOM, required=False, label="Classic preset",
        help_text="A preset sets the size, the start, epochs, steps, optimiser and coarse-to-fine for you.",
    )
    # Several files make a batch (engine.models.Batch): a job each, one page for all.
    content = MultipleFileField(label="Content image", required=True,
                                widget=MultipleFileInput(attrs={"accept": f"{ACCEPT},{CLIP_ACCEPT}"}),
                                error_messages={"required": "Choose the content image."})
    style_1 = _image_field("Style image 1", required=False)
    style_2 = _image_field("Style image 2", required=False)
    style_3 = _image_field("Style image 3", required=False)
    style_1_weight = forms.FloatField(label="Weight of style 1", min_value=0, max_value=100, initial=1.0,
                                      required=False)
    style_2_weight = forms.FloatField(label="Weight of style 2", min_value=0, max_value=100, initial=1.0,
                                      required=False)
    style_3_weight = forms.FloatField(label="Weight of style 3", min_value=0, max_value=100, initial=1.0,
                                      required=False)

    content_staged = _staged_field()
    style_1_staged = _staged_field()
    style_2_staged = _staged_field()
    style_3_staged = _staged_field()
    style_1_library = _library_field(1)
    style_2_library = _library_field(2)
    style_3_library = _library_field(3)
    style_1_remix = _remix_field(1)
    style_2_remix = _remix_field(2)
    style_3_remix = _remix_field(3)

    publish = forms.BooleanField(
        label="Publish the result in the gallery when it is finished", required=False,
        help_text="Others can see, like and remix the result. Your photo stays private unless you tick the "
                  "next box. You can make it private again at any time.")
    share_originals = forms.BooleanField(
        label="Also show my photo and style images on its gallery page", required=False,
        help_text="Unticked, visitors see only the result. Tick it only for a photo anyone may see and download.")
    notify_email = forms.BooleanField(label="E-mail me when it has finished", required=False)
    omit_settings = forms.BooleanField(
        label="Leave the settings out of the result file", required=False,
        help_text="Unticked, the result PNG carries the mode, the settings and the library paintings' credits (never "
                  "your name or file names): dropping it on this form fills them in again.")
    remix = RemixField()

    def __init__(self, *args, user=None, limits: UserQuota | None = None, upload_refusals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user  # for the quota checks; None skips them
        # Files the upload handler dropped as they arrived (over their kind's size: nstsite.request_limits.limits).
        self.upload_refusals: dict[str, list[str]] = upload_refusals or {}
        # The controls' fields are made per form: the size's maximum is this user's quota (read once
        # per request: the view passes what the admission read).
        self.quota = limits or (quotas.limits_for(user) if user is not None else UserQuota())
        self.fields.update({c.name: control_field(c, self.quota) for c in schema.controls(web=True)})
        self._bound_size_by_mode()
        self.stored_max_side = stored_max_side(self.quota.max_size)
        self.hidden_controls: set[str] = set()
        if not settings.NST_FAST_HUB_HANDLE:
            # No hub model on this server: the page does not show the choice (an absent control takes
            # its default, "builtin"), and a hand-made request for it is refused as an unknown choice.
            self.fields["fast_network"].choices = [c for c in schema.CONTROLS["fast_network"].choices
                                                   if c[0] != "tfhub"]
            self.hidden_controls.add("fast_network")
        for slot in STYLE_SLOTS:  # a slider over 0..5 (the box takes up to 100)
            self.fields[f"style_{slot}_weight"].widget.attrs.update(
                {"step": "any", "data-slider": "linear", "data-slider-max": "5"})
        max_bytes = settings.NST_MAX_UPLOAD_BYTES
        for name in (f"style_{slot}" for slot in STYLE_SLOTS):
            self.fields[name].widget.attrs["data-max-bytes"] = str(max_bytes)
            self.fields[name].help_text = f"JPEG, PNG or WebP, up to {megabytes(max_bytes)}."
        self._describe_content_field(max_bytes)
        email = getattr(user, "email", "")
        self.fields["notify_email"].help_text = (
            f"One e-mail to {email} (one for a whole batch), whether it succeeded or failed, once you have "
            "confirmed the address." if email else "Your account has no e-mail address: add one to be told by e-mail.")
        # The images checked so far (the page offers them again after an error: keep_uploads).
        self.photos: dict[str, Content] = {}
        self.staged: dict[str, staged_uploads.Staged] = {}
        self._not_required_when_kept()

    def size_limit(self, mode: str) -> int:
        """The largest size this user may ask for in `mode`: their quota, within what the mode's engine makes."""
        return quotas.largest_size(self.quota, mode)

    def _bound_size_by_mode(self) -> None:
        """The size box's (and its slider's) maximum is the chosen mode's limit; the page's script
        (static/js/submit.js) takes the other modes' from data-max-<mode> when the mode changes."""
        widget = self.fields["size"].widget
        mode = (self.data.get("mode") if self.is_bound else self.initial.get("mode")) or DEFAULT_MODE
        limits = {m: self.size_limit(m) for m in schema.MODES}
        widget.attrs.update({f"data-max-{m}": str(limit) for m, limit in limits.items()})
        widget.attrs["max"] = limits.get(mode, limits[DEFAULT_MODE])

    def offer_kept(self, token: str) -> bool:
        """A GET's ?kept=<token>: the user's photo kept by engine.studio.staged_uploads (e.g. from a job's
        "Try another style on this photo"), offered like one kept after a refused submission. An
        expired or unknown token offers nothing (the form asks for a photo)."""
        kept = staged_uploads.load(self.user, token, "content") if self.user is not None else None
        if kept is None:
            return False
        self.staged["content"] = kept
        self.fields["content"].required = False
        return True

    def _not_required_when_kept(self) -> None:
        """A photo kept from an earlier try stands in for the file: the file input is then not
        required (nor marked `required` on the page, which would stop the browser sending the form)."""
        if self.data.get("content_staged"):
            self.fields["content"].required = False

    def _describe_content_field(self, photo_bytes: int) -> None:
        """The content field's limits, in words and for the page's script (static/js/video_form.js)."""
        quota, clip_bytes = self.quota, quotas.clip_max_bytes(self.user, self.quota)
        self.batch_files = min(quota.max_batch_files, settings.NST_MAX_BATCH_FILES)
        self.clip_limits = quotas.clip_limits(self.user, quota)
        field = self.fields["content"]
        field.widget.attrs.update({"data-max-photo-bytes": str(photo_bytes), "data-max-clip-bytes": str(clip_bytes),
                                   "data-max-files": str(self.batch_files)})
        field.help_text = (
            f"A photo: JPEG, PNG or WebP, up to {megabytes(photo_bytes)}. Or a clip, in video mode: MP4, MOV, "
            f"WebM or animated GIF/WebP, up to {self.clip_limits.max_seconds:g} s, "
            f"{self.clip_limits.max_side} px and {megabytes(clip_bytes)}. Choose up to {self.batch_files} files "
            "at once for a batch: a job each, with the same styles and settings.")

    def refuse(self, message: str) -> None:
        """Refuse the submission before any upload is read (over a quota or a rate limit): the page
        shows `message` above the form, with the values sent; nothing is validated or decoded."""
        self._errors = ErrorDict()
        self.cleaned_data = {}
        self.add_error(None, forms.ValidationError(message, code="refused"))

    # --- uploads --------------------------------------------------------------------------------

    def _clean_image(self, name: str, upload=None) -> ContentFile | None:
        """The checked image of field `name` (or `upload`, one of several content files), re-encoded;
        without a file, the one kept for the field from an earlier try (None when there is none)."""
        upload = upload or self.cleaned_data.get(name)
        if not upload:
            return self._kept_image(name)
        try:
            photo = check_photo(upload, self.stored_max_side, name)
        except ContentRefused as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        self.photos[name] = photo
        return photo.file

    def _kept_image(self, name: str) -> ContentFile | None:
        """The image kept for this field from an earlier try (its token in `<name>_staged`)."""
        token = self.data.get(f"{name}_staged", "")
        if not token or self.user is None:
            return None
        kept = staged_uploads.load(self.user, token, name)
        if kept is None:
            raise forms.ValidationError("The image you chose before is no longer kept (after an hour it is "
                                        "deleted). Please choose it again.", code="staged_expired")
        self.staged[name] = kept
        content = kept.content(self.user)
        self.photos[name] = Content(kept.name, "image", content, size=kept.size)
        return content

    def keep_uploads(self) -> None:
        """After a server-side error: keep the images that passed their checks (engine.studio.staged_uploads),
        so the page shown again offers them instead of asking for them again. A batch's photos and a
        clip are not kept: only a single content photo and the style images."""
        if self.user is None or not self.user.is_authenticated:
            return
        data = getattr(self, "cleaned_data", {})
        self.data = self.data.copy()  # a request's QueryDict is immutable
        for name in IMAGE_FIELDS:
            content = data.get(name)
            if name == "content":  # a single content file; a clip's file is the upload itself, not kept
                content = content[0].file if content and len(content) == 1 else None
            if name not in self.staged and isinstance(content, ContentFile) and name in self.photos:
                photo = self.photos[name]
                self.staged[name] = staged_uploads.stage(self.user, name, content, name=photo.name, size=photo.size)
            if name in self.staged:
                self.data[f"{name}_staged"] = self.staged[name].token
        self._not_required_when_kept()

    def clean_content(self) -> list[Content]:
        """Each content file checked by its kind (engine.studio.content_files); [] when there is none."""
        uploads = self.cleaned_data.get("content") or []
        if not uploads:  # a photo kept from an earlier try, if any
            kept = self._kept_image("content")
            return [self.photos["content"]] if kept is not None else []
        if len(uploads) > self.batch_files:  # before any file is read
            raise forms.ValidationError(
                f"You chose {len(uploads)} files; one submission can take up to {self.batch_files}. Please "
                "submit the rest separately.", code="too_many_files")
        checked, problems = [], []
        for upload in uploads:
            prefix = f"{display_name(upload)}: " if len(uploads) > 1 else ""
            try:
                checked.append(self._check_content(upload, "content" if len(uploads) == 1 else "_batch"))
            except ContentRefused as exc:
                problems.append(forms.ValidationError(f"{prefix}{exc}", code=exc.code))
            except forms.ValidationError as exc:
                problems += [forms.ValidationError(f"{prefix}{message}", code=error.code or "invalid_image")
                             for error, message in zip(exc.error_list, exc.messages, strict=True)]
        if problems:
            raise forms.ValidationError(problems)
        self._check_clips_together(checked)
        return checked

    def _check_clips_together(self, checked: list[Content]) -> None:
        """A submission's clips together within one clip's length and frames (issue 24, finding 5:
        the limits held per file, so a batch of 20 clips brought 20 times the work)."""
        clips = [content.clip for content in checked if content.clip is not None]
        if len(clips) < 2:
            return
        limits = self.clip_limits
        frames, seconds = sum(clip.frames for clip in clips), sum(clip.seconds for clip in clips)
        if frames > limits.max_frames or seconds > limits.max_seconds:
            raise forms.ValidationError(
                f"Together these {len(clips)} clips are {seconds:.1f} s long and have {frames} frames; one submission "
                f"may bring at most {limits.max_seconds:g} s and {limits.max_frames} frames of video. Please send "
                "fewer or shorter clips at once.", code="clips_too_long")

    def _check_content(self, upload, name: str) -> Content:
        """One content file, a clip or a photo (`name`: the field a single photo is kept for)."""
        if detect_kind(upload) == "video":
            return check_clip(upload, self.clip_limits, quotas.clip_max_bytes(self.user, self.quota))
        self._clean_image(name, upload)
        return self.photos[name]

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
        for name in self.hidden_controls & set(self._errors):  # not on the page: say it above the form
            self.add_error(None, self._errors.pop(name).as_data())
        data.pop("_upload", None)
        for name, refusals in self.upload_refusals.items():
            self.add_error(name if name in self.fields else None, refusals)
        mode = data.get("mode") or DEFAULT_MODE
        runner = runner_for(mode)
        self._clean_kinds(data, runner)
        preset_values = presets.values(data.get("preset") or presets.CUSTOM, mode)
        inactive = [c.name for c in schema.controls(web=True) if mode not in c.modes]
        # The other mode's controls and the ones a preset replaces do not count: drop their errors.
        for name in (*inactive, *preset_values):
            self._errors.pop(name, None)
            data.pop(name, None)
        data.update(preset_values)
        for control in schema.controls(mode, web=True):
            if control.kind == "choice" and data.get(control.name) == "":
                data[control.name] = None  # a ChoiceField's "nothing chosen", as None is a number field's
            if data.get(control.name) is not None or control.name in self._errors or control.kind == "bool":
                continue
            if self.fields[control.name].widget.value_omitted_from_data(self.data, self.files,
                                                                       self.add_prefix(control.name)):
                data[control.name] = control.default  # not sent at all: a page older than the control
            else:
                self.add_error(control.name, forms.ValidationError("This field is required.", code="required"))
        self._clean_styles(data)
        self._refuse_extra_files()
        if not self._errors:
            self._build_params(data, runner)
        return data

    def _clean_styles(self, data: dict) -> None:
        for slot in STYLE_SLOTS:
            picked = data.get(f"style_{slot}_library")
            if picked is None:
                continue
            if self.files.get(f"style_{slot}"):
                self.add_error(f"style_{slot}", forms.ValidationError(
                    f"Style {slot} has both a file and a painting from the library; keep one of them.",
                    code="two_styles_in_one_slot"))
            else:  # a painting chosen instead of an image kept from an earlier try
                data[f"style_{slot}"] = None
                self.staged.pop(f"style_{slot}", None)
        given = [slot for slot in STYLE_SLOTS
                 if data.get(f"style_{slot}") or data.get(f"style_{slot}_library")]
        remix = data.get("remix")
        plan = remixing.plan(remix, self.user) if remix else None
        # The remixed work's own images (shared, or a painting retired since), in the slots whose box is
        # still ticked and that got nothing else.
        data["remix_styles"] = {slot: style for slot, style in (plan.carried.items() if plan else ())
                                if slot not in given and data.get(f"style_{slot}_remix")}
        remix_weights = {}
        if plan and not given and not any(data.get(f"style_{slot}_remix") for slot in STYLE_SLOTS):
            # No style named at all (a program sending `remix` alone, as the API allows): all of the
            # work's that may carry over, its paintings as the slots' choices, at the work's weights.
            for slot, style in plan.library.items():
                data[f"style_{slot}_library"] = style.library_style
            data["remix_styles"] = dict(plan.carried)
            remix_weights = {style.position: style.weight for style in plan.styles}
        given = sorted({*given, *data["remix_styles"], *remix_weights})
        if not given:
            message = (REMIX_PRIVATE_STYLES if plan and plan.private else "Add at least one style image.")
            if "style_1" not in self._errors:
                self.add_error("style_1", forms.ValidationError(message, code="no_style"))
            return
        weights = []
        for slot in given:
            name = f"style_{slot}_weight"
            weight = data.get(name)
            if weight is None and self.fields[name].widget.value_omitted_from_data(self.data, self.files, name):
                # not sent at all (a program's request): the remixed style's, else as a control's default
                weight = remix_weights.get(slot, self.fields[name].initial)
            if weight is None and f"style_{slot}_weight" not in self._errors:
                self.add_error(f"style_{slot}_weight", "Give this style a weight (1 is normal).")
            weights.append(weight or 0.0)
        if len(weights) == len(given) and sum(weights) <= 0:
            self.add_error(f"style_{given[0]}_weight", "At least one style needs a weight above zero.")
        data["style_slots"] = given
        data["style_weights"] = tuple(float(w) for w in weights)

    def _clean_kinds(self, data: dict, runner: Runner) -> None:
        """Each content file must be of a kind the mode takes (every mode takes photos: a clip is
        what may not fit; its runner says which mode a photo of a video-mode submission runs in)."""
        contents = data.get("content") or []
        clips = [c.name for c in contents if c.kind not in runner.content_kinds]
        if clips:
            self.add_error("content", forms.ValidationError(
                f"{', '.join(clips)}: {'is a clip' if len(clips) == 1 else 'are clips'}. Clips are stylised in "
                "video mode: choose Video as the mode (photos in the same submission then run in fast mode).",
                code="clip_needs_video_mode"))

    def _refuse_extra_files(self) -> None:
        """A hand-made request can carry files the page does not offer (a fourth style, two files
        in one style field). Say so, rather than quietly using only some of them."""
        unknown = [name for name in self.files if name not in self.fields]
        repeated = [name for name in self.files if name != "content" and len(self.files.getlist(name)) > 1]
        if unknown or repeated:
            self.add_error(None, forms.ValidationError(
                f"A job takes one content image and at most {MAX_STYLES} style images, one per "
                "field; this request had more. Please use the form on this page.", code="too_many_files"))

    def _build_params(self, data: dict, runner: Runner) -> None:
        mode = runner.mode
        values = {control.name: data[control.name] for control in schema.controls(mode, web=True)}
        # The field allows any mode's largest: this mode's, within the user's quota, is checked here.
        largest, limit = int(schema.CONTROLS["size"].engine_bounds(mode)[1]), self.size_limit(mode)
        if values["size"] > limit:
            self.add_error("size", forms.ValidationError(
                f"{str(mode).capitalize()} mode makes images of up to {largest} px." if limit == largest else
                quotas.size_problem(limit, values["size"]), code="max_value"))
            return
        values["style_weights"] = data["style_weights"] if len(data["style_weights"]) > 1 else ()
        params = runner.params(values)
        try:
            params.validate(len(data["style_slots"]))
        except ParameterError as exc:  # the fields' bounds are inside the engine's: a bug if seen
            raise forms.ValidationError(str(exc)) from None
        data["params"] = params
        if self.user is not None:
            for problem in quotas.check_params(self.user, size=params.size, steps=runner.quota_steps(params),
                                                limits=self.quota):
                self.add_error(None, forms.ValidationError(problem, code="quota"))
        content = self.photos.get("content")
        problem = estimates.memory_problem(mode, params, content.size if content else None)
        if problem:
            self.add_error("size", forms.ValidationError(problem, code="too_much_memory"))

    # --- the value ----------------------------------------------------------------------------

    @property
    def submission(self) -> Submission:
        """What the valid form asks for (engine.jobs.service.submit makes the jobs)."""
        data = self.cleaned_data
        styles = tuple(
            StyleChoice(slot, weight, image=data.get(f"style_{slot}"), library=data.get(f"style_{slot}_library"),
                        source=data["remix_styles"].get(slot))
            for slot, weight in zip(data["style_slots"], data["style_weights"], strict=True))
        return Submission(
            mode=data["mode"], params=data["params"], contents=tuple(data["content"]), styles=styles,
            publish=bool(data.get("publish")), share_originals=bool(data.get("share_originals")),
            notify_email=bool(data.get("notify_email")), embed_settings=not data.get("omit_settings"),
            staged_tokens=tuple(kept.token for kept in self.staged.values()),
            remix_of=data["remix"].job if data.get("remix") else None)
