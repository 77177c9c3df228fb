"""What a clip's headers declare, read without decoding a pixel: the refusal of a clip from its
headers (Pillow's decompression-bomb guard is the model: the limits are checked before pixels).

A few hundred bytes can declare an 8000² canvas, a frame of 16000² or ten million frames, and the
decoders believe them: Pillow composites every frame of a GIF or WebP onto a full canvas, libwebp
allocates its canvas twice, FFmpeg's MOV demuxer builds an index entry per declared sample when
it opens the file. So `declared(source, frame_cap)` walks the container's structure itself, skipping
every payload by its length, and says what the clip claims:

- GIF: the logical screen, every frame's rectangle (Pillow grows the canvas to a frame that does
  not fit), every frame's delay;
- WebP: the canvas (VP8X) and every ANMF frame's delay;
- MP4/MOV (ISO-BMFF): every track's sample count (stsz, and trun in fragments) and duration (stts,
  mdhd), a video track's sample entry (codec four-cc, coded size) and its tkhd size;
- WebM/Matroska (EBML): the tracks' codec and pixel size, the duration in Info (frames are not
  declared: the bounded packet walk of video_io counts them).

The walk reads only headers, in small windows, and stops counting frames past `frame_cap`, so its
cost is bounded whatever the file claims. A structure that ends before it should is `Damaged`;
a file that is none of these returns None (FFmpeg may still know it: video_io decides). No Django,
no third-party imports.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

Source = str | os.PathLike | BinaryIO

WINDOW = 1 << 16
# Packets of non-video tracks per second of clip that FFmpeg may index: far above any compressed
# audio (AAC ~47/s, Opus 50/s, MP3 ~38/s), far below a forged sample table's millions.
OTHER_PACKETS_PER_SECOND = 1000


class Damaged(Exception):
    """The container's structure is cut short or contradicts itself."""


@dataclass
class Declared:
    """What the headers claim. `frames` is None where the container does not say (Matroska), and
    `frames_capped` True where the walk stopped counting at the cap (there are more)."""

    container: str                       # "gif", "webp", "mp4", "mov", "matroska"
    codec: str = ""                      # four-cc or codec id of the (first) video track
    width: int = 0                       # the largest picture any header declares
    height: int = 0
    frames: int | None = None
    frames_capped: bool = False
    seconds: float | None = None
    durations_ms: list[int] = field(default_factory=list)   # GIF/WebP: each frame's delay
    other_packets: int = 0               # samples of the other tracks (ISO-BMFF)
    has_video: bool = True


class _Reader:
    """Bytes at any offset of a file, read through a small window (never the whole file)."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        fh.seek(0, os.SEEK_END)
        self.size = fh.tell()
        self.start, self.data = 0, b""

    def read(self, pos: int, n: int) -> bytes:
        if pos < 0 or n < 0:
            raise Damaged
        if not (self.start <= pos and pos + n <= self.start + len(self.data)):
            self.fh.seek(pos)
            self.start, self.data = pos, self.fh.read(max(n, WINDOW))
        out = self.data[pos - self.start:pos - self.start + n]
        if len(out) < n:
            raise Damaged
        return out

    def byte(self, pos: int) -> int:
        return self.read(pos, 1)[0]


def declared(source: Source, frame_cap: int) -> Declared | None:
    """What `source` declares (see the module notes); Damaged when its structure is broken."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return _declared(_Reader(fh), frame_cap)
    try:
        return _declared(_Reader(source), frame_cap)
    finally:
        source.seek(0)


def _declared(r: _Reader, frame_cap: int) -> Declared | None:
    head = r.read(0, min(r.size, 16)) if r.size else b""
    if head.startswith(b"GIF8"):
        return _gif(r, frame_cap)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp(r, frame_cap)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _matroska(r)
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return _isobmff(r, frame_cap)
    return None


# --- GIF ----------------------------------------------------------------------------------------------

