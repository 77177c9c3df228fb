"""Fair turns between users: the order in which workers take the waiting jobs of a queue.

A queue is RQ's Redis list, which workers pop from its head (BLPOP; the high queue before the
default one). RQ appends a new job at the tail: first come, first served across users, so one
user's batch of 20 photos sat in front of everyone else's single photo. Here the list is kept in
turn order instead: FairQueue, the queue class of the web processes and the workers, inserts a
new job at its owner's turn (one Lua script, atomic against the workers' pops), and everything
else about the queue stays RQ's own: workers pop the head as before, a cancel takes a job out
with LREM, a recovered or handed-back job goes to the front, the orphan sweep reads the list.
A job's place in the list is therefore its place in the turn order, and the queue positions and
waits shown on the pages are read from the lists themselves (engine.costs.estimates).

The order, in each queue (staff's `high` queue is still emptied first):
- in rounds: a user's n-th waiting job comes after every other user's n-th, before their
  (n+1)-th, and a user's own jobs keep the order in which they were submitted;
- within a round, the user whose job started least recently goes first: one who has had no turn
  yet (or not for a long while) goes before one whose job started a minute ago. So a user who
  submits one photo while another user's batch runs is next, after at most the batch's job that
  is running.

The second rule needs to know when each user's job last started: the task records it (`record_turn`,
a counter per queue, the "turn clock", in the hash TURNS_KEY) when it moves a row to running.
Popping the head keeps the list in order without reordering anything: the head is its owner's
first job in the first round and its owner is the one that waited longest, and once it has
started that owner is the latest; each of their remaining jobs moves back one round and to its
end, which is exactly where it already is. A cancelled job taken from the middle leaves a list
that may favour one user slightly in a later round; the next insertions compare with what is there.

Why not RQ's own mechanisms: a worker listens to a fixed list of queues (a queue per user would
need workers that learn new queues, and RQ's registries, maintenance and the orphan sweep would
run over every user's queue); RQ's round-robin dequeue strategy rotates between those fixed
queues. Why not per-user lists with a dispatcher that feeds RQ: a process (or a step in every
worker) more to keep alive, and a second place where a waiting job can be, which cancel,
recovery and the orphan sweep would all have to know. Cost: an insertion reads the list and
each waiting job's owner, O(waiting jobs), inside Redis (bench/bench_turns.py; the figures are in
docs/architecture.md, "Fair turns").

The owner of a waiting job is a field of RQ's own hash of the job (OWNER_FIELD), written by
engine.jobs.queue.enqueue in the same transaction as the job itself, so it goes when RQ deletes
the job. A job without one (enqueued before this existed, or by RQ's tools) counts as a user of
its own.
"""

from __future__ import annotations

from django_rq.queues import DjangoRQ
from redis import Redis
from redis.client import Pipeline

OWNER_FIELD = "nst_owner"
TURNS_KEY = "nst:turns:{}"         # per queue: owner -> the turn clock when their job last started
TURN_CLOCK_FIELD = "-clock"        # in the same hash (owner ids are digits): the clock itself

# Where a job of ARGV[2] (or, when empty, of the owner written in the job's hash) belongs in the
# list KEYS[1]; inserts ARGV[1] there unless it is empty (then it only says where). Returns the
# 0-based index. KEYS[2]: the queue's turns hash. ARGV[3]: RQ's job key prefix.
_PLACE = """
local prefix, owner = ARGV[3], ARGV[2]
if owner == '' then
    owner = redis.call('HGET', prefix .. ARGV[1], ARGV[4]) or ('?' .. ARGV[1])
end
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local owners, ranks, count, last = {}, {}, {}, 0
for i, id in ipairs(ids) do
    local o = redis.call('HGET', prefix .. id, ARGV[4]) or ('?' .. id)
    owners[i] = o
    ranks[i] = count[o] or 0
    count[o] = ranks[i] + 1
    if o == owner then last = i end
end
local turns = {}
local function turn(o)
    if turns[o] == nil then turns[o] = tonumber(redis.call('HGET', KEYS[2], o) or '0') end
    return turns[o]
end
local rank, mine, at = count[owner] or 0, turn(owner), #ids + 1
for i = last + 1, #ids do
    if ranks[i] > rank or (ranks[i] == rank and turn(owners[i]) > mine) then
        at = i
        break
    end
end
if ARGV[1] ~= '' then
    if at > #ids then
        redis.call('RPUSH', KEYS[1], ARGV[1])
    else
        redis.call('LINSERT', KEYS[1], 'BEFORE', ids[at], ARGV[1])
    end
end
return at - 1
"""

_RECORD = """
local now = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HSET', KEYS[1], ARGV[1], now)
return now
"""


def turns_key(queue_name: str) -> str:
    return TURNS_KEY.format(queue_name)


class FairQueue(DjangoRQ):
    """django-rq's queue, with a new job inserted at its owner's turn instead of at the tail.
    At the front (a recovered job, RQ's retry at the front) it stays RQ's LPUSH."""

    def push_job_id(self, job_id: str, pipeline: Pipeline | None = None, at_front: bool = False) -> None:
        if at_front:
            super().push_job_id(job_id, pipeline=pipeline, at_front=True)
            return
        place = self.connection.register_script(_PLACE)
        place(keys=[self.key, turns_key(self.name)],
              args=[job_id, "", self.job_class.redis_job_namespace_prefix, OWNER_FIELD],
              client=pipeline if pipeline is not None else self.connection)


def write_owner(pipe: Pipeline, rq_job_key: str, owner_id: int) -> None:
    """Before RQ saves the job in the same transaction (its HSET keeps other fields)."""
    pipe.hset(rq_job_key, OWNER_FIELD, str(owner_id))


def place_for(connection: Redis, queue: DjangoRQ, owner_id: int) -> int:
    """Where a job of `owner_id` submitted now would go in `queue`: the jobs of it ahead of it."""
    place = connection.register_script(_PLACE)
    return int(place(keys=[queue.key, turns_key(queue.name)],
                     args=["", str(owner_id), queue.job_class.redis_job_namespace_prefix, OWNER_FIELD]))


def record_turn(connection: Redis, queue_name: str, owner_id: int) -> None:
    """`owner_id`'s job in `queue_name` has started: the owner is now the last to have had a turn."""
    connection.register_script(_RECORD)(keys=[turns_key(queue_name)], args=[str(owner_id), TURN_CLOCK_FIELD])


def waiting_ids(connection: Redis, queues: list[DjangoRQ]) -> list[str]:
    """The RQ ids of the jobs waiting in `queues`, in the order workers take them (one round trip)."""
    with connection.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.lrange(queue.key, 0, -1)
        lists = pipe.execute()
    return [entry.decode() for ids in lists for entry in ids]
