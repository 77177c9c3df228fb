"""How good the pictures are, judged by networks the losses never see (a script, not a test).
Results: docs/benchmarks.md, "Quality"; contact sheet: docs/quality-sheet.jpg.

    python bench/bench_quality.py                  # fast mode, classic before/now, all 45 pairs; docs
    python bench/bench_quality.py --pairs subset --settings fs-sw3 fs-colour1   # candidates, 9 pairs
    python bench/bench_quality.py --presets        # every preset of both modes (high: the subset)
    python bench/bench_quality.py --list           # the settings it knows
    python bench/bench_quality.py --report         # tables, docs section and sheet from the cache
    flock -x /tmp/nst-machine.lock python bench/bench_quality.py --timing   # before/now seconds

Every photo in ../shared/images crossed with every painting in ../shared/styles (5 x 9 = 45 pairs)
at 512 px, loaded as the worker loads them (photo at the job's size; painting at the job's size
for classic mode, at 256 px for fast mode's predictor). For each pair and setting: the picture,
its two scores (engine.nst.quality: style = closeness to the painting in fast mode's
style-predictor embedding, contours = share of the photo's HED contours found again; both at
512 px whatever the job's size) and its time: the engine's own seconds and, for classic runs,
the cost in steps at the job's size (a step at a coarser level counts by its pixels), which does
not change with the machine's load. Sweeps run niced while others work, so their seconds are only
indicative; the before/now times in the docs come from --timing, under the exclusive machine lock.

Each (setting, pair) is cached in bench/results/quality/<setting>.json with the parameters it
ran with (the picture as a PNG beside it): an interrupted sweep goes on where it stopped, a new
setting costs only its own runs, a setting whose parameters changed (the engine's default) runs
again, and several processes can share a sweep (each pair is claimed by one; a claim left by a
killed process is a `<pair>.running` file to delete). A setting with `curve` runs its steps in
epochs of that many and scores every epoch's picture: for a single-scale run the picture after
k steps is what a k-step run gives, so one run scores every length.

The subset (tuning) is one pair per painting, the photos taken in turn: 9 pairs, no painting
paired with itself; the other 36 pairs only confirm.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.common import DOCS, MODEL_DIR, RESULTS, SHARED, cpu_name, percentile, write_section  # noqa: E402
from engine.nst import fast, images  # noqa: E402
from engine.nst.classic import ClassicParams, fit_dims, plan_for, stylize_classic  # noqa: E402
from engine.nst.quality import at_score_size, contour_lines, found_again, get_judge  # noqa: E402

SIZE = 512
MIN_STYLE_SIDE = 256  # engine.tasks.MIN_STYLE_SIDE: fast mode's predictor sees 256 px, classic at least that
CACHE = RESULTS / "quality"
SHEET = DOCS / "quality-sheet.jpg"
SHEET_MAX_BYTES = 1_500_000

# The engine's default before issue 25, spelt out so that "before" stays before.
BEFORE = dict(init="content", epochs=10, steps_per_epoch=30, multiscale=True, style_weight=1e-2,
              content_weight=1e4, tv_weight=30.0)
# A fast start at 512 px only, 200 steps (5 epochs of 40): the base the first candidates change one thing of.
FS = {**BEFORE, "init": "fast", "epochs": 5, "steps_per_epoch": 40}
# The same, 60 steps scored every 20: the first sweeps found the scores best after 20-60 steps.
SHORT = {**FS, "epochs": 3, "steps_per_epoch": 20}


@dataclass(frozen=True)
class Setting:
    note: str
    mode: str = "classic"                 # or "fast"
    params: dict = field(default_factory=dict)  # overrides of the mode's params (default size: SIZE)
    curve: int = 0                        # score every `curve` steps (single-scale runs only)
    preset: str = ""                      # the params are this preset's (engine.presets), read at run time


SETTINGS: dict[str, Setting] = {
    "fast": Setting("fast mode", mode="fast"),
    "before": Setting("classic, the default before issue 25 (from the photo, 10x30, 256->512)", params=BEFORE),
    "default": Setting("classic, the engine's default now", params={}),
    # --- the proposal as it stands: before's schedule and weights, from fast mode's result
    "before-fast": Setting("classic, before's settings started from fast mode's result (init fast)",
                           params={**BEFORE, "init": "fast"}),
    # --- fast start, single scale: how many steps? (one run, scored every 20 steps)
    "fs-curve": Setting("fast start, before's weights, 512 px only, scored every 20 steps up to 200",
                        params={**BEFORE, "init": "fast", "epochs": 10, "steps_per_epoch": 20}, curve=20),
    # --- one change at a time against fs-curve (fast start, 200 steps at 512 px, scored every 40)
    "fs-colour1": Setting("fast start + palette term (color_weight 1)",
                          params={**FS, "color_weight": 1.0}, curve=40),
    "fs-colour3": Setting("fast start + palette term (color_weight 3)",
                          params={**FS, "color_weight": 3.0}, curve=40),
    # --- on top of the palette term (color_weight 3), one change at a time
    "fs-c3-c4": Setting("fast start + palette 3, content layer block4_conv2",
                        params={**FS, "color_weight": 3.0, "content_layers": ("block4_conv2",)}, curve=40),
    "fs-c3-deep": Setting("fast start + palette 3, style layers weighted 1,1,2,3,3",
                          params={**FS, "color_weight": 3.0, "style_layer_weights": (1.0, 1.0, 2.0, 3.0, 3.0)},
                          curve=40),
    "fs-c3-tv3": Setting("fast start + palette 3, smoothness x3 (tv 90)",
                         params={**FS, "color_weight": 3.0, "tv_weight": 90.0}, curve=40),
    # --- 60 steps, one change at a time against fs-curve's first 60 steps
    "s60-deep": Setting("fast start, 60 steps, style layers weighted 1,1,2,3,3 (deeper: larger motifs)",
                        params={**SHORT, "style_layer_weights": (1.0, 1.0, 2.0, 3.0, 3.0)}, curve=20),
    "s60-shallow": Setting("fast start, 60 steps, style layers weighted 3,3,2,1,1 (shallower: colour, fine strokes)",
                           params={**SHORT, "style_layer_weights": (3.0, 3.0, 2.0, 1.0, 1.0)}, curve=20),
    "s60-c4": Setting("fast start, 60 steps, content layer block4_conv2",
                      params={**SHORT, "content_layers": ("block4_conv2",)}, curve=20),
    "s60-tv3": Setting("fast start, 60 steps, smoothness x3 (tv 90)", params={**SHORT, "tv_weight": 90.0}, curve=20),
    "s60-colour1": Setting("fast start, 60 steps, palette term 1", params={**SHORT, "color_weight": 1.0}, curve=20),
    "s60-colour03": Setting("fast start, 60 steps, palette term 0.3", params={**SHORT, "color_weight": 0.3},
                            curve=20),
    "fs-sw3": Setting("fast start, style weight x3 (3e-2)", params={**FS, "style_weight": 3e-2}, curve=40),
    "fs-sw03": Setting("fast start, style weight x0.3 (3e-3)", params={**FS, "style_weight": 3e-3}, curve=40),
    "fs-c4": Setting("fast start, content layer block4_conv2", params={**FS, "content_layers": ("block4_conv2",)},
                     curve=40),
    "fs-tv3": Setting("fast start, smoothness x3 (tv 90)", params={**FS, "tv_weight": 90.0}, curve=40),
    "fs-deep": Setting("fast start, style layers weighted 1,1,2,3,3 (deeper: larger motifs)",
                       params={**FS, "style_layer_weights": (1.0, 1.0, 2.0, 3.0, 3.0)}, curve=40),
    "fs-shallow": Setting("fast start, style layers weighted 3,3,2,1,1 (shallower: colour and fine strokes)",
                          params={**FS, "style_layer_weights": (3.0, 3.0, 2.0, 1.0, 1.0)}, curve=40),
}
PRESETS = ("quick", "balanced", "high")
for _name in PRESETS:
    SETTINGS[f"{_name}"] = Setting(f"classic, preset {_name}", preset=_name)
    SETTINGS[f"fast-{_name}"] = Setting(f"fast mode, preset {_name}", mode="fast", preset=_name)
# The default's numbers and the presets' are reported on all 45 pairs except "high" (1024 px, 9 pairs).
SUBSET_ONLY = ("high",)


@dataclass(frozen=True)
class Pair:
    photo: Path
    painting: Path

    @property
    def name(self) -> str:
        return f"{self.photo.stem}+{self.painting.stem}"


def all_pairs() -> list[Pair]:
    photos = sorted((SHARED / "images").glob("*.jpg"))
    paintings = sorted((SHARED / "styles").glob("*.jpg"))
    return [Pair(p, s) for p in photos for s in paintings]


def subset(pairs: list[Pair]) -> list[Pair]:
    photos = sorted({p.photo for p in pairs})
    paintings = sorted({p.painting for p in pairs})
    return [Pair(photos[i % len(photos)], s) for i, s in enumerate(paintings)]


def holdout(pairs: list[Pair]) -> list[Pair]:
    """One pair per photo that the subset does not hold (photo i with painting i + 2): a check on
    pairs nobody tuned on, every photo once, no painting twice, none with itself."""
    photos = sorted({p.photo for p in pairs})
    paintings = sorted({p.painting for p in pairs})
    chosen = [Pair(photo, paintings[(i + 2) % len(paintings)]) for i, photo in enumerate(photos)]
    assert not {p.name for p in chosen} & {p.name for p in subset(pairs)}
    return chosen


def preset_values(name: str, mode: str) -> dict:
    """A preset's controls for a mode (engine.presets imports the Django app's models)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
    django.setup()
    from engine import presets

    return presets.values(name, mode)


