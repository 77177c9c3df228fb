"""Clips in and out, in process with PyAV (FFmpeg's libraries from the `av` wheel; no system ffmpeg).

In:
- `media_kind(source)`: "image" or "video" from the file's content (never its name), for the form
  and the CLI to send a file down the right path.
- `probe(source, limits)`: what a clip is (size upright, duration, frames, audio), checked against
  limits. Headers first (engine.nst.clip_headers: the picture size, frame count, duration and
  tracks that GIF, WebP, MP4/MOV and WebM/Matroska declare, read without decoding): a clip over
  the limits is refused before FFmpeg or Pillow open it, and other containers are refused as
  "not a video we can read". Then FFmpeg walks the video packets (no decoding) up to the limits,
  which finds a truncated file and counts what the header did not say, and decodes the first
  frame, one thread, its decoder unable to allocate a picture larger than the limit (FFmpeg's
  max_pixels), to prove the codec is one we can read. Every refusal is a VideoError with a
  message for the user. Probing costs the same small time and memory whatever a file claims.
- `read_frames(source, width, height)`: every frame, upright (the container's rotation applied),
  resized, as (pts, HxWx3 uint8), pts in the clip's own time base. Variable frame rates are kept:
  a frame's pts is its source timestamp, never a frame counter. Each frame is held to the probed
  size as it is read: the decoder cannot allocate a much larger one (a clip whose first frame is
  small and whose next ones are huge fails as damaged), and GIF/WebP headers are walked again.
- `still(source, fit)`: the middle frame, for thumbnails, under the same bounds.

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

from engine.nst import clip_headers
from engine.nst.errors import VideoError

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
# threads: x264's output depends on its thread count, which "auto" takes from the host's cores, so
# a chunk encoded after a resume on a machine with other cores came out other bits than an
# unbroken run's. A fixed count makes every chunk the same wherever it is encoded; the encoder is a
# small share of a frame's time either way.
ENCODER_OPTIONS = {"crf": "20", "preset": "veryfast", "bf": "0", "profile": "high", "threads": "2"}


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
    """Frames of a GIF or WebP from its headers (counted up to 2: enough to tell); 0 if unreadable."""
    try:
        found = clip_headers.declared(_reopen(source), frame_cap=1)
    except (clip_headers.Damaged, OSError):
        return 0
    return found.frames or 0 if found is not None else 0


# HEIF/AVIF are ISO-BMFF like MP4 but pictures: photos, which the image path refuses in its words.
_PICTURE_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".3gp")


def kind_from_head(head: bytes) -> str:
    """"image", "video" or "" (the first bytes alone cannot tell) from a file's first 32 bytes or
    more: the one table of what a photo and a clip start with. A GIF, or a WebP whose header says
    it is animated, is undecided here (its frames decide); so is a file of no known kind. The
    upload handler (nstsite.request_limits.limits), which sees only the first bytes as they arrive, holds what
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
    claimed = _claimed(source, limits)
    if claimed is None:
        raise _not_a_clip()
    _check_claimed(claimed, limits)
    if claimed.container in ("gif", "webp"):
        info = _probe_pillow(source, claimed)
    else:
        info = _probe_av(source, limits, claimed)
    _check_limits(info, limits)
    return info


def _claimed(source: Source, limits: ClipLimits) -> clip_headers.Declared | None:
    try:
        return clip_headers.declared(_reopen(source), frame_cap=limits.max_frames)
    except clip_headers.Damaged:
        raise _damaged() from None
    except OSError as exc:
        raise VideoError(f"Cannot read the clip: {exc.strerror or exc}.") from None


def _check_claimed(claimed: clip_headers.Declared, limits: ClipLimits) -> None:
    """The limits against what the headers declare, before anything is decoded."""
    if claimed.width or claimed.height:
        _check_size(claimed.width, claimed.height, limits)
    seconds = claimed.seconds
    if claimed.durations_ms:
        seconds = sum(_shown_ms(ms) for ms in claimed.durations_ms) / 1000.0
    if seconds is not None and seconds > limits.max_seconds:
        _too_long(seconds, limits, at_least=claimed.frames_capped)
    if claimed.frames is not None and claimed.frames > limits.max_frames:
        _too_many_frames(claimed.frames, limits, at_least=claimed.frames_capped)
    if claimed.other_packets > OTHER_PACKETS_PER_SECOND * limits.max_seconds + 1000:
        raise VideoError("The clip declares far more sound or data packets than a clip of at most "
                         f"{limits.max_seconds:g} s can hold, so it cannot be read. Please export it again.")


