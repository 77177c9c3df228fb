"""Parameters of a classic (Gatys) run, their defaults and their bounds."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import ParameterError

# The seed's controls and ranges: what a user may set (the web form and the CLI use these).
USER_RANGES = {
    "size": (256, 1024),
    "content_weight": (1.0, 1e5),
    "style_weight": (1e-4, 1e-1),
    "tv_weight": (0.0, 100.0),
    "epochs": (1, 20),
    "steps_per_epoch": (10, 500),
}
# What the engine itself accepts: wider, so tests and benchmarks can run at tiny sizes.
ENGINE_SIZE_RANGE = (32, 2048)
MAX_STYLES = 3

CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Where the optimisation starts: the photo, noise, a mix of both, or fast mode's result for the
# same pair ("fast": the classic losses then refine an already stylised picture).
INITS = ("content", "noise", "mix", "fast")
PRECISIONS = ("auto", "bfloat16", "float32")


@dataclass(frozen=True)
class ClassicParams:
    size: int = 512                      # longest side of the result, px
    content_weight: float = 1e4          # alpha
    style_weight: float = 1e-2           # beta
    tv_weight: float = 30.0              # gamma
    epochs: int = 10                     # a preview (and a checkpoint) after each
    steps_per_epoch: int = 30
    optimizer: str = "lbfgs"             # or "adam" (the seed's)
    learning_rate: float | None = None   # None: 1.0 for L-BFGS, 0.02 for Adam
    network: str = "vgg16"               # or "vgg19"
    multiscale: bool = True              # coarse-to-fine
    init: str = "content"                # content | noise | mix | fast
    init_noise: float = 0.3              # share of noise when init="mix"
    style_weights: tuple[float, ...] = ()  # one per style image; empty: equal
    preserve_colors: bool = False        # luminance-only transfer
    seed: int = 0
    precision: str = "auto"              # auto: bfloat16 where the CPU has it, else float32
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = ()  # one per style layer; empty: equal

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClassicParams:
        known = {f.name for f in fields(cls)}
        clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**clean)

    def validate(self, n_styles: int) -> None:
        _in_range("size", self.size, *ENGINE_SIZE_RANGE)
        for name in ("content_weight", "style_weight", "tv_weight"):
            _in_range(name, getattr(self, name), 0.0, 1e8)
        _in_range("epochs", self.epochs, 1, 1000)
        _in_range("steps_per_epoch", self.steps_per_epoch, 1, 10000)
        _one_of("optimizer", self.optimizer, ("lbfgs", "adam"))
        _one_of("network", self.network, ("vgg16", "vgg19"))
        _one_of("init", self.init, INITS)
        _one_of("precision", self.precision, PRECISIONS)
        _in_range("init_noise", self.init_noise, 0.0, 1.0)
        if self.learning_rate is not None:
            _in_range("learning_rate", self.learning_rate, 1e-6, 100.0)
        if not self.content_layers or not self.style_layers:
            raise ParameterError("At least one content layer and one style layer are needed.")
        check_weights("style_layer_weights", self.style_layer_weights, len(self.style_layers))
        if not 1 <= n_styles <= MAX_STYLES:
            raise ParameterError(f"Give between 1 and {MAX_STYLES} style images (got {n_styles}).")
        check_weights("style_weights", self.style_weights, n_styles)


def check_weights(name: str, weights: tuple[float, ...], n: int) -> None:
    """Mixing weights: empty (equal) or one non-negative finite number per item, not all zero."""
    if not weights:
        return
    if len(weights) != n:
        raise ParameterError(f"{name}: give one weight per item ({n}), not {len(weights)}.")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ParameterError(f"{name}: weights must be non-negative numbers that do not sum to zero.")


def normalised(weights: tuple[float, ...], n: int) -> list[float]:
    if not weights:
        return [1.0 / n] * n
    total = float(sum(weights))
    return [w / total for w in weights]


def _in_range(name: str, value, low, high) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a number (got {value!r}).")
    if not low <= value <= high:
        raise ParameterError(f"{name} must be between {low:g} and {high:g} (got {value:g}).")


def _one_of(name: str, value, choices) -> None:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)} (got {value!r}).")
