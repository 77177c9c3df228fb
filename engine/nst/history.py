"""Loss history of a run: one row per optimisation step, written as JSON, CSV and a plot,
the same downloads the seed offered."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLUMNS = ("step", "epoch", "scale", "content", "style", "tv", "total", "seconds")
# A loss point: one step as [step, content, style, tv, total], the compact form live pages chart
# (up to 10,000 per job over a socket) and the only one besides LossRow itself.
POINT_FIELDS = ("step", "content", "style", "tv", "total")
# One colour per loss term, for the saved plot and the job page's live chart alike (the page reads
# these: engine.views passes them to static/js/job.js), so a term looks the same in both.
SERIES_COLOURS = {"style": "#3d5afe", "content": "#2e7d32", "tv": "#b26a00", "total": "#1d2330"}
SERIES_LABELS = {"style": "style", "content": "content", "tv": "TV", "total": "total"}


@dataclass
class LossRow:
    step: int          # 1-based, counted across all scales
    epoch: int         # 1-based
    scale: int         # longest side (px) the step ran at
    content: float     # weighted terms; total = content + style + tv
    style: float
    tv: float
    total: float
    seconds: float     # wall time since the run started (resumed runs continue the count)

    def point(self) -> list[float]:
        """This step as a loss point (POINT_FIELDS)."""
        return [getattr(self, name) for name in POINT_FIELDS]


@dataclass
class LossHistory:
    rows: list[LossRow] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # e.g. NaN roll-backs, said to the user

    def append(self, row: LossRow) -> None:
        self.rows.append(row)

    def last(self) -> LossRow | None:
        return self.rows[-1] if self.rows else None

    def points(self) -> list[list[float]]:
        return [row.point() for row in self.rows]

    def to_dict(self) -> dict:
        return {"columns": list(COLUMNS), "rows": [asdict(r) for r in self.rows], "events": list(self.events)}

    @classmethod
    def from_dict(cls, data: dict) -> LossHistory:
        return cls([LossRow(**r) for r in data.get("rows", [])], list(data.get("events", [])))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(COLUMNS)
        for r in self.rows:
            writer.writerow([getattr(r, c) for c in COLUMNS])
        return buf.getvalue()

    def plot_png(self, title: str = "Loss per step") -> bytes:
        """The plot (figure()) as a PNG."""
        buf = io.BytesIO()
        self.figure(title).savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()

    def figure(self, title: str = "Loss per step"):
        """Style/content/TV/total on a log scale, as the seed's plot; whole steps on the x-axis.
        matplotlib is imported here, not at module level, so importing the engine stays cheap."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(8, 4.5), dpi=100)
        ax = fig.add_subplot()
        steps = [r.step for r in self.rows]
        for name, colour in SERIES_COLOURS.items():
            values = [getattr(r, name) for r in self.rows]
            if any(v > 0 and math.isfinite(v) for v in values):
                ax.plot(steps, values, label=SERIES_LABELS[name], color=colour,
                        linewidth=2.5 if name == "total" else 1.5)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel("loss (weighted)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if steps:
            ax.legend()
        return fig

    def save(self, base: Path | str) -> dict[str, Path]:
        """Write base.json, base.csv and base_loss.png; return their paths."""
        base = Path(base)
        paths = {
            "json": base.with_suffix(".json"),
            "csv": base.with_suffix(".csv"),
            "plot": base.with_name(base.stem + "_loss.png"),
        }
        paths["json"].write_text(self.to_json())
        paths["csv"].write_text(self.to_csv())
        paths["plot"].write_bytes(self.plot_png())
        return paths
