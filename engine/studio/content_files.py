"""The uploaded images and clips of a submission: which kind each is, and its checks, cheapest
first, before anything is stored.

- `detect_kind(upload)`: "image" or "video" from the file's content (engine.nst.video_io.media_kind,
  whose table of signatures is the one there is: nstsite.request_limits.limits's upload handler reads it too),
  decided once per upload and kept on it: the admission's pixel budget and the form both ask, and an
  animated GIF's frames are counted by reading all of it. A name that says the other kind
  ("holiday.mp4" that is a JPEG, "photo.jpg" that is a video) is refused: the user meant something
  else than what they sent.
- `header_pixels(upload, max_side)`: the pixels decoding it will hold, from the header alone (the pixel
  budget, engine.studio.admission): width x height, or a JPEG's at the scale libjpeg decodes it at.
- `check_photo(upload, max_side)`: a photo's size against NST_MAX_UPLOAD_BYTES (said again here,
  in the user's words: see nstsite.request_limits.limits for where else the byte limits apply and why), then
  decoded while shrunk to `max_side` (engine.nst.images.open_image, which also refuses images over
  50 megapixels before decoding them), converted to 8-bit sRGB and re-encoded as PNG without
  metadata (no EXIF/GPS, no ICC profile, no text chunks).
- `check_clip(upload, limits, max_bytes)`: a clip's size against the user's clip quota, then probed
  once (engine.nst.video_io.probe: duration, resolution, frame count, one frame decoded), then
  re-muxed without its metadata (engine.nst.clip_metadata: GPS, names, dates; its frames and sound
  copied, not re-encoded) into a temporary file, which is what the job stores: an original that
  its owner shares in the gallery carries nothing but the pictures and the sound (issue 24,
  finding 12). The job's result is encoded from scratch and carries none of it either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import UploadedFile

from engine.nst import ImageError, VideoError, clip_metadata, images, schema
from engine.nst.video_io import VIDEO_EXTENSIONS, ClipInfo, ClipLimits, media_kind, probe

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
CLIP_SUFFIXES = {"gif": ".gif", "webp": ".webp", "matroska": ".webm", "webm": ".webm", "mov": ".mp4",
                 "mp4": ".mp4"}
# Largest side kept of an upload for a user whose quota is at most this: more is only disk, and
# encoding time in the request. A user allowed larger results (print sizes) keeps their photo up to
# their quota's size, so a print is not an enlarged 2048 px photo.
STORED_MAX_SIDE = 2048
_KIND = "_nst_kind"  # where detect_kind keeps its answer on the upload
# A name that says the other kind: per kind, the suffixes that would, and what to tell the user.
_MISNAMED = {
    "image": (VIDEO_EXTENSIONS, "{name} is named like a video, but it is not one: its content is a picture (or "
                                "not a clip we can read). Upload photos as JPEG, PNG or WebP, and clips as MP4, "
                                "MOV, WebM or animated GIF/WebP."),
    "video": (PHOTO_EXTENSIONS, "{name} is named like a photo, but it is a video or an animation. Rename it "
                                "(e.g. to .mp4) if you meant to upload a clip."),
}


class ContentRefused(Exception):
    """A file cannot be used; the message is for the user, `code` for a program (the API)."""

    def __init__(self, message: str, code: str = "invalid_content"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Content:
    """One checked content file: a photo (`file` is its re-encoded PNG, `size` its width and height)
    or a clip (`file` the upload, `clip` what the probe found)."""

    name: str
    kind: str                 # "image" or "video"
    file: Any
    clip: ClipInfo | None = None
    size: tuple[int, int] | None = None

    @property
    def frames(self) -> int | None:
        return self.clip.frames if self.clip is not None else None

    @property
    def stored_name(self) -> str:
        if self.clip is None:
            return "content.png"
        suffix = CLIP_SUFFIXES.get(self.clip.container, Path(self.name).suffix.lower() or ".mp4")
        return f"content{suffix if suffix in VIDEO_EXTENSIONS + ('.gif', '.webp') else '.mp4'}"


def stored_max_side(max_size: int) -> int:
    """The largest side an upload is kept at, for a user whose results may be `max_size` px."""
    return min(int(schema.CONTROLS["size"].engine_bounds()[1]), max(STORED_MAX_SIDE, max_size))


def _source(upload: UploadedFile) -> Any:
    """What FFmpeg reads: the spooled file's path, or the in-memory file."""
    return upload.temporary_file_path() if hasattr(upload, "temporary_file_path") else upload.file


