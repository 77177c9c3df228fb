"""The submission page's layout of the form (templates/engine/submit.html and its partials): which
controls are on the simple view, how the advanced ones sit in rows and in a fieldset per mode, and
the fields of each style slot. The form (engine.studio.forms) validates; this only arranges its fields.

    {% load studio %}
    {% simple_controls form as simple %}{% for modes, field in simple %}...
    {% control_rows form as rows %}                 the advanced controls every mode uses
    {% mode_control_rows form as per_mode %}        (mode, rows) of the others, a fieldset each
    {% advanced_has_errors form as open %}
    {% style_slots form as slots %}
"""

from __future__ import annotations

from django import template
from django.forms import BoundField

from engine.nst import schema
from engine.studio.forms import STYLE_SLOTS, StyleJobForm

register = template.Library()

# On the page's simple view, beside mode, preset and the style picker; the others are "advanced".
SIMPLE_CONTROLS = ("size", "strength")

Rows = list[tuple[bool, list[BoundField]]]


def _every_mode(control: schema.Control) -> bool:
    return set(control.modes) == set(schema.MODES)


@register.simple_tag
def simple_controls(form: StyleJobForm) -> list[tuple[str, BoundField]]:
    """(modes, field) of the controls on the simple view; modes is "" for all, else the modes that
    use it, space-separated (the page's data-mode; static/js/submit.js)."""
    return [("" if _every_mode(c) else " ".join(c.modes), form[c.name])
            for c in schema.controls(web=True) if c.name in SIMPLE_CONTROLS]


@register.simple_tag
def control_rows(form: StyleJobForm) -> Rows:
    """The advanced controls every mode uses, as the page lays them out (see _rows)."""
    return _rows(form, [c for c in schema.controls(web=True) if _every_mode(c) and c.name not in SIMPLE_CONTROLS])


@register.simple_tag
def mode_control_rows(form: StyleJobForm) -> list[tuple[str, Rows]]:
    """(mode, rows) of the advanced controls not every mode uses: a fieldset per mode on the page,
    each control in the fieldset of the first mode it lists (video mode shares fast mode's
    controls: the page shows both fieldsets in video mode)."""
    return [(mode, _rows(form, [c for c in schema.controls(mode, web=True)
                                if c.modes[0] == mode and not _every_mode(c) and c.name not in SIMPLE_CONTROLS]))
            for mode in schema.MODES]


@register.simple_tag
def advanced_has_errors(form: StyleJobForm) -> bool:
    """Whether a control of the "advanced" view has an error (the page then opens that view)."""
    advanced = {c.name for c in schema.controls(web=True) if c.name not in SIMPLE_CONTROLS}
    return bool(advanced & set(form.errors))


@register.simple_tag
def style_slots(form: StyleJobForm, remix_carried: dict | None = None) -> list[dict]:
    """The fields of each style slot, the image kept in it from an earlier try, if any, and the remixed
    work's own image it may take (`remix_carried`: slot -> StyleImage, engine.studio.remix)."""
    carried = remix_carried or {}
    return [{"slot": slot, "file": form[f"style_{slot}"], "weight": form[f"style_{slot}_weight"],
             "library": form[f"style_{slot}_library"], "staged_field": form[f"style_{slot}_staged"],
             "staged": form.staged.get(f"style_{slot}"), "remix_field": form[f"style_{slot}_remix"],
             "remix_style": carried.get(slot)} for slot in STYLE_SLOTS]


def _rows(form: StyleJobForm, controls: list[schema.Control]) -> Rows:
    """(in a row, bound fields): the controls of one `row` side by side where the first of them is
    declared, the others one under the other; those the page does not offer are left out."""
    rows: dict[str, list[BoundField]] = {}
    out: Rows = []
    for control in controls:
        if control.name in form.hidden_controls:
            continue
        if control.row is None:
            out.append((False, [form[control.name]]))
        elif control.row in rows:
            rows[control.row].append(form[control.name])
        else:
            rows[control.row] = [form[control.name]]
            out.append((True, rows[control.row]))
    return out
