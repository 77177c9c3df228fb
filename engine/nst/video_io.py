"""Clips in and out, in process with PyAV (FFmpeg's libraries from the `av` wheel; no system ffmpeg).

In:
- `media_kind(source)`: "image" or "video" from the file's content (never its name), for the form
  and the CLI to send a file down the right path.
- `probe(source, limits)`: what a clip is (size upright, duration, frames, audio), checked against
  limits without decoding more than its first frame: the demuxer walks every packet (cheap: no
  decoding), which also finds a truncated file, and the first frame is decoded to prove the codec
  is one we can read. Every refusal is a VideoError with a message for the user.
- `read_frames(source, width, height)`: every frame, upright (the container's rotation applied),
  resized, as (pts, HxWx3 uint8), pts in the clip's own time base. Variable frame rates are kept:
  a frame's pts is its source timestamp, never a frame counter.

  MP4, MOV, WebM (and whatever else FFmpeg opens with a video stream) go through PyAV; animated
  GIF and WebP through Pillow, because FFmpeg's WebP decoder does not read animations (FFmpeg 8.0
  in PyAV 18) and Pillow applies GIF frame disposal as browsers do. Their time base is 1/1000 s.

Out:
- `ChunkWriter`: H.264 (libx264, yuv420p, no B-frames) into one small MP4 per chunk, each starting
  with a key frame, timestamps untouched. No B-frames means decode order = presentation order, so
  chunks concatenate with strictly increasing timestamps.
- `assemble(chunks, source, out)`: the chunks' packets copied (not re-encoded) into one MP4, with
  the source's audio track copied unchanged where MP4 can carry it (AAC, MP3, Opus, ...; Vorbis
  from WebM is re-encoded to AAC, which browsers play in MP4), `+faststart` so that a browser
  starts playing before the whole file is in.
"""

from __future__ import annotations

import heapq
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import VideoError

Source = str | os.PathLike | BinaryIO

CLIP_TEXT = "MP4, MOV, WebM, or an animated GIF or WebP"
PILLOW_TIME_BASE = Fraction(1, 1000)
# A GIF frame of 0-10 ms is shown for 100 ms by browsers (they treat it as "unspecified").
GIF_DEFAULT_MS = 100
# Audio codecs the MP4 muxer takes and browsers play: copied as they are. Others are re-encoded.
MP4_AUDIO = ("aac", "mp3", "opus", "alac", "flac", "ac3", "eac3")
ENCODER = "libx264"
# crf 20: visually lossless for stylised frames at a modest size; veryfast: the encoder costs a
# small share of a frame's time next to the network (docs/benchmarks.md, "Video").
ENCODER_OPTIONS = {"crf": "20", "preset": "veryfast", "bf": "0", "profile": "high"}


@dataclass(frozen=True)
class ClipLimits:
    """What a clip may be (engine.models.UserQuota holds a user's; the CLI uses the defaults)."""

    max_seconds: float = 60.0
    max_side: int = 1920          # the longest side of the clip's frames, upright
    max_frames: int = 3600        # 60 s at 60 fps


DEFAULT_LIMITS = ClipLimits()


@dataclass(frozen=True)
class ClipInfo:
    """A probed clip. width/height are upright (rotation applied); `rotation` is the angle, counter-
    clockwise, the frames are turned by to show them upright. `frames` is counted, not guessed."""

    reader: str             # "av" or "pillow"
    container: str          # FFmpeg's format name, or "gif" / "webp"
    codec: str
    width: int
    height: int
    rotation: int
    frames: int
    seconds: float
    time_base: Fraction
    audio_codec: str | None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        sound = f", sound ({self.audio_codec})" if self.audio_codec else ", no sound"
        return (f"{self.width}×{self.height}, {self.frames} frames, {self.seconds:.2f} s "
                f"({self.container}/{self.codec}{sound})")


# --- what a file is -----------------------------------------------------------------------------

_IMAGE_SIGNATURES = ((0, b"\xff\xd8\xff"), (0, b"\x89PNG\r\n\x1a\n"))


