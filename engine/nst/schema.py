"""Every control of a stylisation, declared once: name, label, type, default, ranges, unit, help,
the modes that use it, and the hints the user interfaces need.

Everything else is derived from these declarations:

- the engine's parameter checks (`check`, called by ClassicParams.validate and FastParams.validate)
  and the dataclasses' defaults (`default`);
- `from_dict` of ClassicParams and FastParams (a stored job's JSON back into params);
- the submission form's fields: label, bounds, range message, initial value, help, layout
  (engine.studio.forms), the presets' validation (engine.studio.presets), the job page's parameter table
  (engine.studio.describe);
- the command line's options, with their defaults in --help (engine.nst.cli).

Two ranges per number: `user` is what a person may ask for on the web (the seed's ranges; for the
size the upper bound is the user's quota, engine.models.UserQuota.max_size), `engine` what the
engine accepts where that is wider (tests and benchmarks run at 32-64 px, the CLI is not bounded by
a quota). A control with only an engine range is bounded on the form by it too, with Django's own
wording (a seed is not a setting with a "sensible" range, only a valid one).

To add a control: declare it in CONTROLS, add the field to its mode's params dataclass with
`default("name")` as its default, and use it in the engine. The form, the CLI, the job page and
from_dict pick it up from here.

No Django here: the engine stays usable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from numbers import Integral, Real
from typing import Any, Literal, TypeVar

from engine.nst.errors import ParameterError

CLASSIC, FAST, VIDEO = "classic", "fast", "video"
MODES = (CLASSIC, FAST, VIDEO)
# Each mode as a user chooses it (the form's choice, the job page, the gallery's filter:
# engine.models.Mode is made from these).
MODE_LABELS = {CLASSIC: "Classic (best quality, slow)", FAST: "Fast (one pass, seconds)",
               VIDEO: "Video (clips, fast mode on every frame)"}
BOTH = MODES  # every mode (the name predates video mode)
PER_FRAME = (FAST, VIDEO)  # video mode runs fast mode's network on every frame

Kind = Literal["int", "float", "bool", "choice"]
Range = tuple[float, float]


@dataclass(frozen=True)
class Control:
    name: str                    # the params field, the form field, the key in a job's stored JSON
    label: str                   # on the form; the CLI's help when there is no help text
    kind: Kind
    default: Any
    modes: tuple[str, ...]       # the modes whose params have this field
    # What a user may ask for on the web: (low, high); high None = the user's quota (size).
    user: tuple[float, float | None] | None = None
    # What the engine accepts where that is wider than `user`; a {mode: range} where modes differ.
    engine: Range | Mapping[str, Range] | None = None
    unit: str = ""
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) of a choice control
    none_means: str = ""         # set: None is allowed, and this says what the engine then does
    # Hints for the user interfaces.
    scale: Literal["linear", "log"] = "linear"  # for a slider: log for quantities spanning decades
    step: float | None = None    # None: 1 for whole numbers, any for the others
    row: str | None = None       # controls of one row sit side by side on the form
    table_label: str = ""        # on the job page, when shorter than the label
    shown_with: str = ""         # on the job page, in that control's row: "<its value> × <mine>"
    cli_flag: str = ""           # when not --name-with-dashes; a bool's flag flips its default
    web: bool = True             # False: the CLI and Python callers only (not the form, not the table)

    # --- bounds -----------------------------------------------------------------------------

    def engine_bounds(self, mode: str | None = None) -> Range | None:
        """What the engine accepts in `mode` (None: in any mode, the widest)."""
        if isinstance(self.engine, Mapping):
            ranges = [self.engine[mode]] if mode else list(self.engine.values())
            return min(low for low, _ in ranges), max(high for _, high in ranges)
        if self.engine is not None:
            return self.engine
        if self.user is not None and self.user[1] is not None:
            return self.user[0], self.user[1]
        return None

    def user_bounds(self, quota: float | None = None) -> Range | None:
        """What a user may ask for; an open upper bound is the quota, never above the engine's."""
        if self.user is None:
            return None
        low, high = self.user
        if high is None:
            engine_high = self.engine_bounds()[1]
            high = engine_high if quota is None else min(quota, engine_high)
        return low, high

    @property
    def ui_step(self) -> float | None:
        """The step of an input or slider; None: any number."""
        return self.step if self.step is not None else (1 if self.kind == "int" else None)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    # --- checks -----------------------------------------------------------------------------

    def check(self, value: Any, bounds: Range | None) -> None:
        """Raise ParameterError unless `value` is of this control's type and within `bounds`."""
        if value is None and self.none_means:
            return
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{self.name} must be true or false (got {value!r}).")
        elif self.kind == "choice":
            if value not in self.choice_values:
                raise ParameterError(
                    f"{self.name} must be one of {', '.join(self.choice_values)} (got {value!r}).")
        else:
            if self.kind == "int" and (isinstance(value, bool) or not isinstance(value, Integral)):
                raise ParameterError(f"{self.name} must be a whole number (got {value!r}).")
            check_number(self.name, value, *(bounds or (-math.inf, math.inf)), unit=self.unit)

    # --- display ----------------------------------------------------------------------------

    def display(self, value: Any) -> str:
        """The value as a person reads it on a page: a choice's label ("Fast mode's result", not
        "fast"), anything else as format() writes it (the CLI and the API keep the values)."""
        if self.kind == "choice":
            return dict(self.choices).get(value, str(value))
        return self.format(value)

    def format(self, value: Any, *, unit: bool = True) -> str:
        """The value as the CLI's help and the API write it (pages show display())."""
        if value is None:
            return self.none_means
        if self.kind == "bool":
            return "yes" if value else "no"
        text = _show(value) if self.kind == "float" else str(value)
        return f"{text} {self.unit}" if self.unit and unit else text


