"""Why a running job must stop before its next engine step: the one stop signal.

The engine itself only knows "stop" (its `should_stop` check, its `Stopped` exception with the
run's checkpoint); the task (engine.tasks) asks this process's worker (engine.jobs.worker.stop_reason)
and the job's cancel flag before every step, keeps the first reason it meets, and acts on it once
the engine has stopped.
"""

from enum import StrEnum


class StopReason(StrEnum):
    CANCELLED = "cancelled"    # its owner or staff cancelled it: keep the checkpoint for a requeue
    SHUTDOWN = "shutdown"      # the worker got SIGTERM: checkpoint, hand the job back to its queue
    LEASE_LOST = "lease lost"  # the worker's lease lapsed: the job may be another's now, write nothing
