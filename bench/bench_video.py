"""Video and batch benchmark (a script, not a test). Results: docs/benchmarks.md, "Video and batches".

    flock -x /tmp/nst-machine.lock .venv/bin/python bench/bench_video.py
    python bench/bench_video.py --no-write --skip-platform     # the engine figures only

Three parts:

1. Batch, through the platform (tests/harness.py's Platform: its own Redis, the web server and
   workers with the commands of scripts/lib/processes, on free ports): 20 photos at 512 px in fast
   mode submitted in one form POST, then the batch page polled until all 20 are done and the zip
   downloaded; with one and with two warm workers (an untimed warm-up batch first).
2. Speed: a 10 s, 24 fps clip (240 frames, 1280x720, a pan and zoom over tubingen.jpg with a sound
   track) stylised at 480 px: end to end through the platform with a warm worker (POST of the clip
   to the job page saying "succeeded"), and the worker's peak RSS (VmHWM); then the engine alone,
   in this process, warm: frames per second at 480 and 720 px.
3. Flicker: the same clip at 480 px with stability 0 (naive per-frame stylisation) and with the
   default stability. Flicker = the mean warping error between consecutive output frames: the
   previous output frame warped by the optical flow of the *source* frames (DIS, the flow the engine
   uses), compared with the next output frame on the pixels the forward-backward check marks visible
   in both (engine.nst.temporal.warping_error, mean absolute difference on the 0-255 scale). Style
   strength = the mean absolute difference between each output frame and its source frame: how far
   the frames moved from the photo toward the painting. Goals: flicker at least 40 % lower, style
   strength within 10 % of the naive one. The flicker is measured again along Farneback's flow, which
   the stabiliser never saw.

Writes bench/results/video.json and, unless --no-write, the section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages
# tests.harness imports engine.jobs.worker, whose imports read Django's settings (none of this process's own
# requests: the platform's processes get their own environment, tests.harness.process_env).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-video-" + "x" * 40)
import django  # noqa: E402

django.setup()
from bench.common import SHARED, cpu_name, write_section  # noqa: E402
from tests import clips  # noqa: E402
from tests.harness import Platform  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
IMAGES = SHARED / "images"
POLL = 0.05


class Visitor:
    """A signed-up user of the platform, speaking HTTP as a browser does."""

    def __init__(self, base: str) -> None:
        import requests

        self.base, self.http = base, requests.Session()

    def csrf(self, path: str) -> str:
        self.http.get(self.base + path).raise_for_status()
        return self.http.cookies["csrftoken"]

    def sign_up(self) -> None:
        token, password = self.csrf("/accounts/signup/"), secrets.token_urlsafe(16)
        r = self.http.post(self.base + "/accounts/signup/", allow_redirects=False, headers={"Referer": self.base},
                           data={"csrfmiddlewaretoken": token, "username": "bench", "email": "bench@example.org",
                                 "password1": password, "password2": password})
        if r.status_code != 302:
            raise SystemExit(f"sign-up failed: {r.status_code}\n{r.text[:2000]}")

    def submit(self, files: list[tuple[str, bytes, str]], mode: str, size: int) -> str:
        token = self.csrf("/jobs/new/")
        data = {"csrfmiddlewaretoken": token, "mode": mode, "preset": "custom", "size": str(size), "strength": "1",
                "stability": "0.6", "style_1_weight": "1", "style_2_weight": "1", "style_3_weight": "1"}
        parts = [("content", file) for file in files] + [("style_1", ("painting.jpg", jpeg("starry_night.jpg"),
                                                                        "image/jpeg"))]
        r = self.http.post(self.base + "/jobs/new/", data=data, files=parts, allow_redirects=False,
                           headers={"Referer": self.base + "/jobs/new/"})
        if r.status_code != 302:
            raise SystemExit(f"submitting failed: {r.status_code}\n{r.text[:3000]}")
        return self.base + r.headers["Location"].removeprefix(self.base)

    def wait_batch(self, url: str, count: int, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.http.get(url).text
            done = int(re.search(r'id="batch-done">(\d+)<', page).group(1))
            if 'data-status="failed"' in page:
                raise SystemExit(f"a job of {url} failed")
            if done == count:
                return
            time.sleep(POLL)
        raise SystemExit(f"{url}: not done after {timeout} s")

    def wait_job(self, url: str, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = re.search(r'id="job-status"[^>]*data-status="(\w+)"', self.http.get(url).text).group(1)
            if status == "succeeded":
                return
            if status in ("failed", "cancelled"):
                raise SystemExit(f"{url}: {status}")
            time.sleep(POLL)
        raise SystemExit(f"{url}: not done after {timeout} s")

    def zip(self, batch_url: str) -> int:
        r = self.http.get(batch_url + "zip/")
        r.raise_for_status()
        return len(zipfile.ZipFile(io.BytesIO(r.content)).namelist())


def jpeg(name: str, side: int | None = None) -> bytes:
    from PIL import Image

    with Image.open(IMAGES / name) as img:
        img = img.convert("RGB")
        if side:
            img.thumbnail((side, side))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        return buf.getvalue()


def photos(count: int) -> list[tuple[str, bytes, str]]:
    names = sorted(p.name for p in IMAGES.glob("*.jpg"))
    return [(f"photo-{i:02d}.jpg", jpeg(names[i % len(names)], 1024), "image/jpeg") for i in range(count)]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- 1 and 2a: through the platform ----------------------------------------------------------------

def platform_runs(tmp: Path, clip: Path, batch_size: int) -> dict:
    out: dict = {}
    for workers in (1, 2):
        stack = Platform(tmp / f"platform-{workers}")
        try:
            stack.up(workers=workers)
            visitor = Visitor(stack.url)
            visitor.sign_up()
            warm = visitor.submit(photos(2 * workers), "fast", 512)  # imports TensorFlow, loads the models
            visitor.wait_batch(warm, 2 * workers)
            started = time.perf_counter()
            url = visitor.submit(photos(batch_size), "fast", 512)
            visitor.wait_batch(url, batch_size)
            files = visitor.zip(url)
            out[f"batch_{workers}_workers_s"] = time.perf_counter() - started
            out[f"batch_{workers}_workers_files"] = files
            if workers == 1:
                started = time.perf_counter()
                job = visitor.submit([("clip.mp4", clip.read_bytes(), "video/mp4")], "video", 480)
                visitor.wait_job(job)
                out["clip_end_to_end_s"] = time.perf_counter() - started
                history = visitor.http.get(job + "download/json/").json()
                out["clip_events"] = history.get("events", [])
                worker = next(iter(stack.workers().values()))
                out["worker_peak_rss_mb"] = peak_rss_mb(worker.proc.pid)
            used = {e["worker"] for e in stack.job_events() if e["event"] == "end"}
            out[f"batch_{workers}_workers_used"] = len(used)
        finally:
            stack.down()
    return out


# --- 2b and 3: the engine alone ---------------------------------------------------------------------

def engine_runs(tmp: Path, clip: Path, model_dir: Path) -> dict:
    import numpy as np

    from engine.nst import VideoParams, images, stylize_video, temporal, video_io
    from engine.nst.fast import get_fast_stylizer

    stylizer = get_fast_stylizer(model_dir)
    style = images.load_array(IMAGES / "starry_night.jpg", 512)
    warm = clips.make_clip(tmp / "warm.mp4", IMAGES / "tubingen.jpg", frames=8, width=320, height=180)
    for size in (480, 720):  # trace the transformer at both sizes once
        stylize_video(warm, [style], VideoParams(size=size), stylizer=stylizer, work_dir=tmp / "w0",
                      out=tmp / "warm-out.mp4")
    out: dict = {}
    runs = {}
    for name, size, stability in (("480", 480, 0.6), ("720", 720, 0.6), ("naive", 480, 0.0),
                                  ("stable_1", 480, 1.0)):
        started = time.perf_counter()
        result = stylize_video(clip, [style], VideoParams(size=size, stability=stability), stylizer=stylizer,
                               work_dir=tmp / f"w-{name}", out=tmp / f"{name}.mp4")
        seconds = time.perf_counter() - started
        out[f"engine_{name}_s"] = seconds
        out[f"engine_{name}_fps"] = result.frames / seconds
        out[f"engine_{name}_stages"] = result.seconds
        runs[name] = result
    info = video_io.probe(clip)
    height, width = runs["480"].height, runs["480"].width
    source = [image for _, image in video_io.read_frames(clip, info, width, height)]
    flow = temporal.FlowField()
    greys = [temporal.grey(image) for image in source]
    steps = [temporal.motion(flow, a, b) for a, b in zip(greys, greys[1:], strict=False)]
    # The same measure with a flow the engine does not use (Farneback's), so that the stabiliser is
    # not judged only by the flow it followed.
    checks = [farneback_motion(a, b) for a, b in zip(greys, greys[1:], strict=False)]
    for name in ("naive", "480", "stable_1"):
        with __import__("av").open(str(runs[name].path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        errors = [temporal.warping_error(a, b, step) for a, b, step in zip(frames, frames[1:], steps, strict=False)]
        out[f"flicker_{name}"] = float(np.mean(errors))
        out[f"flicker_farneback_{name}"] = float(np.mean([
            temporal.warping_error(a, b, step) for a, b, step in zip(frames, frames[1:], checks, strict=False)]))
        out[f"strength_{name}"] = float(np.mean([np.abs(o.astype(float) - s).mean()
                                                 for o, s in zip(frames, source, strict=True)]))
    out["frame_size_480"] = f"{width}x{height}"
    out["frame_size_720"] = f"{runs['720'].width}x{runs['720'].height}"
    return out


def farneback_motion(previous_grey, current_grey):
    """engine.nst.temporal.motion with OpenCV's Farneback flow in place of DIS."""
    import cv2

    from engine.nst import temporal

    def flow(a, b):
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 7, 1.5, 0)

    backward = flow(current_grey, previous_grey)
    return temporal.Motion(backward, temporal.consistent(backward, flow(previous_grey, current_grey)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--skip-platform", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model_dir = Path(os.environ.get("NST_MODEL_DIR") or REPO / "models")
    results: dict = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="nst-bench-video-") as tmp_name:
        tmp = Path(tmp_name)
        clip = clips.make_clip(tmp / "clip.mp4", IMAGES / "tubingen.jpg", frames=240, width=1280, height=720,
                               audio="aac")
        results["clip"] = "240 frames, 24 fps, 1280x720, H.264 + AAC"
        if not args.skip_platform:
            results.update(platform_runs(tmp, clip, args.batch))
        results.update(engine_runs(tmp, clip, model_dir))
    results["flicker_reduction"] = 1 - results["flicker_480"] / results["flicker_naive"]
    results["strength_ratio"] = results["strength_480"] / results["strength_naive"]
    print(json.dumps(results, indent=2))
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "video.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_write and not args.skip_platform:
        write_docs(results)
    return 0


def write_docs(r: dict) -> None:
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    section = "\n".join([
        "## Video and batches",
        "",
        f"`bench/bench_video.py` ({r['date']}; {r['cpu']}, {r['cores']} cores, 24 GiB, no GPU; under "
        "`flock -x /tmp/nst-machine.lock`). The platform as `scripts/run` starts it (web server, Redis, "
        "workers; SQLite), driven over HTTP as a browser would; the engine figures in one warm process.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| batch of 20 photos, fast mode, 512 px: form POST → all done → zip downloaded, 1 warm worker | "
        f"{r['batch_1_workers_s']:.1f} s ({r['batch_1_workers_files']} files in the zip) |",
        f"| the same with 2 warm workers | {r['batch_2_workers_s']:.1f} s ({r['batch_2_workers_used']} workers "
        f"ran jobs) |",
        f"| clip of 10 s, 24 fps (240 frames, 1280x720 source), 480 px, end to end (POST → succeeded), warm "
        f"worker | {r['clip_end_to_end_s']:.1f} s (goal ≤ 60 s: {ok(r['clip_end_to_end_s'] <= 60)}) |",
        f"| engine alone at 480 px ({r['frame_size_480']}), stability 0.6 | {r['engine_480_fps']:.1f} frames/s |",
        f"| engine alone at 720 px ({r['frame_size_720']}), stability 0.6 | {r['engine_720_fps']:.1f} frames/s |",
        f"| worker's peak RSS (VmHWM) after the batch and the clip | {r['worker_peak_rss_mb']:.0f} MB |",
        f"| flicker (mean warping error, 0-255), naive per-frame (stability 0) | {r['flicker_naive']:.2f} |",
        f"| flicker, stability 0.6 (the default) | {r['flicker_480']:.2f} "
        f"({100 * r['flicker_reduction']:.0f} % lower; goal ≥ 40 %: {ok(r['flicker_reduction'] >= 0.4)}) |",
        f"| flicker, stability 1 | {r['flicker_stable_1']:.2f} "
        f"({100 * (1 - r['flicker_stable_1'] / r['flicker_naive']):.0f} % lower) |",
        f"| flicker measured along Farneback's flow instead of DIS's: naive / stability 0.6 / 1 | "
        f"{r['flicker_farneback_naive']:.2f} / {r['flicker_farneback_480']:.2f} / "
        f"{r['flicker_farneback_stable_1']:.2f} "
        f"({100 * (1 - r['flicker_farneback_480'] / r['flicker_farneback_naive']):.0f} % lower at 0.6) |",
        f"| style strength (mean abs. output − source, 0-255), naive / stability 0.6 / 1 | "
        f"{r['strength_naive']:.1f} / {r['strength_480']:.1f} / {r['strength_stable_1']:.1f} "
        f"(0.6: {100 * (r['strength_ratio'] - 1):+.1f} %; goal within 10 %: "
        f"{ok(abs(r['strength_ratio'] - 1) <= 0.1)}) |",
        "",
        "- Flicker is measured as in Lai et al. 2018 (\"Learning blind video temporal consistency\"): each "
        "output frame against the previous output frame warped by the *source's* optical flow (DIS, medium "
        "preset), over the pixels the forward-backward consistency check marks as visible in both "
        "(engine.nst.temporal.warping_error). Motion the clip has is not counted, only what the stylisation "
        "adds. The stabiliser follows that same DIS flow, which favours it; the Farneback row measures along "
        "a flow it never saw. Style strength is the mean absolute difference between each output frame and "
        "its source frame.",
        "- Two workers on this 2-core machine: each TensorFlow run already uses both cores, so the second "
        f"worker gains {100 * (1 - r['batch_2_workers_s'] / r['batch_1_workers_s']):.0f} % "
        "(most likely from overlapping one job's reading, encoding and saving with the other's network run), not half.",
        "- Where the clip's time goes (engine, 480 px): "
        f"{json.dumps({k: round(v, 1) for k, v in r['engine_480_stages'].items()})} s; "
        "`stylise` is everything per frame (decoding the 720p source, the transformer, two DIS flows and the "
        "blend, encoding the chunks), `assemble` joins the chunks and copies the sound without re-encoding.",
        "",
    ])
    path = REPO / "docs" / "benchmarks.md"
    write_section(path, "Video and batches", section)
    print(f"wrote the Video and batches section of {path.relative_to(REPO)}")


if __name__ == "__main__":
    raise SystemExit(main())
