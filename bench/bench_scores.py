"""What scoring finished pictures costs the users' jobs (a script, not a test): fast jobs per minute
on one worker that also scores every result (engine.runners.scores). Results: docs/benchmarks.md,
"Quality" ("What scoring costs the workers"), and bench/results/scores.json.

    flock -x /tmp/nst-machine.lock python bench/bench_scores.py --label after
    flock -x /tmp/nst-machine.lock python bench/bench_scores.py --label before    # on a checkout of
        # the code before the change, this file and bench/ copied in; --results names this checkout's JSON
    python bench/bench_scores.py --render       # docs/benchmarks.md again from bench/results/scores.json

With real processes (tests/harness.py): a Redis, a SQLite database and media in a temporary folder,
ONE worker started with the worker command of scripts/lib/processes (with the queues that command
names), and Django set up in this process on the same database to make the jobs and read their rows.
A warm-up job first (until it has its scores: the worker loads fast mode's networks and HED), then
--jobs fast jobs at --size px enqueued at once, as on a busy site, each a photo of ../shared/images
in turn with starry_night. Figures: the user jobs per minute (jobs / seconds from the enqueue until
the last one has succeeded), the seconds until every job also has its scores, and the median of the
jobs' own run seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_storage import make_job, run_to_end  # noqa: E402
from bench.common import DOCS, MODEL_DIR, RESULTS, SHARED, cpu_name, write_subsection  # noqa: E402
from tests.harness import Platform, wait_for  # noqa: E402

WAIT = 1800.0
SECTION, HEADING = "Quality", "What scoring costs the workers"


def photos(count: int, size: int) -> list[bytes]:
    from engine.nst import images

    names = sorted(p for p in (SHARED / "images").glob("*.jpg"))
    return [images.encode_png(images.load_array(names[n % len(names)], size)) for n in range(count)]


def seconds_until_scored(ids: list[int], started: float) -> float:
    from engine.models import StyleJob

    def scored() -> bool:
        return all("scores" in (m or {}) for m in StyleJob.objects.filter(pk__in=ids).values_list("measurements",
                                                                                                  flat=True))

    wait_for(scored, f"jobs {ids} to have their scores", WAIT, every=0.05)
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="nst-bench-scores-"))
    platform = Platform(tmp, model_dir=args.model_dir, worker_class=None)   # the worker command as it is
    os.environ.update(platform.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "nstsite.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from engine.models import StyleJob

    call_command("migrate", verbosity=0)
    platform.redis.start()
    try:
        worker = platform.start_worker("worker")
        inputs = photos(args.jobs + 1, args.size)
        warm = make_job("fast", args.size, content=inputs[0])
        started = time.perf_counter()
        run_to_end([warm])
        seconds_until_scored([warm.pk], started)
        batch = [make_job("fast", args.size, content=content) for content in inputs[1:]]
        started = time.perf_counter()
        user_seconds = run_to_end(batch)
        ids = [job.pk for job in batch]
        scored_seconds = seconds_until_scored(ids, started)
        runs = list(StyleJob.objects.filter(pk__in=ids).values_list("run_seconds", flat=True))
        return {"label": args.label, "machine": f"{cpu_name()}, {os.cpu_count()} cores", "jobs": args.jobs,
                "size": args.size, "worker_command": " ".join(platform.commands["worker"][2:]),
                "user_seconds": round(user_seconds, 2), "jobs_per_minute": round(args.jobs / user_seconds * 60, 1),
                "all_scored_seconds": round(scored_seconds, 2), "median_run_seconds": round(median(runs), 3),
                "date": time.strftime("%Y-%m-%d")}
    finally:
        assert worker.alive, worker.tail()
        platform.down(grace=10)


def subsection(results: dict) -> str:
    lines = [f"### {HEADING}", "",
             "`python bench/bench_scores.py` under the machine's exclusive lock: one worker (the worker command of "
             "`scripts/lib/processes`), fast jobs enqueued at once as on a busy site, after a warm-up job; "
             "user jobs per minute = jobs / seconds from the enqueue until the last one has succeeded.", "",
             "| code | machine | jobs | size | fast jobs per minute | until the last job succeeded (s) "
             "| until every job had its scores (s) | a job's own run (s, median) |",
             "|---|---|---|---|---|---|---|---|"]
    for label in ("before", "after"):
        r = results.get(label)
        if r:
            lines.append(f"| {label} ({r['date']}; `{r['worker_command']}`) | {r['machine']} | {r['jobs']} "
                         f"| {r['size']} px | {r['jobs_per_minute']} | {r['user_seconds']} | {r['all_scored_seconds']} "
                         f"| {r['median_run_seconds']} |")
    before, after = results.get("before"), results.get("after")
    if before and after:
        per_score = (after["all_scored_seconds"] - after["user_seconds"]) / after["jobs"]
        lines += ["", f"Before, the worker scored each picture right after its job (scores inline); after, from the "
                  f"`scores` queue once no user job waits: {after['jobs_per_minute'] / before['jobs_per_minute']:.1f} "
                  f"times the fast jobs per minute, while the scores take as long as before in all "
                  f"({per_score:.2f} s each here, after the last user job). On a site that is never idle the scores "
                  "wait (they are for staff); the owners never do."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", choices=("before", "after"), default="after")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--results", type=Path, default=RESULTS / "scores.json")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--render", action="store_true", help="only rewrite the docs from --results (no run)")
    args = parser.parse_args()
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    if not args.render:
        results[args.label] = measure(args)
        print(json.dumps(results[args.label], indent=2))
        args.results.parent.mkdir(exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_write:
        write_subsection(DOCS / "benchmarks.md", SECTION, HEADING, subsection(results))


if __name__ == "__main__":
    main()