def _prefix(source: Source, n: int = 64) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            raise VideoError(f"Cannot read {source}: {exc.strerror or exc}.") from None
    source.seek(0)
    data = source.read(n)
    source.seek(0)
    return data


def _animated_frames(source: Source) -> int:
    """Frames of a GIF or WebP (Pillow reads only the headers to count them); 0 if unreadable."""
    from PIL import Image

    try:
        with Image.open(_reopen(source)) as img:
            return int(getattr(img, "n_frames", 1))
    except Exception:  # noqa: BLE001 - any damage: the caller's later checks say what is wrong
        return 0


# HEIF/AVIF are ISO-BMFF like MP4 but pictures: photos, which the image path refuses in its words.
_PICTURE_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".3gp")


def kind_from_head(head: bytes) -> str:
    """"image", "video" or "" (the first bytes alone cannot tell) from a file's first 32 bytes or
    more: the one table of what a photo and a clip start with. A GIF, or a WebP whose header says
    it is animated, is undecided here (its frames decide); so is a file of no known kind. The
    upload handler (nstsite.limits), which sees only the first bytes as they arrive, holds what
    is not "image" to the clip's size limit."""
    if any(head[offset:offset + len(magic)] == magic for offset, magic in _IMAGE_SIGNATURES):
        return "image"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        animated = head[12:16] == b"VP8X" and len(head) > 20 and head[20] & 0x02
        return "" if animated else "image"
    if head[4:8] == b"ftyp" and head[8:12] in _PICTURE_BRANDS:
        return "image"
    if _looks_like_video(head):
        return "video"
    return ""


def media_kind(source: Source, name: str = "") -> str:
    """"image" or "video": which path a file takes, from its content (its `name` only decides for a
    file that is neither recognisably a photo nor a clip: "noise.mp4" is a bad clip, "noise.jpg" a
    bad photo). Animated GIF and WebP are clips, still ones photos (which the image path refuses or
    takes). "video" only says which checks apply: probe() says whether it is a usable clip."""
    head = _prefix(source)
    kind = kind_from_head(head)
    if kind:
        return kind
    if head.startswith(b"GIF8") or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        return "video" if _animated_frames(source) > 1 else "image"
    return "video" if name.lower().endswith(VIDEO_EXTENSIONS) else "image"


def _reopen(source: Source) -> Any:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    source.seek(0)
    return source


# --- probing ----------------------------------------------------------------------------------------

def probe(source: Source, limits: ClipLimits = DEFAULT_LIMITS) -> ClipInfo:
    """The clip's description, or VideoError saying why it cannot be used (see the module notes)."""
    head = _prefix(source)
    if not head:
        raise VideoError("The file is empty.")
    if head.startswith(b"GIF8") or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        info = _probe_pillow(source, "gif" if head.startswith(b"GIF8") else "webp")
    else:
        info = _probe_av(source, _looks_like_video(head))
    _check_limits(info, limits)
    return info


# Containers a clip may come in, by their first bytes: a file that starts like one but cannot be
# opened is a damaged clip, not "not a video".
_VIDEO_SIGNATURES = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"free"), (0, b"\x1a\x45\xdf\xa3"),
                     (0, b"OggS"), (0, b"FLV"), (8, b"AVI "))


def _looks_like_video(head: bytes) -> bool:
    return any(head[offset:offset + len(magic)] == magic for offset, magic in _VIDEO_SIGNATURES)


def _damaged(what: str = "clip") -> VideoError:
    return VideoError(f"The {what} is damaged or incomplete, so it cannot be read. Please upload it again, "
                      "or export it again from your video app.")


def _not_a_clip() -> VideoError:
    return VideoError(f"The file is not a video we can read. Clips can be {CLIP_TEXT}.")