CONTROLS: dict[str, Control] = {c.name: c for c in (
    # Fast mode starts at 64 px: below that its transformer's quarter-size feature maps are a few
    # pixels wide; it goes to print sizes, 8192 px (in tiles above 2048x2048 pixels). Classic mode
    # goes to 2048 px where the worker's memory allows (engine.nst.classic_memory refuses the rest).
    # Video frames go to 1920 px, the largest clip a user may upload (engine.nst.video_io.ClipLimits).
    Control("size", "Size", "int", 512, BOTH, user=(256, None),
            engine={CLASSIC: (32, 2048), FAST: (64, 8192), VIDEO: (64, 1920)}, unit="px", row="size",
            help="Longest side of the result, in pixels."),
    # 4 x 10 from fast mode's result (init below): the quality bench's scores are best after 20-60
    # steps of a fast start and fall slowly after (docs/benchmarks.md, "Quality"); 40 steps at the
    # final size cost about a quarter of the old default's 10 x 30 from the photo, coarse-to-fine.
    Control("epochs", "Epochs", "int", 4, (CLASSIC,), user=(1, 20), engine=(1, 1000), row="length",
            table_label="Epochs × steps", help="A preview after each epoch."),
    Control("steps_per_epoch", "Steps per epoch", "int", 10, (CLASSIC,), user=(10, 500), engine=(1, 10000),
            row="length", shown_with="epochs", cli_flag="--steps"),
    Control("content_weight", "Content weight", "float", 1e4, (CLASSIC,), user=(1.0, 1e5), engine=(0.0, 1e8),
            scale="log", row="weights"),
    Control("style_weight", "Style weight", "float", 1e-2, (CLASSIC,), user=(1e-4, 1e-1), engine=(0.0, 1e8),
            scale="log", row="weights"),
    Control("tv_weight", "Smoothness (total variation) weight", "float", 30.0, (CLASSIC,), user=(0.0, 100.0),
            engine=(0.0, 1e8), row="weights", table_label="Smoothness (TV) weight"),
    Control("optimizer", "Optimiser", "choice", "lbfgs", (CLASSIC,), row="choices",
            choices=(("lbfgs", "L-BFGS (fewer steps)"), ("adam", "Adam"))),
    Control("network", "Feature network", "choice", "vgg16", (CLASSIC,), row="choices",
            choices=(("vgg16", "VGG16"), ("vgg19", "VGG19 (needs its model file)"))),
    Control("multiscale", "Coarse-to-fine (faster at large sizes)", "bool", True, (CLASSIC,),
            table_label="Coarse-to-fine", cli_flag="--single-scale",
            help="Most steps at smaller sizes first, from the photo, noise or a mix; a start from fast "
                 "mode's result begins at the final size."),
    # "fast" (the default since issue 25): fast mode's result of the same pair, refined at the final
    # size. Against the photo start it scores higher on style and contours on nearly every pair of
    # the quality bench (docs/benchmarks.md, "Quality"). Jobs stored before keep their own start
    # (engine/migrations/0011, 0012); a worker without fast mode's model starts from the photo and
    # the job says so (engine.nst.classic.FAST_START_FALLBACK).
    Control("init", "Start from", "choice", "fast", (CLASSIC,), row="choices",
            choices=(("content", "Content"), ("noise", "Noise"), ("mix", "Mix"),
                     ("fast", "Fast mode's result"))),
    Control("seed", "Random seed", "int", 0, (CLASSIC,), engine=(0, 2**31 - 1), row="choices",
            table_label="Seed"),
    Control("learning_rate", "Learning rate", "float", None, (CLASSIC,), engine=(1e-6, 100.0), scale="log",
            none_means="1.0 for L-BFGS, 0.02 for Adam", web=False),
    Control("precision", "Precision", "choice", "auto", (CLASSIC,), web=False,
            choices=(("auto", "Auto"), ("bfloat16", "bfloat16"), ("float32", "float32")),
            help="auto is bfloat16 where the CPU computes it natively, else float32."),
    Control("strength", "Style strength", "float", 1.0, PER_FRAME, user=(0.0, 1.0), step=0.05,
            help="0 keeps the photo, 1 is the full style."),
    # Not "network": that is classic mode's feature network, and the form has one namespace. The
    # form offers "tfhub" only where the server sets NST_FAST_HUB_HANDLE (engine.studio.forms).
    Control("fast_network", "Fast network", "choice", "builtin", (FAST,),
            choices=(("builtin", "Built-in (any size)"), ("tfhub", "TF-Hub model")),
            help="The TF-Hub model takes one style image at full strength, up to 2048 px."),
    Control("preserve_colors", "Keep the content's colours", "bool", False, BOTH),
    # 0.6: flicker down by well over 40 % at about the naive run's style strength (docs/benchmarks.md,
    # "Video"); engine.nst.temporal says how.
    Control("stability", "Temporal stability", "float", 0.6, (VIDEO,), user=(0.0, 1.0), step=0.05,
            help="How much each frame follows the previous one along the motion: higher flickers less, "
                 "0 paints every frame on its own (sharper, but the strokes flicker)."),
    # The unit of crash recovery: a killed worker loses at most one chunk (engine.nst.video).
    Control("chunk_frames", "Frames per chunk", "int", 48, (VIDEO,), engine=(1, 10000), web=False,
            help="Frames encoded per chunk; a resumed run goes on after the last whole chunk."),
)}


