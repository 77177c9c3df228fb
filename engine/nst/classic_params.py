"""Parameters of a classic (Gatys) run. The user's controls, their defaults and their bounds are
declared in engine.nst.schema; the fields below them (layers, mixing weights) are the engine's own."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

from engine.nst import schema
from engine.nst.errors import ParameterError
from engine.nst.schema import default

MAX_STYLES = 3

CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


@dataclass(frozen=True)
class ClassicParams:
    size: int = default("size")                      # longest side of the result, px
    content_weight: float = default("content_weight")  # alpha
    style_weight: float = default("style_weight")      # beta
    tv_weight: float = default("tv_weight")            # gamma
    epochs: int = default("epochs")                  # a preview (and a checkpoint) after each
    steps_per_epoch: int = default("steps_per_epoch")
    optimizer: str = default("optimizer")            # lbfgs or adam (the seed's)
    learning_rate: float | None = default("learning_rate")  # None: 1.0 for L-BFGS, 0.02 for Adam
    network: str = default("network")                # vgg16 or vgg19
    multiscale: bool = default("multiscale")         # coarse-to-fine
    init: str = default("init")                      # content | noise | mix | fast
    init_noise: float = 0.3              # share of noise when init="mix"
    style_weights: tuple[float, ...] = ()  # one per style image; empty: equal
    preserve_colors: bool = default("preserve_colors")  # luminance-only transfer
    seed: int = default("seed")
    precision: str = default("precision")            # auto: bfloat16 where the CPU has it, else float32
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = ()  # one per style layer; empty: equal
    color_weight: float = 0.0  # the palette term (losses.colour_loss), relative to the Gram terms; 0: none

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassicParams:
        return schema.from_dict(cls, data)

    def validate(self, n_styles: int) -> None:
        schema.check(self, schema.CLASSIC)
        schema.check_number("init_noise", self.init_noise, 0.0, 1.0)
        schema.check_number("color_weight", self.color_weight, 0.0, 1e4)
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
    numbers = all(isinstance(w, Real) and not isinstance(w, bool) and math.isfinite(w) for w in weights)
    if not numbers or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ParameterError(f"{name}: weights must be non-negative numbers that do not sum to zero.")


def normalised(weights: tuple[float, ...], n: int) -> list[float]:
    if not weights:
        return [1.0 / n] * n
    total = float(sum(weights))
    return [w / total for w in weights]
