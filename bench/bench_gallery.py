"""Gallery benchmark (a script, not a test). Results: docs/benchmarks.md, "Gallery".

    python bench/bench_gallery.py                 # 10,000 artworks, 50 connections, 20 s
    python bench/bench_gallery.py --artworks 1000 --connections 10 --seconds 5 --no-write

What it measures: the latency of the gallery index (GET /gallery/... as an anonymous visitor,
the HTML page only, not its thumbnails) served the way scripts/run serves it, started with the
commands of scripts/lib/processes through tests/harness.py's Platform: nginx in front, gunicorn
(WSGI) for the pages behind it, DEBUG off, SQLite, in a throw-away folder with its own database
seeded with N published artworks (bulk_create) by 200 users.

The load: C connections (HTTP/1.1 keep-alive) opened at once, each sending its next request as
soon as its previous answer has arrived (a closed loop: C requests are always in flight), for a
fixed time after a warm-up. The client is this script's own small asyncio HTTP client (no
third-party load tool), running on the same machine, so it takes CPU from the servers too. The
requests cycle through four index URLs: the first page by newest, the first page by most liked,
fast mode only, and a page deep in the list (page 300 by newest). Latency = from writing the
request to having read the whole body. Measured, in this order:

1. the same URLs on one connection through the proxy (no queueing): the stack's own time per page;
2. C connections through the proxy: the figure the goal is about;
3. C connections straight to the WSGI server behind the proxy: what the proxy costs;
4. C connections through the proxy to a static file, which nginx serves from the disk without
   Python: the reference of what this machine manages at this concurrency right now.

Writes bench/results/gallery.json and, unless --no-write, the "Gallery" section of
docs/benchmarks.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.harness import Platform  # noqa: E402

URLS = ["/gallery/", "/gallery/?sort=liked", "/gallery/?mode=fast", "/gallery/?page=300"]
# The same load on a static file (nginx answers it from the disk: no Python, no database): what
# this machine manages at this concurrency right now, to read the gallery's figures by.
REFERENCE_URL = "/static/css/site.css"
USERS = 200
GOAL_P95_MS = 100.0
GOAL_RPS = 900.0


# --- the site ---------------------------------------------------------------------------------------

def seed(env: dict[str, str], artworks: int) -> None:
    """Migrate the throw-away database and fill it, in this process (the server is another one)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "nstsite.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from engine.models import Status, StyleJob, Visibility, params_dict
    from engine.nst import ClassicParams, FastParams
    from gallery.models import Artwork

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # as scripts/run does (DEBUG off: manifest storage)
    User = get_user_model()
    User.objects.bulk_create([User(username=f"painter{i}", email=f"p{i}@example.org") for i in range(USERS)])
    users = list(User.objects.order_by("pk"))
    params = {"fast": params_dict(FastParams(size=512)), "classic": params_dict(ClassicParams(size=512))}
    for start in range(0, artworks, 2000):
        batch = range(start, min(artworks, start + 2000))
        jobs = StyleJob.objects.bulk_create([
            StyleJob(owner=users[i % USERS], mode="fast" if i % 3 else "classic", size=512,
                     params=params["fast" if i % 3 else "classic"], content=f"jobs/seed/{i}.png",
                     status=Status.SUCCEEDED, visibility=Visibility.PUBLIC, result=f"jobs/seed/{i}-result.png")
            for i in batch])
        Artwork.objects.bulk_create([
            Artwork(job=job, owner_id=job.owner_id, mode=job.mode, like_count=(i * 7919) % 97, thumb_width=480,
                    thumb_height=360, thumbnails={"result": f"jobs/seed/{i}-thumb.jpg"})
            for i, job in zip(batch, jobs, strict=True)])


# --- the client -------------------------------------------------------------------------------------

