"""What pages show of a result (issue 23): the time the worker spends making the renditions of a
picture when a job succeeds (engine.storage.renditions.make: a display JPEG of at most 2048 px and a
480 px thumbnail, from the 8-bit picture the engine hands the runner), against what it already
spends on the result's PNG from that same picture; their sizes against the PNG's; and the format
choice (JPEG, against WebP at two speeds). A script, not a test; the figures go in
docs/benchmarks.md ("Renditions").

    python bench/bench_renditions.py            # results of 1024, 2048, 4096 and 8192 px
    python bench/bench_renditions.py --quick    # 1024 and 2048 px

Pictures: a real photo (../shared/images/tubingen.jpg) enlarged to each size, as HxWx3 uint8 arrays,
the way both engines hand a result over (fast mode renders print sizes up to 8192 px). Each figure is the median
of 3 runs (one above 2048 px, where a PNG takes seconds). Run it under the machine's exclusive lock
(flock -x /tmp/nst-machine.lock).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-renditions-only")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import DOCS, RESULTS, SHARED, cpu_name, write_section  # noqa: E402
from engine.nst import images  # noqa: E402
from engine.storage import renditions  # noqa: E402

SIDES = (1024, 2048, 4096, 8192)


def timed(call, repeats: int) -> tuple[float, object]:
    """The median wall time of `repeats` calls, in seconds, and the last call's value."""
    seconds, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), value


def webp(picture: np.ndarray, method: int) -> bytes:
    img = Image.fromarray(picture)
    img = images.resize_longest(img, renditions.DISPLAY_SIDE) if max(img.size) > renditions.DISPLAY_SIDE else img
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=85, method=method)
    return buf.getvalue()


def measure(side: int, photo: Image.Image) -> dict:
    """What the runner does at a job's end with the engine's picture: the PNG, the renditions."""
    picture = np.asarray(images.resize_longest(photo, side), dtype=np.uint8)
    repeats = 3 if side <= renditions.DISPLAY_SIDE else 1
    png_seconds, png = timed(lambda: images.encode_png(picture), repeats)
    made_seconds, made = timed(lambda: renditions.make(picture), repeats)
    webp_fast_seconds, webp_fast = timed(lambda: webp(picture, 0), repeats)
    webp_seconds, webp_default = timed(lambda: webp(picture, 4), repeats)
    return {"side": side, "png_seconds": png_seconds, "png_bytes": len(png),
            "renditions_seconds": made_seconds, "display_bytes": len(made.display),
            "thumbnail_bytes": len(made.thumbnail),
            "webp_m0_seconds": webp_fast_seconds, "webp_m0_bytes": len(webp_fast),
            "webp_m4_seconds": webp_seconds, "webp_m4_bytes": len(webp_default)}


def section(rows: list[dict], when: str) -> str:
    mb = 1e6
    lines = ["## Renditions", "",
             f"`python bench/bench_renditions.py` ({when}; {cpu_name()}, 2 cores; exclusive lock). What a picture",
             "job's worker does when it succeeds, from the 8-bit picture the engine returns: the result PNG",
             "(as before) and now its renditions (`engine/storage/renditions.py`: a display JPEG of at most",
             "2048 px and a 480 px thumbnail made from it); medians of 3 runs (1 above 2048 px). Pages show",
             "the display rendition, never the PNG.", "",
             "| result | PNG: encode, size | renditions: make | display, thumbnail "
             "| WebP display instead (method 0 / 4): encode, size |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['side']} px "
            f"| {r['png_seconds']:.2f} s, {r['png_bytes'] / mb:.1f} MB "
            f"| {r['renditions_seconds'] * 1000:.0f} ms "
            f"| {r['display_bytes'] / 1000:.0f} kB, {r['thumbnail_bytes'] / 1000:.0f} kB "
            f"| {r['webp_m0_seconds'] * 1000:.0f} / {r['webp_m4_seconds'] * 1000:.0f} ms, "
            f"{r['webp_m0_bytes'] / 1000:.0f} / {r['webp_m4_bytes'] / 1000:.0f} kB |")
    big = rows[-1]
    share = max(r["renditions_seconds"] / r["png_seconds"] for r in rows)
    lines += ["", f"The renditions add at most {share:.0%} to what the result's PNG already costs (at 1024 px; less",
              "above: the reduction of a large picture is most of it), and a page loads "
              f"{big['png_bytes'] / big['display_bytes']:.0f}x fewer bytes", f"than the PNG at {big['side']} px. "
              "JPEG, not WebP: WebP's quickest setting takes about as long and its default", "up to 3-4x longer, "
              "for files 20-35 % smaller at the qualities used (JPEG 88, WebP 85, not matched", "for equal visual "
              "quality); every browser shows both, so the simpler format was kept.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1024 and 2048 px only")
    args = parser.parse_args()
    photo = images.open_image(SHARED / "images" / "tubingen.jpg")
    rows = []
    for side in SIDES[:2] if args.quick else SIDES:
        rows.append(measure(side, photo))
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "renditions.json").write_text(json.dumps(rows, indent=1))
    write_section(DOCS / "benchmarks.md", "Renditions", section(rows, time.strftime("%Y-%m-%d")))


if __name__ == "__main__":
    main()
