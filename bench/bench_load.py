"""Load test (a script, not a test): many users submitting fast jobs while browsing. Results:
docs/reliability.md, "Load".

    python bench/bench_load.py                       # 20 users x 10 jobs, two workers, 256 px
    python bench/bench_load.py --users 5 --jobs 4 --no-write
    python bench/bench_load.py --browse /jobs/ /gallery/ /

Bounded and on loopback only: it starts its own Redis, the web server and TWO workers, with the
commands of scripts/lib/processes (tests/harness.py's Platform), on free 127.0.0.1 ports and against
a throw-away SQLite database in a temporary folder (or the database DATABASE_URL names: it is
migrated and gets 20 new users, so give it a throw-away one). The only change to the worker
command: the worker class is tests.harness.GatedWorker (the platform's StyleWorker plus one log
line when a job starts and one when it ends; it holds nothing here), so that every execution of
every job is counted by the workers themselves.

Each user is a thread with its own HTTP session: it logs in through the login form, then submits
--jobs fast jobs at the smallest size (the form's POST with its CSRF token, a photo and a
painting) and GETs every --browse URL after each submission. A URL that answers 404 (a page that
does not exist on this branch yet) is dropped with a printed note. The user then watches its jobs
page until all of its jobs are final. The run stops with an error after --timeout seconds.

Checks (exit status 1 if one fails): every job succeeded; each was started exactly once (one
"start" line per job across both workers' logs, RQ's finished registry holds every job and its
failed/started registries none, the rows' started_at/worker set); no HTTP error (no status other
than the expected one, no connection error). Prints throughput (jobs per minute from the first
submission to the last job's end) and p50/p95 request latency per kind of request.
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
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages
from bench.common import cpu_name, percentile, write_section  # noqa: E402
from tests.harness import Platform  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_IMAGES = Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared") / "images"
SIZE = 256  # the form's smallest size
PASSWORD = "load-Test-passphrase-42"


# --- the users ------------------------------------------------------------------------------------------

@dataclass
class Request:
    kind: str
    seconds: float
    status: int | None       # None: no answer (connection error, timeout)
    ok: bool
    note: str = ""


@dataclass
class Shared:
    """What the user threads share: the URLs still browsed, the notes printed, the request log."""
    browse: list[str]
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Request] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    submitted: list[tuple[str, float]] = field(default_factory=list)   # (job URL, POST start time)

    def record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def drop(self, url: str) -> None:
        with self.lock:
            if url not in self.dropped:
                self.dropped.add(url)
                print(f"note: {url} answers 404 (not on this branch?); no longer browsed", flush=True)


class User(threading.Thread):
    def __init__(self, base: str, username: str, jobs: int, shared: Shared, images: tuple[bytes, bytes]):
        super().__init__(name=username, daemon=True)
        import requests

        self.base, self.username, self.jobs, self.shared, self.images = base, username, jobs, shared, images
        self.http = requests.Session()
        self.job_urls: list[str] = []
        self.error: str | None = None

    def call(self, kind: str, method: str, path: str, expect: tuple[int, ...], **kwargs):
        import requests

        started = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, allow_redirects=False, timeout=120, **kwargs)
        except requests.RequestException as exc:
            self.shared.record(Request(kind, time.perf_counter() - started, None, False, repr(exc)))
            return None
        ok = r.status_code in expect
        note = "" if ok else f"{method} {path} -> {r.status_code}: {r.text[:300]!r}"
        self.shared.record(Request(kind, time.perf_counter() - started, r.status_code, ok, note))
        return r

    def run(self) -> None:
        try:
            self.log_in()
            for _ in range(self.jobs):
                self.submit()
                self.browse()
            self.watch()
        except Exception as exc:  # noqa: BLE001 - reported with the results, the other users go on
            self.error = f"{self.username}: {exc!r}"

    def log_in(self) -> None:
        self.call("login page", "GET", "/accounts/login/", (200,))
        r = self.call("login", "POST", "/accounts/login/", (302,),
                      data={"username": self.username, "password": PASSWORD,
                            "csrfmiddlewaretoken": self.http.cookies["csrftoken"]})
        if r is None or r.status_code != 302:
            raise RuntimeError("could not log in")

    def submit(self) -> None:
        content, style = self.images
        data = {"csrfmiddlewaretoken": self.http.cookies["csrftoken"], "mode": "fast", "preset": "custom",
                "visibility": "private", "size": str(SIZE), "strength": "1", "style_1_weight": "1",
                "style_2_weight": "1", "style_3_weight": "1"}
        files = {"content": ("photo.jpg", content, "image/jpeg"),
                 "style_1": ("painting.jpg", style, "image/jpeg")}
        started = time.time()
        r = self.call("submit (POST)", "POST", "/jobs/new/", (302,), data=data, files=files)
        location = r.headers.get("Location", "") if r is not None else ""
        if not re.fullmatch(r"/jobs/\d+/", location):
            raise RuntimeError(f"submission refused: {r.status_code if r is not None else 'no answer'}")
        self.job_urls.append(location)
        with self.shared.lock:
            self.shared.submitted.append((location, started))
        self.call("job page", "GET", location, (200,))

    def browse(self) -> None:
        for url in list(self.shared.browse):
            if url in self.shared.dropped:
                continue
            r = self.call(f"browse {url}", "GET", url, (200, 404))
            if r is not None and r.status_code == 404:
                self.shared.drop(url)

    def watch(self) -> None:
        """Until all of this user's jobs are final: their pages, every 2 s (the page itself reloads
        every 5 s), as a user waiting for results would."""
        pending = list(self.job_urls)
        while pending and time.monotonic() < self.shared.deadline:
            for url in list(pending):
                r = self.call("job page (watching)", "GET", url, (200,))
                page = r.text if r is not None else ""
                status = re.search(r'id="job-status"[^>]*data-status="(\w+)"', page)
                if status and status.group(1) not in ("queued", "running"):
                    pending.remove(url)
            if pending:
                time.sleep(2.0)
        if pending:
            raise RuntimeError(f"timed out waiting for {len(pending)} of my jobs")


def small_jpeg(name: str, side: int) -> bytes:
    from PIL import Image

    with Image.open(SHARED_IMAGES / name) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        return out.getvalue()


def create_users(stack: Platform, prefix: str, count: int, active_jobs: int) -> list[str]:
    """The load's users, each with a quota of `active_jobs` jobs at once (as staff would set in the
    admin): the default quota (3) would refuse most of a user's burst of submissions."""
    names = [f"{prefix}{n:02d}" for n in range(1, count + 1)]
    code = ("from django.contrib.auth import get_user_model; from engine.models import UserQuota; "
            "U = get_user_model(); "
            f"[UserQuota.objects.create(user=U.objects.create_user(n, n + '@example.org', {PASSWORD!r}), "
            f"max_active_jobs={active_jobs}, note='load test') for n in {names!r}]")
    stack.manage("shell", "-c", code)
    return names


