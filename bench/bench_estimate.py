"""The estimate before submission against what the job then cost (a script, not a test).
Results: docs/benchmarks.md, "Estimates before running".

    python bench/bench_estimate.py calibrate     # runs jobs, fits the runners' cost constants, prints them
    python bench/bench_estimate.py               # evaluate: classic, fast, video and batch jobs, estimated
                                                 # before submission vs measured
    python bench/bench_estimate.py --no-write    # (do not touch docs/benchmarks.md)

Run it under the exclusive machine lock: `flock -x /tmp/nst-machine.lock .venv/bin/python bench/...`.

It starts the platform as scripts/run does (tests/harness.py's Platform: its own Redis, web server
and one worker, on a database and media folder of its own), and talks to it as the submission page
does, from this process configured with the platform's settings: GET /jobs/estimate/ with the
form's values and what the page knows of the files (static/js/uploads.js and estimate.js: a photo's
size; for a batch, how many photos; for a clip, its frames: its length times its frame rate, both
read by the browser from the file), then POST /jobs/new/ with the files and a painting of the style
library. The worker records what each job cost (StyleJob.run_seconds, the wall time of the run;
StyleJob.measurements["peak_bytes"], the worker process's peak RSS during that job, reset at its
start). A batch's measured time is its jobs' run times added up (one worker runs them one after the
other), as its estimate is.

The worker first runs two untimed 64 px jobs (one per mode) that load TensorFlow and both networks,
so the jobs measured run on a warm worker, as in production. Jobs run one at a time, smallest
expected peak first: a process keeps memory it has freed, so a job's peak is only its own when
nothing larger ran before it in that process.

calibrate: classic jobs of 256-1024 px with several epoch and step counts, and fast jobs of
256-1024 px; fits seconds per step (a line in the level's megapixels),
the per-epoch and per-job overheads, fast mode's seconds per megapixel and its peak memory line;
writes bench/results/estimate_calibration.json. evaluate: other sizes and lengths than calibrate's,
the classic defaults and presets of the code being measured, clips of 2-5 s made from a photo and
batches of photos, on a fresh platform (the model is refreshed only by the evaluation's own earlier
jobs, as on a new server); reports each job and the median and worst relative error; writes
bench/results/estimate.json and the section of docs/benchmarks.md.
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
from statistics import median

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the repo's packages
from bench.common import RESULTS, cpu_name, write_section  # noqa: E402

SHARED_IMAGES = Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared") / "images"
PHOTO = "tubingen.jpg"        # 1024x768
PAINTING = "starry_night_van_gogh.jpg"

# (mode, size, epochs, steps per epoch)
CALIBRATION = [
    ("fast", 256, 1, 1), ("fast", 512, 1, 1), ("fast", 768, 1, 1), ("fast", 1024, 1, 1),
    ("classic", 256, 2, 20), ("classic", 256, 5, 10), ("classic", 384, 3, 15), ("classic", 512, 2, 30),
    ("classic", 512, 6, 10), ("classic", 768, 2, 15), ("classic", 1024, 2, 10), ("classic", 1024, 1, 24),
]
EVALUATION = [
    ("fast", 320, 1, 1), ("fast", 640, 1, 1), ("fast", 1024, 1, 1),
    ("classic", 256, 3, 10), ("classic", 320, 4, 12), ("classic", 448, 2, 25), ("classic", 576, 5, 10),
    ("classic", 640, 2, 20), ("classic", 896, 2, 12), ("classic", 1024, 3, 10),
]
# Clips made from the photo (tests/clips.py): (size, seconds, frames per second, width, height).
CLIPS = [(480, 2.0, 24, 480, 360), (480, 3.0, 30, 640, 360), (720, 5.0, 25, 960, 540)]
# Batches of the photo: (mode, size, files).
BATCHES = [("fast", 1024, 3), ("classic", 256, 2)]


def evaluation_specs() -> list[tuple]:
    """Everything evaluate runs (once Django is set up: the classic defaults are read from the code)."""
    return list(dict.fromkeys([*EVALUATION, *classic_specs(), *(("video", *clip) for clip in CLIPS),
                               *(("batch", *b) for b in BATCHES)]))


def classic_specs() -> list[tuple]:
    """The classic jobs of the form as it is: its defaults (what "Classic" opens at) and its presets."""
    from engine.nst import schema
    from engine.studio import presets

    default = ("classic", schema.default("size"), schema.default("epochs"), schema.default("steps_per_epoch"))
    chosen = [("classic", v["size"], v["epochs"], v["steps_per_epoch"])
              for v in (presets.values(name, "classic") for name in ("quick", "balanced"))]
    return list(dict.fromkeys([default, *chosen]))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(workdir: Path) -> dict[str, str]:
    """This process as one more web process of the platform about to start: its database, Redis and
    media, chosen here (Django reads its settings once, when tests.harness is first imported)."""
    values = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
              "DJANGO_MEDIA_ROOT": str(workdir / "media"), "DJANGO_STATIC_ROOT": str(workdir / "static"),
              "DJANGO_SECRET_KEY": "bench-estimate-" + os.urandom(16).hex()}
    os.environ.update(values)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
    import django

    django.setup()
    return values


def wait_for(condition, what: str, timeout: float, every: float = 0.2):
    from tests.harness import wait_for as harness_wait

    return harness_wait(condition, what, timeout, every=every)


def warm_up(user) -> None:
    """Two 64 px jobs (below the form's sizes: submitted as Submission values, without the form) that
    load TensorFlow and both networks."""
    from django.core.files.base import ContentFile

    from engine.jobs import service as jobs
    from engine.nst import ClassicParams, FastParams, images
    from engine.studio.content_files import Content
    from engine.studio.submission import StyleChoice, Submission

    photo = images.encode_png(images.resize_longest(images.open_image(SHARED_IMAGES / PHOTO), 64))
    painting = images.encode_png(images.resize_longest(images.open_image(REPO / "static/styles" / PAINTING), 64))
    made = []
    for mode, params in (("fast", FastParams(size=64)),
                         ("classic", ClassicParams(size=64, epochs=1, steps_per_epoch=2))):
        made += jobs.submit(user, Submission(
            mode=mode, params=params, contents=(Content("photo.png", "image", ContentFile(photo, "content.png")),),
            styles=(StyleChoice(1, 1.0, image=ContentFile(painting, "style-1.png")),)))
    for job in made:
        wait_done(job)


def wait_done(job, timeout: float = 900):
    from engine.models import FINAL_STATUSES

    def done():
        job.refresh_from_db()
        return job.status in FINAL_STATUSES
    wait_for(done, f"job {job.pk}", timeout, every=0.2)
    if job.status != "succeeded":
        raise SystemExit(f"job {job.pk} {job.status}: {job.error}")
    return job


def form_values(mode: str, size: int, epochs: int, steps: int) -> dict:
    values = {"mode": mode, "preset": "custom", "size": str(size), "strength": "1", "style_1_weight": "1",
              "style_2_weight": "1", "style_3_weight": "1"}
    if mode == "classic":
        values.update(epochs=str(epochs), steps_per_epoch=str(steps), content_weight="10000", style_weight="0.01",
                      tv_weight="30", optimizer="lbfgs", network="vgg16", init="content", seed="0",
                      multiscale="on")
    return values


def run_one(client, library_pk: int, spec: tuple, workdir: Path | None = None) -> dict:
    """One submission, estimated first as the page estimates it: ("classic"|"fast", size, epochs,
    steps), ("video", size, seconds, fps, width, height) or ("batch", mode, size, files)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from engine.models import StyleJob

    kind = spec[0]
    photo = (SHARED_IMAGES / PHOTO).read_bytes()
    query = {"styles": "1", "width": "1024", "height": "768"}
    if kind == "video":
        _, size, seconds, fps, width, height = spec
        values = form_values("video", size, 1, 1)
        clip = make_bench_clip(workdir, seconds, fps, width, height)
        files = [SimpleUploadedFile(clip.name, clip.read_bytes(), "video/mp4")]
        query.update(photos="0", frames=str(round(seconds * fps)), width=str(width), height=str(height))
        label = {"mode": "video", "size": size, "what": f"{seconds:g} s clip, {fps} frames/s, {width}×{height}"}
    elif kind == "batch":
        _, mode, size, count = spec
        values = form_values(mode, size, 1, 10)
        files = [SimpleUploadedFile(f"photo-{i}.jpg", photo, "image/jpeg") for i in range(count)]
        query["photos"] = str(count)
        label = {"mode": mode, "size": size, "what": f"batch of {count} photos"
                 + (", 1 × 10 steps each" if mode == "classic" else "")}
    else:
        mode, size, epochs, steps = spec
        values = form_values(mode, size, epochs, steps)
        files = [SimpleUploadedFile("photo.jpg", photo, "image/jpeg")]
        label = {"mode": mode, "size": size, "what": f"{epochs} × {steps} steps" if mode == "classic" else "photo"}
    query.update({k: v for k, v in values.items() if k in ("mode", "size", "epochs", "steps_per_epoch", "init",
                                                           "optimizer", "network")})
    if values.get("multiscale"):
        query["multiscale"] = "1"
    estimate = client.get("/jobs/estimate/", query).json()
    device = estimate["per_device"][0]
    before = set(StyleJob.objects.values_list("pk", flat=True))
    response = client.post("/jobs/new/", {**values, "content": files, "style_1_library": str(library_pk)})
    if response.status_code != 302:
        errors = re.findall(r'<ul class="errorlist[^>]*>(.*?)</ul>', response.content.decode(), re.S)
        raise SystemExit(f"submission of {spec} refused ({response.status_code}): {errors}")
    jobs = [wait_done(job) for job in StyleJob.objects.exclude(pk__in=before).order_by("pk")]
    measured = [job.measurements or {} for job in jobs]
    peaks = [m.get("peak_bytes") or 0 for m in measured]
    return {**label, "kind": kind, "jobs": len(jobs), "estimated_jobs": estimate.get("jobs", 1),
            "epochs": spec[2] if kind in ("classic", "fast") else 1,
            "steps_per_epoch": spec[3] if kind in ("classic", "fast") else 1,
            "estimated_seconds": device["seconds"], "measured_seconds": sum(job.run_seconds for job in jobs),
            "estimated_peak": device["peak_bytes"], "measured_peak": max(peaks) or None,
            "levels": measured[0].get("levels"), "dims": measured[0].get("dims"), "device": jobs[0].device}


def make_bench_clip(workdir: Path, seconds: float, fps: int, width: int, height: int) -> Path:
    """A clip of the photo (a pan and zoom, tests/clips.py) of that length, rate and size."""
    from tests.clips import make_clip

    path = workdir / f"clip-{seconds:g}s-{fps}fps-{width}x{height}.mp4"
    if not path.exists():
        make_clip(path, SHARED_IMAGES / PHOTO, frames=round(seconds * fps), width=width, height=height, fps=fps)
    return path


def run_jobs(specs, workdir: Path) -> list[dict]:
    """Run `specs` (a list, or a function that gives it once Django is set up) on a platform of their own."""
    import subprocess

    values = setup_django(workdir)
    specs = specs() if callable(specs) else specs
    from tests.harness import Platform

    port = values["REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
    redis = subprocess.Popen(["redis-server", "--port", port, "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    platform = Platform(workdir, redis_url=values["REDIS_URL"], database_url=values["DATABASE_URL"],
                        env={"NST_WORKER_MAINTENANCE_SECONDS": "600", "DJANGO_SECRET_KEY": values["DJANGO_SECRET_KEY"]})
    try:
        with platform:
            platform.up(workers=1)
            return _run(platform, specs, workdir)
    finally:
        redis.terminate()
        redis.wait(10)


def _run(platform, specs: list[tuple], workdir: Path) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from engine.models import LibraryStyle

    user = get_user_model().objects.create_user("bench", "bench@example.org", "bench-password-1")
    library = LibraryStyle.objects.get(bundled=PAINTING)
    wait_for(lambda: "Listening" in platform.logs(), "the worker to listen", 120)
    warm_up(user)
    client = Client()
    client.force_login(user)
    out = []
    for spec in sorted(specs, key=_expected_peak):
        row = run_one(client, library.pk, spec, workdir)
        print(f"{row['mode']:8} {row['size']:5} {row['what']:40} "
              f"estimated {row['estimated_seconds']:7.1f} s, measured {row['measured_seconds']:7.1f} s | "
              f"peak estimated {row['estimated_peak'] / 1e9:5.2f} GB, measured "
              f"{(row['measured_peak'] or 0) / 1e9:5.2f} GB", flush=True)
        out.append(row)
    return out


def _expected_peak(spec: tuple) -> tuple:
    """Smallest expected peak first: fast mode's photos, clips and batches by size, then classic's."""
    mode = spec[1] if spec[0] == "batch" else spec[0]
    size = spec[2] if spec[0] == "batch" else spec[1]
    return (mode == "classic", size, spec[0])


# --- calibration ------------------------------------------------------------------------------------

def fit(rows: list[dict]) -> dict:
    classic = [r for r in rows if r["mode"] == "classic"]
    fast = [r for r in rows if r["mode"] == "fast"]
    # Levels: seconds = steps x (STEP + STEP_MP x megapixels of the level).
    a, y = [], []
    for r in classic:
        h, w = r["dims"]
        for side, steps, seconds in r["levels"]:
            scale = side / max(h, w)
            mp = round(h * scale) * round(w * scale) / 1e6
            a.append([steps, steps * mp])
            y.append(seconds)
    step, step_mp = np.linalg.lstsq(np.array(a), np.array(y), rcond=None)[0]
    # What is left: seconds = FIXED + epochs x EPOCH_MP x megapixels of the result.
    a, y = [], []
    for r in classic:
        h, w = r["dims"]
        rest = r["measured_seconds"] - sum(s for _, _, s in r["levels"])
        a.append([1.0, r["epochs"] * h * w / 1e6])
        y.append(rest)
    fixed, epoch_mp = np.linalg.lstsq(np.array(a), np.array(y), rcond=None)[0]
    # Fast: seconds = FIXED + MP x megapixels; peak = BASE + PER_MP x megapixels (all whole: <= 2048²).
    mp = np.array([r["dims"][0] * r["dims"][1] / 1e6 for r in fast])
    secs = np.array([r["measured_seconds"] for r in fast])
    peaks = np.array([r["measured_peak"] / 1e9 for r in fast])
    fast_mp, fast_fixed = np.polyfit(mp, secs, 1)
    fast_per_mp_gb, fast_base_gb = np.polyfit(mp, peaks, 1)
    # Named as in the runners' modules (engine/runners/classic.py, engine/runners/fast.py).
    return {"classic.STEP": step, "classic.STEP_MP": step_mp, "classic.FIXED": fixed, "classic.EPOCH_MP": epoch_mp,
            "fast.FIXED": fast_fixed, "fast.MP": fast_mp, "fast.BASE_GB": fast_base_gb,
            "fast.PER_MP_GB": fast_per_mp_gb}


# --- evaluation -------------------------------------------------------------------------------------

def errors(rows: list[dict], estimated: str, measured: str) -> list[float]:
    return [abs(r[estimated] - r[measured]) / r[measured] for r in rows if r[measured]]


def report(rows: list[dict]) -> str:
    t = errors(rows, "estimated_seconds", "measured_seconds")
    m = errors(rows, "estimated_peak", "measured_peak")
    classic = errors([r for r in rows if r["mode"] == "classic"], "estimated_seconds", "measured_seconds")
    by_kind = {kind: errors([r for r in rows if r["kind"] == kind], "estimated_seconds", "measured_seconds")
               for kind in ("fast", "classic", "video", "batch")}
    lines = [
        "## Estimates before running", "",
        f"`python bench/bench_estimate.py` ({time.strftime('%Y-%m-%d')}; {cpu_name()}, {os.cpu_count()} cores, "
        "24 GiB, no GPU; under the exclusive machine lock). The platform as `scripts/run` starts it (its own "
        "Redis, web server and one worker); each submission is estimated by `GET /jobs/estimate/` with the form's "
        "values and what the page knows of its files (a photo's size; a batch's number of photos; a clip's "
        "frames, its length times its frame rate, which the page reads from the file with a `<video>` element), "
        "then submitted through the form with a painting of the style library (The Starry Night) and the photo "
        "tubingen.jpg (4:3), or clips made from it (a pan and zoom, `tests/clips.py`). Classic jobs include the "
        "form's defaults and its presets as the code measured has them. Measured: the run's wall time in the "
        "worker (`StyleJob.run_seconds`; a batch: its jobs' added up, as its estimate is) and the worker "
        "process's peak RSS during the job (reset at its start: `StyleJob.measurements`). The worker ran two "
        "untimed 64 px jobs first (TensorFlow and both networks loaded: a warm worker); jobs in order of "
        "expected peak, smallest first. A fresh database: the model (`engine/costs/cost_model.py` over the "
        "runners' entries, calibrated by `bench_estimate.py calibrate` on other sizes and lengths) is refreshed "
        "only by the evaluation's own earlier jobs, as on a new server.", "",
        "| kind | mode | size | what | estimated | measured | error | peak estimated | peak measured | error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        te = (r["estimated_seconds"] - r["measured_seconds"]) / r["measured_seconds"]
        me = ((r["estimated_peak"] - r["measured_peak"]) / r["measured_peak"]) if r["measured_peak"] else float("nan")
        lines.append(f"| {r['kind']} | {r['mode']} | {r['size']} | {r['what']} | {r['estimated_seconds']:.1f} s | "
                     f"{r['measured_seconds']:.1f} s | {te:+.0%} | {r['estimated_peak'] / 1e9:.2f} GB | "
                     + (f"{r['measured_peak'] / 1e9:.2f} GB | {me:+.0%} |" if r["measured_peak"] else "— | — |"))
    lines += ["",
              f"- Classic run time: median error **{median(classic):.0%}**, worst **{max(classic):.0%}** over "
              f"{len(classic)} submissions (the studio's goal: median within 20 %, worst within 40 %).",
              f"- All run times: median error **{median(t):.0%}**, worst **{max(t):.0%}** over {len(t)} submissions; "
              + ", ".join(f"{kind} median {median(e):.0%}, worst {max(e):.0%}" for kind, e in by_kind.items() if e)
              + ".",
              f"- Peak memory: median error **{median(m):.0%}**, worst **{max(m):.0%}** (goal: within 25 %).",
              "- Fast-mode runs take tenths of a second: their relative errors are a few hundredths of a second.",
              "- Calibration: `bench_estimate.py calibrate` (12 other jobs: fast 256-1024 px, classic 256-1024 px of "
              "1-6 epochs × 10-30 steps); the constants are in `engine/runners/classic.py` and `fast.py`, video "
              "mode's in `engine/runners/video.py` (`bench/bench_video.py`). Classic peak memory is the engine's "
              "own model (`engine/nst/classic_memory.py`, issue 13); the estimate learns from finished jobs only "
              "upwards.",
              ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", default="evaluate", choices=("evaluate", "calibrate"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
        rows = run_jobs(CALIBRATION if args.what == "calibrate" else evaluation_specs, Path(tmp))
    if args.what == "calibrate":
        constants = fit(rows)
        (RESULTS / "estimate_calibration.json").write_text(json.dumps({"rows": rows, "fit": constants}, indent=1))
        for name, value in constants.items():
            print(f"{name} = {value:.4g}")
        return
    (RESULTS / "estimate.json").write_text(json.dumps(rows, indent=1))
    section = report(rows)
    print(section)
    if not args.no_write:
        write_section(REPO / "docs" / "benchmarks.md", "Estimates before running", section)


if __name__ == "__main__":
    main()
