"""Gallery thumbnails: small JPEGs of a job's result and input images, made once with Pillow when
the job is first published, stored beside the job's other files (jobs/<uuid>/thumb-<kind>.jpg,
so they go with the job's folder), and served as they are: never resized per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models.fields.files import FieldFile
from PIL import Image

from engine.models import StyleJob
from engine.nst import VideoError, images, video_io
from engine.storage.job_files import write_job_file
from engine.storage.renditions import THUMB_SIDE
from engine.storage.workspace import Workspace

# The grid shows results at up to ~15rem wide: 480 px covers that on high-density screens. As large
# as the job's own list thumbnail, which it is made from.
RESULT_SIDE = THUMB_SIDE
# Content and style images are shown small, beside the result.
INPUT_SIDE = 240
QUALITY = 82

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnails:
    names: dict[str, str]   # kind -> storage name
    width: int              # of the result's thumbnail
    height: int


def make_thumbnails(job: StyleJob) -> Thumbnails:
    """Write the thumbnails of a succeeded job (its result must exist). Reads each image once. The
    result's comes from the job's own list thumbnail (engine.storage.renditions, as large): never the
    full result decoded again, which may be a 8192 px PNG; failing that (a job older than those), from
    a video's poster (the middle frame) or the result. A clip content's is its middle frame."""
    names: dict[str, str] = {}
    width, height = _write(job, "result", job.thumbnail or job.poster or job.result, RESULT_SIDE, names)
    if job.content_is_video:
        # Read shrunk, within the clip limits like any clip (video_io.still): a clip whose later
        # frames are huge is refused, not decoded at full size in the web process.
        try:
            with Workspace("thumbnail") as ws:  # PyAV reads a file: a copy of the stored clip
                frame = video_io.still(ws.fetch(job.content.name), fit=INPUT_SIDE)
        except VideoError as exc:
            logger.warning("No thumbnail of job %s's clip: %s", job.pk, exc)
        else:
            _write_image(job, "content", Image.fromarray(frame), INPUT_SIDE, names)
    else:
        _write(job, "content", job.content, INPUT_SIDE, names)
    for style in job.styles.all():
        _write(job, style.download_kind, style.image, INPUT_SIDE, names)
    return Thumbnails(names=names, width=width, height=height)


def _write(job: StyleJob, kind: str, field: FieldFile, side: int, names: dict[str, str]) -> tuple[int, int]:
    # A result may be larger than any upload: fast mode renders print sizes up to 8192 px.
    limit = images.MAX_RESULT_PIXELS if kind == "result" else images.MAX_PIXELS
    with field.open("rb") as fh:
        img = images.open_image(fh, max_pixels=limit)
    return _write_image(job, kind, img, side, names)


def _write_image(job: StyleJob, kind: str, img: Image.Image, side: int, names: dict[str, str]) -> tuple[int, int]:
    if max(img.size) > side:  # never enlarged
        img = images.resize_longest(img, side)
    names[kind] = write_job_file(job, f"thumb-{kind}.jpg", images.encode_jpeg(img, quality=QUALITY))
    return img.size
