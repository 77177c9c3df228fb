"""Bytes of image files made on purpose, for the tests that feed odd or broken files to the engine
(tests/test_images.py) and to the submission form (tests/test_bad_input.py)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_COLOUR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}


def flat_png(width: int, height: int, pixel: bytes = b"\x20\x60\xa0\x80", mode: str = "RGBA") -> bytes:
    """A real, complete 8-bit PNG of any size whose every pixel is `pixel` (RGBA: a semi-transparent
    blue by default), compressed row by row: a 50 MP image costs a fraction of a second and a few
    hundred KB to make, and all its bytes (200 MB for RGBA) once decoded."""
    row = b"\x00" + pixel * width  # filter byte "none" + the pixels
    packer = zlib.compressobj(6)
    rows_per_piece = max(1, 2**22 // len(row))
    piece = row * rows_per_piece
    parts = [packer.compress(piece) for _ in range(height // rows_per_piece)]
    parts += [packer.compress(row * (height % rows_per_piece)), packer.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[mode], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))
