"""Video mode: a clip stylised frame by frame with fast mode's network, steadied over time, encoded
as H.264 MP4 in chunks that survive a crash.

    info = video_io.probe("clip.mp4")
    result = stylize_video("clip.mp4", [style], VideoParams(size=480), stylizer=get_fast_stylizer(dir),
                           work_dir=Path("work"), out=Path("out.mp4"))

How a run goes (`stylize_video`):

- The style vector is computed once, from the styles (and, below strength 1, the clip's first
  frame), and every frame goes through the transformer with it: the look does not drift.
- Each stylised frame is steadied against the previous output (engine.nst.temporal: DIS flow on
  the source frames, occlusion mask, blend by `stability`).
- Frames are encoded in chunks of `chunk_frames` (engine.nst.video_io.ChunkWriter): chunk k holds
  frames [k·n, (k+1)·n) and is a whole MP4 once its file exists. After each chunk `on_chunk` gets a
  `VideoCheckpoint` (chunks and frames done, and the last source and output frame, which the next
  frame's stabilisation needs): a run resumed from it (`resume_from`) decodes the frames before it
  without stylising them and goes on with chunk k + 1, so no frame is stylised into the output
  twice, and a killed worker loses at most one chunk of work.
- `should_stop()` is asked before every frame; when it says so the chunk in progress is dropped and
  `Stopped` carries the last checkpoint (None before the first chunk: start again).
- At the end the chunks are concatenated without re-encoding, the source's audio is copied in, and
  the MP4 gets `+faststart` (engine.nst.video_io.assemble); the frames keep their source timestamps,
  so a variable frame rate stays as it was.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.nst import schema, temporal, video_io
from engine.nst.errors import ParameterError, Stopped
from engine.nst.fast import FastParams, finish, output_shape
from engine.nst.schema import default
from engine.nst.video_io import ClipInfo, ClipLimits, Source

if TYPE_CHECKING:
    from engine.nst.fast import FastStylizer

CHECKPOINT_VERSION = 1
POSTER_QUALITY = 85


@dataclass(frozen=True)
class VideoParams:
    """What a video job asks for (controls in engine.nst.schema, mode "video").

    size: longest side of the output frames, px (rounded down to even sides for yuv420p).
    strength, style_weights, preserve_colors: as in fast mode (FastParams), for every frame.
    stability: 0 = every frame on its own (flickers), 1 = the most temporal smoothing.
    chunk_frames: frames per encoded chunk, the unit of crash recovery (not on the form).
    """

    size: int = default("size")
    strength: float = default("strength")
    stability: float = default("stability")
    style_weights: tuple[float, ...] = ()
    preserve_colors: bool = default("preserve_colors")
    chunk_frames: int = default("chunk_frames")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoParams:
        return schema.from_dict(cls, data)

    def fast_params(self) -> FastParams:
        """The per-frame stylisation: fast mode's built-in network (the one with a style vector)."""
        return FastParams(size=self.size, strength=self.strength, style_weights=self.style_weights,
                          preserve_colors=self.preserve_colors)

    def validate(self, n_styles: int) -> None:
        schema.check(self, schema.VIDEO)
        self.fast_params().validate(n_styles)


@dataclass
class VideoCheckpoint:
    """Where a run can go on from: `chunks` whole chunk files, `frames` frames in them, and the last
    source (grey) and output frame for the next frame's stabilisation. `step` is `frames` (the job's
    step counter counts frames)."""

    chunks: int
    frames: int
    last_grey: np.ndarray | None = None
    last_output: np.ndarray | None = None
    version: int = CHECKPOINT_VERSION

    @property
    def step(self) -> int:
        return self.frames

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {"last_grey": self.last_grey, "last_output": self.last_output}
        np.savez_compressed(buf, version=self.version, chunks=self.chunks, frames=self.frames,
                            **{k: v for k, v in arrays.items() if v is not None})
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> VideoCheckpoint:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                if int(npz["version"]) != CHECKPOINT_VERSION:
                    raise ParameterError("The video checkpoint is from another engine version.")
                return cls(chunks=int(npz["chunks"]), frames=int(npz["frames"]),
                           last_grey=npz["last_grey"] if "last_grey" in npz else None,
                           last_output=npz["last_output"] if "last_output" in npz else None)
        except (OSError, ValueError, KeyError) as exc:
            raise ParameterError(f"The video checkpoint cannot be read ({exc}).") from None


