"""Which device TensorFlow computes on, and which precision pays there."""

from __future__ import annotations

import os
from functools import lru_cache

# CPU flags of native bfloat16 arithmetic (AVX512-BF16, AMX).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_info() -> tuple[str, set[str]]:
    """(model name, flags) of the CPU, from /proc/cpuinfo; ("CPU", set()) where there is none."""
    return _cpu_info()


def _cpu_info() -> tuple[str, set[str]]:
    name, flags = "CPU", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and name == "CPU":
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, flags


@lru_cache(maxsize=1)
def describe_device() -> str:
    """'GPU: <name>' when TensorFlow sees a GPU, else 'CPU: <model>, <n> cores'."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    name, _ = _cpu_info()
    return f"CPU: {name}, {os.cpu_count()} cores"


@lru_cache(maxsize=1)
def fast_bfloat16() -> bool:
    """bfloat16 convolutions are only faster where the CPU computes them natively
    (AVX512-BF16 or AMX); elsewhere TensorFlow emulates them, slower than float32."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return False
    _, flags = _cpu_info()
    return bool(flags & BF16_FLAGS)


def resolve_precision(requested: str) -> str:
    if requested == "auto":
        return "bfloat16" if fast_bfloat16() else "float32"
    return requested


_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def memory_available() -> int:
    """Bytes this process can grow to: what the system has available plus what the process already
    holds (a run's peak counts that too), capped by the room left under a container's (cgroup)
    memory limit, which the system-wide figure does not see."""
    import psutil

    held = psutil.Process().memory_info().rss
    room = psutil.virtual_memory().available
    cgroup = _cgroup_room()
    if cgroup is not None:
        room = min(room, cgroup)
    return room + held


def _cgroup_room() -> int | None:
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            with open(limit_file) as fh:
                limit = fh.read().strip()
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # no limit (v1 says so with a huge number)
            return None
        return max(0, int(limit) - usage)
    return None


# --- a run's peak memory -------------------------------------------------------------------------
# Linux keeps a process's peak RSS (VmHWM in /proc/self/status) and lets the process reset it
# (writing 5 to /proc/self/clear_refs): a long-lived worker measures each job's own peak that way.

def reset_peak_rss() -> bool:
    """Start measuring the peak RSS afresh; False where the system cannot (not Linux, no /proc)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """The process's peak RSS in bytes since it started or since reset_peak_rss(); None if unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
