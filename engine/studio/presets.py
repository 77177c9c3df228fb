"""Presets for the submission form: a few named settings of classic mode that trade time for quality.

A preset sets the controls that decide how long a classic job runs and how good it is (size,
start, epochs, steps per epoch, optimiser, coarse-to-fine); the weights, colours and seed stay as
the user set them. Every preset starts from fast mode's result: its lengths were chosen for that
start (a few dozen steps; docs/benchmarks.md, "Quality"), and from the photo they would leave it
hardly painted. A user who wants the photo start chooses "custom".
Choosing "custom" uses the form's own values. The form applies a preset on the server, so
presets work without JavaScript; static/js/submit.js only fills the fields in as a preview.

Only classic mode has presets: fast and video mode have one setting that costs time (the size),
which the page offers as it is. The menu sits among classic mode's settings, and its labels give
each preset's time as the cost model estimates it (`menu`), so that a label never promises one
time while the estimate below it says another.

A preset's values are a user's choice like any other: `problems()` checks them against the
parameter schema (known controls of the mode, within the user's ranges and the default quota).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.models import UserQuota
from engine.nst import schema
from engine.templatetags.nst import duration

CUSTOM = "custom"

# name -> (label, {mode -> {form field -> value}})
# "balanced" is classic mode's default (engine.nst.schema); multiscale is moot after a fast start
# (it begins at the final size, engine.nst.classic.plan_for) but set, so that a preset is the same
# job whatever the form held.
PRESETS: dict[str, tuple[str, dict[str, dict[str, object]]]] = {
    "quick": ("Quick", {
        "classic": {"size": 256, "init": "fast", "epochs": 3, "steps_per_epoch": 10, "optimizer": "lbfgs",
                    "multiscale": False},
    }),
    "balanced": ("Balanced", {
        "classic": {"size": 512, "init": "fast", "epochs": 4, "steps_per_epoch": 10, "optimizer": "lbfgs",
                    "multiscale": True},
    }),
    "high": ("High quality", {
        "classic": {"size": 1024, "init": "fast", "epochs": 6, "steps_per_epoch": 10, "optimizer": "lbfgs",
                    "multiscale": True},
    }),
}

CHOICES = [(CUSTOM, "Custom (use the values below)")]
CHOICES += [(name, label) for name, (label, _) in PRESETS.items()]


def menu(seconds: Callable[[str, dict[str, object]], float] | None = None) -> list[tuple[str, str]]:
    """The preset menu's choices, each labelled with what it sets and, given `seconds(mode, values)`
    (the cost model's run time of such a job), how long it takes: "Quick: 256 px, 3 × 10 steps, about 6 s"."""
    out = [CHOICES[0]]
    for name, (label, modes) in PRESETS.items():
        values = modes["classic"]
        text = f"{label}: {values['size']} px, {values['epochs']} × {values['steps_per_epoch']} steps"
        if seconds is not None:
            text += f", about {_duration(seconds('classic', values))}"
        out.append((name, text))
    return out


def _duration(seconds: float) -> str:
    return duration(max(1.0, seconds))


def values(preset: str, mode: str) -> dict[str, object]:
    """The field values a preset sets for a mode; empty for "custom" or an unknown name."""
    if preset not in PRESETS:
        return {}
    return dict(PRESETS[preset][1].get(mode, {}))


def as_json() -> dict[str, dict[str, dict[str, object]]]:
    """{preset: {mode: {field: value}}} for the page's script (json_script)."""
    return {name: modes for name, (_, modes) in PRESETS.items()}


def problems() -> list[str]:
    """What is wrong with PRESETS (empty: nothing): a control the mode does not have, a value of the
    wrong type or out of a user's range. The size must fit the default quota, or most users could
    not use the preset."""
    out = []
    for name, (_, modes) in PRESETS.items():
        for mode, values in modes.items():
            if mode not in schema.MODES:
                out.append(f"Preset {name!r}: there is no mode {mode!r}.")
                continue
            out += [f"Preset {name!r}, {mode} mode: {problem}"
                    for problem in schema.check_user_values(values, mode, quota=UserQuota().max_size)]
    return out