def _gif(r: _Reader, frame_cap: int) -> Declared:
    width, height, packed = struct.unpack("<HHB", r.read(6, 5))
    info = Declared("gif", "gif", width, height, frames=0)
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    delay = 0
    while pos < r.size:
        kind = r.byte(pos)
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: a graphic control block carries the next frame's delay
            label = r.byte(pos + 1)
            if label == 0xF9 and r.byte(pos + 2) >= 4:
                delay = struct.unpack("<H", r.read(pos + 4, 2))[0]
            pos = _skip_sub_blocks(r, pos + 2)
        elif kind == 0x2C:  # an image: its rectangle, then its LZW data in sub-blocks
            left, top, w, h, flags = struct.unpack("<HHHHB", r.read(pos + 1, 9))
            info.width, info.height = max(info.width, left + w), max(info.height, top + h)
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _skip_sub_blocks(r, pos + 1)  # after the LZW minimum code size
            info.frames += 1
            info.durations_ms.append(delay * 10)
            delay = 0
            if info.frames > frame_cap:
                info.frames_capped = True
                break
        else:
            if info.frames:  # stray bytes after a whole frame: browsers (and Pillow) stop there
                break
            raise Damaged
    if not info.frames:
        raise Damaged
    return info


def _skip_sub_blocks(r: _Reader, pos: int) -> int:
    while True:
        n = r.byte(pos)
        pos += 1 + n
        if n == 0:
            return pos
        if pos > r.size:
            raise Damaged


# --- WebP -----------------------------------------------------------------------------------------------

def _webp(r: _Reader, frame_cap: int) -> Declared:
    end = min(r.size, 8 + struct.unpack("<I", r.read(4, 4))[0])
    info = Declared("webp", "webp", frames=0)
    pos = 12
    while pos + 8 <= end:
        kind, size = r.read(pos, 4), struct.unpack("<I", r.read(pos + 4, 4))[0]
        body = pos + 8
        if body + size > end:
            raise Damaged
        if kind == b"VP8X":  # the canvas: 24-bit width - 1 and height - 1
            w, h = _u24(r, body + 4) + 1, _u24(r, body + 7) + 1
            info.width, info.height = max(info.width, w), max(info.height, h)
        elif kind == b"ANMF":  # a frame: its offset / 2, its size - 1, its duration in ms
            x, y, w, h = 2 * _u24(r, body), 2 * _u24(r, body + 3), _u24(r, body + 6) + 1, _u24(r, body + 9) + 1
            info.width, info.height = max(info.width, x + w), max(info.height, y + h)
            info.durations_ms.append(_u24(r, body + 12))
            info.frames += 1
            if info.frames > frame_cap:
                info.frames_capped = True
                break
        elif kind in (b"VP8 ", b"VP8L") and not info.width:
            info.width, info.height = _still_webp_size(r, kind, body)
        pos = body + size + (size & 1)
    info.frames = info.frames or 1  # a still WebP: one frame
    return info


def _u24(r: _Reader, pos: int) -> int:
    return int.from_bytes(r.read(pos, 3), "little")