class Connection:
    """One keep-alive HTTP/1.1 connection to a port on 127.0.0.1 or a Unix socket's path; get()
    returns (status, seconds)."""

    def __init__(self, address: int | str) -> None:
        self.address = address
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        if isinstance(self.address, str):
            self.reader, self.writer = await asyncio.open_unix_connection(self.address)
        else:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.address)

    async def get(self, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = head.decode("latin-1").lower()
        length = re.search(r"\r\ncontent-length: *(\d+)", headers)
        if length:
            await self.reader.readexactly(int(length.group(1)))
        else:  # chunked
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        took = time.perf_counter() - started
        if "\r\nconnection: close" in headers:  # a server ends a connection after so many requests
            self.close()
            await self.open()
        return status, took

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(address: int | str, connections: int, seconds: float, warmup: float,
               urls: list[str] = URLS) -> dict[str, list[float]]:
    """`connections` closed loops for warmup + seconds; latencies (s) of the timed part, per URL."""
    conns = [Connection(address) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    start = time.perf_counter()
    timed_from, until = start + warmup, start + warmup + seconds
    results: dict[str, list[float]] = {url: [] for url in urls}
    errors: list[int] = []

    async def loop(index: int, conn: Connection) -> None:
        n = index
        while time.perf_counter() < until:
            url = urls[n % len(urls)]
            n += 1
            began = time.perf_counter()
            status, took = await conn.get(url)
            if status != 200:
                errors.append(status)
            elif began >= timed_from:
                results[url].append(took)

    await asyncio.gather(*(loop(i, c) for i, c in enumerate(conns)))
    for c in conns:
        c.close()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed (statuses {sorted(set(errors))})")
    return results


def stats(values: list[float]) -> dict:
    cuts = quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000,
            "max_ms": max(values) * 1000}


# --- main -----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artworks", type=int, default=10_000, help="published artworks to seed (10000)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections (50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed load duration (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed load before it (3)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    site = Platform(tmp)   # the processes as scripts/run starts them (tests/harness.py), and its own Redis
    reference_seconds = min(10.0, args.seconds)
    try:
        t0 = time.perf_counter()
        seed(site.env, args.artworks)
        print(f"seeded {args.artworks} artworks in {time.perf_counter() - t0:.1f} s")
        try:
            site.up(workers=0, migrate=False)  # seed() has migrated and collected the static files
        except AssertionError:
            print(site.logs())
            raise
        print("1. one connection, through the proxy")
        single = asyncio.run(load(site.port, 1, seconds=min(5.0, args.seconds), warmup=1.0))
        print(f"2. {args.connections} connections, through the proxy")
        loaded = asyncio.run(load(site.port, args.connections, seconds=args.seconds, warmup=args.warmup))
        print(f"3. {args.connections} connections, straight to the WSGI server")
        direct = asyncio.run(load(site.pages_socket, args.connections, seconds=args.seconds, warmup=args.warmup))
        print(f"4. {args.connections} connections, a static file through the proxy")
        reference = asyncio.run(load(site.port, args.connections, seconds=reference_seconds, warmup=1.0,
                                     urls=[REFERENCE_URL]))[REFERENCE_URL]
    finally:
        site.down()
        shutil.rmtree(tmp, ignore_errors=True)

    def summary(results: dict[str, list[float]]) -> dict:
        return {"all": stats([t for ts in results.values() for t in ts]),
                **{url: stats(ts) for url, ts in results.items()}}

    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": machine(), "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "artworks": args.artworks, "connections": args.connections, "seconds": args.seconds,
        **web_shape(site.commands["web"]),
        "throughput_rps": sum(map(len, loaded.values())) / args.seconds,
        "loaded": summary(loaded),
        "single": summary(single),
        "direct": {**summary(direct), "throughput_rps": sum(map(len, direct.values())) / args.seconds},
        "reference": {**stats(reference), "url": REFERENCE_URL, "throughput_rps": len(reference) / reference_seconds},
    }
    out = REPO / "bench" / "results" / "gallery.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    report(result)
    if not args.no_write:
        write_docs(result)
    return 0


def web_shape(pages: list[str]) -> dict[str, int]:
    """gunicorn's processes and threads, as nstsite.webtier.webserver starts it in this environment."""
    from nstsite.webtier.webserver import pages_command

    command = pages_command(pages[pages.index("--bind") + 1], [])
    return {"web_processes": int(command[command.index("--workers") + 1]),
            "web_threads": int(command[command.index("--threads") + 1])}