def params_of(setting: Setting) -> ClassicParams | fast.FastParams:
    values = {"size": SIZE, **setting.params}
    if setting.preset:
        values.update(preset_values(setting.preset, setting.mode))
    return fast.FastParams(**values) if setting.mode == "fast" else ClassicParams(**values)


def stored(params) -> dict:
    """Params as JSON keeps them (tuples become lists), to compare with a cached row's."""
    return json.loads(json.dumps(params.to_dict()))


class Inputs:
    """Images loaded once per process, and each photo's contour lines (scored against every picture)."""

    def __init__(self, judge) -> None:
        self.judge, self._arrays, self._lines = judge, {}, {}

    def array(self, path: Path, side: int) -> np.ndarray:
        key = (path, side)
        if key not in self._arrays:
            self._arrays[key] = images.load_array(path, side)
        return self._arrays[key]

    def scores(self, picture: np.ndarray, pair: Pair) -> dict:
        """As engine.nst.quality.Judge.scores, with each photo's contour lines computed once per size."""
        picture = at_score_size(picture)
        key = (pair.photo, picture.shape)
        if key not in self._lines:
            photo = fast.resize(at_score_size(self.array(pair.photo, SIZE)), *picture.shape[:2])
            self._lines[key] = contour_lines(self.judge.edges(photo))
        wanted, wanted_way = self._lines[key]
        found, found_way = contour_lines(self.judge.edges(picture))
        contours = float(found_again(wanted, wanted_way, found, found_way).sum() / max(1, wanted.sum()))
        style = self.judge.style(picture, [self.array(pair.painting, SIZE)])
        return {"style": round(style, 4), "contours": round(contours, 4)}