def controls(mode: str | None = None, *, web: bool | None = None) -> tuple[Control, ...]:
    """The controls of `mode` (None: all), in declaration order; web=True: only those on the form."""
    return tuple(c for c in CONTROLS.values()
                 if (mode is None or mode in c.modes) and (web is None or c.web == web))


def default(name: str) -> Any:
    """A control's default, for the params dataclasses' field defaults."""
    return CONTROLS[name].default


def check(params: Any, mode: str) -> None:
    """Raise ParameterError for the first control of `mode` whose value the engine cannot take."""
    for control in controls(mode):
        control.check(getattr(params, control.name), control.engine_bounds(mode))


def check_user_values(values: Mapping[str, Any], mode: str, *, quota: float | None = None) -> list[str]:
    """What is wrong with `values` as a user's choice of `mode`'s controls (the presets use it):
    unknown names, other modes' controls, wrong types, values out of the user's range."""
    problems = []
    for name, value in values.items():
        control = CONTROLS.get(name)
        if control is None or not control.web or mode not in control.modes:
            problems.append(f"{name} is not a control a user sets in {mode} mode.")
            continue
        try:
            control.check(value, control.user_bounds(quota) or control.engine_bounds(mode))
        except ParameterError as exc:
            problems.append(str(exc))
    return problems


def check_number(name: str, value: Any, low: float, high: float, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a number (got {value!r}).")
    if not low <= value <= high:
        unit = f" {unit}" if unit else ""
        raise ParameterError(f"{name} must be between {_show(low)} and {_show(high)}{unit} (got {_show(value)}).")


def _show(number: float) -> str:
    return str(number) if isinstance(number, Integral) else f"{number:g}"


P = TypeVar("P")


def from_dict(cls: type[P], data: Mapping[str, Any]) -> P:
    """Params of dataclass `cls` from a dict (a job's stored JSON, form or CLI values): unknown keys
    are ignored (a control since removed), missing ones take their defaults (a control since
    added), lists become tuples (JSON has no tuples)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})