OTHER_PACKETS_PER_SECOND = clip_headers.OTHER_PACKETS_PER_SECOND
# FFmpeg's decoders align a picture's width up (to 64 px at most) before they check max_pixels.
_ALIGN = 64


def max_pixels(side: int) -> int:
    """The largest picture a decoder may allocate for frames of at most `side` px a side (FFmpeg's
    max_pixels): a square of that side, with room for the decoder's alignment."""
    return (side + _ALIGN) * (side + _ALIGN)


def _check_size(width: int, height: int, limits: ClipLimits) -> None:
    if max(width, height) > limits.max_side:
        raise VideoError(f"The clip is {width}×{height} pixels; the limit is {limits.max_side} px on "
                         "the longest side. Please export it at a smaller resolution.")


def _too_many_frames(frames: int, limits: ClipLimits, *, at_least: bool = False) -> None:
    count = f"more than {limits.max_frames}" if at_least else str(frames)
    raise VideoError(f"The clip has {count} frames; the limit is {limits.max_frames}. Please trim it or "
                     "lower its frame rate.")


def _too_long(seconds: float, limits: ClipLimits, *, at_least: bool = False) -> None:
    length = f"longer than {limits.max_seconds:g} s" if at_least else f"{seconds:.1f} s long"
    raise VideoError(f"The clip is {length}; the limit is {limits.max_seconds:g} s. "
                     "Please trim it and upload it again.")


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


def _open_av(source: Source, side: int) -> Any:
    """The container open for reading, with decoders that refuse pictures over `side` px a side."""
    import av

    container = av.open(_reopen(source), "r", options={"max_pixels": str(max_pixels(side))})
    for stream in container.streams.video:
        if stream.codec_context is not None:
            stream.codec_context.options = {"max_pixels": str(max_pixels(side))}
    return container


def _probe_av(source: Source, limits: ClipLimits, claimed: clip_headers.Declared) -> ClipInfo:
    import av

    try:
        container = _open_av(source, limits.max_side)
    except av.error.FFmpegError:
        raise _damaged() from None
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
            raise VideoError(f"The clip's video codec ({codec or claimed.codec or '?'}) is not one we can read. "
                             "Please export it as H.264 MP4 (or WebM) and upload it again.")
        time_base = stream.time_base or Fraction(1, 90000)
        frames, first, last = _count_packets(container, stream, limits, time_base)
        if frames == 0:
            raise VideoError("The clip has no frames.")
        declared = stream.frames
        if declared and frames < declared:
            raise _damaged()
        container.seek(0)
        stream.codec_context.thread_count = 1  # one picture in memory at a time
        first_frame = _first_frame(container, stream)
        rotation = _right_angle(first_frame.rotation)
        width, height = first_frame.width, first_frame.height
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


def _count_packets(container: Any, stream: Any, limits: ClipLimits, time_base: Fraction) -> tuple[int, int, int]:
    """(packets with data, smallest pts, largest pts) of the stream, by demuxing (no decoding); it
    stops, refusing the clip, as soon as the packets pass the frame or duration limit."""
    import av

    count, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            count += 1
            first = packet.pts if first is None else min(first, packet.pts)
            last = packet.pts if last is None else max(last, packet.pts)
            if count > limits.max_frames:
                _too_many_frames(count, limits, at_least=True)
            if float((last - first) * time_base) > limits.max_seconds:
                _too_long(float((last - first) * time_base), limits, at_least=True)
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


def _shown_ms(ms: int) -> int:
    """How long a GIF/WebP frame is shown: 0-10 ms count as unspecified (browsers show 100 ms)."""
    return ms if ms > 10 else GIF_DEFAULT_MS


def _probe_pillow(source: Source, claimed: clip_headers.Declared) -> ClipInfo:
    """A GIF or WebP from its headers (frames, delays, canvas: already within the limits), and its
    first frame decoded to prove the data can be read."""
    from PIL import Image

    kind = claimed.container
    if claimed.frames < 2:
        raise VideoError(f"This {kind.upper()} has a single frame: it is a still image, not a clip. "
                         "Upload photos as JPEG, PNG or WebP.")
    try:
        with Image.open(_reopen(source), formats=("GIF", "WEBP")) as img:
            img.load()
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged data
        raise _damaged() from None
    durations = [_shown_ms(ms) for ms in claimed.durations_ms]
    return ClipInfo("pillow", kind, kind, claimed.width, claimed.height, 0, claimed.frames, sum(durations) / 1000.0,
                    PILLOW_TIME_BASE, None)