def detect_kind(upload: UploadedFile) -> str:
    """"image" or "video" (see the module notes), refusing a name that says the other."""
    kind = getattr(upload, _KIND, None)
    if kind is None:
        kind = media_kind(_source(upload), upload.name or "")
        setattr(upload, _KIND, kind)
    suffixes, message = _MISNAMED[kind]
    if (upload.name or "").lower().endswith(suffixes):
        raise ContentRefused(message.format(name=upload.name))
    return kind


def is_clip(upload: UploadedFile) -> bool:
    """Is the upload a clip (by its content)? A file whose name and content disagree counts as none:
    the form says why."""
    try:
        return detect_kind(upload) == "video"
    except ContentRefused:
        return False


def header_pixels(upload, max_side: int | None = None) -> int:
    """Width × height of an uploaded image as check_photo(upload, max_side) will decode it, from its
    header (nothing decoded); 0 for no file, one over the upload size limit or one that is not a
    readable image (the form says why)."""
    if not upload or not hasattr(upload, "size") or upload.size > settings.NST_MAX_UPLOAD_BYTES:
        return 0
    try:
        width, height = images.probe(upload, max_side=max_side)
    except ImageError:
        return 0
    return width * height


def megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def check_photo(upload: UploadedFile, max_side: int, name: str) -> Content:
    """The checked photo re-encoded as `<name>.png` (see the module notes), or ContentRefused."""
    limit = settings.NST_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise ContentRefused(
            f"This file is {megabytes(upload.size)}; the largest file you can upload is {megabytes(limit)}. "
            "Please make it smaller (e.g. save it as JPEG or scale it down) and try again.", "too_large")
    try:
        img = images.open_image(upload, max_side=max_side)  # shrunk while decoded
    except ImageError as exc:
        raise ContentRefused(str(exc), "invalid_image") from None
    return Content(display_name(upload), "image", ContentFile(images.encode_png(img), name=f"{name}.png"),
                   size=img.size)


def check_clip(upload: UploadedFile, limits: ClipLimits, max_bytes: int) -> Content:
    """The probed clip, or ContentRefused with the reason (size first: nothing decoded for that)."""
    if upload.size > max_bytes:
        raise ContentRefused(f"This clip is {upload.size / 2**20:.3g} MB; the largest clip you can upload is "
                             f"{max_bytes / 2**20:.3g} MB. Please trim it or export it smaller.", "too_large")
    try:
        info = probe(_source(upload), limits)
        stripped = _without_metadata(upload, info)
    except VideoError as exc:
        raise ContentRefused(str(exc)) from None
    finally:
        if hasattr(upload, "seek"):
            upload.seek(0)
    return Content(display_name(upload), "video", stripped, info)


def _without_metadata(upload: UploadedFile, info: ClipInfo) -> File:
    """The clip re-muxed without its metadata, as an open file whose name is already gone from the
    folder: nothing is left behind however the submission ends (the job service stores it; a
    refused submission's goes with the form)."""
    suffix = Path(upload.name or "").suffix.lower()[:8]
    with _scratch(suffix) as out:
        if hasattr(upload, "temporary_file_path"):
            clip_metadata.strip(upload.temporary_file_path(), out, info.container)
        else:  # a small upload held in memory: FFmpeg reads a file
            with _scratch(suffix) as whole:
                upload.seek(0)
                with open(whole, "wb") as fh:
                    shutil.copyfileobj(upload.file, fh)
                clip_metadata.strip(whole, out, info.container)
        kept = open(out, "rb")  # noqa: SIM115 - the File below owns it; the name goes when _scratch ends
    return File(kept, name=upload.name)


@contextmanager
def _scratch(suffix: str) -> Iterator[str]:
    """A temporary file's path, where uploads spool, removed from the folder at the end."""
    handle, path = tempfile.mkstemp(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR)
    os.close(handle)
    try:
        yield path
    finally:
        os.unlink(path)


def display_name(upload: UploadedFile) -> str:
    return os.path.basename(upload.name or "file")
