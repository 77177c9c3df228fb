"""Live progress benchmark (a script, not a test). Results: docs/benchmarks.md, "Live progress".

    python bench/bench_live.py                      # 250 events, then 3 + 3 classic runs at 256 px
    python bench/bench_live.py --events 400 --runs 5 --size 128 --no-write
    python bench/bench_live.py --docs-only          # the docs section again from the last results

It starts the web server the way scripts/run does (tests/harness.py's Platform: free port, a SQLite
file and media in a temporary folder, its own Redis) and opens a job page in headless Chromium
(/usr/bin/chromium, or NST_CHROMIUM), logged in as the job's owner. This process plays the worker:
it publishes with engine.live.updates, from a thread without an event loop, as an RQ worker does.

(a) Latency from the worker's publish to the browser's receipt. Each event carries `sent_at`
    (wall clock, ms) stamped just before it is published; a script installed in the page before
    its own records the wall-clock time (performance.timeOrigin + now()) at which each websocket
    message arrives, before the page's script handles it. Same machine, same clock. Two series:
    --events progress events (10 loss points each, a preview URL every 10th) published every
    --interval seconds from an idle process, and the events of the real classic runs of (b),
    published while the engine computes.
(b) The engine's time per step, with and without publishing: the real task (engine.tasks.
    run_style_job, with its database saves, previews and checkpoints) on a classic job of --size px,
    --epochs x --steps, single scale, its page open in the browser; runs alternate with / without
    (without: engine.live.updates's publish functions replaced by no-ops). Time per step is the wall time
    between consecutive steps reported to the run's Progress (engine.runners.progress), so it includes
    the callbacks' own cost. One untimed
    warm-up run first (TensorFlow import, network load, tracing).

Writes bench/results/live.json and, unless --no-write, the "Live progress" section of
docs/benchmarks.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.common import cpu_name, percentile, write_section  # noqa: E402
from tests.browser import chromium_context  # noqa: E402  (free of pytest, like the harness)
from tests.harness import Platform  # noqa: E402

SHARED_IMAGES = Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared") / "images"
RECEIPTS_SCRIPT = """
window.__receipts = [];
(function () {
  const Native = window.WebSocket;
  function Recording(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    let handler = null;  // the page's onmessage, run (and timed) by the listener below
    Object.defineProperty(ws, "onmessage", { get: function () { return handler; },
                                             set: function (fn) { handler = fn; } });
    ws.addEventListener("message", function (m) {
      const now = performance.timeOrigin + performance.now();
      const ev = JSON.parse(m.data);
      const receipt = {event: ev.event, sent_at: ev.sent_at || null, received_at: now, bytes: m.data.length};
      window.__receipts.push(receipt);
      if (handler) {
        const started = performance.now();
        handler.call(ws, m);
        receipt.handled_ms = performance.now() - started;  // the page's own work: swaps, chart
      }
    });
    return ws;
  }
  Recording.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { Recording[k] = Native[k]; });
  window.WebSocket = Recording;
})();
"""


# --- the stack, Django in this process, a user and jobs -------------------------------------------

@contextmanager
def running_stack(tmp: Path):
    """The web server and its own Redis (no worker: this process plays the worker)."""
    model_dir = Path(os.environ["NST_MODEL_DIR"]) if os.environ.get("NST_MODEL_DIR") else None
    with Platform(tmp, model_dir=model_dir) as stack:
        yield stack.up(workers=0)


def setup_django(env: dict) -> None:
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_MEDIA_ROOT", "DJANGO_STATIC_ROOT"):
        os.environ[name] = env[name]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Playwright's sync API keeps an event loop in the main thread, where this script also makes a
    # few plain synchronous ORM calls (creating the user and jobs); Django's guard is lifted for them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()


def make_user(password: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("bench", "bench@example.org", password)


def make_job(user, size: int, epochs: int, steps: int):
    from django.core.files.base import ContentFile

    from engine.models import StyleImage, StyleJob, params_dict
    from engine.nst import ClassicParams, images

    params = ClassicParams(size=size, epochs=epochs, steps_per_epoch=steps, multiscale=False)
    job = StyleJob(owner=user, mode="classic", params=params_dict(params), size=size, epochs=epochs,
                   total_steps=params.total_steps)
    content = images.encode_png(images.open_image((SHARED_IMAGES / "tubingen.jpg").read_bytes()))
    job.content.save("content.png", ContentFile(content), save=False)
    job.save()
    style = StyleImage(job=job, position=1, weight=1.0)
    painting = images.encode_png(images.open_image((SHARED_IMAGES / "starry_night.jpg").read_bytes()))
    style.image.save("style-1.png", ContentFile(painting), save=False)
    style.save()
    return job


# --- the browser ----------------------------------------------------------------------------------

@contextmanager
def logged_in_page(base: str, password: str, profile: Path):
    with chromium_context(profile) as context:
        context.add_init_script(RECEIPTS_SCRIPT)
        page = context.new_page()
        page.goto(base + "/accounts/login/")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", password)
        page.click("#login-submit")
        page.wait_for_load_state()
        yield page


def wait_until(page, expression: str, timeout: float) -> None:
    """Until `expression` is true in the page. Polled from here with page.evaluate: Playwright's
    wait_for_function evaluates its predicate with eval() in the page, which the site's
    Content-Security-Policy (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise SystemExit(f"the page never had {expression}")
        time.sleep(0.05)


def open_job_page(page, base: str, job) -> None:
    page.goto(f"{base}/jobs/{job.pk}/")
    wait_until(page, "window.__receipts.some(r => r.event === 'snapshot')", 30)


def latencies(page, kinds: tuple[str, ...]) -> list[float]:
    receipts = page.evaluate("window.__receipts")
    return [r["received_at"] - r["sent_at"] for r in receipts if r["event"] in kinds and r["sent_at"]]


def receipt_values(page, kinds: tuple[str, ...], key: str) -> list[float]:
    """Each received event's `key` (bytes, handled_ms) of these kinds, from the page's receipts."""
    return [r[key] for r in page.evaluate("window.__receipts") if r["event"] in kinds and key in r]


# --- (a) synthetic events ----------------------------------------------------------------------------

def publish_events(job, n: int, interval: float) -> list[float]:
    """n progress events from a thread without an event loop (as a worker); returns each publish's
    duration in ms."""
    from engine.live import updates as live

    durations: list[float] = []

    def publish():
        for i in range(n):
            losses = [[10 * i + k + 1, 0.5, 1.5, 0.1, 2.1] for k in range(10)]
            started = time.perf_counter()
            ok = live.publish_progress(job, epoch=1 + i // 10, step=10 * (i + 1), eta_seconds=30.0,
                                         losses=losses, preview_epoch=1 + i // 10 if i % 10 == 9 else None)
            durations.append((time.perf_counter() - started) * 1000)
            if not ok:
                raise SystemExit("a publish failed: is Redis up?")
            time.sleep(interval)

    thread = threading.Thread(target=publish)
    thread.start()
    thread.join()
    return durations


# --- (b) real runs, with and without publishing --------------------------------------------------------

def real_run(job, publish: bool) -> dict:
    """engine.tasks.run_style_job on `job`, in a thread without an event loop (as an RQ worker)."""
    from engine import tasks
    from engine.live import updates as live
    from engine.runners.progress import Progress

    step_times: list[float] = []
    publish_ms: list[float] = []
    real_unit_done, real_publish_progress = Progress.unit_done, live.publish_progress

    def timed_unit_done(self, *args, **kwargs):  # a classic run reports each step here
        step_times.append(time.perf_counter())
        return real_unit_done(self, *args, **kwargs)

    def timed_publish_progress(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real_publish_progress(*args, **kwargs)
        finally:
            publish_ms.append((time.perf_counter() - started) * 1000)

    sender_cpu_before = sender_cpu_seconds()
    replaced = {"publish_progress": timed_publish_progress}
    if not publish:
        replaced = {name: (lambda *a, **k: False) for name in
                    ("publish_progress", "publish_started", "publish_final", "publish_queue")}
    saved = {name: getattr(live, name) for name in replaced}
    Progress.unit_done = timed_unit_done
    for name, fn in replaced.items():
        setattr(live, name, fn)
    try:
        outcome: dict = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("status", tasks.run_style_job(job.pk)))
        thread.start()
        thread.join()
    finally:
        Progress.unit_done = real_unit_done
        for name, fn in saved.items():
            setattr(live, name, fn)
    if outcome.get("status") != "succeeded":
        raise SystemExit(f"the classic run ended {outcome.get('status')}")
    gaps = [(b - a) * 1000 for a, b in zip(step_times, step_times[1:], strict=False)]
    return {"publish": publish, "step_ms": gaps, "publish_ms": publish_ms,
            "sender_cpu_ms": (sender_cpu_seconds() - sender_cpu_before) * 1000, "steps": len(step_times)}


def sender_cpu_seconds() -> float:
    """CPU time (user + system) used so far by engine.live.updates's sending thread: what publishing costs
    the machine besides the engine thread's own hand-over, whatever else runs at the same time."""
    import psutil

    sender = next((t for t in threading.enumerate() if t.name == "nst-live-events"), None)
    if sender is None:
        return 0.0
    for t in psutil.Process().threads():
        if t.id == sender.native_id:
            return t.user_time + t.system_time
    return 0.0


# --- summary and docs -------------------------------------------------------------------------------

def spread_exceeds(r: dict, overhead_percent: float) -> bool:
    """Whether runs of one kind differ among themselves by more than the two kinds' means do."""
    spreads = []
    for kind in (True, False):
        means = [m for on, m in r["per_run_mean_step_ms"] if on == kind]
        spreads.append(100 * (max(means) - min(means)) / min(means))
    return max(spreads) > abs(overhead_percent)


def event_interval() -> float:
    from engine.runners import progress

    return progress.EVENT_INTERVAL




def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "mean": statistics.fmean(values), "max": max(values)} if values else {"n": 0}




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=250, help="synthetic events for (a) (default 250)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between synthetic events (default 0.2, the worker's throttle)")
    parser.add_argument("--runs", type=int, default=3,
                        help="classic runs with and without publishing (default 3 each)")
    parser.add_argument("--size", type=int, default=256, help="classic run size in px (default 256)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each run (default 2)")
    parser.add_argument("--steps", type=int, default=30, help="steps per epoch (default 30)")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--docs-only", action="store_true",
                        help="only rewrite the docs section from bench/results/live.json")
    args = parser.parse_args()
    if args.docs_only:
        rewrite_docs_only()
        return 0

    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="nst-bench-live-") as tmp, running_stack(Path(tmp)) as stack:
        setup_django(stack.env)
        user = make_user(password)
        with logged_in_page(stack.url, password, Path(tmp) / "chromium-profile") as page:
            job = make_job(user, args.size, args.epochs, args.steps)
            job.start(worker="bench")
            open_job_page(page, stack.url, job)
            publish_ms = publish_events(job, args.events, args.interval)
            progress = "window.__receipts.filter(r => r.event === 'progress').length"
            wait_until(page, f"{progress} >= {args.events}", 60)
            synthetic = latencies(page, ("progress",))
            handling = {"progress": receipt_values(page, ("progress",), "handled_ms")}
            sizes = {"progress": receipt_values(page, ("progress",), "bytes")}

            real_run(make_job(user, args.size, args.epochs, args.steps), publish=True)  # warm-up, untimed
            runs, real_latency = [], []
            for i in range(2 * args.runs):
                job = make_job(user, args.size, args.epochs, args.steps)
                open_job_page(page, stack.url, job)
                runs.append(real_run(job, publish=i % 2 == 0))
                if runs[-1]["publish"]:
                    done = "document.getElementById('job-status').dataset.status === 'succeeded'"
                    wait_until(page, done, 60)
                    real_latency += latencies(page, ("started", "progress", "finished"))
                    for kind in ("snapshot", "finished"):
                        handling.setdefault(kind, []).extend(receipt_values(page, (kind,), "handled_ms"))
                        sizes.setdefault(kind, []).extend(receipt_values(page, (kind,), "bytes"))

    with_pub = [m for r in runs if r["publish"] for m in r["step_ms"]]
    without = [m for r in runs if not r["publish"] for m in r["step_ms"]]
    results = {
        "date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "args": vars(args),
        "latency_synthetic_ms": summary(synthetic),
        "latency_real_run_ms": summary(real_latency),
        "page_handling_ms": {kind: summary(values) for kind, values in handling.items()},
        "event_bytes": {kind: summary(values) for kind, values in sizes.items()},
        "publish_call_ms_synthetic": summary(publish_ms),
        "publish_call_ms_real_run": summary([m for r in runs for m in r["publish_ms"]]),
        "step_ms_with_publishing": summary(with_pub),
        "step_ms_without_publishing": summary(without),
        "per_run_mean_step_ms": [(r["publish"], statistics.fmean(r["step_ms"])) for r in runs],
        "events_per_run": statistics.fmean(len(r["publish_ms"]) for r in runs if r["publish"]),
        "sender_cpu_ms_per_step": statistics.fmean(
            r["sender_cpu_ms"] / r["steps"] for r in runs if r["publish"]),
        "event_interval_s": event_interval(),
    }
    print(json.dumps(results, indent=2))
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "live.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_write:
        write_docs(results)
    return 0