def _still_webp_size(r: _Reader, kind: bytes, body: int) -> tuple[int, int]:
    if kind == b"VP8L":
        bits = int.from_bytes(r.read(body + 1, 4), "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    w, h = struct.unpack("<HH", r.read(body + 6, 4))
    return w & 0x3FFF, h & 0x3FFF


# --- ISO-BMFF: MP4, MOV -----------------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"edts"}


def _boxes(r: _Reader, start: int, end: int):
    """(type, body start, body end) of the boxes between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", r.read(pos, 8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", r.read(pos + 8, 8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Damaged
        yield kind, pos + header, pos + size
        pos += size


@dataclass
class _Track:
    handler: bytes = b""
    timescale: int = 0
    samples: int = 0
    stts_ticks: int = 0
    last_delta: int = 0      # the last sample's duration (muxers write 0 or a guess)
    constant_size: int = 0
    chunks: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    track_id: int = 0
    default_duration: int = 0


def _isobmff(r: _Reader, frame_cap: int) -> Declared:
    brand = b""
    tracks: list[_Track] = []
    fragments: list[tuple[int, int, int]] = []   # (track id, samples, ticks) of each trun
    moov = False
    for kind, body, end in _boxes(r, 0, r.size):
        if kind == b"ftyp":
            brand = r.read(body, 4)
        elif kind == b"moov":
            moov = True
            tracks = [_track(r, b, e) for k, b, e in _boxes(r, body, end) if k == b"trak"]
            _trex_defaults(r, body, end, tracks)
        elif kind == b"moof":
            fragments.extend(_fragments(r, body, end, tracks))
            if sum(n for _, n, _ in fragments) > frame_cap * 16:
                break  # enough to refuse: no need to walk the rest
    if not moov:
        raise Damaged  # the index (moov) is missing: a file cut before its end
    for track_id, samples, ticks in fragments:
        for track in tracks:
            if track.track_id == track_id:
                track.samples += samples
                track.stts_ticks += ticks
    info = Declared("mov" if brand == b"qt  " else "mp4", frames=0)
    videos = [t for t in tracks if t.handler == b"vide"]
    info.has_video = bool(videos)
    for track in tracks:
        if track.handler == b"vide":
            info.width, info.height = max(info.width, track.width), max(info.height, track.height)
        elif track.constant_size and track.constant_size <= 32:
            info.other_packets += track.chunks  # raw audio: FFmpeg indexes it by chunk
        else:
            info.other_packets += track.samples
    if videos:
        video = videos[0]
        info.codec, info.frames = video.codec, max(t.samples for t in videos)
        if video.timescale and info.frames:
            # As video_io counts from the packets: first to last start, plus a mean frame time (the
            # last sample's own duration is whatever the muxer guessed).
            span = (video.stts_ticks - video.last_delta) / video.timescale
            info.seconds = span * info.frames / (info.frames - 1) if info.frames > 1 else 0.0
    return info


def _track(r: _Reader, start: int, end: int) -> _Track:
    track = _Track()
    for kind, body, stop in _walk(r, start, end):
        if kind == b"tkhd":
            version = r.byte(body)
            track.track_id = struct.unpack(">I", r.read(body + (20 if version == 1 else 12), 4))[0]
            w, h = struct.unpack(">II", r.read(stop - 8, 8))
            track.width, track.height = max(track.width, w >> 16), max(track.height, h >> 16)
        elif kind == b"mdhd":
            version = r.byte(body)
            track.timescale = struct.unpack(">I", r.read(body + (20 if version == 1 else 12), 4))[0]
        elif kind == b"hdlr":
            track.handler = r.read(body + 8, 4)
        elif kind == b"stsd" and struct.unpack(">I", r.read(body + 4, 4))[0]:
            track.codec = r.read(body + 12, 4).decode("latin-1").strip()
            if track.handler == b"vide" and stop - body >= 8 + 36:
                w, h = struct.unpack(">HH", r.read(body + 8 + 32, 4))
                track.width, track.height = max(track.width, w), max(track.height, h)
        elif kind == b"stts":
            entries = struct.unpack(">I", r.read(body + 4, 4))[0]
            if body + 8 + 8 * entries > stop:
                raise Damaged
            table = r.read(body + 8, 8 * entries) if entries <= 1 << 16 else b""
            ticks = counted = 0
            for n in range(len(table) // 8):
                count, delta = struct.unpack_from(">II", table, 8 * n)
                counted += count
                ticks += count * delta
                if count:
                    track.last_delta = delta
            track.stts_ticks, track.samples = ticks, max(track.samples, counted)
            if entries > 1 << 16:
                track.samples = max(track.samples, entries)  # more entries than any clip needs
        elif kind == b"stsz":
            track.constant_size, count = struct.unpack(">II", r.read(body + 4, 8))
            track.samples = max(track.samples, count)
        elif kind in (b"stco", b"co64"):
            track.chunks = struct.unpack(">I", r.read(body + 4, 4))[0]
    return track


def _walk(r: _Reader, start: int, end: int):
    """Every box under start..end, depth first (into the container boxes only)."""
    for kind, body, stop in _boxes(r, start, end):
        yield kind, body, stop
        if kind in _CONTAINERS:
            yield from _walk(r, body, stop)


def _trex_defaults(r: _Reader, start: int, end: int, tracks: list[_Track]) -> None:
    for kind, body, _ in _walk(r, start, end):
        if kind == b"trex":
            track_id, _, duration = struct.unpack(">III", r.read(body + 4, 12))
            for track in tracks:
                if track.track_id == track_id:
                    track.default_duration = duration


def _fragments(r: _Reader, start: int, end: int, tracks: list[_Track]) -> list[tuple[int, int, int]]:
    runs = []
    for kind, body, stop in _boxes(r, start, end):
        if kind != b"traf":
            continue
        track_id, duration = 0, 0
        for inner, b, _ in _boxes(r, body, stop):
            if inner == b"tfhd":
                flags = int.from_bytes(r.read(b + 1, 3), "big")
                track_id = struct.unpack(">I", r.read(b + 4, 4))[0]
                at = b + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
                duration = struct.unpack(">I", r.read(at, 4))[0] if flags & 0x8 else 0
                duration = duration or next((t.default_duration for t in tracks if t.track_id == track_id), 0)
            elif inner == b"trun":
                count = struct.unpack(">I", r.read(b + 4, 4))[0]
                runs.append((track_id, count, count * duration))
    return runs


# --- Matroska, WebM -----------------------------------------------------------------------------------------

_UNKNOWN = -1
_SEGMENT, _INFO, _TRACKS, _TRACK, _VIDEO, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0xAE, 0xE0, 0x1F43B675


def _vint(r: _Reader, pos: int, keep_marker: bool) -> tuple[int, int]:
    first = r.byte(pos)
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise Damaged
    raw = r.read(pos, length)
    value = int.from_bytes(raw, "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = _UNKNOWN
    return value, pos + length


def _elements(r: _Reader, start: int, end: int):
    pos = start
    while pos < end:
        element, pos = _vint(r, pos, True)
        size, pos = _vint(r, pos, False)
        stop = end if size == _UNKNOWN else pos + size
        if stop > end:
            stop = end  # a cut file: what is there is read; FFmpeg's walk finds the damage
        yield element, pos, stop
        pos = stop


def _uint(r: _Reader, start: int, end: int) -> int:
    return int.from_bytes(r.read(start, min(8, end - start)), "big")


def _matroska(r: _Reader) -> Declared:
    info = Declared("matroska")
    scale, duration = 1_000_000, None
    tracks_seen = False
    for element, body, end in _elements(r, 0, r.size):
        if element != _SEGMENT:
            continue
        for child, b, e in _elements(r, body, end):
            if child == _INFO:
                for item, ib, ie in _elements(r, b, e):
                    if item == 0x2AD7B1:
                        scale = _uint(r, ib, ie)
                    elif item == 0x4489 and ie - ib in (4, 8):
                        duration = struct.unpack(">f" if ie - ib == 4 else ">d", r.read(ib, ie - ib))[0]
            elif child == _TRACKS:
                tracks_seen = True
                _matroska_tracks(r, b, e, info)
            elif child == _CLUSTER:
                break  # the frames: the headers are over
        break
    if not tracks_seen:
        raise Damaged
    if duration is not None:
        info.seconds = duration * scale / 1e9
    return info


def _matroska_tracks(r: _Reader, start: int, end: int, info: Declared) -> None:
    info.has_video = False
    for element, body, stop in _elements(r, start, end):
        if element != _TRACK:
            continue
        kind, codec, width, height = 0, "", 0, 0
        for item, b, e in _elements(r, body, stop):
            if item == 0x83:
                kind = _uint(r, b, e)
            elif item == 0x86:
                codec = r.read(b, min(e - b, 64)).decode("latin-1")
            elif item == _VIDEO:
                for v, vb, ve in _elements(r, b, e):
                    if v in (0xB0, 0x54B0):
                        width = max(width, _uint(r, vb, ve))
                    elif v in (0xBA, 0x54BA):
                        height = max(height, _uint(r, vb, ve))
        if kind == 1:
            info.has_video = True
            info.codec = info.codec or codec
            info.width, info.height = max(info.width, width), max(info.height, height)