# --- checks and figures ------------------------------------------------------------------------------------

def database_facts(stack: Platform, job_ids: list[int]) -> dict:
    """The jobs' rows and RQ's registries, read by a manage.py shell in the stack's environment."""
    code = f"""
import json
from django.db.models import Max
import django_rq
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from engine.models import StyleJob
jobs = StyleJob.objects.filter(pk__in={job_ids!r})
q = django_rq.get_queue("default")
print(json.dumps({{
    "rows": jobs.count(),
    "statuses": dict((s, jobs.filter(status=s).count()) for s in ("queued", "running", "succeeded", "failed",
                                                                  "cancelled")),
    "errors": sorted(set(jobs.exclude(error="").values_list("error", flat=True)))[:5],
    "without_start": jobs.filter(started_at__isnull=True).count(),
    "workers": dict((w, jobs.filter(worker=w).count()) for w in set(jobs.values_list("worker", flat=True))),
    "rq_ids": [u.hex for u in jobs.values_list("uuid", flat=True)],
    "last_finished": jobs.aggregate(m=Max("finished_at"))["m"].timestamp() if jobs.exists() else None,
    "run_seconds": list(jobs.values_list("run_seconds", flat=True)),
    "finished_registry": len(FinishedJobRegistry(queue=q)),
    "failed_registry": len(FailedJobRegistry(queue=q)),
    "started_registry": len(StartedJobRegistry(queue=q)),
    "still_queued": q.count,
}}, default=str))
"""
    return json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])