def cost(params: ClassicParams, shape) -> float:
    """Steps at the full size that cost the same pixels as the run's plan."""
    full = np.prod(fit_dims(shape, params.size))
    return round(sum(steps * np.prod(fit_dims(shape, side)) / full for side, steps in plan_for(params)), 1)


def run(setting: Setting, pair: Pair, inputs: Inputs) -> tuple[dict, np.ndarray]:
    params = params_of(setting)
    photo = inputs.array(pair.photo, params.size)
    if setting.mode == "fast":
        painting = inputs.array(pair.painting, MIN_STYLE_SIDE)
        result = fast.get_fast_stylizer(MODEL_DIR).stylize(photo, [painting], params)
        return {"seconds": round(result.seconds["total"], 3), **inputs.scores(result.image, pair)}, result.image
    curve = []

    def on_epoch(report) -> None:
        if report.step < params.total_steps:
            curve.append({"step": report.step, "seconds": round(report.seconds, 2),
                          **inputs.scores(report.image, pair)})

    painting = inputs.array(pair.painting, max(params.size, MIN_STYLE_SIDE))
    result = stylize_classic(photo, [painting], params, model_dir=MODEL_DIR,
                             on_epoch=on_epoch if setting.curve else None)
    row = {"seconds": round(result.seconds, 2), "cost": cost(params, photo.shape),
           **inputs.scores(result.image, pair), "events": result.history.events}
    if curve:
        row["curve"] = [*curve, {"step": result.steps, "seconds": row["seconds"],
                                 "style": row["style"], "contours": row["contours"]}]
    return row, result.image


