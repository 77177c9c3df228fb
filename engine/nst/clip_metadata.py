"""A clip without the metadata its camera or editor wrote into it (issue 24, finding 12: a shared
original clip downloaded byte-identical to the upload, GPS coordinates and the artist's name
included). Photos are re-encoded without theirs (engine.nst.images); a clip is re-muxed instead:
its pictures and sound copied packet by packet (no re-encoding: the same frames, for about the
cost of copying the file) into a new file that carries nothing else.

- MP4, MOV, WebM, Matroska (PyAV): the first video stream and the first audio stream only (data
  tracks such as a phone's location track or a GoPro's GPS, subtitles, attachments and chapters
  stay behind), with no container or stream metadata (title, artist, location, creation time,
  the camera's make and model). The display rotation is kept: it says how the picture stands.
- GIF: the blocks that draw (screen, colour tables, graphic controls, images) and the loop count;
  comments, XMP and other application blocks are dropped.
- WebP: the chunks that draw (VP8X, its EXIF and XMP flags cleared, ANIM, ANMF, ALPH, VP8, VP8L,
  ICCP); EXIF, XMP and any other chunk are dropped.

`strip(source, out, container)` writes the copy; a file that cannot be re-muxed raises VideoError
(the caller has probed it already, so this is a damaged file that the probe did not see).
"""

from __future__ import annotations

import struct
from pathlib import Path

from engine.nst.errors import VideoError

# Output muxers per probed container: the plain one first, a wider one when it refuses a codec
# (an MP4 cannot hold every codec a MOV can; a WebM only VP8/VP9/AV1 with Vorbis/Opus).
_MUXERS = {"mov": ("mp4", "mov"), "matroska": ("webm", "matroska"), "webm": ("webm", "matroska")}
_GIF_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_WEBP_KEPT = (b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L", b"ICCP")
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def strip(source: str | Path, out: str | Path, container: str) -> None:
    """Write `source` (a probed clip in `container`: engine.nst.video_io.ClipInfo.container) to
    `out` without its metadata (see the module notes)."""
    data_path, out_path = Path(source), Path(out)
    if container == "gif":
        out_path.write_bytes(_gif(data_path.read_bytes()))
    elif container == "webp":
        out_path.write_bytes(_webp(data_path.read_bytes()))
    else:
        _remux(data_path, out_path, _MUXERS.get(container, ("mp4", "mov")))


def _remux(source: Path, out: Path, muxers: tuple[str, ...]) -> None:
    import av

    last_error: Exception | None = None
    for muxer in muxers:
        try:
            _remux_with(av, source, out, muxer)
            return
        except (ValueError, av.error.FFmpegError) as exc:  # the muxer refuses a codec: the next one
            last_error = exc
    raise VideoError("The clip could not be copied; please export it again and upload it.") from last_error


def _remux_with(av, source: Path, out: Path, muxer: str) -> None:
    with av.open(str(source), "r") as container:
        kept = [streams[0] for streams in (container.streams.video, container.streams.audio) if streams]
        with av.open(str(out), "w", format=muxer) as output:
            mapping = {}
            for stream in kept:
                copy = output.add_stream_from_template(stream)
                # Its codec parameters only: the display rotation goes with them (FFmpeg keeps it in
                # the codec's side data), the stream's metadata (language, handler, dates) does not.
                copy.metadata.clear()
                mapping[stream.index] = copy
            for packet in container.demux(kept):
                if packet.dts is None and packet.size == 0:  # a demuxer's flush packet
                    continue
                packet.stream = mapping[packet.stream.index]
                output.mux(packet)


# --- GIF --------------------------------------------------------------------------------------------

def _gif(data: bytes) -> bytes:
    """The GIF's drawing blocks and its loop count (see the module notes)."""
    if len(data) < 13 or data[:4] != b"GIF8":
        raise VideoError("The GIF is damaged or incomplete, so it cannot be read.")
    packed = data[10]
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    out = bytearray(data[:pos])
    while pos < len(data):
        kind = data[pos]
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21 and pos + 1 < len(data):
            label, end = data[pos + 1], _after_sub_blocks(data, pos + 2)
            if label == 0xF9 or (label == 0xFF and data[pos + 3:pos + 14] in _GIF_LOOP_APPS):
                out += data[pos:end]  # a graphic control block (delay, disposal), the loop count
            pos = end  # comments (0xFE), plain text (0x01), XMP and other application blocks: dropped
        elif kind == 0x2C:  # an image: its descriptor, local colour table, LZW code size and data
            flags = data[pos + 9] if pos + 9 < len(data) else 0
            start = pos
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _after_sub_blocks(data, pos + 1)
            out += data[start:pos]
        else:
            break  # stray bytes after the last whole block: browsers and Pillow stop there too
    return bytes(out + b"\x3b")


def _after_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise VideoError("The GIF is damaged or incomplete, so it cannot be read.")


# --- WebP -------------------------------------------------------------------------------------------

def _webp(data: bytes) -> bytes:
    """The WebP's drawing chunks (see the module notes), in a RIFF of the right size."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise VideoError("The WebP is damaged or incomplete, so it cannot be read.")
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    body, pos = bytearray(), 12
    while pos + 8 <= end:
        kind, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunk = data[pos:pos + 8 + size + (size & 1)]
        if kind in _WEBP_KEPT:
            if kind == b"VP8X":
                chunk = chunk[:8] + bytes([chunk[8] & ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF]) + chunk[9:]
            body += chunk
        pos += 8 + size + (size & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + bytes(body)
