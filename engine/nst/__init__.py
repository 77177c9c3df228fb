"""The nstsite stylisation engine: TensorFlow + NumPy + Pillow, no Django.

Importing this package is cheap (TensorFlow loads on first use). The public face:

    from engine.nst import ClassicParams, stylize_classic, FastParams, get_fast_stylizer, images
    content = images.load_array("photo.jpg", 512)
    style = images.load_array("painting.jpg", 512)
    result = stylize_classic(content, [style], ClassicParams(size=512), on_epoch=print)
    images.save_png(result.image, "out.png"); result.history.save("out")

Every control a user can set is declared once in `schema` (its CONTROLS); `params_class(mode)`
gives the dataclass a mode's controls fill in.
"""

from engine.nst import images, schema
from engine.nst.checkpoint import Checkpoint
from engine.nst.classic import ClassicResult, EpochReport, StepReport, stylize_classic
from engine.nst.classic_params import ClassicParams
from engine.nst.errors import (
    EngineError,
    ImageError,
    ModelFileError,
    ParameterError,
    ResourceError,
    Stopped,
    VideoError,
)
from engine.nst.fast import FastParams, FastResult, FastStylizer, get_fast_stylizer
from engine.nst.history import LossHistory, LossRow
from engine.nst.video import VideoCheckpoint, VideoParams, VideoResult, stylize_video


def params_class(mode: str) -> type[ClassicParams] | type[FastParams] | type[VideoParams]:
    """The params dataclass of a mode (schema.CLASSIC, schema.FAST or schema.VIDEO)."""
    return {schema.CLASSIC: ClassicParams, schema.FAST: FastParams, schema.VIDEO: VideoParams}[mode]


__all__ = [
    "Checkpoint", "ClassicParams", "ClassicResult", "EngineError", "EpochReport", "FastParams",
    "FastResult", "FastStylizer", "ImageError", "LossHistory", "LossRow", "ModelFileError", "ParameterError",
    "ResourceError", "StepReport", "Stopped", "get_fast_stylizer", "images", "params_class", "schema",
    "stylize_classic", "stylize_video", "VideoCheckpoint", "VideoError", "VideoParams", "VideoResult",
]