def cache_path(name: str) -> Path:
    return CACHE / f"{name}.json"


def load_cache(name: str) -> dict:
    path = cache_path(name)
    return json.loads(path.read_text()) if path.exists() else {}


def sweep(names: list[str], pairs: list[Pair], inputs: Inputs) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in names:
        setting = SETTINGS[name]
        wanted = stored(params_of(setting))
        (CACHE / name).mkdir(exist_ok=True)
        for pair in pairs:
            if load_cache(name).get(pair.name, {}).get("params") == wanted:
                continue
            claim = CACHE / name / f"{pair.name}.running"
            try:  # several processes may sweep one setting: each pair is run by the first to claim it
                claim.touch(exist_ok=False)
            except FileExistsError:
                continue
            try:
                row, image = run(setting, pair, inputs)
                images.save_png(image, CACHE / name / f"{pair.name}.png")  # exact: --rescore reads it back
                with open(cache_path(name).with_suffix(".lock"), "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # read, add, write: one process at a time
                    done = load_cache(name)
                    done[pair.name] = {**row, "params": wanted}
                    cache_path(name).write_text(json.dumps(done, indent=1))
            finally:
                claim.unlink(missing_ok=True)
            print(f"{name:>14} {pair.name:<52} style {row['style']:.3f} contours {row['contours']:.3f} "
                  f"{row['seconds']:.1f} s", flush=True)


def rescore(names: list[str], inputs: Inputs) -> None:
    """Scores of the cached pictures again (after a change to engine.nst.quality); curves are kept."""
    for name in names:
        rows = load_cache(name)
        for pair in all_pairs():
            if pair.name in rows:
                picture = images.load_array(CACHE / name / f"{pair.name}.png", 4096)
                rows[pair.name].update(inputs.scores(picture, pair))
        cache_path(name).write_text(json.dumps(rows, indent=1))
        print(f"rescored {name}: {len(rows)} pictures", flush=True)


def style_scale(inputs: Inputs) -> float:
    """The median distance from a photo to a painting in the style predictor's embedding, over the
    pairs of different pictures (engine.nst.quality.STYLE_SCALE). Three photos are paintings of the
    library too (at a distance below 0.5: the same picture); they do not count."""
    vector = inputs.judge.stylizer.style_vector
    distances = [float(np.linalg.norm(vector(inputs.array(p.photo, SIZE)) - vector(inputs.array(p.painting, SIZE))))
                 for p in all_pairs()]
    different = [d for d in distances if d >= 0.5]
    print(f"{len(different)} pairs of different pictures; distances {min(different):.2f}-{max(different):.2f}, "
          f"median {statistics.median(different):.3f}")
    return statistics.median(different)


# --- timing ---------------------------------------------------------------------------------------

TIMING_PAIRS = ("tubingen+starry_night_van_gogh", "golden_gate+great_wave_hokusai",
                "woman-with-hat-matisse+udnie_picabia")


def timing(inputs: Inputs) -> None:
    """Engine seconds of before and the default now on a few pairs, alternating, after a warm-up
    (models loaded, the losses traced at every size): run it under the exclusive machine lock."""
    pairs = [p for p in all_pairs() if p.name in TIMING_PAIRS]
    out: dict = {"cpu": cpu_name(), "cores": os.cpu_count(), "when": time.strftime("%Y-%m-%d"), "runs": {}}
    for name in ("before", "default"):  # warm-up: TensorFlow, VGG, the fast model, each size's trace
        params = params_of(SETTINGS[name])
        for pair in pairs:
            stylize_classic(inputs.array(pair.photo, SIZE), [inputs.array(pair.painting, SIZE)],
                            ClassicParams(**{**params.to_dict(), "epochs": 1, "steps_per_epoch": 2}),
                            model_dir=MODEL_DIR)
    for pair in pairs:
        for name in ("before", "default"):
            params = params_of(SETTINGS[name])
            result = stylize_classic(inputs.array(pair.photo, SIZE), [inputs.array(pair.painting, SIZE)], params,
                                     model_dir=MODEL_DIR)
            out["runs"].setdefault(name, {})[pair.name] = round(result.seconds, 2)
            print(f"{name:>8} {pair.name:<45} {result.seconds:.1f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "timing.json").write_text(json.dumps(out, indent=1))


# --- summaries ------------------------------------------------------------------------------------

def summary(name: str, pairs: list[Pair], reference: dict | None = None) -> dict | None:
    """Medians and quartiles of a setting over `pairs` (None unless all are cached); with `reference`
    (fast mode's rows), the share of pairs where it scores at least as high."""
    rows = load_cache(name)
    if not all(p.name in rows for p in pairs):
        return None
    got = [rows[p.name] for p in pairs]
    out: dict = {"pairs": len(got)}
    for key in ("style", "contours", "seconds", "cost"):
        values = [r[key] for r in got if key in r]
        if values:
            out[key] = (statistics.median(values), percentile(values, 25), percentile(values, 75))
    if reference is not None and all(p.name in reference for p in pairs):
        for key in ("style", "contours"):
            out[f"{key}_wins"] = sum(rows[p.name][key] >= reference[p.name][key] for p in pairs) / len(pairs)
    return out


def curve_summary(name: str, pairs: list[Pair], reference: dict) -> list[dict]:
    rows = load_cache(name)
    if not all(p.name in rows and "curve" in rows[p.name] for p in pairs):
        return []
    out = []
    for i, point in enumerate(rows[pairs[0].name]["curve"]):
        at = [rows[p.name]["curve"][i] for p in pairs]
        point = {"step": point["step"]}
        for key in ("style", "contours"):
            point[key] = statistics.median(a[key] for a in at)
            point[f"{key}_wins"] = sum(a[key] >= reference[p.name][key]
                                       for a, p in zip(at, pairs, strict=True)) / len(at)
        out.append(point)
    return out


def spread(triple) -> str:
    median, low, high = triple
    return f"{median:.3f} ({low:.3f} to {high:.3f})"


def table(names: list[str], pairs: list[Pair], reference_name: str = "fast") -> list[str]:
    reference = load_cache(reference_name)
    lines = ["| setting | pairs | style: median (quartiles) | contours: median (quartiles) | style >= fast mode | "
             "contours >= fast mode | seconds, median (niced sweep) | cost (steps at full size) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in names:
        s = summary(name, pairs, reference)
        if s is None:
            continue
        wins = (f"{s['style_wins']:.0%} | {s['contours_wins']:.0%}" if "style_wins" in s and name != reference_name
                else "- | -")
        cost_text = f"{s['cost'][0]:.0f}" if "cost" in s else "-"
        lines.append(f"| `{name}` | {s['pairs']} | {spread(s['style'])} | {spread(s['contours'])} | {wins} | "
                     f"{s['seconds'][0]:.1f} | {cost_text} |")
    return lines


def report(names: list[str], pairs: list[Pair]) -> None:
    for line in table(names, pairs):
        print(line)
    reference = load_cache("fast")
    for name in names:
        for point in curve_summary(name, pairs, reference):
            print(f"  {name} step {point['step']:>4}: style {point['style']:.3f} contours {point['contours']:.3f} "
                  f"style>=fast {point['style_wins']:.0%} contours>=fast {point['contours_wins']:.0%}")


# --- the contact sheet ----------------------------------------------------------------------------

SHEET_ROWS = (("fast", "fast mode"), ("before", "classic before"), ("default", "classic now"))
CELL = 128
LABEL = 12


def contact_sheet(path: Path = SHEET) -> None:
    """Paintings across, photos down; for each photo a row per SHEET_ROWS setting, each picture with
    its two scores (s: style, c: contours) under it."""
    from PIL import Image, ImageDraw

    pairs = all_pairs()
    photos = sorted({p.photo for p in pairs})
    paintings = sorted({p.painting for p in pairs})
    rows = {name: load_cache(name) for name, _ in SHEET_ROWS}
    if not all(p.name in rows[name] for name, _ in SHEET_ROWS for p in pairs):
        print("contact sheet: not every picture is cached yet", flush=True)
        return
    pitch = CELL + LABEL + 4
    sheet = Image.new("RGB", ((len(paintings) + 1) * (CELL + 4), (1 + len(photos) * len(SHEET_ROWS)) * pitch),
                      "white")
    draw = ImageDraw.Draw(sheet)

    def paste(image, col: int, row: int, text: str) -> None:
        image = image.convert("RGB")
        image.thumbnail((CELL, CELL), Image.LANCZOS)
        left, top = col * (CELL + 4), row * pitch
        sheet.paste(image, (left + (CELL - image.width) // 2, top + (CELL - image.height) // 2))
        draw.text((left + 2, top + CELL + 1), text, fill="black")

    for col, painting in enumerate(paintings, 1):
        paste(Image.open(painting), col, 0, painting.stem[:21])
    for block, photo in enumerate(photos):
        for k, (name, label) in enumerate(SHEET_ROWS):
            row = 1 + block * len(SHEET_ROWS) + k
            if k == 0:
                paste(Image.open(photo), 0, row, photo.stem[:21])
            else:
                draw.text((4, row * pitch + CELL // 2), label, fill="black")
            for col, painting in enumerate(paintings, 1):
                pair = Pair(photo, painting)
                scores = rows[name][pair.name]
                paste(Image.open(CACHE / name / f"{pair.name}.png"), col, row,
                      f"{label[:8]} s{scores['style']:.2f} c{scores['contours']:.2f}")
        draw.text((4, (1 + block * len(SHEET_ROWS)) * pitch + CELL + 1 + LABEL), "", fill="black")
    for quality in (85, 80, 75, 70, 60):
        sheet.save(path, quality=quality, optimize=True)
        if path.stat().st_size <= SHEET_MAX_BYTES:
            break
    print(f"wrote {path} ({path.stat().st_size // 1024} KB, quality {quality})", flush=True)


# --- docs -----------------------------------------------------------------------------------------

def docs_section(pairs: list[Pair], sub: list[Pair], verdict: str) -> str:
    """docs/benchmarks.md, "Quality": the before/now table on all pairs, every setting tried on the
    subset, the presets, the time under the lock."""
    timing_rows = json.loads((CACHE / "timing.json").read_text()) if (CACHE / "timing.json").exists() else None
    lines = [
        "## Quality",
        "",
        f"`python bench/bench_quality.py` ({time.strftime('%Y-%m-%d')}; {cpu_name()}, {os.cpu_count()} cores, no "
        "GPU; sweeps niced, beside other work). Every photo of `../shared/images` with every painting of "
        "`../shared/styles`, 45 pairs at 512 px, scored by networks the losses never use (engine.nst.quality): "
        "**style** = 1 - distance from the painting in fast mode's style-predictor embedding / 3.48 (1: the "
        "painting's style; 0: as far as a photo typically is); **contours** = share of the photo's HED contour "
        "lines found again within 2 px, running the same way. 'Style/contours >= fast mode': the share of pairs "
        "where the setting scores at least fast mode's picture of the same pair. Cost: steps at the full size "
        "(a 256 px step counts 1/4).",
        "",
        "### Before and after, all 45 pairs",
        "",
        *table(["fast", "before", "default"], pairs),
    ]
    if timing_rows:
        runs = timing_rows["runs"]
        lines += ["", f"Time under the exclusive machine lock ({timing_rows['when']}, {timing_rows['cpu']}, "
                  f"{timing_rows['cores']} cores, warm), engine seconds per pair:", "",
                  "| pair | before | now |", "|---|---|---|"]
        for pair in runs.get("before", {}):
            lines.append(f"| {pair} | {runs['before'][pair]:.1f} | {runs.get('default', {}).get(pair, 0):.1f} |")
    lines += ["", "### Every setting tried, on the tuning subset (9 pairs)", "",
              *table(list(SETTINGS), sub), ""]
    reference = load_cache("fast")
    for name, setting in SETTINGS.items():
        points = curve_summary(name, sub, reference) if setting.curve else []
        if points:
            lines.append(f"- `{name}` along its run (median style / contours, share >= fast mode): " + "; ".join(
                f"{p['step']} steps {p['style']:.3f} / {p['contours']:.3f} ({p['style_wins']:.0%} / "
                f"{p['contours_wins']:.0%})" for p in points))
    lines += ["", "Settings: " + "; ".join(f"`{n}` {s.note}" for n, s in SETTINGS.items() if not s.preset), "",
              "### Presets", "",
              *table([n for p in PRESETS for n in (f"fast-{p}", p) if p not in SUBSET_ONLY], pairs), "",
              "High (1024 px), on the tuning subset only:", "",
              *table([n for p in SUBSET_ONLY for n in (f"fast-{p}", p)], sub), "",
              f"![contact sheet]({SHEET.name}) `docs/{SHEET.name}`: paintings across; for each photo, fast mode, "
              "classic before and classic now, with their scores (s: style, c: contours).", "", verdict]
    return "\n".join(lines) + "\n"


VERDICT = "(written after looking at the contact sheet)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["fast", "before", "default"], choices=list(SETTINGS))
    parser.add_argument("--pairs", choices=("all", "subset", "holdout"), default="all")
    parser.add_argument("--presets", action="store_true", help="the presets of both modes")
    parser.add_argument("--list", action="store_true", help="the settings this bench knows")
    parser.add_argument("--report", action="store_true", help="only summarise what is cached (and write the docs)")
    parser.add_argument("--rescore", action="store_true", help="score the cached pictures again")
    parser.add_argument("--style-scale", action="store_true", help="measure engine.nst.quality.STYLE_SCALE")
    parser.add_argument("--timing", action="store_true", help="before/now engine seconds (under the lock)")
    args = parser.parse_args()
    if args.list:
        for name, setting in SETTINGS.items():
            print(f"{name:>16}  {setting.note}  {setting.params}")
        return
    pairs = all_pairs()
    sub = subset(pairs)
    chosen = {"all": pairs, "subset": sub, "holdout": holdout(pairs)}[args.pairs]
    names = args.settings if "fast" in args.settings else ["fast", *args.settings]
    if args.style_scale or args.timing:
        inputs = Inputs(get_judge(MODEL_DIR))
        style_scale(inputs) if args.style_scale else timing(inputs)
        return
    if args.rescore:
        rescore(names, Inputs(get_judge(MODEL_DIR)))
    elif args.presets:
        inputs = Inputs(get_judge(MODEL_DIR))
        for preset in PRESETS:
            sweep([f"fast-{preset}", preset], sub if preset in SUBSET_ONLY else pairs, inputs)
    elif not args.report:
        inputs = Inputs(get_judge(MODEL_DIR))
        started = time.perf_counter()
        sweep(names, chosen, inputs)
        print(f"sweep: {time.perf_counter() - started:.0f} s", flush=True)
    report(names, chosen)
    if args.report and args.pairs == "all":
        contact_sheet()
        write_section(DOCS / "benchmarks.md", "Quality", docs_section(pairs, sub, VERDICT))


if __name__ == "__main__":
    main()
