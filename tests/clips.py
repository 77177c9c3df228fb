"""Clips the video tests and benchmarks make themselves, with PyAV: a pan and zoom over a photo
(../shared/images/tubingen.jpg by default), at tiny sizes, with or without a sound track, with a
rotation in the container, with a variable frame rate; animated GIF and WebP with Pillow; and
broken ones (truncated, audio only, no frames). Free of pytest: bench/bench_video.py uses it too.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

TIME_BASE = Fraction(1, 12800)


def pan_frames(photo: Path, count: int, width: int, height: int) -> list[np.ndarray]:
    """`count` frames (HxWx3 uint8) of a slow pan to the right with a zoom in, over `photo`."""
    with Image.open(photo) as img:
        img = img.convert("RGB")
        img.thumbnail((max(4 * width, 256), max(4 * height, 256)))
        source = np.asarray(img)
    src_h, src_w = source.shape[:2]
    frames = []
    for i in range(count):
        zoom = 1.0 + 0.3 * i / max(1, count - 1)
        crop_w, crop_h = int(src_w * 0.6 / zoom), int(src_w * 0.6 / zoom * height / width)
        crop_h = min(crop_h, src_h)
        left = int((src_w - crop_w) * (0.1 + 0.5 * i / max(1, count - 1)))
        top = (src_h - crop_h) // 2
        crop = Image.fromarray(source[top:top + crop_h, left:left + crop_w])
        frames.append(np.asarray(crop.resize((width, height), Image.Resampling.BILINEAR)))
    return frames


def frame_times(count: int, fps: float, *, variable: bool = False) -> list[Fraction]:
    """Presentation times in seconds; `variable`: alternately one and two frame periods apart."""
    times, at = [], Fraction(0)
    for i in range(count):
        times.append(at)
        at += Fraction(1) / Fraction(fps).limit_denominator(1001) * (2 if variable and i % 2 else 1)
    return times


def write_clip(path: Path, frames: list[np.ndarray], times: list[Fraction], *, codec: str = "libx264",
               container: str | None = None, rotation: int = 0, audio: str | None = None,
               audio_seconds: float | None = None) -> Path:
    """Encode `frames` (upright as stored) at `times` into `path`. rotation: the display rotation
    written to the container (counter-clockwise degrees, as PyAV's VideoFrame.rotation reads it).
    audio: an audio codec ("aac", "libopus") for a 440 Hz tone as long as the clip, or None."""
    height, width = frames[0].shape[:2]
    out = av.open(str(path), "w", format=container)
    pix_fmt = "yuv420p" if codec not in ("gif",) else "pal8"
    stream = out.add_stream(codec, rate=24)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.time_base = TIME_BASE if container != "webm" else Fraction(1, 1000)
    stream.codec_context.time_base = stream.time_base
    if rotation:
        stream.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = out.add_stream(audio, rate=48000 if audio == "libopus" else 16000)
        sound.layout = "mono"
    for image, at in zip(frames, times, strict=True):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = int(at / stream.time_base), stream.time_base
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    if sound is not None:
        rate = sound.codec_context.sample_rate
        seconds = audio_seconds if audio_seconds is not None else float(times[-1]) + 0.1
        samples = (0.3 * np.sin(np.arange(int(rate * seconds)) * 2 * np.pi * 440 / rate)).astype(np.float32)
        chunk = 960 if audio == "libopus" else 1024
        for start in range(0, len(samples), chunk):
            piece = samples[start:start + chunk]
            if len(piece) < chunk:
                piece = np.pad(piece, (0, chunk - len(piece)))
            frame = av.AudioFrame.from_ndarray(piece[None], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    out.close()
    return path


def make_clip(path: Path, photo: Path, *, frames: int = 16, width: int = 64, height: int = 48, fps: float = 24,
              variable: bool = False, rotation: int = 0, audio: str | None = None, codec: str = "libx264",
              container: str | None = None) -> Path:
    """A pan over `photo`. With `rotation`, the frames are stored turned the other way, so that a
    player that honours the rotation shows them upright (as a phone's portrait clip)."""
    images = pan_frames(photo, frames, width, height)
    if rotation:
        images = [np.ascontiguousarray(np.rot90(image, -rotation // 90)) for image in images]
    return write_clip(path, images, frame_times(frames, fps, variable=variable), codec=codec, container=container,
                      rotation=rotation, audio=audio)


def make_animation(path: Path, photo: Path, *, fmt: str = "GIF", frames: int = 8, width: int = 64, height: int = 48,
                   durations: list[int] | None = None) -> Path:
    """An animated GIF or WebP of the pan (Pillow); `durations` in ms per frame (default 100 each)."""
    images = [Image.fromarray(image) for image in pan_frames(photo, frames, width, height)]
    images[0].save(path, format=fmt, save_all=True, append_images=images[1:], loop=0,
                   duration=durations or [100] * frames)
    return path


def make_audio_only(path: Path) -> Path:
    out = av.open(str(path), "w", format="mp4")
    sound = out.add_stream("aac", rate=16000)
    sound.layout = "mono"
    samples = np.zeros((1, 16000), np.float32)
    for start in range(0, 16000, 1024):
        frame = av.AudioFrame.from_ndarray(samples[:, start:start + 1024].copy(), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16000, start
        for packet in sound.encode(frame):
            out.mux(packet)
    for packet in sound.encode():
        out.mux(packet)
    out.close()
    return path


def make_empty_clip(path: Path) -> Path:
    """An MP4 with a video track and not a single frame in it."""
    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("libx264", rate=24)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    out.start_encoding()
    out.close()
    return path


# --- clips that carry their maker's metadata (issue 24, finding 12) ------------------------------------------

# What a phone or an editor writes about where and by whom a clip was made: none of it may reach a
# shared original.
METADATA = {"title": "Holiday at home", "artist": "Jane Q. Doe", "location": "+48.8584+002.2945/",
            "comment": "private-note-7731"}
METADATA_MARKERS = (b"Jane Q. Doe", b"+48.8584", b"private-note-7731", b"Holiday at home")


def with_metadata(source: Path, out: Path) -> Path:
    """`source` (MP4/MOV) copied packet by packet into `out` with METADATA in its container and a
    location-like tag on its video stream, as a phone's clip has them."""
    with av.open(str(source)) as container, av.open(str(out), "w", format="mp4",
                                                     options={"movflags": "use_metadata_tags"}) as output:
        output.metadata.update(METADATA)
        streams = {}
        for stream in container.streams:
            streams[stream.index] = output.add_stream_from_template(stream)
            streams[stream.index].metadata["comment"] = METADATA["comment"]
        for packet in container.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    return out


def gif_with_metadata(gif: bytes) -> bytes:
    """A GIF with a comment block and an XMP application block before its first image (GIF89a)."""
    def sub_blocks(data: bytes) -> bytes:
        return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)) + b"\0"

    packed = gif[10]
    header_end = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    comment = b"\x21\xfe" + sub_blocks(b"Jane Q. Doe at +48.8584+002.2945/ private-note-7731")
    xmp = b"\x21\xff\x0bXMP DataXMP" + sub_blocks(b"<x:xmpmeta>Holiday at home</x:xmpmeta>")
    return b"GIF89a" + gif[6:header_end] + comment + xmp + gif[header_end:]


def webp_with_metadata(webp: bytes) -> bytes:
    """An animated WebP (it has a VP8X chunk) with EXIF and XMP chunks and their flags set."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")

    body = bytearray(webp[12:])
    assert body[:4] == b"VP8X"
    body[8] |= 0x08 | 0x04  # EXIF and XMP present
    body += chunk(b"EXIF", b"Exif\0\0Jane Q. Doe +48.8584+002.2945/ private-note-7731")
    body += chunk(b"XMP ", b"<x:xmpmeta>Holiday at home</x:xmpmeta>")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + bytes(body)
