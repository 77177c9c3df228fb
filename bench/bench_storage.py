"""Job files on local disk against SeaweedFS, and two worker "hosts" against one (issue 21). A script,
not a test; results in docs/benchmarks.md, "Object storage and two hosts", and
bench/results/storage.json. Run it alone on the machine: flock -x /tmp/nst-machine.lock python bench/bench_storage.py

    python bench/bench_storage.py                 # both comparisons
    python bench/bench_storage.py --jobs 40 --downloads 300

With real processes (tests/harness.py): a PostgreSQL cluster, Redis, SeaweedFS (as `NST_STORAGE=s3
scripts/run` starts it), the platform's processes (nginx, gunicorn, daphne, workers), and Django set
up in this process on the same database to make jobs and read their rows. For each storage
(`local`: MEDIA_ROOT; `s3`: the bucket), one worker:

- a fast job at 1024 px: seconds from enqueue to the row's "succeeded" (the median of --repeat,
  after one warm-up job that loads the network);
- a classic job (256 px, 5 epochs of 10 steps): its run seconds per epoch, each epoch ending with a
  preview and a checkpoint stored; and the store's own time to write one 2 MB checkpoint (median of 20);
- a video job (48 frames, 320x240 -> 320 px, chunks of 12): enqueue to succeeded;
- the result download (the 1024 px PNG of a public job, through nginx: from MEDIA_ROOT by
  X-Accel-Redirect, or from the bucket by the presigned hand-off): p50 and p95 of --downloads
  requests, 4 at a time.

Then, on the bucket, --jobs fast jobs (512 px) with one worker, and with two workers each on its own
media and working folders ("two hosts", as tests/test_two_hosts.py): jobs per minute from the first
enqueue to the last result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import DOCS, MODEL_DIR, RESULTS, SHARED, cpu_name, percentile, write_section  # noqa: E402
from tests import clips  # noqa: E402
from tests.harness import Platform, PostgresServer, RedisServer, SeaweedServer, wait_for  # noqa: E402

WAIT = 1800.0


def make_job(mode: str, size: int, public: bool = False, content: bytes | None = None,
             content_name: str = "content.png", frames: int = 1, **params):
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from engine.models import StyleImage, StyleJob, params_dict
    from engine.nst import images, params_class
    from engine.runners import runner_for

    owner, _ = get_user_model().objects.get_or_create(username="bench")
    p = params_class(mode)(size=size, **params)
    units = runner_for(mode).work_units(p, frames)
    job = StyleJob(owner=owner, mode=mode, params=params_dict(p), size=size, epochs=units.groups,
                   total_steps=units.units, visibility="public" if public else "private")
    if content is None:
        content = images.encode_png(images.load_array(SHARED / "images" / "tubingen.jpg", max(size, 256)))
    job.content.save(content_name, ContentFile(content), save=False)
    job.save()
    style = StyleImage(job=job, position=1, weight=1.0)
    painting = images.encode_png(images.load_array(SHARED / "images" / "starry_night.jpg", 256))
    style.image.save("style-1.png", ContentFile(painting), save=False)
    style.save()
    return job


def run_to_end(jobs_list) -> float:
    """Enqueue the jobs; seconds until the last one has succeeded."""
    from engine.jobs import service as jobs
    from engine.models import Status, StyleJob

    started = time.perf_counter()
    for job in jobs_list:
        jobs.enqueue(job)
    ids = [job.pk for job in jobs_list]

    def done() -> bool:
        states = list(StyleJob.objects.filter(pk__in=ids).values_list("status", "error"))
        failed = [e for s, e in states if s not in (Status.QUEUED, Status.RUNNING, Status.SUCCEEDED)]
        assert not failed, failed
        return all(s == Status.SUCCEEDED for s, _ in states)

    wait_for(done, f"jobs {ids} to succeed", WAIT, every=0.02)
    return time.perf_counter() - started


def checkpoint_write_seconds() -> float:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    data, times = os.urandom(2 * 2**20), []
    for n in range(20):
        name = f"bench/{uuid.uuid4().hex}/checkpoint-e{n:02d}.npz"
        started = time.perf_counter()
        default_storage.save(name, ContentFile(data))
        times.append(time.perf_counter() - started)
        default_storage.delete(name)
    return median(times)


def download_times(url: str, count: int) -> list[float]:
    import requests

    def one(_) -> float:
        started = time.perf_counter()
        response = requests.get(url, timeout=60)
        assert response.status_code == 200 and len(response.content) > 1000, response.status_code
        return time.perf_counter() - started

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def direct_times(platform: Platform, url: str, seaweed: SeaweedServer, count: int) -> list[float]:
    """The other way out: the browser fetching the presigned URL from the store itself (what a
    redirect to it would cost after its extra round trip), timed like download_times."""
    from urllib.parse import urlsplit

    from nstsite.webtier.sendfile import INTERNAL_OBJECT_PREFIX
    from tests.harness import unix_request

    _, headers, _ = unix_request(platform.pages_socket, "GET", urlsplit(url).path,
                                 {"X-Sendfile-Type": "X-Accel-Redirect"})
    return download_times(seaweed.url + "/" + headers["X-Accel-Redirect"].removeprefix(INTERNAL_OBJECT_PREFIX),
                          count)


def storage_settings(mode: str, seaweed: SeaweedServer, prefix: str, media: Path) -> dict:
    from django.conf import settings

    from nstsite.object_storage import default_storage_config

    env = seaweed.env(prefix) if mode == "s3" else {}
    return {"STORAGES": {**settings.STORAGES, "default": default_storage_config(env)}, "MEDIA_ROOT": str(media)}


def compare(tmp: Path, mode: str, seaweed, redis, pg, args) -> dict:
    from django.test import override_settings

    from engine.models import StyleJob

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = seaweed.env(prefix) if mode == "s3" else {}
    platform = Platform(tmp / mode, redis_url=redis.url, database_url=pg.url, model_dir=args.model_dir, env=env)
    with override_settings(**storage_settings(mode, seaweed, prefix, platform.tmp / "media")):
        try:
            platform.up(workers=1)
            run_to_end([make_job("fast", 1024)])   # warm-up: the worker loads TensorFlow and the network
            fast = [run_to_end([make_job("fast", 1024, public=True)]) for _ in range(args.repeat)]
            classic_job = make_job("classic", 256, epochs=5, steps_per_epoch=10)
            run_to_end([classic_job])
            classic_job = StyleJob.objects.get(pk=classic_job.pk)
            clip = clips.make_clip(tmp / f"{mode}-clip.mp4", SHARED / "images" / "tubingen.jpg", frames=48,
                                   width=320, height=240)
            video = run_to_end([make_job("video", 320, content=clip.read_bytes(), content_name="content.mp4",
                                         frames=48, chunk_frames=12)])
            public = StyleJob.objects.filter(visibility="public").latest("pk")
            wait_for(lambda: hasattr(StyleJob.objects.get(pk=public.pk), "artwork"), "the artwork", 120)
            url = f"{platform.url}/gallery/{StyleJob.objects.get(pk=public.pk).artwork.pk}/download/"
            downloads = download_times(url, args.downloads)
            direct = direct_times(platform, url, seaweed, args.downloads) if mode == "s3" else []
            return {
                "fast_1024_seconds": round(median(fast), 3), "fast_1024_runs": [round(s, 3) for s in fast],
                "classic_seconds_per_epoch": round(classic_job.run_seconds / classic_job.epochs, 3),
                "checkpoint_2mb_write_seconds": round(checkpoint_write_seconds(), 4),
                "video_48_frames_seconds": round(video, 3),
                "download_bytes": len(__import__("requests").get(url, timeout=60).content),
                "download_p50_ms": round(percentile(downloads, 50) * 1000, 1),
                "download_p95_ms": round(percentile(downloads, 95) * 1000, 1),
                "presigned_direct_p50_ms": round(percentile(direct, 50) * 1000, 1) if direct else None,
                "presigned_direct_p95_ms": round(percentile(direct, 95) * 1000, 1) if direct else None,
            }
        finally:
            platform.down(grace=10)


def throughput(tmp: Path, seaweed, redis, pg, args, hosts: int) -> dict:
    from django.test import override_settings

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    platform = Platform(tmp / f"hosts-{hosts}", redis_url=redis.url, database_url=pg.url, model_dir=args.model_dir,
                        env=seaweed.env(prefix))
    with override_settings(**storage_settings("s3", seaweed, prefix, platform.tmp / "media")):
        try:
            platform.up(workers=0)
            for host in range(hosts):
                folder = platform.tmp / f"host-{host}"
                platform.start_worker(f"host-{host}", DJANGO_MEDIA_ROOT=str(folder / "media"),
                                      NST_WORK_DIR=str(folder / "work"))
            run_to_end([make_job("fast", 512) for _ in range(hosts)])   # every worker warm
            jobs_list = [make_job("fast", 512) for _ in range(args.jobs)]
            seconds = run_to_end(jobs_list)
            return {"hosts": hosts, "jobs": args.jobs, "seconds": round(seconds, 2),
                    "jobs_per_minute": round(args.jobs / seconds * 60, 1)}
        finally:
            platform.down(grace=10)


def render_only() -> None:
    """--render: docs/benchmarks.md's section again from bench/results/storage.json (no run)."""
    write_section(DOCS / "benchmarks.md", "Object storage and two hosts",
                  section(json.loads((RESULTS / "storage.json").read_text())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--render", action="store_true", help="only rewrite the docs from the last results")
    args = parser.parse_args()
    if args.render:
        return render_only()
    tmp = Path(tempfile.mkdtemp(prefix="nst-bench-storage-"))
    pg, seaweed, redis = PostgresServer().start(), SeaweedServer(tmp / "seaweedfs").start(), RedisServer(tmp / "redis")
    redis.start()
    try:
        os.environ.update(DATABASE_URL=pg.url, REDIS_URL=redis.url, DJANGO_SECRET_KEY="bench-" + uuid.uuid4().hex,
                          DJANGO_SETTINGS_MODULE="nstsite.settings", NST_MODEL_DIR=str(args.model_dir))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        results = {"machine": f"{cpu_name()}, {os.cpu_count()} cores", "downloads": args.downloads,
                   "local": compare(tmp, "local", seaweed, redis, pg, args),
                   "s3": compare(tmp, "s3", seaweed, redis, pg, args),
                   "one_host": throughput(tmp, seaweed, redis, pg, args, 1),
                   "two_hosts": throughput(tmp, seaweed, redis, pg, args, 2)}
    finally:
        redis.kill()
        seaweed.stop()
        pg.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "storage.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    write_section(DOCS / "benchmarks.md", "Object storage and two hosts", section(results))


def section(r: dict) -> str:
    local, s3 = r["local"], r["s3"]
    rows = [("fast job, 1024 px: enqueue to result (s, median)", "fast_1024_seconds"),
            ("classic job, 256 px: run seconds per epoch (each ends with a stored preview + checkpoint)",
             "classic_seconds_per_epoch"),
            ("storing one 2 MB checkpoint (s, median of 20)", "checkpoint_2mb_write_seconds"),
            ("video job, 48 frames at 320 px, chunks of 12: enqueue to result (s)", "video_48_frames_seconds"),
            ("result download through nginx, p50 (ms)", "download_p50_ms"),
            ("result download through nginx, p95 (ms)", "download_p95_ms")]
    table = "\n".join(f"| {label} | {local[key]} | {s3[key]} |" for label, key in rows)
    one, two = r["one_host"], r["two_hosts"]
    why = (f"The other way out, a redirect to the presigned URL, needs Django's check and answer first (a\n"
           f"round trip of its own), then the client's fetch from the store, which alone took p50\n"
           f"{s3['presigned_direct_p50_ms']} ms, p95 {s3['presigned_direct_p95_ms']} ms for this object; through\n"
           f"nginx the whole download took p50 {s3['download_p50_ms']} ms, p95 {s3['download_p95_ms']} ms.")
    return f"""## Object storage and two hosts

`bench/bench_storage.py` (issue 21), {r["machine"]}, under `flock -x` (nothing else running),
PostgreSQL, one worker per storage. Local disk (`NST_STORAGE=local`: MEDIA_ROOT, downloads by
X-Accel-Redirect from the folder) against SeaweedFS 4.48 on the same machine (`NST_STORAGE=s3`:
every job file in the bucket, a worker's inputs fetched into a temporary folder, downloads by
X-Accel-Redirect to nginx's internal location that fetches the object with a presigned GET). The
download is a {local["download_bytes"] // 1000} kB PNG, {r["downloads"]} requests, 4 at a time.

| | local disk | SeaweedFS |
|---|---|---|
{table}

Downloads leave through nginx (an internal location fetching the object with a presigned GET valid
60 s), not by redirecting the browser to a presigned URL. {why} So the hand-off costs about what a
redirect would, and keeps what a redirect would lose: one origin (the store's port need not be reachable
by browsers, and the pages' Content-Security-Policy needs no second origin for result images), Django's
Cache-Control, Content-Disposition and security headers as on local disk, and a URL that never leaves
the server, so nobody can pass it on during its lifetime.

Two worker "hosts" (each with its own media and working folders, one PostgreSQL, one Redis, one
SeaweedFS, as tests/test_two_hosts.py) against one, {one["jobs"]} fast jobs at 512 px on the bucket:
one worker {one["jobs_per_minute"]} jobs/min ({one["seconds"]} s), two {two["jobs_per_minute"]} jobs/min
({two["seconds"]} s). Both "hosts" share this machine's 2 cores, so the second worker adds what the
first leaves idle (decoding, storage and database round trips between network runs), not a second
machine's compute: on two real hosts each brings its own.
"""


if __name__ == "__main__":
    main()
