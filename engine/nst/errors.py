"""Exceptions the engine raises. Each message is written for the person who has to act on it."""



class EngineError(Exception):
    """Base class: anything the engine refuses or cannot do, with a message a user can act on."""


class ImageError(EngineError):
    """An input image cannot be used (not an image, truncated, too large, unsupported...)."""


class VideoError(EngineError):
    """A clip cannot be used (not a video, damaged, audio only, over a limit, unreadable codec...)."""


class ParameterError(EngineError):
    """A parameter is out of range or inconsistent with another."""


class ModelFileError(EngineError):
    """A pretrained model file is missing or corrupt. The message names the file and the fix."""


class ResourceError(EngineError):
    """The run needs more memory than this machine can give it. The message says what would fit."""


class Stopped(EngineError):
    """The caller's stop check (`should_stop`) returned True: the run ended before its next step.
    Why it was asked to stop (a cancel, a shutdown, a lost lease) is the caller's business; the
    engine gives back the run's state so the caller can keep it: `checkpoint`, of the kind the
    run's `resume_from` takes (classic mode: an engine.nst.Checkpoint), or None when it has none."""

    def __init__(self, message: str, checkpoint: object | None = None):
        super().__init__(message)
        self.checkpoint = checkpoint