def _check_limits(info: ClipInfo, limits: ClipLimits) -> None:
    if info.width < 2 or info.height < 2:
        raise VideoError("The clip's frames have no pixels to speak of.")
    _check_size(info.width, info.height, limits)
    if info.seconds > limits.max_seconds:
        _too_long(info.seconds, limits)
    if info.frames > limits.max_frames:
        _too_many_frames(info.frames, limits)


# --- reading frames ---------------------------------------------------------------------------------

def read_frames(source: Source, info: ClipInfo, width: int, height: int) -> Iterator[tuple[int, np.ndarray]]:
    """Every frame of the clip upright at width×height, as (pts in info.time_base, HxWx3 uint8), in
    order of presentation; a frame whose timestamp does not move forward is left out (a duplicate).
    No frame may be larger than the probed size (see the module notes)."""
    reader = _read_pillow if info.reader == "pillow" else _read_av
    frames = reader(source, info, width, height)
    last = None
    for pts, image in frames:
        if last is not None and pts <= last:
            continue
        last = pts
        yield pts, image


def _read_av(source: Source, info: ClipInfo, width: int, height: int,
             start_pts: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    import av

    turned = info.rotation in (90, -90)
    decode_w, decode_h = (height, width) if turned else (width, height)
    k = info.rotation // 90  # np.rot90 turns counter-clockwise, as the display rotation does
    try:
        with _open_av(source, max(info.width, info.height)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if start_pts is not None:
                container.seek(start_pts, stream=stream)
            guess = 0
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else guess
                guess = pts + 1
                image = frame.to_ndarray(width=decode_w, height=decode_h, format="rgb24", interpolation="AREA")
                yield pts, np.ascontiguousarray(np.rot90(image, k)) if k else image
    except av.error.FFmpegError:
        raise _damaged() from None


def _read_pillow(source: Source, info: ClipInfo, width: int, height: int,
                 start: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    from PIL import Image

    claimed = _claimed(source, ClipLimits(max_seconds=float("inf"), max_side=1 << 16, max_frames=info.frames))
    if claimed is None or claimed.width > info.width or claimed.height > info.height:
        raise VideoError("The clip's frames are larger than its first frame said; it cannot be read.")
    try:
        with Image.open(_reopen(source), formats=("GIF", "WEBP")) as img:
            at = sum(_shown_ms(ms) for ms in claimed.durations_ms[:start])
            for index in range(start, min(info.frames, len(claimed.durations_ms))):
                img.seek(index)
                frame = img.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", frame.size, (255, 255, 255, 255)), frame)
                yield at, np.asarray(flat.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
                at += _shown_ms(claimed.durations_ms[index])
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


def assemble(chunks: Sequence[Path], source: Source | None, out: Path, metadata: dict[str, str] | None = None) -> Path:
    """The chunks' video and the source's audio into one MP4 at `out` (see the module notes); written
    to a temporary name first, so `out` is never half a file. `metadata`: the container's tags (the
    job's settings: engine.storage.result_settings), as MP4 metadata items of those names."""
    import av

    if not chunks:
        raise VideoError("There are no frames to write.")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with av.open(str(chunks[0]), "r") as first:
        template = first.streams.video[0]
        output = av.open(str(partial), "w", format="mp4", options={
            "movflags": "+faststart+use_metadata_tags" if metadata else "+faststart",
            "movie_timescale": str(template.time_base.denominator)})
        output.metadata.update(metadata or {})
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


# Thumbnails of clips already accepted: the largest a user's quota may allow, never more.
STILL_LIMITS = ClipLimits(max_seconds=3600.0, max_side=4096, max_frames=216_000)


def still(source: Source, fit: int | None = None) -> np.ndarray:
    """The middle frame of a clip, upright, at its own size or shrunk to fit `fit` px (HxWx3
    uint8): thumbnails of a clip. Probed and read within STILL_LIMITS, like any clip."""
    info = probe(source, STILL_LIMITS)
    scale = min(1.0, fit / max(info.width, info.height)) if fit else 1.0
    width, height = max(1, round(info.width * scale)), max(1, round(info.height * scale))
    if info.reader == "pillow":
        frames = _read_pillow(source, info, width, height, start=info.frames // 2)
        for _, image in frames:
            return image
        raise VideoError("The clip has no frames.")
    middle = int(info.seconds / 2 / info.time_base)
    frame = None
    for pts, image in _read_av(source, info, width, height, start_pts=middle):  # from the key frame before
        frame = image
        if pts >= middle:
            break
    if frame is None:
        raise VideoError("The clip has no frames.")
    return frame
