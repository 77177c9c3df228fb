"""The files of a style job: where each one is stored, what it is called, and which of them a user
can download. One place, next to the model that writes them (engine.models), for everyone who
needs a name: the model's life-cycle methods, the job page, live events, previews, the admin,
clean-up and the gallery's thumbnails.

Every file of a job lives in jobs/<uuid>/ (not guessable, and removed together):

    content.png, style-<n>.png         the inputs (re-encoded uploads); a clip: content.<mp4|mov|webm|gif|webp>,
                                       as uploaded
    video/chunk-<NNNNN>.mp4            a video run's finished chunks, stored as each one ends (removed
                                       once the result is stored): a resumed run on any host fetches them
    result.mp4, poster.jpg             a video's result and its middle frame
    preview-e<NN>.jpg                  the preview after epoch NN (small JPEG, for watching)
    checkpoint-e<NN>.npz, -s<NNNNN>    the engine's state after an epoch / where a cancelled run stopped
    result.png, history.json, loss.png the outcome
    display.jpg, thumb.jpg             what pages show of the result (engine.storage.renditions)
    thumb-<kind>.jpg                   the gallery's thumbnails
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile


class StyleJob(Protocol):
    """What this module reads of an engine.models.StyleJob (which imports this module)."""
    uuid: UUID
    content: FieldFile
    result: FieldFile
    preview: FieldFile
    plot: FieldFile
    styles: Any  # its StyleImage related manager

RESULT = "result.png"
VIDEO_RESULT = "result.mp4"
POSTER = "poster.jpg"
DISPLAY = "display.jpg"
THUMBNAIL = "thumb.jpg"
VIDEO_WORK = "video"
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".gif", ".webp", ".mkv")
HISTORY = "history.json"
PLOT = "loss.png"
_PREVIEW = re.compile(r"preview-e(\d+)\.jpg$")


def job_file_name(job: StyleJob, filename: str) -> str:
    """Storage name of one of the job's files: jobs/<uuid>/<filename>."""
    return f"jobs/{job.uuid.hex}/{filename}"


def job_folder(job: StyleJob) -> str:
    return f"jobs/{job.uuid.hex}"


def is_video_name(name: str) -> bool:
    """Whether a stored file is a clip (a video job's content or result), by the name we gave it."""
    return bool(name) and name.lower().endswith(VIDEO_SUFFIXES)


def write_job_file(job: StyleJob, filename: str, data: bytes) -> str:
    """Store bytes as jobs/<uuid>/<filename> (replacing an older file of that name); returns the
    storage name to put into a FileField."""
    name = job_file_name(job, filename)
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


# --- inputs -----------------------------------------------------------------------------------------

def style_kind(position: int) -> str:
    """The `kind` of a style image in download and thumbnail URLs."""
    return f"style-{position}"


def style_position(kind: str) -> int | None:
    """The inverse of style_kind; None for any other kind (ASCII digits only: "style-²" is not one)."""
    digits = kind.removeprefix("style-") if kind.startswith("style-") else ""
    return int(digits) if digits.isascii() and digits.isdigit() else None


# --- epoch previews and checkpoints -----------------------------------------------------------------

def preview_name(epoch: int) -> str:
    return f"preview-e{epoch:02d}.jpg"


def preview_file(job: StyleJob, epoch: int) -> str:
    return job_file_name(job, preview_name(epoch))


def preview_epochs(job: StyleJob) -> list[int]:
    """Epochs whose preview exists: 1 .. the epoch of the latest one (`job.preview` points at the
    newest; the engine writes one per epoch, in order)."""
    match = _PREVIEW.search(job.preview.name or "")
    return list(range(1, int(match.group(1)) + 1)) if match else []


def epoch_checkpoint_name(epoch: int) -> str:
    return f"checkpoint-e{epoch:02d}.npz"


def stop_checkpoint_name(step: int) -> str:
    return f"checkpoint-s{step:05d}.npz"


# What a job keeps only for watching it run or resuming it: prune_jobs removes them once it has ended.
RUN_ONLY_FILES = re.compile(r"^(preview-e\d+\.jpg|checkpoint-[es]\d+\.npz)$")


# --- downloads --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    field: str          # the StyleJob file field it comes from
    content_type: str
    suffix: str         # of the download's file name, after "nst-job-<pk>"
    attachment: bool    # saved rather than shown, unless the URL asks ?inline=1
    label: str = ""     # for the job page's download buttons; "" = not offered there
    stored_as: str = ""  # only when the stored file's name ends so ("" = whatever it is): a result
                         # is a picture or a clip, and each has its own download


