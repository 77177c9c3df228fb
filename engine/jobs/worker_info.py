"""What each live worker can do, for the estimates a user sees before submitting (engine.costs.cost_model):
its device, the precision classic mode would use there, and the memory a job could have.

Each StyleWorker writes one field of the Redis hash `nst:workers` (its RQ name -> JSON) at every
heartbeat (engine.jobs.worker); readers keep only the fields of workers RQ lists as alive, so a worker
that died without saying so drops out as soon as RQ forgets it. One round trip for all workers.

Describing a worker must not import TensorFlow (a worker heartbeats before its first job): the
device is TensorFlow's once a job has imported it, and until then the CPU, as describe_device says it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import worker_registration

from engine.nst import device

logger = logging.getLogger(__name__)

KEY = "nst:workers"


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    device: str
    precision: str          # what classic mode's "auto" resolves to there
    memory_bytes: int       # what a job could grow to (engine.nst.device.memory_available)


def describe(name: str) -> WorkerInfo:
    """This process as a worker, without importing TensorFlow."""
    if "tensorflow" in sys.modules:
        dev, precision = device.describe_device(), device.resolve_precision("auto")
    else:
        cpu, flags = device.cpu_info()
        dev = f"CPU: {cpu}, {os.cpu_count()} cores"
        precision = "bfloat16" if flags & device.BF16_FLAGS else "float32"
    return WorkerInfo(name, dev, precision, device.memory_available())


def publish(pipe, info: WorkerInfo) -> None:
    """Add the write of `info` to a Redis pipeline (the worker's heartbeat)."""
    pipe.hset(KEY, info.name, json.dumps({"device": info.device, "precision": info.precision,
                                          "memory_bytes": info.memory_bytes, "at": time.time()}))


def forget(connection: Redis, name: str) -> None:
    connection.hdel(KEY, name)


def live_workers(connection: Redis) -> list[WorkerInfo] | None:
    """The described workers RQ lists as alive; None when Redis cannot be asked."""
    try:
        with connection.pipeline() as pipe:
            pipe.smembers(worker_registration.REDIS_WORKER_KEYS)
            pipe.hgetall(KEY)
            keys, fields = pipe.execute()
    except RedisError:
        return None
    alive = {key.decode().rsplit(":", 1)[-1] for key in keys}
    out = []
    for raw_name, raw in fields.items():
        name = raw_name.decode()
        if name not in alive:
            continue
        try:
            data = json.loads(raw)
            out.append(WorkerInfo(name, str(data["device"]), str(data["precision"]), int(data["memory_bytes"])))
        except (ValueError, KeyError, TypeError):
            logger.warning("Unreadable description of worker %s in %s", name, KEY)
    return sorted(out, key=lambda w: w.name)