def write_docs(r: dict) -> None:
    a = r["args"]
    syn, real = r["latency_synthetic_ms"], r["latency_real_run_ms"]
    w, wo = r["step_ms_with_publishing"], r["step_ms_without_publishing"]
    pub = r["publish_call_ms_real_run"]
    overhead = 100 * (w["mean"] - wo["mean"]) / wo["mean"]
    load = ", ".join(f"{x:.1f}" for x in r["load_average_at_end"])
    steps = a["epochs"] * a["steps"]
    worst = max(syn["p95"], real["p95"])
    section = "\n".join([
        "## Live progress",
        "",
        f"`python bench/bench_live.py` ({r['date']}; {r['cpu']}, {r['cores']} cores, no GPU; load "
        f"average {load} at the end). The web "
        "tier (nginx in front, daphne behind it for /ws/, gunicorn for the pages) with its own Redis and a "
        "SQLite file, as scripts/run starts it; one headless Chromium "
        "page on the job, logged in as its owner; the bench process publishes as a worker does "
        "(engine.live.updates, from a thread without an event loop). Raw results: `bench/results/live.json` "
        "(gitignored).",
        "",
        "Latency from the worker's publish to the browser's receipt (`sent_at` stamped just before the "
        "publish; the receipt time taken in the page by a script that wraps `WebSocket`, before the "
        "page's own handler; same machine, same clock):",
        "",
        "| series | events | p50 | p95 | max |",
        "|---|---|---|---|---|",
        f"| progress events every {a['interval']} s, idle worker (10 loss points each) | {syn['n']} | "
        f"{syn['p50']:.1f} ms | {syn['p95']:.1f} ms | {syn['max']:.1f} ms |",
        f"| the events of {a['runs']} real classic runs, published while the engine computes | "
        f"{real['n']} | {real['p50']:.1f} ms | {real['p95']:.1f} ms | {real['max']:.1f} ms |",
        "",
        f"- Goal: p95 <= 250 ms: {'met' if worst <= 250 else 'NOT met'} (worst p95 {worst:.1f} ms).",
        "- Events carry the parts of the page that changed, rendered on the server once per audience "
        "(engine.live.job_page); the page swaps them in and draws the chart. Its own handling of an event "
        "(after the receipt above; static/js/live_socket.js and job.js): "
        + "; ".join(f"{kind} p50 {h['p50']:.1f} ms, p95 {h['p95']:.1f} ms" for kind, h in r["page_handling_ms"].items())
        + ". Event sizes (JSON, mean): "
        + ", ".join(f"{kind} {b['mean'] / 1024:.1f} KiB" for kind, b in r["event_bytes"].items()) + ".",
        "",
        f"The engine's time per step: classic {a['size']} px, {a['epochs']} x {a['steps']} steps, single "
        "scale, the real task (database saves, previews, checkpoints), runs alternating with and without "
        f"publishing, {a['runs']} each after a warm-up run; wall time between consecutive steps, "
        "callbacks included:",
        "",
        "| | steps | mean | p50 | p95 |",
        "|---|---|---|---|---|",
        f"| with publishing | {w['n']} | {w['mean']:.1f} ms | {w['p50']:.1f} ms | {w['p95']:.1f} ms |",
        f"| without | {wo['n']} | {wo['mean']:.1f} ms | {wo['p50']:.1f} ms | {wo['p95']:.1f} ms |",
        "",
        f"- Difference of the means: {overhead:+.1f}%. Per-run means, in order (with / without alternating): "
        + ", ".join(f"{m:.0f} ms {'with' if on else 'without'}" for on, m in r["per_run_mean_step_ms"])
        + (": the runs differ among themselves by more than that, so on a shared machine the difference is "
           "noise; the two costs below are measured directly." if spread_exceeds(r, overhead) else
           ": the runs of each kind agree with each other more closely than that, so the difference is real here "
           "(publishing's two costs below, on 2 cores shared by the engine, the sending thread and the "
           "browser)."),
        f"- The engine thread's own cost of one publish (building the event, rendering its fragments, "
        f"handing it to the sending thread): p50 {pub['p50']:.1f} ms, p95 {pub['p95']:.1f} ms in the real runs; "
        f"{r['events_per_run']:.0f} per run of {steps} steps "
        f"(at most one per {r['event_interval_s']} s, plus one per epoch): "
        f"{pub['mean'] * r['events_per_run'] / steps:.2f} ms per step on average, against a step of "
        f"{wo['mean']:.0f} ms.",
        f"- The sending thread's CPU time (psutil, per thread; it runs beside the engine, on another core "
        f"when there is one): {r['sender_cpu_ms_per_step']:.2f} ms per step, "
        f"{100 * r['sender_cpu_ms_per_step'] / wo['mean']:.1f}% of a step.",
        "- Before this design (async_to_sync(group_send) in the engine's thread, a new thread, event loop "
        "and Redis connection per call) a publish blocked the engine 9-13 ms (p50, same machine, load "
        "about 5).",
        "",
    ])
    path = REPO / "docs" / "benchmarks.md"
    write_section(path, "Live progress", section)


def rewrite_docs_only() -> None:
    """--docs-only: the section again from bench/results/live.json, without measuring."""
    write_docs(json.loads((REPO / "bench" / "results" / "live.json").read_text()))


if __name__ == "__main__":
    sys.exit(main())
