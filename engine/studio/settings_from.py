"""A result's settings (engine.storage.result_settings) as the submission form's fields: what
dropping a result PNG on the form fills in (static/js/settings_drop.js asks the API for these), and
what the API's `settings_from` file gives a submission's fields it does not send. The same as a
remix fills in (engine.views._initial_from_remix): the mode, "custom" as the preset, each control
of the mode, each style's weight, and a library painting where one was used and is still offered.
A style that was an upload is not in the file: its slot is listed as missing."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.models import LibraryStyle, Mode
from engine.nst import ParameterError, params_class, schema
from engine.nst.classic_params import MAX_STYLES
from engine.storage import result_settings
from engine.studio import presets

UNREADABLE = ("This file carries no settings of this site (a result saved with its settings left out, or "
              "changed by another program).")


class NoSettings(Exception):
    """The file has no usable settings; the message says so, for the person who dropped it."""


@dataclass
class FormSettings:
    settings: dict                                   # as read from the file
    fields: dict = field(default_factory=dict)       # form field name -> value (JSON types)
    missing_styles: list[int] = field(default_factory=list)


def from_file(fh) -> FormSettings:
    """The form fields of the settings in an uploaded PNG. Raises NoSettings."""
    fh.seek(0)
    data = result_settings.read_png(fh)
    fh.seek(0)
    if data is None:
        raise NoSettings(UNREADABLE)
    return form_settings(data)


def form_settings(data: dict) -> FormSettings:
    mode = data.get("mode")
    if mode not in Mode.values or not isinstance(data.get("params"), dict):
        raise NoSettings(UNREADABLE)
    try:
        params = params_class(mode).from_dict(data["params"])
    except (ParameterError, TypeError, ValueError):
        raise NoSettings(UNREADABLE) from None
    out = FormSettings(settings=data, fields={"mode": mode, "preset": presets.CUSTOM})
    out.fields.update({c.name: getattr(params, c.name) for c in schema.controls(mode, web=True)})
    styles = [s for s in data.get("styles") or [] if isinstance(s, dict)]
    wanted = [s["library"]["id"] for s in styles if isinstance(s.get("library"), dict)
              and isinstance(s["library"].get("id"), int)]
    offered = LibraryStyle.objects.offered().in_bulk(wanted)
    for style in styles:
        slot, weight = style.get("position"), style.get("weight")
        if not isinstance(slot, int) or not 1 <= slot <= MAX_STYLES:
            continue
        if isinstance(weight, (int, float)) and not isinstance(weight, bool):
            out.fields[f"style_{slot}_weight"] = weight
        library = style.get("library") if isinstance(style.get("library"), dict) else {}
        if library.get("id") in offered:
            out.fields[f"style_{slot}_library"] = library["id"]
        else:
            out.missing_styles.append(slot)
    return out


def as_form_data(values: dict) -> dict[str, str]:
    """The fields as a request would send them (strings; a box left unticked is left out)."""
    return {name: str(value) for name, value in values.items() if value is not False and value is not None}