def latency_table(requests_: list[Request]) -> dict[str, dict]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in requests_:
        by_kind[r.kind].append(r.seconds)
        by_kind["all requests"].append(r.seconds)
    return {kind: {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95), "max": max(v)}
            for kind, v in sorted(by_kind.items())}


def check(facts: dict, events: list[dict], expected: int, requests_: list[Request],
          user_errors: list[str]) -> list[str]:
    problems = list(user_errors)
    bad = [r for r in requests_ if not r.ok]
    if bad:
        problems.append(f"{len(bad)} HTTP errors, e.g. {[r.note for r in bad[:3]]}")
    if facts["rows"] != expected or facts["statuses"]["succeeded"] != expected:
        problems.append(f"not every job succeeded: {facts['statuses']} of {expected}; {facts['errors']}")
    starts = Counter(e["id"] for e in events if e["event"] == "start")
    ends = Counter(e["id"] for e in events if e["event"] == "end")
    expected_ids = {f"nst-{hex_id}" for hex_id in facts["rq_ids"]}
    if set(starts) != expected_ids or any(n != 1 for n in starts.values()):
        twice = [i for i, n in starts.items() if n != 1]
        problems.append(f"workers started {len(starts)} distinct jobs ({sum(starts.values())} starts); "
                        f"expected each of {expected} once; started more than once: {twice[:5]}")
    if ends != starts:
        problems.append("some job started but did not end")
    if facts["without_start"]:
        problems.append(f"{facts['without_start']} rows have no started_at")
    if (facts["finished_registry"], facts["failed_registry"], facts["started_registry"],
            facts["still_queued"]) != (expected, 0, 0, 0):
        problems.append(f"RQ registries: finished {facts['finished_registry']}, failed "
                        f"{facts['failed_registry']}, started {facts['started_registry']}, "
                        f"queued {facts['still_queued']}")
    return problems


# --- the run -------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="users submitting at once (default 20)")
    parser.add_argument("--jobs", type=int, default=10, help="jobs each user submits (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers (default 2)")
    parser.add_argument("--browse", nargs="*", default=["/jobs/", "/gallery/"],
                        help="URLs each user GETs after each submission (default /jobs/ /gallery/)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/reliability.md")
    args = parser.parse_args()

    images = (small_jpeg("tubingen.jpg", 400), small_jpeg("starry_night.jpg", 256))
    expected = args.users * args.jobs
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="nst-bench-load-") as tmp:
        stack = Platform(Path(tmp), database_url=os.environ.get("DATABASE_URL"))
        try:
            stack.up(workers=args.workers)
            names = create_users(stack, f"load{secrets.token_hex(3)}-", args.users, args.jobs)
            shared = Shared(browse=list(args.browse), deadline=time.monotonic() + args.timeout)
            users = [User(stack.url, name, args.jobs, shared, images) for name in names]
            started = time.time()
            print(f"{args.users} users x {args.jobs} fast jobs ({SIZE} px), {args.workers} workers, "
                  f"browsing {' '.join(args.browse)}", flush=True)
            for user in users:
                user.start()
            for user in users:
                user.join(max(1.0, shared.deadline - time.monotonic()))
            stack.assert_alive()
            job_ids = [int(u.strip("/").split("/")[-1]) for u, _ in shared.submitted]
            facts = database_facts(stack, job_ids)
            time.sleep(0.5)  # the workers' last log lines
            events = stack.job_events()
        finally:
            stack.down()

    user_errors = [u.error for u in users if u.error] + [f"{u.username}: still running" for u in users
                                                          if u.is_alive()]
    problems = check(facts, events, expected, shared.requests, user_errors)
    first_submit = min((t for _, t in shared.submitted), default=started)
    span = (facts["last_finished"] or time.time()) - first_submit
    worker_jobs = Counter(e["worker"] for e in events if e["event"] == "start")
    worker_seconds = [e["seconds"] for e in events if e["event"] == "end"]
    results = {
        "date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": os.cpu_count(),
        "load_average_before": load_before,
        "users": args.users,
        "jobs_per_user": args.jobs,
        "workers": args.workers, "size": SIZE, "browsed": args.browse, "dropped_404": sorted(shared.dropped),
        "database": "PostgreSQL" if "postgres" in stack.env["DATABASE_URL"] else "SQLite",
        "jobs": expected, "succeeded": facts["statuses"]["succeeded"], "span_seconds": span,
        "jobs_per_minute": facts["statuses"]["succeeded"] / span * 60 if span > 0 else None,
        "jobs_per_worker": dict(worker_jobs),
        "worker_seconds_per_job": {"p50": percentile(worker_seconds, 50),
                                   "p95": percentile(worker_seconds, 95)},
        "requests": len(shared.requests), "http_errors": sum(not r.ok for r in shared.requests),
        "latency": latency_table(shared.requests),
        "registries": {k: facts[k] for k in ("finished_registry", "failed_registry", "started_registry")},
        "starts_per_job": sorted(Counter(Counter(e["id"] for e in events if e["event"] == "start").values())
                                 .items()),
        "problems": problems,
    }
    print(json.dumps(results, indent=2))
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    if problems:
        print("FAILED:\n- " + "\n- ".join(problems), file=sys.stderr)
        return 1
    if not args.no_write:
        write_docs(results)
    return 0