def goal_met(r: dict) -> bool:
    return r["loaded"]["all"]["p95_ms"] <= GOAL_P95_MS and r["throughput_rps"] >= GOAL_RPS


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def report(r: dict) -> None:
    a = r["loaded"]["all"]
    print(f"through the proxy, {r['connections']} connections, {r['seconds']:.0f} s: {r['throughput_rps']:.0f} "
          f"requests/s, p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms, max {a['max_ms']:.1f} ms "
          f"(goal p95 <= {GOAL_P95_MS:.0f} ms and >= {GOAL_RPS:.0f}/s: {'met' if goal_met(r) else 'NOT met'})")
    s = r["single"]["all"]
    print(f"one connection, through the proxy: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    d = r["direct"]
    print(f"straight to the WSGI server: {d['throughput_rps']:.0f} requests/s, p50 {d['all']['p50_ms']:.1f} ms, "
          f"p95 {d['all']['p95_ms']:.1f} ms")
    ref = r["reference"]
    print(f"reference, {ref['url']} from nginx at {r['connections']} connections: {ref['throughput_rps']:.0f} "
          f"requests/s, p50 {ref['p50_ms']:.1f} ms, p95 {ref['p95_ms']:.1f} ms")


def write_docs(r: dict) -> None:
    def row(label: str, s: dict, one: dict) -> str:
        return (f"| {label} | {s['p50_ms']:.0f} ms | {s['p95_ms']:.0f} ms | {s['max_ms']:.0f} ms | {s['n']} | "
                f"{one['p50_ms']:.1f} ms |")

    a, d, ref = r["loaded"]["all"], r["direct"], r["reference"]
    met = "met" if goal_met(r) else "not met"
    lines = [
        "## Gallery",
        "",
        f"`python bench/bench_gallery.py` ({r['date']}; {r['machine']}; under the exclusive machine lock). "
        f"{r['artworks']:,} published artworks in SQLite, served as scripts/run serves them: nginx in front, "
        f"gunicorn (gthread: {r['web_processes']} processes x {r['web_threads']} threads) for "
        f"the pages behind it, DEBUG off; {r['connections']} keep-alive connections in a closed loop for "
        f"{r['seconds']:.0f} s after a warm-up, from the script's own asyncio client on the same machine (it "
        "shares the 2 cores with nginx and gunicorn). Anonymous GETs of the index HTML, cycling through four "
        f"URLs. Load average (1 min) before/after: {r['load_average_before'][0]:.1f}/"
        f"{r['load_average_after'][0]:.1f}.",
        "",
        "| through the proxy | p50 | p95 | max | requests | p50 alone (1 connection) |",
        "|---|---|---|---|---|---|",
        row("all four", a, r["single"]["all"]),
        *(row(f"`{url}`", r["loaded"][url], r["single"][url]) for url in URLS),
        "",
        f"- Through the proxy: **{r['throughput_rps']:.0f} requests/s, p95 {a['p95_ms']:.0f} ms**. Goal p95 <= "
        f"{GOAL_P95_MS:.0f} ms and at least {GOAL_RPS:.0f} requests/s at {r['connections']} connections: "
        f"**{met}**.",
        f"- Without the proxy (the same load straight to gunicorn's socket): {d['throughput_rps']:.0f} requests/s, "
        f"p50 {d['all']['p50_ms']:.0f} ms, p95 {d['all']['p95_ms']:.0f} ms.",
        f"- Reference, same load through the proxy on a static file (`{ref['url']}`, which nginx sends from the "
        f"disk: no Python): {ref['throughput_rps']:.0f} requests/s, p50 {ref['p50_ms']:.1f} ms, p95 "
        f"{ref['p95_ms']:.1f} ms.",
        "- Where the time went, and what changed it (measured on the same machine under the same lock, "
        "2026-12-01): with a database connection opened for every request (DATABASE_CONN_MAX_AGE 0, the "
        "old default), this bench gave 825 requests/s, p95 127 ms through the proxy and 787/s, p95 116 ms "
        "straight to gunicorn; gunicorn's shape hardly mattered (10 s runs: 2 processes x 25 threads 772/s, "
        "p95 123 ms; 4 x 8 802/s, 130 ms; 3 x 16 797/s, 118 ms). A profile of the page in-process showed "
        "SQLite's connect with its WAL pragma taking two thirds of it (2.55 ms per request; 0.86 ms with "
        "the connection kept): the web threads now keep theirs for 60 s (checked before reuse).",
        "- Queries per index page, whatever the number of artworks (tests/test_gallery.py asserts them at 30 "
        "and 10,000): one (the grid version) when the grid's HTML is cached, three when not (+ a COUNT and "
        "one page of rows with their authors, read along a partial index for each sort: 0.06 ms each on "
        "SQLite at 10,000 rows, against 1.5-11 ms with a sort when the indexes were not used).",
        "",
    ]
    section = "\n".join(lines)
    from bench.common import write_section

    path = REPO / "docs" / "benchmarks.md"
    write_section(path, "Gallery", section)
    print(f"wrote the Gallery section of {path.relative_to(REPO)}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
