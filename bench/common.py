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


def _subsection_pattern(section: str, heading: str) -> re.Pattern:
    """"### <heading>" inside "## <section>", up to the next heading of either level."""
    return re.compile(rf"(^## {re.escape(section)}\n(?:(?!^## ).)*?)^### {re.escape(heading)}\n.*?(?=^##|\Z)",
                      re.S | re.M)


def subsection_of(path: Path, section: str, heading: str) -> str:
    """The "### <heading>" subsection of "## <section>" in the Markdown file at `path`, or "" (a bench
    that rewrites the section keeps another bench's subsection with it)."""
    match = _subsection_pattern(section, heading).search(path.read_text()) if path.exists() else None
    return match.group(0)[len(match.group(1)):].rstrip("\n") + "\n" if match else ""


def write_subsection(path: Path, section: str, heading: str, text: str) -> None:
    """Put `text` (which starts with "### <heading>") in place of that subsection of "## <section>", or
    at the section's end when it has none yet (the section must exist)."""
    body = path.read_text()
    pattern = _subsection_pattern(section, heading)
    if pattern.search(body):
        body = pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n\n", body, count=1)
    else:
        end = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M).search(body)
        if end is None:
            raise ValueError(f"{path} has no section {section!r}")
        body = body[:end.end()].rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n\n" + body[end.end():]
    path.write_text(body.rstrip("\n") + "\n")