DOWNLOADS: dict[str, Download] = {
    "png": Download("result", "image/png", ".png", True, "Download PNG", stored_as=".png"),
    "mp4": Download("result", "video/mp4", ".mp4", True, "Download MP4", stored_as=".mp4"),
    "poster": Download("poster", "image/jpeg", "-poster.jpg", False),
    # What pages show of a picture's result (engine.storage.renditions), never offered as a download.
    "display": Download("display", "image/jpeg", "-display.jpg", False),
    "thumb": Download("thumbnail", "image/jpeg", "-thumb.jpg", False),
    "plot": Download("plot", "image/png", "-loss.png", True, "Loss plot (PNG)"),
    "csv": Download("history", "text/csv; charset=utf-8", "-loss.csv", True, "Loss history (CSV)"),
    "json": Download("history", "application/json", "-history.json", True, "History (JSON)"),
    "preview": Download("preview", "image/jpeg", "-preview.jpg", False),
    "content": Download("content", "image/png", "-content.png", False),
}
# The content as uploaded: a photo re-encoded as PNG, or a clip as it came.
CONTENT_TYPES = {".png": "image/png", ".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
                 ".gif": "image/gif", ".webp": "image/webp", ".mkv": "video/x-matroska"}


def is_original(kind: str) -> bool:
    """Is the download `kind` one of the job's inputs (the content photo or clip, a style image)?"""
    return kind == "content" or style_position(kind) is not None


def download_spec(kind: str, job: StyleJob | None = None) -> Download:
    """How a download `kind` is served (a style image: as its PNG, shown in the browser; the
    content: as what its stored file is, a PNG or the clip uploaded)."""
    if kind == "content" and job is not None and job.content.name:
        suffix = Path(job.content.name).suffix.lower()
        return Download("content", CONTENT_TYPES.get(suffix, "application/octet-stream"), f"-content{suffix}", False)
    return DOWNLOADS.get(kind) or Download("image", "image/png", f"-{kind}.png", False)


def file_for(job: StyleJob, kind: str) -> FieldFile | None:
    """The stored file behind a download `kind` of `job`, or None when the job has none (yet)."""
    if kind == "csv" and not job.plot:
        return None  # no losses (fast mode): the history holds only timings, no CSV to give
    if kind in DOWNLOADS:
        spec = DOWNLOADS[kind]
        field = getattr(job, spec.field)
        if spec.stored_as and not field.name.lower().endswith(spec.stored_as):
            return None  # e.g. "png" of a clip's result
        return field or None
    position = style_position(kind)
    if position is None:
        return None
    style = next((s for s in job.styles.all() if s.position == position), None)
    return style.image if style else None


def is_result_kind(kind: str) -> bool:
    """Is the download `kind` the job's result itself (its picture or its clip)?"""
    return kind in DOWNLOADS and DOWNLOADS[kind].field == "result"


def result_download(job: StyleJob) -> Download | None:
    """The download that is the job's result (its picture or its clip); None before it has one."""
    return next((d for kind, d in DOWNLOADS.items() if d.field == "result" and file_for(job, kind)), None)


def download_links(job: StyleJob) -> list[tuple[str, str]]:
    """(kind, label) of the downloads the job's page offers, for the files this job has."""
    return [(kind, d.label) for kind, d in DOWNLOADS.items() if d.label and file_for(job, kind)]


# --- the names the user gave ------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.-]+")


def safe_stem(name: str, default: str) -> str:
    """The stem of an uploaded file's name, fit for a file name in a download or a zip: no folder,
    no suffix, letters, digits, "-", "_" and "." only (runs of anything else become one "_"), no
    leading dot, at most 80 characters; `default` when nothing is left ("../", "", "???.png")."""
    stem = Path(name.replace("\\", "/").rsplit("/", 1)[-1]).stem
    stem = _UNSAFE.sub("_", stem).strip("._-")[:80].rstrip("._-")
    return stem or default


def unique_names(stems: list[str], suffixes: list[str]) -> list[str]:
    """File names from stems and suffixes, made unique (case-insensitively, as on many disks) by
    "-2", "-3", ...: a batch of photos may hold two called "IMG_0001.jpg"."""
    taken: set[str] = set()
    names = []
    for stem, suffix in zip(stems, suffixes, strict=True):
        name, n = f"{stem}{suffix}", 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(name.lower())
        names.append(name)
    return names