def _probe_av(source: Source, looks_like_video: bool) -> ClipInfo:
    import av

    try:
        container = av.open(_reopen(source), "r")
    except av.error.FFmpegError:
        raise (_damaged() if looks_like_video else _not_a_clip()) from None
    with container:
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError("The file is audio only: it has sound but no pictures. Please upload a video.")
            if not len(container.streams):  # a container with nothing in it (MP4 drops empty tracks)
                raise VideoError("The clip has no frames.")
            raise _not_a_clip()
        stream = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        codec = stream.codec_context.name if stream.codec_context else ""
        if not _can_decode(stream):
            raise VideoError(f"The clip's video codec ({stream.codec_context.name if stream.codec_context else '?'}) "
                             f"is not one we can read. Please export it as H.264 MP4 (or WebM) and upload it again.")
        frames, first, last = _count_packets(container, stream)
        if frames == 0:
            raise VideoError("The clip has no frames.")
        declared = stream.frames
        if declared and frames < declared:
            raise _damaged()
        container.seek(0)
        first_frame = _first_frame(container, stream)
        rotation = _right_angle(first_frame.rotation)
        width, height = first_frame.width, first_frame.height
        time_base = stream.time_base or Fraction(1, 90000)
        # From the first frame's start to the last one's end (the mean frame time), from the packets:
        # a header's duration may say anything.
        seconds = float((last - first) * time_base) * frames / (frames - 1) if frames > 1 else 0.0
    if rotation in (90, -90):
        width, height = height, width
    return ClipInfo("av", container.format.name.split(",")[0], codec, width, height, rotation, frames, seconds,
                    time_base, audio.codec_context.name if audio is not None and audio.codec_context else None)


def _can_decode(stream: Any) -> bool:
    import av

    ctx = stream.codec_context
    if ctx is None or not ctx.name:
        return False
    try:
        av.Codec(ctx.name, "r")
    except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
        return False
    return True


def _count_packets(container: Any, stream: Any) -> tuple[int, int, int]:
    """(packets with data, smallest pts, largest pts) of the stream, by demuxing (no decoding)."""
    import av

    count, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            count += 1
            first = packet.pts if first is None else min(first, packet.pts)
            last = packet.pts if last is None else max(last, packet.pts)
    except av.error.FFmpegError:
        raise _damaged() from None
    return count, first or 0, last or 0


def _first_frame(container: Any, stream: Any) -> Any:
    import av

    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        raise _damaged() from None
    raise _damaged()


def _right_angle(rotation: float) -> int:
    """The display rotation rounded to a multiple of 90 (other angles are not upright video)."""
    angle = int(round(rotation / 90.0)) * 90 % 360
    return angle - 360 if angle > 180 else angle


def _pillow_durations(img: Any) -> list[int]:
    durations = []
    for index in range(img.n_frames):
        img.seek(index)
        img.load()  # WebP sets a frame's duration only once it is loaded
        ms = int(img.info.get("duration") or 0)
        durations.append(ms if ms > 10 else GIF_DEFAULT_MS)
    return durations


def _probe_pillow(source: Source, kind: str) -> ClipInfo:
    from PIL import Image

    try:
        with Image.open(_reopen(source), formats=("GIF", "WEBP")) as img:
            frames = int(getattr(img, "n_frames", 1))
            if frames < 2:
                raise VideoError(f"This {kind.upper()} has a single frame: it is a still image, not a clip. "
                                 "Upload photos as JPEG, PNG or WebP.")
            durations = _pillow_durations(img)
            width, height = img.size
            img.seek(frames - 1)
            img.load()  # the last frame decodes: the file is whole
    except VideoError:
        raise
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged data
        raise _damaged() from None
    return ClipInfo("pillow", kind, kind, width, height, 0, frames, sum(durations) / 1000.0,
                    PILLOW_TIME_BASE, None)


def _check_limits(info: ClipInfo, limits: ClipLimits) -> None:
    if info.width < 2 or info.height < 2:
        raise VideoError("The clip's frames have no pixels to speak of.")
    if max(info.width, info.height) > limits.max_side:
        raise VideoError(f"The clip is {info.width}×{info.height} pixels; the limit is {limits.max_side} px on "
                         "the longest side. Please export it at a smaller resolution.")
    if info.seconds > limits.max_seconds:
        raise VideoError(f"The clip is {info.seconds:.1f} s long; the limit is {limits.max_seconds:g} s. "
                         "Please trim it and upload it again.")
    if info.frames > limits.max_frames:
        raise VideoError(f"The clip has {info.frames} frames; the limit is {limits.max_frames}. Please trim it or "
                         "lower its frame rate.")