def write_docs(r: dict) -> None:
    rows = [f"| {kind} | {s['n']} | {s['p50'] * 1000:.0f} ms | {s['p95'] * 1000:.0f} ms | "
            f"{s['max'] * 1000:.0f} ms |" for kind, s in r["latency"].items()]
    dropped = (f" ({', '.join(r['dropped_404'])} answered 404 on this branch and was no longer browsed "
               "after that)" if r["dropped_404"] else "")
    section = "\n".join([
        "## Load",
        "",
        f"`python bench/bench_load.py` ({r['date']}, {r['cpu']}, {r['cores']} cores; load average before the run "
        f"{r['load_average_before']:.1f}: above 0, other processes were using the machine). The load "
        "generator runs on the same cores. On loopback only: its own Redis, the web tier as scripts/run "
        "starts it (nginx in front of gunicorn for the pages and daphne for /ws/) and "
        f"{r['workers']} RQ workers (StyleWorker), {r['database']} in a temporary folder. "
        f"{r['users']} users, each logged in through the login form with its own session, submit "
        f"{r['jobs_per_user']} fast jobs each at {r['size']} px (the form's POST with CSRF token, a 400 px "
        f"photo and a 256 px painting) and GET {', '.join(r['browsed'])} after each submission{dropped}, "
        "then reload their job pages every 2 s until their jobs are final.",
        "",
        f"- All {r['jobs']} jobs succeeded ({r['succeeded']}), each started exactly once: starts per job "
        f"{dict(r['starts_per_job'])} (counted by the workers themselves), RQ's finished registry "
        f"{r['registries']['finished_registry']}, failed {r['registries']['failed_registry']}, started "
        f"{r['registries']['started_registry']}. Jobs per worker: {r['jobs_per_worker']}.",
        f"- HTTP errors: {r['http_errors']} of {r['requests']} requests.",
        f"- Throughput: {r['jobs_per_minute']:.1f} jobs/min ({r['jobs']} jobs in {r['span_seconds']:.0f} s, "
        "from the first submission to the last job's end). Worker time per job: median "
        f"{r['worker_seconds_per_job']['p50']:.2f} s, p95 {r['worker_seconds_per_job']['p95']:.2f} s.",
        "",
        "| request | n | p50 | p95 | max |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ])
    path = REPO / "docs" / "reliability.md"
    write_section(path, "Load", section, title="# Reliability and security")
    print(f"wrote the Load section of {path.relative_to(REPO)}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
