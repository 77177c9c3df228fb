"""The settings a result carries inside its file (issue 22): a PNG's `iTXt` chunk with the keyword
`nstsite`, a video's `nstsite` metadata tag; JSON either way:

    {"format": 1, "site_version": "1.0", "mode": "classic", "params": {...the engine's...},
     "styles": [{"position": 1, "weight": 1.0,
                 "library": {"id": 3, "painter": "Vincent van Gogh", "title": "The Starry Night",
                             "year": "1889", "licence": "Public domain"}},      (null: an upload)
                ...]}

What it never carries: the owner's name, and the names of the files they uploaded (the site does
not keep them anyway), nor anything of their photo. A style that was an upload is only its slot
and weight. Dropping the file on the submission form fills in its settings, as a remix does
(engine.studio.settings_from); the API takes it as `settings_from`. Its owner can leave it out
(the job's `embed_settings`).

Reading never decodes the image: it walks the PNG's chunks by their lengths (Pillow reads text
chunks that follow the pixels only after decoding them all).
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import IO, Any

from django.conf import settings

KEYWORD = b"nstsite"
FORMAT = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 100_000          # a file with more is not one of ours
MAX_TEXT_BYTES = 64 * 1024    # our chunk is a few hundred bytes


def settings_of(job: Any) -> dict:
    """The settings of `job` (a StyleJob) as its result carries them (see the module notes)."""
    styles = [{"position": s.position, "weight": s.weight, "library": _credit(s.library_style)}
              for s in job.styles.select_related("library_style")]
    return {"format": FORMAT, "site_version": settings.NST_SITE_VERSION, "mode": job.mode,
            "params": job.params, "styles": styles}


def _credit(style: Any) -> dict | None:
    if style is None:
        return None
    return {"id": style.pk, "painter": style.painter, "title": style.title, "year": style.year,
            "licence": style.licence}


def as_text(data: dict) -> str:
    """Keys sorted: the same settings make the same bytes whether the job's parameters come from
    the form (insertion order) or from PostgreSQL (jsonb keeps its own order)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# --- PNG ------------------------------------------------------------------------------------------

def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def embed_png(png: bytes, data: dict) -> bytes:
    """`png` with the settings as an uncompressed iTXt chunk before IEND (an older one replaced)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    text = KEYWORD + b"\x00\x00\x00" + b"\x00" + b"\x00" + as_text(data).encode()
    kept, offset = [png[:8]], 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        end = offset + 12 + length
        if kind == b"IEND":
            kept.append(_chunk(b"iTXt", text))
        if not (kind == b"iTXt" and png[offset + 8:offset + 8 + len(KEYWORD) + 1] == KEYWORD + b"\x00"):
            kept.append(png[offset:end])
        offset = end
    return b"".join(kept)


def read_png(fh: IO[bytes]) -> dict | None:
    """The settings in a PNG file (read from its current position), or None when it is not a PNG
    or carries none (or they are not readable). Reads chunk headers only, seeking over the rest."""
    if fh.read(8) != PNG_SIGNATURE:
        return None
    for _ in range(MAX_CHUNKS):
        header = fh.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return None
        if kind == b"iTXt" and length <= MAX_TEXT_BYTES:
            found = _itxt_settings(fh.read(length))
            if found is not None:
                return found
            fh.seek(4, 1)
        else:
            fh.seek(length + 4, 1)
    return None


def _itxt_settings(body: bytes) -> dict | None:
    keyword, _, rest = body.partition(b"\x00")
    if keyword != KEYWORD or len(rest) < 2:
        return None
    compressed, rest = rest[0], rest[2:]
    _, _, rest = rest.partition(b"\x00")   # language tag
    _, _, text = rest.partition(b"\x00")   # translated keyword
    try:
        if compressed:
            text = zlib.decompressobj().decompress(text, MAX_TEXT_BYTES)
        data = json.loads(text.decode("utf-8"))
    except (ValueError, zlib.error):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


# --- video ---------------------------------------------------------------------------------------

def video_metadata(data: dict) -> dict[str, str]:
    """The container metadata tags of a video result (engine.nst.video_io.assemble writes them)."""
    return {KEYWORD.decode(): as_text(data)}
