"""The process's one sending thread for live events (engine.live.updates hands it channel-layer messages).

Not async_to_sync(group_send) per event, the textbook way: that starts a thread, an event loop and
a Redis connection for every call, and it blocked the engine 9-13 ms per event on this machine
(bench/bench_live.py). One long-lived event loop per process, in a daemon thread, keeps its Redis
connections and sends the messages in the order they were published; a worker's engine thread
only hands them over (microseconds). The callers that end something (a job's end, a queue move)
wait until their batch is sent, bounded, so a worker in burst mode cannot exit before its last event.

Publishing is best effort and bounded: a dead or hung Redis must neither stall nor crash a job.
Each batch gets PUBLISH_TIMEOUT in all; after a failure, publishing pauses (1 s, then doubling up
to 30 s) so a Redis that is gone costs at most one timeout per pause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 0.5          # seconds for one batch (all its group sends) before it is dropped
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
WAIT_TIMEOUT = PUBLISH_TIMEOUT + 1.0   # how long a waiting caller waits for its turn and its send
QUEUE_LIMIT = 1000                     # batches waiting in a process; beyond, new ones are dropped
PUBLISH_ERRORS = (RedisError, OSError, TimeoutError)


@dataclass
class Batch:
    """Messages (group, message) for one channel layer, sent together, after appending `items`
    (JSON) to the Redis list `list_key` at `redis_url` when there are any."""
    layer: object
    messages: list[tuple[str, dict]]
    redis_url: str = ""
    list_key: str = ""
    list_ttl: int = 0
    items: list = field(default_factory=list)
    sent: Future = field(default_factory=Future)   # True once Redis took them, False if dropped


class _Backoff:
    """After a failed publish, skip publishing for a while (doubling), so a dead Redis costs at
    most one PUBLISH_TIMEOUT per pause, not one per event."""

    def __init__(self) -> None:
        self.failures, self.until = 0, 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.until

    def failed(self) -> float:
        self.failures += 1
        pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
        self.until = time.monotonic() + pause
        return pause

    def succeeded(self) -> None:
        if self.failures:
            logger.info("Live job events reach Redis again.")
        self.failures, self.until = 0, 0.0


class _Publisher:
    """The sending loop. Everything after submit() runs in its thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[Batch] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        # Per channel layer object: Channels makes a new one when CHANNEL_LAYERS changes (tests do),
        # and a pause earned against one Redis must not silence another.
        self.backoffs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.redis: dict[str, aioredis.Redis] = {}
        threading.Thread(target=self.loop.run_until_complete, args=(self.sender(),),
                         name="nst-live-events", daemon=True).start()

    def submit(self, batch: Batch) -> None:
        self.loop.call_soon_threadsafe(self.put, batch)

    def put(self, batch: Batch) -> None:
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            batch.sent.set_result(False)  # Redis is far behind: pages catch up with their next snapshot

    async def sender(self) -> None:
        while True:
            batch = await self.queue.get()
            try:
                sent = await self.deliver(batch)
            except Exception:  # a bug, not Redis: say so, and keep the loop alive for the next events
                logger.exception("Live job events could not be sent")
                sent = False
            batch.sent.set_result(sent)

    async def deliver(self, batch: Batch) -> bool:
        if not batch.messages:
            return True  # flush(): everything before it has been dealt with
        backoff = self.backoffs.setdefault(batch.layer, _Backoff())
        if not backoff.ready():
            return False
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await _send_now(batch, self.redis)
        except PUBLISH_ERRORS as exc:
            pause = backoff.failed()
            log = logger.warning if backoff.failures == 1 else logger.debug
            log("Could not publish live job events (%s: %s); pausing them for %.0f s.",
                type(exc).__name__, exc or "timed out", pause)
            return False
        backoff.succeeded()
        return True


async def _send_now(batch: Batch, clients: dict) -> None:
    # The list first, then the messages: a page that connects in between finds the items in its
    # snapshot (and drops the message's copy), rather than missing them.
    if batch.items:
        client = clients.get(batch.redis_url) or clients.setdefault(
            batch.redis_url, aioredis.Redis.from_url(batch.redis_url, socket_connect_timeout=PUBLISH_TIMEOUT))
        pipe = client.pipeline(transaction=False)
        pipe.rpush(batch.list_key, json.dumps(batch.items))
        pipe.expire(batch.list_key, batch.list_ttl)
        await pipe.execute()
    await _group_send_all(batch.layer, batch.messages)


async def _group_send_all(layer, messages: Iterable[tuple[str, dict]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _get_publisher() -> _Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():  # a forked child has no such thread
            _publisher = _Publisher()
        return _publisher


def submit(batch: Batch, *, wait: bool = False) -> bool:
    """Hand a batch to the sending loop. With wait, True once Redis took it (False if it did not
    within WAIT_TIMEOUT); without, True at once."""
    _get_publisher().submit(batch)
    if not wait:
        return True
    try:
        return batch.sent.result(timeout=WAIT_TIMEOUT)
    except FutureTimeout:
        return False


def flush(timeout: float = WAIT_TIMEOUT) -> bool:
    """Wait until everything this process published so far has been sent (or dropped)."""
    batch = Batch(layer=None, messages=[])
    _get_publisher().submit(batch)
    try:
        return batch.sent.result(timeout=timeout)
    except FutureTimeout:
        return False