@dataclass(frozen=True)
class FrameReport:
    """After each stylised frame: `frame` of `frames` done (1-based), frames per second of this run
    so far, the seconds left at that rate, and the output frame (HxWx3 uint8)."""

    frame: int
    frames: int
    fps: float
    eta_seconds: float | None
    image: np.ndarray


@dataclass(frozen=True)
class ChunkReport:
    """After each finished chunk: the checkpoint to keep, and the chunk's last output frame."""

    chunk: int
    chunks: int
    checkpoint: VideoCheckpoint
    image: np.ndarray


@dataclass(frozen=True)
class VideoResult:
    path: Path
    frames: int
    width: int
    height: int
    info: ClipInfo
    poster: np.ndarray            # the output's middle frame, HxWx3 uint8
    seconds: dict[str, float]
    device: str
    network: str = "magenta-v1-256-fp16 + DIS flow"
    events: list[str] = field(default_factory=list)


def chunk_path(work_dir: Path, index: int) -> Path:
    return work_dir / f"chunk-{index:05d}.mp4"


def chunk_files(work_dir: Path, count: int) -> list[Path]:
    return [chunk_path(work_dir, i) for i in range(count)]


def clear_work(work_dir: Path) -> None:
    """Remove a run's chunk files (once the result is safely stored)."""
    for path in work_dir.glob("chunk-*.mp4"):
        path.unlink(missing_ok=True)
    for path in work_dir.glob(".chunk-*.partial"):
        path.unlink(missing_ok=True)


def frame_size(info: ClipInfo, size: int) -> tuple[int, int]:
    """(height, width) of the output frames: longest side `size`, even sides."""
    return video_io.even_size(*output_shape(info.height, info.width, size))


def _usable(resume: VideoCheckpoint | None, work_dir: Path, shape: tuple[int, int]) -> VideoCheckpoint | None:
    """The checkpoint if its chunk files are all there and its frames fit this run, else ParameterError."""
    if resume is None or resume.chunks == 0:
        return None
    missing = [p.name for p in chunk_files(work_dir, resume.chunks) if not p.exists()]
    if missing:
        raise ParameterError(f"The video checkpoint's chunk files are gone ({missing[0]}).")
    if resume.last_output is not None and resume.last_output.shape[:2] != shape:
        raise ParameterError("The video checkpoint is for another frame size.")
    return resume


