"""Clips whose headers claim far more than their bytes (issue 24, findings 1 and 3), made here byte by
byte: a few hundred bytes that declare an 8000² canvas, a 16000² frame, ten million frames. Each is
a well-formed file of its kind, so that a decoder that believes it does the work (or tries to).
Free of pytest: bench/bench_upload_memory.py sends them too.

- `gif_canvas(side)`: an animated GIF of two 1×1 frames on a side×side logical screen (Pillow
  composites every frame onto the whole screen).
- `gif_many_frames(frames, width, height)`: a GIF of `frames` 1×1 frames of 40 ms on a width×height
  screen.
- `webp_canvas(side)`: an animated WebP of two small frames on a side×side canvas (libwebp
  allocates the canvas, twice).
- `mov(frames, width, height, ...)`: a QuickTime file whose video track holds `frames` samples,
  encoded as PNG (four-cc "png "), its sample table written by hand: `claimed` samples may be far
  more than those stored (FFmpeg builds an index entry for each when it opens the file), and the
  sample entry may declare another size than the pictures.
- `growing_mov(...)`: a PNG-in-MOV whose first frame is 64×48 and whose next frames are huge, with
  a sample entry that says 64×48 (finding 3).
"""

from __future__ import annotations

import struct

from PIL import Image

from tests.crafted_images import encode, flat_png

# One pixel of colour index 0, LZW-coded with a minimum code size of 2: clear, 0, end.
_ONE_PIXEL_LZW = b"\x02\x02\x44\x01\x00"


def _gif(width: int, height: int, frames: int, delay_cs: int = 4) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # a 2-colour global table
    palette = b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00"   # graphic control: the delay
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + _ONE_PIXEL_LZW)  # a 1×1 image at the corner
    return header + palette + loop + frame * frames + b"\x3b"


def gif_canvas(side: int = 13000) -> bytes:
    return _gif(side, side, 2)


def gif_many_frames(frames: int = 20000, width: int = 1920, height: int = 1080) -> bytes:
    return _gif(width, height, frames)


def webp_canvas(side: int = 8000) -> bytes:
    """Two 16×16 frames made by Pillow, their canvas (VP8X) then widened to side×side."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((200, 30, 30), (30, 30, 200))]
    data = bytearray(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0,
                            lossless=True))
    at = data.index(b"VP8X") + 8
    data[at + 4:at + 10] = (side - 1).to_bytes(3, "little") * 2
    return bytes(data)


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full(kind: bytes, body: bytes, version: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", version << 24), body)


def _matrix() -> bytes:
    return struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def mov(samples: list[bytes], width: int, height: int, *, claimed: int | None = None, timescale: int = 600,
        delta: int = 20) -> bytes:
    """A QuickTime file of PNG `samples` (see the module notes); `claimed` samples in its tables
    (default: as many as there are), each `delta` ticks of `timescale` long."""
    count = claimed if claimed is not None else len(samples)
    ftyp = _box(b"ftyp", b"qt  ", struct.pack(">I", 0x200), b"qt  ")
    mdat = _box(b"mdat", *samples)
    first_offset = len(ftyp) + 8
    sizes = [len(s) for s in samples]
    if claimed is not None:  # one size for every claimed sample: the table is 12 bytes, whatever the count
        stsz = _full(b"stsz", struct.pack(">II", sizes[0], count))
    else:
        stsz = _full(b"stsz", struct.pack(">II", 0, count) + b"".join(struct.pack(">I", n) for n in sizes))
    entry = _box(b"png ", b"\x00" * 6, struct.pack(">H", 1), b"\x00" * 16, struct.pack(">HH", width, height),
                 struct.pack(">II", 0x480000, 0x480000), b"\x00" * 4, struct.pack(">H", 1), b"\x00" * 32,
                 struct.pack(">Hh", 24, -1))
    stbl = _box(b"stbl",
                _full(b"stsd", struct.pack(">I", 1) + entry),
                _full(b"stts", struct.pack(">III", 1, count, delta)),
                _full(b"stsc", struct.pack(">IIII", 1, 1, count, 1)),
                stsz,
                _full(b"stco", struct.pack(">II", 1, first_offset)))
    duration = count * delta
    minf = _box(b"minf", _full(b"vmhd", struct.pack(">HHHH", 0, 0, 0, 0)),
                _box(b"dinf", _full(b"dref", struct.pack(">I", 1) + _box(b"url ", struct.pack(">I", 1)))), stbl)
    mdia = _box(b"mdia",
                _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, timescale, duration, 0, 0)),
                _full(b"hdlr", b"\x00" * 4 + b"vide" + b"\x00" * 12 + b"video\x00"),
                minf)
    tkhd = _full(b"tkhd", struct.pack(">IIIII", 0, 0, 1, 0, duration) + b"\x00" * 8 + struct.pack(">hhhH", 0, 0, 0, 0)
                 + _matrix() + struct.pack(">II", width << 16, height << 16))
    mvhd = _full(b"mvhd", struct.pack(">IIII", 0, 0, timescale, duration) + struct.pack(">IH", 0x10000, 0x100)
                 + b"\x00" * 10 + _matrix() + b"\x00" * 24 + struct.pack(">I", 2))
    moov = _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))
    return ftyp + mdat + moov


def png_frame(width: int, height: int) -> bytes:
    """A real grey PNG of width×height (a few KB for any size; all its pixels once decoded)."""
    return flat_png(width, height, b"\x80", mode="L")


def mov_many_frames(claimed: int = 10_000_000) -> bytes:
    """One 64×48 PNG frame stored, `claimed` declared, all of them within one second."""
    return mov([png_frame(64, 48)], 64, 48, claimed=claimed, timescale=claimed, delta=1)


def mov_huge_frame(side: int = 16000) -> bytes:
    """Two side×side PNG frames, honestly declared."""
    frame = png_frame(side, side)
    return mov([frame, frame], side, side)


def growing_mov(big: int = 8000, frames: int = 10) -> bytes:
    """A 64×48 first frame, then `frames - 1` of big×big, the sample entry saying 64×48."""
    small, large = png_frame(64, 48), png_frame(big, big)
    return mov([small] + [large] * (frames - 1), 64, 48)
