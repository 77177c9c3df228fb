"""Video mode's engine (engine.nst.video, video_io, temporal) on clips the tests make with PyAV: the
frame timing, sound, rotation and formats of real clips; chunks a stopped run resumes from without
stylising or encoding a frame twice; temporal stability; and every kind of bad clip refused with a
message. The real fast-mode network at 64 px."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from engine.nst import (
    ParameterError,
    Stopped,
    VideoCheckpoint,
    VideoError,
    VideoParams,
    images,
    stylize_video,
    temporal,
    video_io,
)
from engine.nst.fast import get_fast_stylizer
from tests import clips


@pytest.fixture(scope="module")
def stylizer(model_dir):
    return get_fast_stylizer(model_dir)


@pytest.fixture(scope="module")
def style(images_dir):
    return images.load_array(images_dir / "starry_night.jpg", 256)


@pytest.fixture
def photo(images_dir) -> Path:
    return images_dir / "tubingen.jpg"


def _run(source, stylizer, style, tmp_path, name="out", **params):
    return stylize_video(source, [style], VideoParams(**{"size": 64, "chunk_frames": 5, **params}),
                         stylizer=stylizer, work_dir=tmp_path / f"{name}-work", out=tmp_path / f"{name}.mp4")


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# --- what comes out -----------------------------------------------------------------------------------

def test_a_variable_rate_clip_keeps_its_frame_times_and_sound_as_browser_ready_h264(
        tmp_path, photo, stylizer, style):
    source = clips.make_clip(tmp_path / "vfr.mp4", photo, frames=14, variable=True, audio="aac")
    result = _run(source, stylizer, style, tmp_path)
    out, given = video_io.clip_facts(result.path), video_io.clip_facts(source)
    assert out["times"] == pytest.approx(given["times"], abs=1e-4)
    assert len(set(np.round(np.diff(out["times"]), 3))) == 2  # really variable: two frame periods
    assert (out["codec"], out["pix_fmt"], out["audio"], out["faststart"]) == ("h264", "yuv420p", "aac", True)
    assert (out["width"], out["height"]) == (64, 48) == (result.width, result.height)
    assert result.frames == 14 and result.poster.shape == (48, 64, 3)
    with av.open(str(source)) as a, av.open(str(result.path)) as b:  # the sound is copied, not re-encoded
        assert [bytes(p) for p in a.demux(audio=0) if p.size] == [bytes(p) for p in b.demux(audio=0) if p.size]


def test_the_containers_rotation_is_applied_so_the_result_is_upright(tmp_path, photo, stylizer, style):
    rotated = clips.make_clip(tmp_path / "portrait.mp4", photo, frames=6, rotation=90)
    info = video_io.probe(rotated)
    assert (info.rotation, info.width, info.height) == (90, 64, 48)  # stored 48x64, shown 64x48
    upright = clips.pan_frames(photo, 6, 64, 48)
    decoded = [image for _, image in video_io.read_frames(rotated, info, 64, 48)]
    error = np.abs(decoded[0].astype(float) - upright[0]).mean()
    turned = np.abs(np.rot90(decoded[0], 2).astype(float) - upright[0]).mean()
    assert error < 12 < turned  # the same picture as the upright one, not turned over
    result = _run(rotated, stylizer, style, tmp_path, stability=0.0)
    assert (result.width, result.height) == (64, 48)


@pytest.mark.parametrize("kind", ["webm", "gif", "webp"])
def test_webm_and_animated_gif_and_webp_are_clips_too(kind, tmp_path, photo, stylizer, style):
    if kind == "webm":
        source = clips.make_clip(tmp_path / "c.webm", photo, frames=10, codec="libvpx-vp9", container="webm",
                                 audio="libopus")
        expected = video_io.clip_facts(source)["times"]
    else:
        durations = [100, 50, 100, 50, 100, 200, 100, 100]
        source = clips.make_animation(tmp_path / f"c.{kind}", photo, fmt=kind.upper(), durations=durations)
        expected = list(np.cumsum([0] + durations[:-1]) / 1000)
    assert video_io.media_kind(source) == "video"
    result = _run(source, stylizer, style, tmp_path)
    facts = video_io.clip_facts(result.path)
    assert facts["times"] == pytest.approx(expected, abs=1e-3)
    assert facts["codec"] == "h264" and facts["audio"] == ("opus" if kind == "webm" else None)


def test_photos_and_still_animations_are_images_and_clips_are_not(tmp_path, photo, image_bytes):
    assert video_io.media_kind(photo) == "image"
    still = tmp_path / "still.webp"
    still.write_bytes(image_bytes("tubingen.jpg", 64, fmt="WEBP"))
    assert video_io.media_kind(still) == "image"
    one = clips.make_animation(tmp_path / "one.gif", photo, frames=1)
    assert video_io.media_kind(one) == "image"
    assert video_io.media_kind(clips.make_clip(tmp_path / "c.mp4", photo, frames=3)) == "video"


# --- chunks and resuming ----------------------------------------------------------------------------------

def test_a_stopped_run_resumes_after_its_last_chunk_and_makes_the_same_video(tmp_path, photo, stylizer, style):
    source = clips.make_clip(tmp_path / "pan.mp4", photo, frames=17, audio="aac")
    made = {}  # frame -> the engine's output frame, before encoding: a difference says where it began
    whole = stylize_video(source, [style], VideoParams(size=64, chunk_frames=5), stylizer=stylizer,
                          work_dir=tmp_path / "whole-work", out=tmp_path / "whole.mp4",
                          on_frame=lambda report: made.setdefault(report.frame, report.image.copy()))

    asked = {"n": 0}

    def stop_before_frame_13() -> bool:
        asked["n"] += 1
        return asked["n"] == 13  # asked once before each frame: 12 done, chunks of 5 -> 2 whole chunks

    work, out = tmp_path / "split-work", tmp_path / "split.mp4"
    params = VideoParams(size=64, chunk_frames=5)
    chunks_seen = []
    with pytest.raises(Stopped) as stopped:
        stylize_video(source, [style], params, stylizer=stylizer, work_dir=work, out=out,
                      should_stop=stop_before_frame_13, on_chunk=chunks_seen.append)
    checkpoint = stopped.value.checkpoint
    assert (checkpoint.chunks, checkpoint.frames) == (2, 10)
    assert [c.chunk for c in chunks_seen] == [1, 2] and not out.exists()
    assert sorted(p.name for p in work.iterdir()) == ["chunk-00000.mp4", "chunk-00001.mp4"]  # the third dropped

    for index in range(2):  # the chunks both runs wrote are the same bytes
        name = f"chunk-{index:05d}.mp4"
        assert (work / name).read_bytes() == (tmp_path / "whole-work" / name).read_bytes(), name

    stylised = {}
    resumed = stylize_video(source, [style], params, stylizer=stylizer, work_dir=work, out=out,
                            resume_from=VideoCheckpoint.from_bytes(checkpoint.to_bytes()),
                            on_frame=lambda report: stylised.setdefault(report.frame, report.image.copy()))
    assert list(stylised) == list(range(11, 18))  # only the frames after the checkpoint were stylised
    for frame, image in stylised.items():  # the engine's frames, before the encoder
        worst = np.abs(image.astype(int) - made[frame]).max()
        assert worst == 0, f"frame {frame} differs from the whole run's by up to {worst} levels"
    assert video_io.clip_facts(out)["times"] == video_io.clip_facts(whole.path)["times"]  # each frame once
    for a, b in zip(_frames(out), _frames(whole.path), strict=True):
        assert np.array_equal(a, b)  # the stabilisation state came back exactly
    assert resumed.frames == 17 and "Resumed at frame 10 (chunk 2)." in resumed.events


def test_a_checkpoint_whose_chunks_are_gone_is_refused(tmp_path, photo, stylizer, style):
    source = clips.make_clip(tmp_path / "pan.mp4", photo, frames=6)
    with pytest.raises(ParameterError, match="chunk files are gone"):
        stylize_video(source, [style], VideoParams(size=64, chunk_frames=5), stylizer=stylizer,
                      work_dir=tmp_path / "empty", out=tmp_path / "o.mp4",
                      resume_from=VideoCheckpoint(chunks=1, frames=5))


# --- temporal stability ---------------------------------------------------------------------------------

def _flicker(path: Path, source: Path) -> tuple[float, float]:
    """(mean warping error between consecutive output frames, mean |output - source|)."""
    out = _frames(path)
    height, width = out[0].shape[:2]
    info = video_io.probe(source)
    src = [image for _, image in video_io.read_frames(source, info, width, height)]
    flow = temporal.FlowField()
    errors = []
    for k in range(1, len(out)):
        step = temporal.motion(flow, temporal.grey(src[k - 1]), temporal.grey(src[k]))
        errors.append(temporal.warping_error(out[k - 1], out[k], step))
    strength = np.mean([np.abs(o.astype(float) - s).mean() for o, s in zip(out, src, strict=True)])
    return float(np.mean(errors)), float(strength)


def test_stability_lowers_the_flicker_between_frames(tmp_path, photo, stylizer, style):
    source = clips.make_clip(tmp_path / "pan.mp4", photo, frames=12, width=96, height=64)
    naive = _flicker(_run(source, stylizer, style, tmp_path, name="naive", size=96, stability=0.0).path, source)
    steady = _flicker(_run(source, stylizer, style, tmp_path, name="steady", size=96, stability=1.0).path, source)
    assert steady[0] < 0.8 * naive[0], (naive, steady)
    assert steady[1] > 0.7 * naive[1], (naive, steady)  # still painted, not faded back to the photo


def test_the_occlusion_mask_drops_pixels_the_flow_cannot_follow():
    rng = np.random.default_rng(0)
    still = np.zeros((48, 64, 2), np.float32)
    assert temporal.consistent(still, still).all()
    moving = still.copy()
    moving[:, :, 0] = 3.0  # everything moved 3 px right ...
    back = -moving
    back[10:20, 10:20] = rng.normal(0, 8, (10, 10, 2))  # ... except a patch that does not agree
    mask = temporal.consistent(back, moving)
    assert mask[14, 14] == 0 and mask[40, 40] == 1
    assert mask[:, -1].all() and not mask[:, 0].any()  # the left column came from outside the frame


# --- bad clips ------------------------------------------------------------------------------------------

def test_a_truncated_clip_is_refused(tmp_path, photo):
    clip = clips.make_clip(tmp_path / "c.mp4", photo, frames=20)  # moov at the end: cut, it is gone
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size * 2 // 3])
    with pytest.raises(VideoError, match="damaged or incomplete"):
        video_io.probe(cut)
    fast = tmp_path / "fast.mp4"  # moov first: the index survives, the frames do not
    video_io.assemble([clip], None, fast)
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size * 2 // 3])
    with pytest.raises(VideoError, match="damaged or incomplete"):
        video_io.probe(cut)


def test_audio_only_no_video_zero_frames_and_random_bytes_are_refused(tmp_path, photo):
    with pytest.raises(VideoError, match="audio only"):
        video_io.probe(clips.make_audio_only(tmp_path / "sound.m4a"))
    with pytest.raises(VideoError, match="The clip has no frames"):
        video_io.probe(clips.make_empty_clip(tmp_path / "empty.mp4"))
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(VideoError, match="not a video we can read"):
        video_io.probe(noise)
    blank = tmp_path / "blank.mp4"
    blank.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        video_io.probe(blank)


def test_an_unknown_codec_is_refused_with_what_to_do(tmp_path, photo):
    clip = clips.make_clip(tmp_path / "c.mp4", photo, frames=4).read_bytes()
    strange = tmp_path / "strange.mp4"
    strange.write_bytes(clip.replace(b"avc1", b"zzz9"))  # a sample entry no decoder knows
    with pytest.raises(VideoError, match="not one we can read.*H.264"):
        video_io.probe(strange)


def test_clips_over_the_limits_are_refused_naming_the_limit(tmp_path, photo):
    clip = clips.make_clip(tmp_path / "c.mp4", photo, frames=24, fps=12, width=96, height=64)  # 2 s
    with pytest.raises(VideoError, match=r"2\.0 s long; the limit is 1 s"):
        video_io.probe(clip, video_io.ClipLimits(max_seconds=1))
    with pytest.raises(VideoError, match="96×64 pixels; the limit is 80 px"):
        video_io.probe(clip, video_io.ClipLimits(max_side=80))
    with pytest.raises(VideoError, match="24 frames; the limit is 20"):
        video_io.probe(clip, video_io.ClipLimits(max_frames=20))
    assert video_io.probe(clip).frames == 24


def test_a_single_frame_gif_is_a_still_image_not_a_clip(tmp_path, photo):
    with pytest.raises(VideoError, match="single frame: it is a still image"):
        video_io.probe(clips.make_animation(tmp_path / "one.gif", photo, frames=1))


# --- the same chunk wherever it is encoded ----------------------------------------------------------

ENCODE_ON_CORES = """
import os, sys
from fractions import Fraction
import os
from pathlib import Path
import numpy as np
from engine.nst import video_io
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})   # the cores x264 would count
rng = np.random.default_rng(7)
base = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
writer = video_io.ChunkWriter(Path(sys.argv[1]), 320, 240, Fraction(1, 24), 24)
for i in range(12):
    writer.write(i, np.ascontiguousarray(np.roll(base, 4 * i, axis=1)))
writer.close()
"""


def test_a_chunk_is_the_same_bits_on_a_machine_with_other_cores(tmp_path):
    """A resumed video's later chunks may be encoded on another worker's machine: x264's output
    depends on its thread count, which it would take from the cores it may use."""
    import subprocess
    import sys

    cores = sorted(os.sched_getaffinity(0))
    assert len(cores) >= 2, "this check needs a machine with two cores or more"
    chunks = []
    for name, allowed in (("one", cores[:1]), ("all", cores)):
        out = tmp_path / f"{name}.mp4"
        subprocess.run([sys.executable, "-c", ENCODE_ON_CORES, str(out), ",".join(map(str, allowed))],
                       cwd=Path(__file__).resolve().parents[1], check=True)
        chunks.append(out.read_bytes())
    assert chunks[0] == chunks[1]