# --- reading frames ---------------------------------------------------------------------------------

def read_frames(source: Source, info: ClipInfo, width: int, height: int) -> Iterator[tuple[int, np.ndarray]]:
    """Every frame of the clip upright at width×height, as (pts in info.time_base, HxWx3 uint8), in
    order of presentation; a frame whose timestamp does not move forward is left out (a duplicate)."""
    frames = _read_pillow(source, width, height) if info.reader == "pillow" else _read_av(source, info, width, height)
    last = None
    for pts, image in frames:
        if last is not None and pts <= last:
            continue
        last = pts
        yield pts, image


def _read_av(source: Source, info: ClipInfo, width: int, height: int) -> Iterator[tuple[int, np.ndarray]]:
    import av

    turned = info.rotation in (90, -90)
    decode_w, decode_h = (height, width) if turned else (width, height)
    k = info.rotation // 90  # np.rot90 turns counter-clockwise, as the display rotation does
    try:
        with av.open(_reopen(source), "r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            guess = 0
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else guess
                guess = pts + 1
                image = frame.to_ndarray(width=decode_w, height=decode_h, format="rgb24", interpolation="AREA")
                yield pts, np.ascontiguousarray(np.rot90(image, k)) if k else image
    except av.error.FFmpegError:
        raise _damaged() from None


def _read_pillow(source: Source, width: int, height: int) -> Iterator[tuple[int, np.ndarray]]:
    from PIL import Image

    try:
        with Image.open(_reopen(source), formats=("GIF", "WEBP")) as img:
            durations = _pillow_durations(img)
            at = 0
            for index, duration in enumerate(durations):
                img.seek(index)
                frame = img.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", frame.size, (255, 255, 255, 255)), frame)
                yield at, np.asarray(flat.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
                at += duration
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for damaged data
        if isinstance(exc, GeneratorExit):
            raise
        raise _damaged() from None


# --- writing ----------------------------------------------------------------------------------------

def even_size(height: int, width: int) -> tuple[int, int]:
    """yuv420p needs even sides: each rounded down to an even number (at least 2)."""
    return max(2, height - height % 2), max(2, width - width % 2)


class ChunkWriter:
    """One chunk: frames in, an H.264 MP4 out at `path` (written to a temporary name and renamed
    when closed, so a chunk file that exists is whole)."""

    def __init__(self, path: Path, width: int, height: int, time_base: Fraction, fps: float):
        import av

        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        # A chunk starts late in the clip, so MP4 records its start in an edit list, in the movie's
        # timescale (1/1000 s by default): in the stream's own, the start stays exact.
        self.container = av.open(str(self.partial), "w", format="mp4",
                                 options={"movie_timescale": str(time_base.denominator)})
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.stream = self.container.add_stream(ENCODER, rate=rate, options=dict(ENCODER_OPTIONS))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.time_base = time_base
        self.stream.codec_context.time_base = time_base
        self.time_base = time_base
        self.frames = 0

    def write(self, pts: int, image: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.partial, self.path)
        return self.path

    def abandon(self) -> None:
        """Stop without a chunk: the partial file goes (a stopped run redoes this chunk)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a half-written file may fail; it is deleted anyway
            pass
        self.partial.unlink(missing_ok=True)


def _packets(path: Path, stream_type: str, out_stream: Any) -> Iterator[tuple[float, int, Any]]:
    """(time in s, tie-break, packet) of a file's first stream of `stream_type`, retargeted at out_stream."""
    import av

    with av.open(str(path), "r") as container:
        streams = getattr(container.streams, stream_type)
        if not streams:
            return
        stream = streams[0]
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            time = float(packet.dts * stream.time_base)
            packet.stream = out_stream
            yield time, 0 if stream_type == "video" else 1, packet


def assemble(chunks: Sequence[Path], source: Source | None, out: Path) -> Path:
    """The chunks' video and the source's audio into one MP4 at `out` (see the module notes); written
    to a temporary name first, so `out` is never half a file."""
    import av

    if not chunks:
        raise VideoError("There are no frames to write.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with av.open(str(chunks[0]), "r") as first:
        template = first.streams.video[0]
        output = av.open(str(partial), "w", format="mp4", options={
            "movflags": "+faststart", "movie_timescale": str(template.time_base.denominator)})
        try:
            video = output.add_stream_from_template(template)
            extradata = template.codec_context.extradata
            audio_feed = _audio_feed(source, output)
            for chunk in chunks[1:]:
                with av.open(str(chunk), "r") as other:
                    if other.streams.video[0].codec_context.extradata != extradata:
                        raise VideoError("The video's chunks were encoded differently; the job must start again.")
            video_feed = (item for chunk in chunks for item in _packets(chunk, "video", video))
            for _, _, packet in heapq.merge(video_feed, audio_feed, key=lambda item: (item[0], item[1])):
                output.mux(packet)
            output.close()
        except BaseException:
            output.close()
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, out)
    return out


def _audio_feed(source: Source | None, output: Any) -> Iterator[tuple[float, int, Any]]:
    """The source's first audio track for `output`: its packets copied, or re-encoded to AAC where MP4
    cannot carry its codec. An empty feed when there is none (or the source is not a container)."""
    import av

    if source is None or isinstance(source, io.IOBase) and not hasattr(source, "name"):
        return iter(())
    try:
        container = av.open(_reopen(source), "r")
    except av.error.FFmpegError:
        return iter(())
    if not container.streams.audio:
        container.close()
        return iter(())
    stream = container.streams.audio[0]
    if stream.codec_context.name in MP4_AUDIO:
        out_stream = output.add_stream_from_template(stream)
        return _copied_audio(container, stream, out_stream)
    out_stream = output.add_stream("aac", rate=stream.codec_context.sample_rate or 48000)
    return _reencoded_audio(container, stream, out_stream)


def _copied_audio(container: Any, stream: Any, out_stream: Any) -> Iterator[tuple[float, int, Any]]:
    with container:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            time = float(packet.dts * stream.time_base)
            packet.stream = out_stream
            yield time, 1, packet


def _reencoded_audio(container: Any, stream: Any, out_stream: Any) -> Iterator[tuple[float, int, Any]]:
    with container:
        for frame in container.decode(stream):
            frame.pts = None  # the encoder numbers samples itself, from the first one
            for packet in out_stream.encode(frame):
                yield float(packet.pts * packet.time_base) if packet.pts is not None else 0.0, 1, packet
        for packet in out_stream.encode():
            yield float(packet.pts * packet.time_base) if packet.pts is not None else 0.0, 1, packet


def clip_facts(path: Path) -> dict[str, Any]:
    """What an output file holds, for tests and the history: frames' pts (s), size, codec, pixel
    format, audio codec, whether the moov atom comes first (faststart)."""
    import av

    with av.open(str(path), "r") as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        facts = {"times": times, "width": stream.codec_context.width, "height": stream.codec_context.height,
                 "codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt, "audio": audio,
                 "profile": stream.codec_context.profile}
    head = path.read_bytes()[:1 << 20]
    facts["faststart"] = 0 <= head.find(b"moov") < (head.find(b"mdat") if b"mdat" in head else 1 << 62)
    return facts


def still(source: Source) -> np.ndarray:
    """The middle frame of a clip, upright, at its own size (HxWx3 uint8): thumbnails of a clip."""
    info = probe(source, ClipLimits(max_seconds=float("inf"), max_side=1 << 16, max_frames=1 << 30))
    middle = info.frames // 2
    frame = None
    for index, (_, image) in enumerate(read_frames(source, info, info.width, info.height)):
        frame = image
        if index >= middle:
            break
    if frame is None:
        raise VideoError("The clip has no frames.")
    return frame
