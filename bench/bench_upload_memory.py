"""Peak memory of the web process for the worst job submission the limits allow (issue 14,
finding 1), and for clip bombs (issue 24, finding 1). A script, not a test; the figures go in
docs/reliability.md ("Memory per upload", "Clip bombs").

    python bench/bench_upload_memory.py                # this checkout's code
    python bench/bench_upload_memory.py --label before # (run from a checkout of the older code)

It starts the production web server as scripts/run does (tests/harness.py's Platform: DEBUG off,
SQLite and media in a throw-away folder, its own Redis, one web process, no worker), signs up and
logs in through the pages, and POSTs /jobs/new/ with a content image and style images that are
each a 7070x7070 RGBA PNG (49.98 MP, just under the 50 MP limit; a PNG cannot be decoded at a
smaller scale, and RGBA is its largest decoded form, 200 MB). Crafted row by row, every pixel the
same, so each file is a few hundred KB (the issue's were 2.2 MB); the cost is in the decoding.

Cases: "4 x 50 MP" (content and three styles: the worst submission before the per-submission pixel
budget; after it, refused from the headers) and "2 x 50 MP" (content and one style: the most the
budget of 100 MP lets through). For each: the web process's resident memory when idle (after a warm-up
request), its peak during the POST (the kernel's high-water mark, VmHWM, reset before the request
by writing 5 to /proc/<pid>/clear_refs), the peak above idle, the answer and its time.

Clip bombs (tests/clip_bombs.py, each POSTed alone as a video job's content): a GIF with a 13000²
screen, a WebP with an 8000² canvas, a MOV of 16000² PNG frames, a MOV whose tables claim ten
million frames, a GIF of 1920×1080 × 20,000 frames. For each: the same peak above idle, and the
CPU time (user + system) the web process spent on the request. Goals: under 100 MB, under 2 s.
Run it under the machine's exclusive lock (flock -x /tmp/nst-machine.lock).

    python bench/bench_upload_memory.py --clips-only    # the clip bombs alone

Batch amplification (issue 24, finding 5): a batch of 20 of those 50 MP PNGs as content with one
as style (the issue's 21 × 50 MP, 1,050 MP decoded in one POST before the budget counted the whole
submission). The same peak above idle and CPU time.

    python bench/bench_upload_memory.py --batch-only    # the batch alone
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# tests.harness imports engine.jobs.worker, whose RQ imports read Django's settings (the platform's
# processes get their own environment from the harness).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-upload-memory-only")
import django  # noqa: E402

django.setup()
from bench.common import cpu_name  # noqa: E402
from tests import clip_bombs  # noqa: E402
from tests.crafted_images import flat_png  # noqa: E402
from tests.harness import Platform  # noqa: E402

SIDE = 7070
PASSWORD = "bench-Horse-battery-9"
MB = 2**20


def web_processes(platform: Platform) -> list[psutil.Process]:
    root = psutil.Process(platform.processes["web"].proc.pid)
    return [root, *root.children(recursive=True)]


def high_water(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) * 1024


def reset_high_water(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def token(session: requests.Session, url: str) -> str:
    html = session.get(url, timeout=60).text
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def logged_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    url = base + "/accounts/signup/"
    answer = session.post(url, data={"csrfmiddlewaretoken": token(session, url), "username": username,
                                     "email": f"{username}@example.org", "password1": PASSWORD,
                                     "password2": PASSWORD}, headers={"Referer": url}, timeout=60)
    assert answer.ok and "/accounts/signup/" not in answer.url, answer.text[:500]
    return session


def submit(session: requests.Session, base: str, png: bytes, styles: int, contents: int = 1) -> tuple[int, str, float]:
    """POST the form with `contents` copies of `png` as content (more than one: a batch) and `styles`
    as style images: (status, the message above the form or what was created, seconds)."""
    url = base + "/jobs/new/"
    data = {"csrfmiddlewaretoken": token(session, url), "mode": "fast", "preset": "custom", "size": "512",
            "strength": "1", "fast_network": "builtin", **{f"style_{n}_weight": "1" for n in (1, 2, 3)}}
    files = [("content", (f"content-{n}.png", png, "image/png")) for n in range(contents)]
    files += [(f"style_{n}", (f"style-{n}.png", png, "image/png")) for n in range(1, styles + 1)]
    start = time.perf_counter()
    answer = session.post(url, data=data, files=files, headers={"Referer": url}, timeout=600, allow_redirects=False)
    seconds = time.perf_counter() - start
    if answer.status_code == 302:
        return 302, "job created" if contents == 1 else "batch created", seconds
    message = re.search(r'<ul class="errorlist nonfield">(.*?)</ul>', answer.text, re.S)
    return answer.status_code, re.sub(r"<[^>]+>", " ", message.group(1)).strip() if message else "", seconds


CLIP_BOMBS = {  # name: (bytes, file name)
    "GIF, 13000² screen": (clip_bombs.gif_canvas, "bomb.gif"),
    "WebP, 8000² canvas": (clip_bombs.webp_canvas, "bomb.webp"),
    "MOV, 16000² PNG frames": (clip_bombs.mov_huge_frame, "bomb.mov"),
    "MOV, 10 million frames claimed": (clip_bombs.mov_many_frames, "bomb.mov"),
    "GIF, 1920×1080 × 20,000 frames": (clip_bombs.gif_many_frames, "bomb.gif"),
}


def submit_clip(session: requests.Session, base: str, data: bytes, name: str) -> tuple[int, str, float]:
    url = base + "/jobs/new/"
    form = {"csrfmiddlewaretoken": token(session, url), "mode": "video", "preset": "custom", "size": "256",
            "strength": "1", "stability": "0.6", "fast_network": "builtin", "style_1_weight": "1"}
    files = {"content": (name, data, "application/octet-stream"),
             "style_1": ("style.png", flat_png(64, 64), "image/png")}
    start = time.perf_counter()
    answer = session.post(url, data=form, files=files, headers={"Referer": url}, timeout=600, allow_redirects=False)
    seconds = time.perf_counter() - start
    if answer.status_code == 302:
        return 302, "job created", seconds
    message = re.search(r'<div class="field[^"]*" id="field-content">.*?<ul class="errorlist"[^>]*>(.*?)</ul>',
                        answer.text, re.S)
    return answer.status_code, re.sub(r"<[^>]+>", " ", message.group(1)).strip() if message else "", seconds


def measured(platform: Platform, request) -> tuple[tuple, float, float]:
    """request() -> its answer, sent to the web processes as they idle: (the answer, the CPU seconds
    of the process that served it, the peak above idle in MB of any of them)."""
    processes = web_processes(platform)
    idle = {p.pid: p.memory_info().rss for p in processes}
    cpu = {p.pid: sum(p.cpu_times()[:2]) for p in processes}
    for p in processes:
        reset_high_water(p.pid)
    answer = request()
    peaks = {p.pid: high_water(p.pid) for p in processes}
    spent = {p.pid: sum(p.cpu_times()[:2]) - cpu[p.pid] for p in processes}
    pid = max(spent, key=lambda pid: spent[pid])  # the process that served it
    return answer, round(spent[pid], 3), round(max(peaks[p] - idle[p] for p in peaks) / MB, 1)


def measure_clip(platform: Platform, session: requests.Session, name: str) -> dict:
    make, file_name = CLIP_BOMBS[name]
    data = make()
    session.get(platform.url + "/jobs/new/", timeout=60)
    (status, message, seconds), cpu, above_idle = measured(
        platform, lambda: submit_clip(session, platform.url, data, file_name))
    return {"clip": name, "bytes": len(data), "status": status, "answer": message[:160],
            "seconds": round(seconds, 3), "cpu_seconds": cpu, "above_idle_mb": above_idle}


def measure_batch(platform: Platform, png: bytes, contents: int) -> dict:
    session = logged_in(platform.url, "benchbatch")
    session.get(platform.url + "/jobs/new/", timeout=60)
    (status, message, seconds), cpu, above_idle = measured(
        platform, lambda: submit(session, platform.url, png, 1, contents))
    return {"batch": f"{contents} contents + 1 style, {SIDE}x{SIDE} RGBA PNG each", "status": status,
            "answer": message[:200], "seconds": round(seconds, 2), "cpu_seconds": cpu, "above_idle_mb": above_idle}


def measure(platform: Platform, png: bytes, styles: int, username: str) -> dict:
    session = logged_in(platform.url, username)
    session.get(platform.url + "/jobs/new/", timeout=60)  # warm: templates, the form, Pillow's plugins
    processes = web_processes(platform)
    idle = {p.pid: p.memory_info().rss for p in processes}
    for p in processes:
        reset_high_water(p.pid)
    status, message, seconds = submit(session, platform.url, png, styles)
    peaks = {p.pid: high_water(p.pid) for p in processes}
    pid = max(peaks, key=lambda pid: peaks[pid] - idle[pid])  # the process that served it
    return {"images": 1 + styles, "status": status, "answer": message[:160], "seconds": round(seconds, 2),
            "idle_mb": round(idle[pid] / MB), "peak_mb": round(peaks[pid] / MB),
            "above_idle_mb": round((peaks[pid] - idle[pid]) / MB)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="after", help="a name for this run in the results file")
    parser.add_argument("--clips-only", action="store_true", help="only the clip bombs")
    parser.add_argument("--batch-only", action="store_true", help="only the batch of 20 + 1 images")
    args = parser.parse_args()
    photos = not (args.clips_only or args.batch_only)
    png = flat_png(SIDE, SIDE)
    results = {"label": args.label, "machine": f"{cpu_name()}, {psutil.cpu_count()} cores, "
               f"{psutil.virtual_memory().total / 2**30:.0f} GiB", "file_bytes": len(png), "cases": []}
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        platform = Platform(Path(tmp), env={"NST_WEB_PROCESSES": "1"})
        with platform:
            platform.up(workers=0)
            for n, styles in enumerate((3, 1) if photos else ()):
                case = measure(platform, png, styles, f"bench{n}")
                results["cases"].append(case)
                print(json.dumps(case), flush=True)
            if not args.clips_only:
                results["batch"] = measure_batch(platform, png, 20)
                print(json.dumps(results["batch"]), flush=True)
            results["clips"] = []
            if not args.batch_only:
                session = logged_in(platform.url, "benchclips")
                for name in CLIP_BOMBS:
                    case = measure_clip(platform, session, name)
                    results["clips"].append(case)
                    print(json.dumps(case, ensure_ascii=False), flush=True)
    out = REPO / "bench" / "results" / f"upload_memory_{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"written {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
