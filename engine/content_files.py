"""The content files of a submission: one photo, or several photos and/or clips (a batch).

Each upload is sent down its path by its content (engine.nst.video_io.media_kind), cheapest checks
first and nothing stored:

- the number of files against the user's batch quota, before any file is read;
- a file's size against its kind's limit (a photo: NST_MAX_UPLOAD_MB; a clip: the user's
  max_clip_mb within the server's NST_MAX_CLIP_MB);
- a name that says the other kind ("holiday.mp4" that is a JPEG, "photo.jpg" that is a video) is
  refused: the user meant something else than what they sent;
- a photo is decoded and re-encoded (engine.forms), a clip probed against the user's clip limits
  (duration, resolution, frame count: engine.nst.video_io.probe, which decodes one frame).

A clip is stored as uploaded (FFmpeg re-reads it in the worker); what the job publishes is the
result, encoded from scratch, which carries none of the source's metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from engine.nst import VideoError
from engine.nst.video_io import VIDEO_EXTENSIONS, ClipInfo, ClipLimits, media_kind, probe

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
CLIP_SUFFIXES = {"gif": ".gif", "webp": ".webp", "matroska": ".webm", "webm": ".webm", "mov": ".mp4",
                 "mp4": ".mp4"}


class ContentRefused(Exception):
    """A content file cannot be used; the message is for the user."""


@dataclass
class Content:
    """One checked content file: a photo (`file` is its re-encoded PNG) or a clip (`file` the upload)."""

    name: str
    kind: str                 # "image" or "video"
    file: Any
    clip: ClipInfo | None = None

    @property
    def stored_name(self) -> str:
        if self.clip is None:
            return "content.png"
        suffix = CLIP_SUFFIXES.get(self.clip.container, Path(self.name).suffix.lower() or ".mp4")
        return f"content{suffix if suffix in VIDEO_EXTENSIONS + ('.gif', '.webp') else '.mp4'}"


def _source(upload: UploadedFile) -> Any:
    """What FFmpeg reads: the spooled file's path, or the in-memory file."""
    return upload.temporary_file_path() if hasattr(upload, "temporary_file_path") else upload.file


def kind_of(upload: UploadedFile) -> str:
    """"image" or "video" (see engine.nst.video_io.media_kind), refusing a name that says the other."""
    kind = media_kind(_source(upload), upload.name or "")
    name = (upload.name or "").lower()
    if kind == "image" and name.endswith(VIDEO_EXTENSIONS):
        raise ContentRefused(f"{upload.name} is named like a video, but it is not one: its content is a "
                             "picture (or not a clip we can read). Upload photos as JPEG, PNG or WebP, and "
                             "clips as MP4, MOV, WebM or animated GIF/WebP.")
    if kind == "video" and name.endswith(PHOTO_EXTENSIONS):
        raise ContentRefused(f"{upload.name} is named like a photo, but it is a video or an animation. "
                             "Rename it (e.g. to .mp4) if you meant to upload a clip.")
    return kind


def check_clip(upload: UploadedFile, limits: ClipLimits, max_bytes: int) -> ClipInfo:
    """The probed clip, or ContentRefused with the reason (size first: nothing decoded for that)."""
    if upload.size > max_bytes:
        raise ContentRefused(f"This clip is {upload.size / 2**20:.3g} MB; the largest clip you can upload is "
                             f"{max_bytes / 2**20:.3g} MB. Please trim it or export it smaller.")
    try:
        return probe(_source(upload), limits)
    except VideoError as exc:
        raise ContentRefused(str(exc)) from None
    finally:
        if hasattr(upload, "seek"):
            upload.seek(0)


def display_name(upload: UploadedFile) -> str:
    return os.path.basename(upload.name or "file")
