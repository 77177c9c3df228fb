"""The submission's fields, described for the OpenAPI schema. Described, not checked: the page's
own form (engine.studio.forms.StyleJobForm) validates them, so the description is built from the
same parameter schema (engine.nst.schema) and stays in step with it."""

from __future__ import annotations

from rest_framework import serializers

from api.webhooks.events import DEFAULT_EVENTS, EVENTS
from engine.models import Mode
from engine.nst import schema
from engine.nst.classic_params import MAX_STYLES
from engine.studio import presets
from engine.studio.forms import DEFAULT_MODE

SUBMIT = f"""\
The fields of the site's submission form, as multipart/form-data. Several `content` files make a
batch (a job each, with the same styles and settings): the answer is then the batch, its URL in
`Location`. Each style slot N (1-{MAX_STYLES}) takes an upload (`style_N`) or a painting of the style
library (`style_N_library`: an id from GET /api/v1/styles/), and `style_N_weight`. A control not sent
takes its default; one sent empty is refused, as on the form.

`settings_from`: a result PNG of this site whose settings fill in the fields not sent (as dropping
it on the form does; see POST /api/v1/settings/). `webhook_url` and `webhook_events`: where to POST
the job's events, signed (see the webhooks in this document's description).

The same checks as the page: the form's messages, quotas (409), the submission rate (429 with
Retry-After), the pixel budget and the upload checks (400), all as problem details.
"""


def _control_field(control: schema.Control) -> serializers.Field:
    text = f"{control.label}. {control.help} (modes: {', '.join(control.modes)}; default {control.default!r})"
    if control.kind == "bool":
        return serializers.BooleanField(required=False, help_text=text)
    if control.kind == "choice":
        return serializers.ChoiceField(choices=[value for value, _ in control.choices], required=False, help_text=text)
    bounds = control.user_bounds(None) or control.engine_bounds()
    low, high = bounds if bounds else (None, None)
    field = serializers.IntegerField if control.kind == "int" else serializers.FloatField
    return field(required=False, min_value=low, max_value=high, help_text=text)


def _fields() -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {
        "mode": serializers.ChoiceField(choices=Mode.values, required=False, help_text=f"Default {DEFAULT_MODE}."),
        "preset": serializers.ChoiceField(choices=[c for c, _ in presets.CHOICES], required=False,
                                          help_text="A preset sets the size, epochs, steps and more for you."),
        "content": serializers.ListField(child=serializers.FileField(), help_text="A photo (JPEG, PNG, WebP) or, in "
                                         "video mode, a clip; several files: a batch."),
    }
    for slot in range(1, MAX_STYLES + 1):
        fields[f"style_{slot}"] = serializers.FileField(required=False, help_text=f"Style image {slot}.")
        fields[f"style_{slot}_library"] = serializers.IntegerField(required=False, help_text="A library painting's id.")
        fields[f"style_{slot}_weight"] = serializers.FloatField(required=False, min_value=0, max_value=100,
                                                                help_text="Default 1.")
        fields[f"style_{slot}_remix"] = serializers.BooleanField(
            required=False, help_text=f"With `remix`: slot {slot} takes the artwork's own style image {slot} "
                                      "(one its author shares, or a painting retired since).")
    fields.update({c.name: _control_field(c) for c in schema.controls(web=True)})
    fields.update({
        "publish": serializers.BooleanField(required=False, help_text="Publish the result in the gallery."),
        "share_originals": serializers.BooleanField(required=False, help_text="Also show the photo and styles there."),
        "notify_email": serializers.BooleanField(required=False, help_text="E-mail the owner when it ends."),
        "omit_settings": serializers.BooleanField(required=False,
                                                  help_text="Leave the settings out of the result file."),
        "remix": serializers.IntegerField(required=False,
                                          help_text="A gallery artwork this job remixes (its page credits it). "
                                                    "Without any style field: all its styles that may carry over "
                                                    "(its paintings always, its author's images when shared)."),
        "settings_from": serializers.FileField(required=False,
                                               help_text="A result PNG whose settings fill in the rest."),
        "webhook_url": serializers.URLField(required=False, help_text="https, on a public address."),
        "webhook_events": serializers.ListField(child=serializers.ChoiceField(choices=list(EVENTS)), required=False,
                                                help_text=f"Default: {', '.join(DEFAULT_EVENTS)}."),
    })
    return fields


SubmissionSerializer = type("JobSubmission", (serializers.Serializer,), _fields())
