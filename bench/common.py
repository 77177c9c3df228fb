"""What the benchmark scripts share: where things are, percentiles, the machine's CPU name, and
writing a section of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED_DIR") or REPO.parent / "shared")   # ../shared: images, styles
MODEL_DIR = Path(os.environ.get("NST_MODEL_DIR") or SHARED / "models")
RESULTS = REPO / "bench" / "results"   # each bench's JSON
DOCS = REPO / "docs"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), linearly interpolated between the closest ranks; NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_section(path: Path, heading: str, section: str, title: str = "# Benchmarks") -> None:
    """Put `section` (which starts with "## <heading>") in place of that section of the Markdown file
    at `path` (up to the next "## " heading), or at the end when it has none yet."""
    text = path.read_text() if path.exists() else title + "\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")
