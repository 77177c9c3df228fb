"""Video mode: a clip stylised frame by frame with fast mode's network, steadied over time
(engine.nst.video). Its units are frames, its groups chunks (`chunk_frames` frames, encoded as
they fill): a chunk ends with a preview and a checkpoint, and a resumed run (requeued, handed back,
recovered from a dead worker) goes on after the last whole chunk. The result is an MP4 with a
poster frame (the middle one). Photos submitted in video mode run in fast mode, with the same
settings.

Its cost (bench/bench_video.py; docs/benchmarks.md, "Video and batches": 480 px 11.5 frames/s,
720 px 5.7): seconds = FIXED + frames x FRAME_MP x a frame's megapixels; peak memory: fast mode's
for one frame (frames go one at a time, chunks are written as they fill).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings

from engine.nst import LossHistory, ParameterError, images
from engine.nst.fast import get_fast_stylizer
from engine.nst.schema import VIDEO
from engine.nst.video import (
    ChunkReport,
    FrameReport,
    VideoCheckpoint,
    VideoResult,
    chunk_path,
    clear_work,
    stylize_video,
)
from engine.runners.base import (
    MIN_STYLE_SIDE,
    Reporter,
    Runner,
    WorkUnits,
    load_styles,
    megapixels,
    read_checkpoint,
    timings,
)
from engine.runners.fast import FastRunner
from engine.storage import renditions
from engine.storage.folders import delete_folder
from engine.storage.job_files import VIDEO_RESULT, VIDEO_WORK, job_file_name
from engine.storage.result_settings import settings_of, video_metadata
from engine.storage.workspace import Workspace

if TYPE_CHECKING:
    from engine.models import StyleJob

logger = logging.getLogger(__name__)

FIXED = 2.0        # s: the style vector, opening the clip, joining the chunks, copying the sound
FRAME_MP = 0.65    # s per frame and megapixel: decode, network, two DIS flows, blend, encode
DEFAULT_FRAMES = 240  # a clip not read yet (the form's estimate): ten seconds at 24 frames/s
POSTER_QUALITY = 85


class VideoRunner(Runner):
    mode = VIDEO
    unit = "frame"
    group = "chunk"
    result_kind = "video"
    content_kinds = ("video", "image")

    def __init__(self, photos: Runner | None = None):
        self.photos = photos or FastRunner()  # what a photo of a video-mode submission runs in

    def work_units(self, params, frames: int | None = None) -> WorkUnits:
        frames = max(1, frames or DEFAULT_FRAMES)
        return WorkUnits(groups=-(-frames // params.chunk_frames), units=frames)

    def for_content(self, kind: str, params):
        if kind == "image":
            return self.photos, params.fast_params()
        return self, params

    def network_name(self, job: StyleJob) -> str:
        return VideoResult.network

    def progress_text(self, job: StyleJob, *, group: int | None = None, unit: int | None = None,
                      fps: float | None = None) -> str:
        text = f"Frame {job.step if unit is None else unit} of {job.total_steps}"
        return text + self.rate_text(fps) if fps else text

    def rate_text(self, fps: float | None) -> str:
        return f" · stylising {fps:.1f} frames/s" if fps else ""

    # --- running -----------------------------------------------------------------------------------

    def run(self, job: StyleJob, progress: Reporter) -> None:
        """In a workspace (engine.storage.workspace): FFmpeg reads the clip and writes the chunks and
        the result as files. Each chunk is stored before the checkpoint that counts it, so a run
        resumed on any host fetches the chunks it needs back from storage."""
        params = job.engine_params()
        styles, _ = load_styles(job, params.size, library_side=max(params.size, MIN_STYLE_SIDE))
        with Workspace("video") as ws:
            source, work, out = ws.fetch(job.content.name), ws.root / VIDEO_WORK, ws.target(VIDEO_RESULT)

            def on_frame(report: FrameReport) -> None:
                chunk_end = report.frame % params.chunk_frames == 0 or report.frame == report.frames
                progress.unit_done(report.frame, eta_seconds=report.eta_seconds, rate=report.fps,
                                   image=report.image, group_end=chunk_end)

            def on_chunk(report: ChunkReport) -> None:
                chunk = chunk_path(work, report.chunk - 1)
                ws.store(chunk, _stored_chunk(job, chunk.name))
                progress.group_done(report.chunk, report.checkpoint.frames, image=report.image,
                                    checkpoint=report.checkpoint.to_bytes())

            kwargs = dict(stylizer=get_fast_stylizer(settings.NST_MODEL_DIR), work_dir=work, out=out,
                          on_frame=on_frame, on_chunk=on_chunk, should_stop=progress.should_stop,
                          metadata=video_metadata(settings_of(job)) if job.embed_settings else None)
            resume = read_checkpoint(job, VideoCheckpoint)
            if resume is not None:
                _fetch_chunks(ws, job, work, resume.chunks)
                progress.resume_at(resume.frames, resume.chunks)
            try:
                result = stylize_video(source, styles, params, resume_from=resume, **kwargs)
            except ParameterError as exc:
                if resume is None or progress.unit != resume.frames:  # not the checkpoint: a real error
                    raise
                logger.warning("Style job %s: video checkpoint not usable (%s); starting again.", job.pk, exc)
                progress.resume_at(0)
                clear_work(work)
                result = stylize_video(source, styles, params, **kwargs)
            progress.ensure_still_ours()
            history = LossHistory(events=[*result.events, f"Timings: {timings(result.seconds)}."])
            poster = images.encode_jpeg(result.poster, quality=POSTER_QUALITY)
            result_name = ws.store(out, job_file_name(job, VIDEO_RESULT))
        if job.finish(result_name=result_name, poster_jpeg=poster, history=history,
                      device=result.device, network=result.network, seconds=progress.seconds(),
                      renditions=renditions.make(result.poster)):
            delete_folder(job_file_name(job, VIDEO_WORK))  # the stored chunks: the result holds them now

    # --- cost --------------------------------------------------------------------------------------

    def seconds(self, params, dims: tuple[int, int], units: int) -> float:
        return FIXED + max(1, units) * FRAME_MP * megapixels(dims)

    def peak_bytes(self, params, dims: tuple[int, int], precision: str) -> int:
        return self.photos.peak_bytes(params, dims, precision)


def _stored_chunk(job: StyleJob, filename: str) -> str:
    return job_file_name(job, f"{VIDEO_WORK}/{filename}")


def _fetch_chunks(ws: Workspace, job: StyleJob, work, count: int) -> None:
    """The first `count` stored chunks into `work`; one that is gone ends the copying (the engine
    then refuses the checkpoint and the run starts again)."""
    for index in range(count):
        local = chunk_path(work, index)
        try:
            ws.fetch(_stored_chunk(job, local.name), f"{VIDEO_WORK}/{local.name}")
        except FileNotFoundError:
            logger.warning("Style job %s: stored chunk %s is gone.", job.pk, local.name)
            return