def stylize_video(
    source: Source, styles: Sequence[np.ndarray], params: VideoParams, *, stylizer: FastStylizer,
    work_dir: Path, out: Path, info: ClipInfo | None = None, limits: ClipLimits = video_io.DEFAULT_LIMITS,
    on_frame: Callable[[FrameReport], None] | None = None, on_chunk: Callable[[ChunkReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None, resume_from: VideoCheckpoint | None = None,
    metadata: dict[str, str] | None = None,
) -> VideoResult:
    """Stylise the clip `source` into the MP4 `out` (see the module notes), with `metadata` as its
    container's tags. Raises VideoError for a clip that cannot be used, ParameterError for bad params
    or an unusable checkpoint, Stopped when should_stop() said so."""
    started = time.perf_counter()
    params.validate(len(styles))
    info = info or video_io.probe(source, limits)
    height, width = frame_size(info, params.size)
    work_dir.mkdir(parents=True, exist_ok=True)
    resume = _usable(resume_from, work_dir, (height, width))
    run = _Run(stylizer, styles, params, info, work_dir, (height, width), resume, on_frame, on_chunk, should_stop)
    for index, (pts, frame) in enumerate(video_io.read_frames(source, info, width, height)):
        run.frame(index, pts, frame)
    run.end()
    stylised = time.perf_counter()
    if should_stop is not None and should_stop():  # the last check before anything is written outside work_dir
        raise Stopped("Stopped before the video was assembled.", run.checkpoint)
    video_io.assemble(chunk_files(work_dir, run.chunks), source if info.reader == "av" else None, out, metadata)
    facts = video_io.clip_facts(out)
    poster = middle_frame(out)
    done = time.perf_counter()
    seconds = {"stylise": stylised - started, "assemble": done - stylised, "total": done - started}
    events = [f"Video: {info.describe()} → {width}×{height}, {len(facts['times'])} frames, "
              f"{run.chunks} chunks of {params.chunk_frames}, stability {params.stability:g}."]
    if resume is not None:
        events.append(f"Resumed at frame {resume.frames} (chunk {resume.chunks}).")
    return VideoResult(path=out, frames=len(facts["times"]), width=width, height=height, info=info, poster=poster,
                       seconds=seconds, device=stylizer.device, events=events)


class _Run:
    """The per-frame state of one stylize_video call."""

    def __init__(self, stylizer, styles, params, info, work_dir, shape, resume, on_frame, on_chunk, should_stop):
        self.stylizer, self.styles, self.params, self.info = stylizer, styles, params, info
        self.work_dir, self.shape = work_dir, shape
        self.on_frame, self.on_chunk, self.should_stop = on_frame, on_chunk, should_stop
        self.fast = params.fast_params()
        self.flow = temporal.FlowField()
        self.checkpoint = resume
        self.chunks = resume.chunks if resume else 0
        self.start = resume.frames if resume else 0
        self.last_grey = resume.last_grey if resume else None
        self.last_output = resume.last_output if resume else None
        self.vector: np.ndarray | None = None
        self.writer: video_io.ChunkWriter | None = None
        self.done = self.start
        self.clock = time.perf_counter()

    def frame(self, index: int, pts: int, frame: np.ndarray) -> None:
        content = frame.astype(np.float32) / np.float32(255.0)
        if self.vector is None:  # once per run, from the clip's first frame: the same after a resume
            self.vector = self.stylizer.blended_vector(content, self.styles, self.fast)
        if index < self.start:
            return  # in a chunk an earlier run finished
        if self.should_stop is not None and self.should_stop():
            if self.writer is not None:
                self.writer.abandon()
            raise Stopped(f"Stopped before frame {index + 1}.", self.checkpoint)
        if self.writer is None:
            self.writer = video_io.ChunkWriter(chunk_path(self.work_dir, self.chunks), self.shape[1], self.shape[0],
                                               self.info.time_base, self.info.fps)
        stylised = finish(self.stylizer.transformer(content, self.vector),
                          content if self.fast.preserve_colors else None)
        current_grey = temporal.grey(frame)
        output = stylised
        if self.last_grey is not None and self.params.stability > 0:
            step = temporal.motion(self.flow, self.last_grey, current_grey)
            output = temporal.stabilise(stylised, self.last_output, step, self.params.stability)
        self.writer.write(pts, output)
        self.last_grey, self.last_output = current_grey, output
        self.done = index + 1
        self._report(output)
        if self.writer.frames >= self.params.chunk_frames:
            self._close_chunk(output)

    def _report(self, output: np.ndarray) -> None:
        if self.on_frame is None:
            return
        elapsed = time.perf_counter() - self.clock
        fps = (self.done - self.start) / elapsed if elapsed > 0 else 0.0
        left = max(0, self.info.frames - self.done)
        self.on_frame(FrameReport(frame=self.done, frames=self.info.frames, fps=fps,
                                  eta_seconds=left / fps if fps > 0 else None, image=output))

    def _close_chunk(self, output: np.ndarray) -> None:
        self.writer.close()
        self.writer = None
        self.chunks += 1
        self.checkpoint = VideoCheckpoint(chunks=self.chunks, frames=self.done, last_grey=self.last_grey,
                                          last_output=self.last_output)
        if self.on_chunk is not None:
            total = -(-self.info.frames // self.params.chunk_frames)
            self.on_chunk(ChunkReport(chunk=self.chunks, chunks=max(total, self.chunks), checkpoint=self.checkpoint,
                                      image=output))

    def end(self) -> None:
        if self.writer is not None:
            self._close_chunk(self.last_output)
        if self.chunks == 0:
            raise ParameterError("The clip gave no frames to stylise.")


def middle_frame(path: Path) -> np.ndarray:
    """The frame in the middle of a clip (HxWx3 uint8): posters and thumbnails."""
    import av

    with av.open(str(path), "r") as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        frames = []
        for index, frame in enumerate(container.decode(stream)):
            if total and index >= total // 2:
                return frame.to_ndarray(format="rgb24")
            frames.append(frame) if not total else None
        if frames:
            return frames[len(frames) // 2].to_ndarray(format="rgb24")
    raise video_io.VideoError("The video has no frames.")
