"""Exceptions the engine raises. Each message is written for the person who has to act on it."""


class EngineError(Exception):
    """Base class: anything the engine refuses or cannot do, with a message a user can act on."""


class ImageError(EngineError):
    """An input image cannot be used (not an image, truncated, too large, unsupported...)."""


class ParameterError(EngineError):
    """A parameter is out of range or inconsistent with another."""


class ModelFileError(EngineError):
    """A pretrained model file is missing or corrupt. The message names the file and the fix."""


class ResourceError(EngineError):
    """The run needs more memory than this machine can give it. The message says what would fit."""


class Cancelled(EngineError):
    """The caller's cancel check returned True; raised within one optimisation step."""
