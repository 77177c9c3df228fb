"""Decoding bombs in clips (issue 24, findings 1 and 3): files of a few hundred bytes to a few hundred
KB whose headers claim an 8000² canvas, a 16000² frame, ten million frames or 20,000 frames, made
byte by byte by tests/clip_bombs.py. Each is refused from its headers with the message of the limit
it breaks, in bounded memory; a clip whose first frame is small and whose next ones are huge is
refused as it is read, by the worker and by the thumbnails, also in bounded memory.

Memory is measured in a fresh process (the kernel's high-water mark, ru_maxrss, before and after),
not timed: the figures of time and of the web server's memory are bench/bench_upload_memory.py's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engine.models import StyleJob
from engine.nst import VideoError, video_io
from tests import clip_bombs
from tests.web_client import field_errors

REPO = Path(__file__).resolve().parents[1]
# The growth a probe may cause, far below the hundreds of MB each of these cost before.
MAX_GROWTH_MB = 100

BOMBS = {  # name: (maker, file name, what the refusal says)
    "gif-13000-canvas": (clip_bombs.gif_canvas, "bomb.gif", "13000×13000 pixels; the limit is 1920 px"),
    "webp-8000-canvas": (clip_bombs.webp_canvas, "bomb.webp", "8000×8000 pixels; the limit is 1920 px"),
    "mov-16000-png": (clip_bombs.mov_huge_frame, "bomb.mov", "16000×16000 pixels; the limit is 1920 px"),
    "mov-10-million-frames": (clip_bombs.mov_many_frames, "bomb.mov", "10000000 frames; the limit is 3600"),
    "gif-20000-frames": (clip_bombs.gif_many_frames, "bomb.gif", "longer than 60 s; the limit is 60 s"),
}


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    files = {name: folder / f"{name}{Path(file_name).suffix}" for name, (_, file_name, _) in BOMBS.items()}
    for name, (make, _, _) in BOMBS.items():
        files[name].write_bytes(make())
    files["growing"] = folder / "growing.mov"
    files["growing"].write_bytes(clip_bombs.growing_mov())
    return files


def _in_a_fresh_process(code: str) -> dict:
    """Run `code` (which sets `result`) in a new Python with the engine imported and warmed up; the
    result with the growth of the process's peak memory (MB) while the code ran."""
    script = textwrap.dedent("""
        import json, resource, sys
        sys.path.insert(0, {repo!r})
        from engine.nst import VideoError, video_io
        import av, PIL.Image, PIL.GifImagePlugin, PIL.WebPImagePlugin  # loaded before the baseline
        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        before = peak_mb()
        result = None
        """).format(repo=str(REPO)) + textwrap.dedent(code) + textwrap.dedent("""
        print(json.dumps({"result": result, "growth_mb": peak_mb() - before}))
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_clip_bomb_is_refused_from_its_headers_in_bounded_memory(name, bomb_files):
    out = _in_a_fresh_process(f"""
        try:
            video_io.probe({str(bomb_files[name])!r})
        except VideoError as exc:
            result = str(exc)
        """)
    assert out["result"] is not None and BOMBS[name][2] in out["result"], out
    assert out["growth_mb"] < MAX_GROWTH_MB, out


def test_an_animated_file_is_told_from_a_photo_by_its_headers_in_bounded_memory(bomb_files):
    out = _in_a_fresh_process(f"""
        result = [video_io.media_kind(path) for path in {[str(bomb_files[n]) for n in ("gif-13000-canvas",
                                                                                         "webp-8000-canvas")]!r}]
        """)
    assert out["result"] == ["video", "video"] and out["growth_mb"] < MAX_GROWTH_MB, out


def test_a_clip_whose_later_frames_grow_is_refused_as_it_is_read_in_bounded_memory(bomb_files):
    """Its headers and first frame say 64×48 (the probe accepts it); the frames after are 8000²."""
    path = str(bomb_files["growing"])
    assert (video_io.probe(path).width, video_io.probe(path).height) == (64, 48)
    for reading in ("sum(1 for _ in video_io.read_frames(path, video_io.probe(path), 64, 48))",  # the worker
                    "video_io.still(path, 240)"):                                                  # thumbnails
        out = _in_a_fresh_process(f"""
            path = {path!r}
            try:
                {reading}
            except VideoError as exc:
                result = str(exc)
            """)
        assert out["result"] is not None and "cannot be read" in out["result"], (reading, out)
        assert out["growth_mb"] < MAX_GROWTH_MB, (reading, out)


def test_a_gif_frame_outside_its_screen_counts_as_the_clip_size(tmp_path):
    """Pillow grows a GIF's canvas to a frame that does not fit: the frames' rectangles count too."""
    data = bytearray(clip_bombs.gif_many_frames(frames=3, width=64, height=48))
    at = data.index(b"\x2c")  # the first image descriptor: put it at x = 5000
    data[at + 1:at + 3] = (5000).to_bytes(2, "little")
    path = tmp_path / "wide.gif"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoError, match="5001×48 pixels; the limit is 1920 px"):
        video_io.probe(path)


def test_other_containers_are_refused_before_ffmpeg_opens_them(tmp_path):
    for name, head in (("a.avi", b"RIFF\x00\x00\x00\x00AVI LIST"), ("a.ogv", b"OggS\x00\x02"), ("a.flv", b"FLV\x01")):
        path = tmp_path / name
        path.write_bytes(head + b"\x00" * 2000)
        with pytest.raises(VideoError, match="not a video we can read. Clips can be MP4, MOV, WebM"):
            video_io.probe(path)


# --- through the form ------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("name", list(BOMBS))
def test_the_form_refuses_a_clip_bomb_with_its_limit_and_stores_nothing(
        name, bomb_files, owner_client, job_form_data, rq_redis, media_root, upload_tmp):
    _, file_name, words = BOMBS[name]
    data = job_form_data("video", size="256",
                         content=SimpleUploadedFile(file_name, bomb_files[name].read_bytes(), "video/quicktime"))
    response = owner_client.post(reverse("engine:submit"), data)
    assert response.status_code == 200
    assert words in field_errors(response, "content"), field_errors(response, "content")
    assert not StyleJob.objects.exists() and django_rq.get_queue("default").count == 0
    assert not any(p.is_file() for p in Path(upload_tmp).rglob("*"))
