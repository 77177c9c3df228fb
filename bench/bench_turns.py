"""What fair turns cost (a script, not a test): the time to put one job at its owner's turn in a
queue that already holds N waiting jobs of U users (engine/jobs/turns.py: one Lua script that reads
the list and each waiting job's owner), against RQ's plain append. Results: docs/architecture.md,
"Fair turns".

    python bench/bench_turns.py            # N = 100, 1,000, 10,000 waiting jobs of 50 users

A Redis of its own (tests/harness.py's RedisServer); each figure is the median and p95 of 200
insertions, each into a list of N (the job inserted is taken out again before the next one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import cpu_name, percentile  # noqa: E402

SIZES = (100, 1_000, 10_000)
USERS = 50
ROUNDS = 200


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from redis import Redis
    from rq.job import Job

    from engine.jobs import turns
    from tests.harness import RedisServer

    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-turns-"))).start()
    try:
        connection = Redis.from_url(server.url)
        queue = turns.FairQueue("default", connection=connection, commit_mode="auto")
        print(f"{cpu_name()}, {os.cpu_count()} cores; median / p95 of {ROUNDS} insertions")
        for size in SIZES:
            connection.flushdb()
            with connection.pipeline(transaction=False) as pipe:
                for n in range(size):
                    pipe.hset(Job.key_for(f"job-{n}"), turns.OWNER_FIELD, str(n % USERS))
                    pipe.rpush(queue.key, f"job-{n}")
                pipe.execute()
            fair, plain = [], []
            for n in range(ROUNDS):
                connection.hset(Job.key_for("new"), turns.OWNER_FIELD, str(n % (USERS + 5)))
                started = time.perf_counter()
                queue.push_job_id("new")
                fair.append(time.perf_counter() - started)
                connection.lrem(queue.key, 1, "new")
                started = time.perf_counter()
                connection.rpush(queue.key, "new")
                plain.append(time.perf_counter() - started)
                connection.lrem(queue.key, 1, "new")
            print(f"{size:>6} waiting: fair {percentile(fair, 50) * 1e3:.2f} / {percentile(fair, 95) * 1e3:.2f} ms, "
                  f"append {percentile(plain, 50) * 1e3:.2f} / {percentile(plain, 95) * 1e3:.2f} ms")
    finally:
        server.process.stop(grace=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
