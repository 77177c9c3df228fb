"""The REST API's figures (a script, not a test). Results: docs/benchmarks.md, "API".

    python bench/bench_api.py                  # 7 timed 1024 px fast jobs; 50 clients polling, 20 s a series
    python bench/bench_api.py --runs 3 --seconds 10 --no-write

Run it alone on the machine (`flock -x /tmp/nst-machine.lock python bench/bench_api.py`): it times
the platform's own processes, started as scripts/run starts them (tests/harness.py's Platform: nginx,
gunicorn, daphne, one StyleWorker, the webhooks worker, Redis, SQLite).

1. Submit to result: a program's POST /api/v1/jobs/ (multipart, a bearer token) of a fast-mode
   1024 px job, then GET /api/v1/jobs/{id}/ every 20 ms until it says "succeeded", then the
   result's PNG from its `files` URL: from the start of the POST to the last byte. One untimed
   warm-up job first (it imports TensorFlow and loads the networks).
2. Polling: 50 clients (threads, each its own keep-alive connection and token), each GETting one
   job's /api/v1/jobs/{id}/ once a second, for --seconds: the latency of each answer, through the
   proxy. Two series: a succeeded job, and a queued one (its JSON includes its place in the queue
   and the wait: three queries and a Redis call more; the worker is stopped so it stays queued).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages
from bench.common import MODEL_DIR, REPO, RESULTS, SHARED, cpu_name, percentile, write_section  # noqa: E402
from tests.harness import Platform  # noqa: E402

CLIENTS = 50
POLL_SECONDS = 0.02


def make_tokens(platform: Platform, n: int) -> list[str]:
    code = ("from django.contrib.auth import get_user_model; from api import tokens; "
            "u = get_user_model().objects.create_user('bench', 'bench@example.org', 'bench-Password-1'); "
            f"print(' '.join(tokens.issue(u, f't{{i}}', 'write')[1] for i in range({n})))")
    return platform.manage("shell", "-c", code).strip().splitlines()[-1].split()  # the last line: the tokens


def submit_to_result(session, base: str, size: int) -> float:
    started = time.perf_counter()
    with open(SHARED / "images" / "tubingen.jpg", "rb") as photo, open(SHARED / "images" / "starry_night.jpg",
                                                                         "rb") as style:
        answer = session.post(f"{base}/api/v1/jobs/", files={"content": photo, "style_1": style},
                              data={"mode": "fast", "size": str(size)})
    if answer.status_code != 201:
        raise SystemExit(f"submitting failed: {answer.status_code} {answer.text[:2000]}")
    job = answer.json()
    while job["status"] in ("queued", "running"):
        time.sleep(POLL_SECONDS)
        job = session.get(job["url"]).json()
    if job["status"] != "succeeded":
        raise SystemExit(f"the job {job['status']}: {job['error']}")
    png = session.get(job["files"]["png"])
    png.raise_for_status()
    seconds = time.perf_counter() - started
    assert png.content.startswith(b"\x89PNG")
    return seconds


def poll(base: str, tokens: list[str], job_id: int, seconds: float) -> dict:
    import requests

    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    start_at = time.monotonic() + 1.0

    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {tokens[n]}"
        url = f"{base}/api/v1/jobs/{job_id}/"
        next_at = start_at + n / len(tokens)  # spread over the second, as independent clients would be
        while next_at < start_at + seconds:
            time.sleep(max(0.0, next_at - time.monotonic()))
            began = time.perf_counter()
            response = session.get(url)
            took = time.perf_counter() - began
            with lock:
                if response.status_code == 200:
                    latencies.append(took)
                else:
                    errors.append(response.status_code)
            next_at += 1.0

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ms = [x * 1000 for x in latencies]
    return {"requests": len(ms), "errors": len(errors), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms), "per_second": len(ms) / seconds}


def main() -> int:
    import requests

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed jobs (default 7)")
    parser.add_argument("--size", type=int, default=1024, help="longest side of the result (default 1024)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each polling series (default 20)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="nst-bench-api-") as tmp:
        # One user's 50 programs, each with a token of its own (more than a user may hold by default).
        platform = Platform(Path(tmp), model_dir=MODEL_DIR, env={"NST_API_MAX_TOKENS": str(CLIENTS)})
        try:
            platform.up(workers=1)
            tokens = make_tokens(platform, CLIENTS)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {tokens[0]}"
            cold = submit_to_result(session, platform.url, args.size)
            runs = [submit_to_result(session, platform.url, args.size) for _ in range(args.runs)]
            finished_id = session.get(f"{platform.url}/api/v1/jobs/").json()["results"][0]["id"]
            finished = poll(platform.url, tokens, finished_id, args.seconds)
            for process in platform.workers().values():
                process.stop()
            with open(SHARED / "images" / "tubingen.jpg", "rb") as photo, open(
                    SHARED / "images" / "starry_night.jpg", "rb") as style:
                queued_id = session.post(f"{platform.url}/api/v1/jobs/", files={"content": photo, "style_1": style},
                                         data={"mode": "fast", "size": "512"}).json()["id"]
            queued = poll(platform.url, tokens, queued_id, args.seconds)
            assert session.get(f"{platform.url}/api/v1/jobs/{queued_id}/").json()["queue"] is not None
        finally:
            platform.down()

    results = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": os.cpu_count(), "size": args.size,
               "load_average": os.getloadavg()[0], "cold_seconds": cold,
               "submit_to_result": {"median": median(runs), "min": min(runs), "max": max(runs), "n": len(runs)},
               "poll_finished": finished, "poll_queued": queued, "clients": CLIENTS, "seconds": args.seconds}
    print(json.dumps(results, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_write:
        write_docs(results)
    return 0 if finished["errors"] == queued["errors"] == 0 else 1


def write_docs(r: dict) -> None:
    s = r["submit_to_result"]

    def row(label: str, p: dict) -> str:
        return (f"| {label} | {p['requests']} | {p['p50_ms']:.1f} ms | {p['p95_ms']:.1f} ms | {p['p99_ms']:.1f} ms "
                f"| {p['max_ms']:.1f} ms | {p['errors']} |")

    section = "\n".join([
        "## API",
        "",
        f"`python bench/bench_api.py` ({r['date']}; {r['cpu']}, {r['cores']} cores, no GPU; run under "
        f"`flock -x`, alone; 1-minute load average {r['load_average']:.1f} at its end). The platform's own "
        "processes as scripts/run starts them (nginx, gunicorn, daphne, "
        "one StyleWorker, the webhooks worker, Redis, SQLite), every request through the proxy with a bearer token.",
        "",
        f"**Submit to result, fast mode, {r['size']} px** (tubingen.jpg, starry_night.jpg): from the start of "
        "`POST /api/v1/jobs/` (multipart) to the last byte of the result PNG, polling `GET /api/v1/jobs/{id}/` every "
        f"20 ms: median **{s['median']:.2f} s** (min {s['min']:.2f} s, max {s['max']:.2f} s, {s['n']} jobs after one "
        f"untimed warm-up job, which took {r['cold_seconds']:.1f} s: TensorFlow's import and the networks' loading).",
        "",
        f"**`GET /api/v1/jobs/{{id}}/` with {r['clients']} clients polling**, each once a second on its own "
        f"keep-alive connection and token, for {r['seconds']:.0f} s:",
        "",
        "| job polled | answers | p50 | p95 | p99 | max | errors |",
        "|---|---|---|---|---|---|---|",
        row("succeeded (state, parameters, styles, file URLs)", r["poll_finished"]),
        row("queued (also its place and wait: the queue estimate)", r["poll_queued"]),
        "",
        "- A token's last use is written at most once a minute (api/tokens.py), so polling writes nothing; "
        "each answer is a token lookup, the job with its styles and webhook (prefetched), and for a queued job "
        "the queue estimate (three queries, one Redis call).",
        "",
    ])
    path = REPO / "docs" / "benchmarks.md"
    write_section(path, "API", section)
    print(f"wrote the API section of {path.relative_to(REPO)}")


if __name__ == "__main__":
    raise SystemExit(main())
