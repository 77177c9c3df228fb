"""Classic mode: Gatys et al. (2015) image optimisation, made fast.

The result's pixels are optimised so its VGG features match the content photo (content
loss), its Gram matrices match the style image(s) (style loss), and it stays smooth (total
variation). Against the seed's recipe (Adam, one scale, float32) this engine
  - uses L-BFGS by default: one evaluation per step like Adam, but far fewer steps;
  - optimises coarse-to-fine: most steps at 1/4 and 1/2 scale, where they cost 1/16 and 1/4;
  - runs the network's convolutions in bfloat16 where the CPU has it (losses stay float32);
  - stops the network at the deepest layer a loss uses.
The user's epochs and steps mean what the UI says: epochs x steps_per_epoch steps in all,
a preview after each epoch.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from engine.nst import classic_memory, color, schema
from engine.nst.checkpoint import Checkpoint, inputs_digest
from engine.nst.classic_params import ClassicParams, normalised
from engine.nst.device import describe_device, memory_available, resolve_precision
from engine.nst.errors import ImageError, ModelFileError, ParameterError, Stopped
from engine.nst.history import LossHistory, LossRow
from engine.nst.images import to_uint8
from engine.nst.optimizers import make_optimizer
from engine.nst.vgg import FeatureNet, features, get_feature_net

# The weights the user sets are relative to these, so the seed's default weights
# (content 1e4, style 1e-2, TV 30) give a balanced picture on the normalised terms.
CONTENT_UNIT, STYLE_UNIT, TV_UNIT = 1e4, 1e-2, 30.0
STYLE_GAIN = 3.0    # relative Gram errors run ~3x smaller than content errors at a good balance
TV_GAIN = 1.0

# Gram targets of named styles (a platform's library paintings, `style_keys`), per style, scale,
# network and precision: a few MB each, so a bounded cache; a library painting's targets are then
# computed once per process and scale instead of once per job.
GRAM_CACHE_ENTRIES = 32
_gram_cache: OrderedDict[tuple, dict] = OrderedDict()
_gram_lock = threading.Lock()
MIN_COARSE_SIDE = 256      # below this block5 sees a handful of positions: the content would dissolve
MAX_ROLLBACKS = 5          # roll-backs (NaN/inf, loss jumps) before the run stops with its last good image
# A step that multiplies the loss by this much diverged: L-BFGS takes fixed steps without a line
# search, and one bad curvature pair (a tiny first step whose gradient change is bfloat16 rounding
# more than curvature) can send it from 1.6 to 480 in two steps, after which it settles on a smear
# (2 of the quality bench's first 40 fast-start runs, docs/benchmarks.md "Quality").
LOSS_JUMP = 1.5
_LEVEL_SHARES = {1: (1.0,), 2: (0.6, 0.4), 3: (0.5, 0.3, 0.2)}
# Said in the run's history when a fast start (init="fast") had to start from the photo: the
# machine lacks fast mode's model files. The run goes on (a worker without them still paints).
FAST_START_FALLBACK = ("Started from the photo instead of fast mode's result: fast mode's model files are not "
                       "installed where this ran (manage.py fetch_models installs them).")


@dataclass
class StepReport:
    step: int
    total_steps: int
    epoch: int
    epochs: int
    row: LossRow


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    step: int
    total_steps: int
    scale: int                 # longest side the image currently has
    image: np.ndarray          # uint8 preview, at the current scale
    history: LossHistory
    seconds: float             # elapsed optimisation time
    eta_seconds: float         # estimate for the remaining steps
    make_checkpoint: Callable[[], Checkpoint] = field(repr=False)

    def checkpoint(self) -> Checkpoint:
        """The full state after this epoch (built on demand: it copies the optimiser state)."""
        return self.make_checkpoint()


@dataclass
class ClassicResult:
    image: np.ndarray          # uint8 [H, W, 3]
    history: LossHistory
    params: ClassicParams
    network: str
    device: str
    precision: str
    steps: int
    seconds: float

    @property
    def started_from(self) -> str:
        """The start the run really had: params.init, or "content" where a fast start fell back."""
        return "content" if FAST_START_FALLBACK in self.history.events else self.params.init


def scale_plan(size: int, total_steps: int, multiscale: bool) -> list[tuple[int, int]]:
    """[(longest side, steps), ...] from coarse to fine; the steps add up to total_steps."""
    sides = [size]
    while multiscale and len(sides) < 3 and sides[0] // 2 >= MIN_COARSE_SIDE:
        sides.insert(0, sides[0] // 2)
    while len(sides) > max(1, total_steps):  # each level needs a step
        sides.pop(0)
    shares = _LEVEL_SHARES[len(sides)]
    steps = [int(total_steps * s) for s in shares[:-1]]
    steps.append(total_steps - sum(steps))
    return list(zip(sides, steps, strict=True))


def plan_for(params: ClassicParams) -> list[tuple[int, int]]:
    """The run's scale plan. A fast start begins at the final size: coarse-to-fine exists to get the
    large-scale picture cheaply, and fast mode's result already is one; refining it at a coarse level
    first only blurs its strokes and reached the default run's objective later (docs/benchmarks.md,
    "Fast start")."""
    return scale_plan(params.size, params.total_steps, params.multiscale and params.init != "fast")


def fit_dims(shape: Sequence[int], side: int) -> tuple[int, int]:
    h, w = shape[0], shape[1]
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(image: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    if image.shape[:2] == dims:
        return image.astype(np.float32)
    out = tf.image.resize(image[None], dims, method="bilinear", antialias=True)[0]
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)



@lru_cache(maxsize=8)
def _loss_and_grad_fn(net: FeatureNet, content_layers: tuple, style_layers: tuple, precision: str,
                      colour: bool = False):
    """One tf.function per (network, layers, precision, colour term or not), shared by every run in
    the process: targets and weights are arguments, so a second job of the same size reuses the trace."""
    import tensorflow as tf

    from engine.nst.losses import colour_loss, content_loss, style_loss, total_variation

    wanted = tuple(dict.fromkeys(content_layers + style_layers))

    @tf.function  # traced once per image size; a later job of the same size reuses the trace
    def loss_and_grad(x, content_targets, style_grams, layer_weights, weights, colour_target, colour_weight):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = features(net, x, wanted, precision)
            style = style_loss(feats, style_grams, layer_weights)
            if colour:  # the palette is part of the painting's style: weighed with it
                style = style + colour_weight * colour_loss(x[0], colour_target)
            terms = tf.stack([content_loss(feats, content_targets), style, total_variation(x)]) * weights
            total = tf.reduce_sum(terms)
        return total, terms, tape.gradient(total, x)

    return loss_and_grad


class _Level:
    """Everything that depends on the current scale: image size, targets, preview content."""

    def __init__(self, run: _ClassicRun, index: int):
        import tensorflow as tf

        p = run.params
        self.index, (self.side, self.steps) = index, run.plan[index]
        self.dims = fit_dims(run.content.shape, self.side)
        self.content = resize(run.content, self.dims)          # for colour preservation
        net_content = resize(run.net_content, self.dims)
        feats = features(run.net, tf.constant(net_content[None]), p.content_layers, run.precision)
        self.content_targets = {n: feats[n] for n in p.content_layers}
        self.style_grams = run.style_targets(self.side)
        self.colour_target = run.colour_target(self.dims)
        self.net_content = net_content


def style_grams(net: FeatureNet, style: np.ndarray, side: int, layers: tuple, precision: str) -> dict:
    """The Gram matrices of one style image at longest side `side`, per style layer."""
    import tensorflow as tf

    from engine.nst.losses import gram_matrix

    s = resize(style, fit_dims(style.shape, side))
    feats = features(net, tf.constant(s[None]), layers, precision)
    return {name: gram_matrix(feats[name]) for name in layers}


def _named_style_grams(key: str, net: FeatureNet, style: np.ndarray, side: int, layers: tuple,
                       precision: str) -> dict:
    """style_grams of a named style, from the process's cache when it has them."""
    entry = (key, style.shape, side, net.name, tuple(layers), precision)
    with _gram_lock:
        if entry in _gram_cache:
            _gram_cache.move_to_end(entry)
            return _gram_cache[entry]
    grams = style_grams(net, style, side, layers, precision)
    with _gram_lock:
        _gram_cache[entry] = grams
        while len(_gram_cache) > GRAM_CACHE_ENTRIES:
            _gram_cache.popitem(last=False)
    return grams


class _ClassicRun:
    def __init__(self, content, styles, params: ClassicParams, net: FeatureNet, precision: str,
                 on_step, on_epoch, should_stop, model_dir=None, style_keys=None):
        self.params, self.net, self.precision, self.model_dir = params, net, precision, model_dir
        self.on_step, self.on_epoch, self.should_stop = on_step, on_epoch, should_stop
        self.content = resize(content, fit_dims(content.shape, params.size))
        self.styles = [s.astype(np.float32) for s in styles]
        self.digest = inputs_digest(content, styles)
        # Named styles' Gram targets are cached (style_grams) unless they depend on the content.
        self.style_keys = list(style_keys or [None] * len(styles))
        if params.preserve_colors:  # luminance-only transfer
            self.net_content = color.luminance_as_rgb(self.content)
            self.net_styles = [color.match_luminance(s, self.content) for s in self.styles]
            self.style_keys = [None] * len(styles)
        else:
            self.net_content, self.net_styles = self.content, self.styles
        self.style_mix = normalised(params.style_weights, len(styles))
        n_layers = len(params.style_layers)
        self.layer_weights = dict(
            zip(params.style_layers, normalised(params.style_layer_weights, n_layers), strict=True)
        )
        self.plan = plan_for(params)
        # A luminance-only transfer keeps the photo's colours: no palette to take on.
        self.colour = params.color_weight > 0 and not params.preserve_colors
        self.loss_and_grad = _loss_and_grad_fn(net, params.content_layers, params.style_layers, precision,
                                               self.colour)
        self.weights = np.array([
            params.content_weight / CONTENT_UNIT,
            params.style_weight / STYLE_UNIT * STYLE_GAIN,
            params.tv_weight / TV_UNIT * TV_GAIN,
        ], np.float32)
        self.optimizer = make_optimizer(params.optimizer, params.learning_rate)
        self.history = LossHistory()
        self.step, self.lr_scale, self.rollbacks, self.elapsed = 0, 1.0, 0, 0.0
        self.step_seconds: list[float] = []

    # --- targets and levels -------------------------------------------------------------
    def style_targets(self, side: int) -> dict:
        """Gram targets at this scale, the styles mixed by weight. Mixing the Gram matrices is
        what the sum of per-style losses converges to, for a single loss's cost."""
        layers = tuple(self.params.style_layers)
        mixed = {}
        for style, share, key in zip(self.net_styles, self.style_mix, self.style_keys, strict=True):
            if share == 0:
                continue
            grams = (style_grams(self.net, style, side, layers, self.precision) if key is None
                     else _named_style_grams(key, self.net, style, side, layers, self.precision))
            for name in layers:
                g = share * grams[name]
                mixed[name] = g if name not in mixed else mixed[name] + g
        return mixed

    def colour_target(self, dims: tuple[int, int]) -> np.ndarray:
        """The styles' sorted colour projections (losses.colour_loss), resampled to a result of `dims`
        pixels; several styles mixed by weight (the average of sorted values is the distribution
        halfway between, in the sense of optimal transport). Empty without a colour term."""
        from engine.nst.losses import COLOUR_DIRECTIONS

        directions = np.asarray(COLOUR_DIRECTIONS, np.float32)
        if not self.colour:
            return np.zeros((0, len(directions)), np.float32)
        n = dims[0] * dims[1]
        mixed = np.zeros((n, len(directions)), np.float32)
        for style, share in zip(self.net_styles, self.style_mix, strict=True):
            values = np.sort(style.reshape(-1, 3) @ directions.T, axis=0)
            where = np.linspace(0.0, 1.0, n)
            ranks = np.linspace(0.0, 1.0, len(values))
            mixed += share * np.stack([np.interp(where, ranks, values[:, k]) for k in range(len(directions))], 1)
        return mixed

    def level_of(self, step: int) -> int:
        done = 0
        for i, (_, steps) in enumerate(self.plan):
            done += steps
            if step < done:
                return i
        return len(self.plan) - 1

    def initial_image(self, level: _Level) -> np.ndarray:
        p = self.params
        if p.init == "content":
            return level.net_content.copy()
        if p.init == "fast":
            return self.fast_start(level)
        noise = np.random.default_rng(p.seed).uniform(0.0, 1.0, level.net_content.shape).astype(np.float32)
        if p.init == "noise":
            return noise
        return ((1 - p.init_noise) * level.net_content + p.init_noise * noise).astype(np.float32)

    def fast_start(self, level: _Level) -> np.ndarray:
        """The fast model's result for the same pair, at the run's final size (resized to this level
        if the plan has coarser ones): the optimisation refines a stylised picture instead of painting
        the style onto the photo from scratch. Its time counts as the run's (warm: 0.1 s at 512 px).
        Without fast mode's model files it starts from the photo and says so (FAST_START_FALLBACK);
        the plan stays the fast start's, so the run takes the time it was estimated to take."""
        from engine.nst import model_files
        from engine.nst.fast import FastParams, get_fast_stylizer

        started = time.perf_counter()
        try:
            stylizer = get_fast_stylizer(self.model_dir or model_files.default_model_dir())
        except ModelFileError:
            self.history.events.append(FAST_START_FALLBACK)
            return level.net_content.copy()
        # Classic mode goes down to 32 px, fast mode's transformer to 64: a smaller run takes fast
        # mode's smallest picture, resized to the level below like any other.
        smallest, _ = schema.CONTROLS["size"].engine_bounds(schema.FAST)
        fast = FastParams(size=max(self.params.size, smallest), style_weights=tuple(self.style_mix))
        image = stylizer.stylize(self.net_content, self.net_styles, fast).image.astype(np.float32) / 255.0
        self.elapsed += time.perf_counter() - started
        return resize(image, level.dims)

    # --- the loop -----------------------------------------------------------------------
    def execute(self, resume: Checkpoint | None) -> np.ndarray:
        if resume is None:
            self.level = _Level(self, 0)
            self.x = self.initial_image(self.level)
        else:
            self.restore(resume)
        self.last_good = self.x
        total = self.params.total_steps
        while self.step < total:
            if self.should_stop is not None and self.should_stop():
                raise self.stopped()
            if self.level_of(self.step) != self.level.index:
                self.next_level()
            if not self.one_step():
                break
        return self.last_good if not np.isfinite(self.x).all() else self.x

    def one_step(self) -> bool:
        """Evaluate, record, update. False when the run must stop early."""
        import tensorflow as tf

        started = time.perf_counter()
        lv = self.level
        total, terms, grad = self.loss_and_grad(
            tf.constant(self.x[None]), lv.content_targets, lv.style_grams, self.layer_weights, self.weights,
            lv.colour_target, np.float32(self.params.color_weight),
        )
        total, terms, grad = float(total), terms.numpy(), grad.numpy()[0]
        if not (np.isfinite(total) and np.isfinite(grad).all()):
            return self.roll_back("the loss or its gradient was not a finite number")
        previous = self.history.rows[-1] if self.history.rows else None
        if previous is not None and previous.scale == self.level.side and total > LOSS_JUMP * previous.total:
            return self.roll_back(f"the loss jumped from {previous.total:.4g} to {total:.4g}", halve=False)
        self.last_good = self.x
        new_x = self.optimizer.step(self.x, grad, self.lr_scale)
        if not np.isfinite(new_x).all():
            return self.roll_back("the optimiser produced non-finite pixels")
        self.x = new_x
        self.step += 1
        spent = time.perf_counter() - started
        self.elapsed += spent
        self.step_seconds = (self.step_seconds + [spent])[-10:]
        self.record(total, terms)
        return True

    def record(self, total: float, terms: np.ndarray) -> None:
        p = self.params
        epoch = (self.step - 1) // p.steps_per_epoch + 1
        row = LossRow(self.step, epoch, self.level.side, float(terms[0]), float(terms[1]), float(terms[2]),
                      total, round(self.elapsed, 4))
        self.history.append(row)
        if self.on_step is not None:
            self.on_step(StepReport(self.step, p.total_steps, epoch, p.epochs, row))
        if self.step % p.steps_per_epoch == 0 and self.on_epoch is not None:
            self.on_epoch(EpochReport(
                epoch, p.epochs, self.step, p.total_steps, self.level.side, to_uint8(self.display_image()),
                self.history, self.elapsed, self.eta(), self.checkpoint,
            ))

    def roll_back(self, reason: str, halve: bool = True) -> bool:
        """Black images in the seed came from NaNs propagating into the pixels. Go back to the
        last image whose loss was finite, forget the optimiser's (poisoned) memory, halve the
        step size and go on; after MAX_ROLLBACKS, stop and keep the last good image. After a loss
        jump (halve=False) the step size stays: the bad step came from the memory, not from it."""
        self.rollbacks += 1
        self.x = self.last_good
        self.optimizer.reset()
        self.lr_scale *= 0.5 if halve else 1.0
        what = "halved the step size" if halve else "forgot the optimiser's memory"
        self.history.events.append(f"Step {self.step + 1}: {reason}; rolled back to the last good image and {what}.")
        if self.rollbacks > MAX_ROLLBACKS:
            self.history.events.append(
                f"Stopped after step {self.step}: repeated numerical failures. The result is the last good image."
            )
            return False
        return True

    def next_level(self) -> None:
        """Upsample the current image as the start of the next, finer level."""
        index = self.level.index + 1
        self.level = _Level(self, index)
        self.x = resize(self.x, self.level.dims)
        self.last_good = self.x
        self.optimizer.reset()  # its memory is of vectors of the old size

    def display_image(self) -> np.ndarray:
        if self.params.preserve_colors:
            return color.keep_content_colors(self.x, self.level.content)
        return self.x

    def eta(self) -> float:
        """Remaining steps, each costed from recent step times scaled by its level's pixels."""
        if not self.step_seconds:
            return 0.0
        per_pixel = float(np.median(self.step_seconds)) / (self.level.dims[0] * self.level.dims[1])
        remaining, done = 0.0, 0
        for side, steps in self.plan:
            h, w = fit_dims(self.content.shape, side)
            todo = max(0, min(steps, done + steps - self.step))
            remaining += todo * per_pixel * h * w
            done += steps
        return remaining

    # --- checkpoints --------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.optimizer.state().items()}
        return Checkpoint(
            params=self.params.to_dict(), inputs_digest=self.digest, step=self.step,
            level=self.level.index, image=self.x.copy(), optimizer=state, lr_scale=self.lr_scale,
            history=self.history.to_dict(), elapsed=self.elapsed,
        )

    def restore(self, ck: Checkpoint) -> None:
        if ClassicParams.from_dict(ck.params) != self.params:
            raise ParameterError("The checkpoint was made with other parameters; resume with the same ones.")
        if ck.inputs_digest != self.digest:
            raise ParameterError("The checkpoint was made with other images; resume with the same ones.")
        self.level = _Level(self, ck.level)
        self.x = ck.image.astype(np.float32)
        self.optimizer.load_state(ck.optimizer)
        self.step, self.lr_scale, self.elapsed = ck.step, ck.lr_scale, ck.elapsed
        self.history = LossHistory.from_dict(ck.history)

    def stopped(self) -> Stopped:
        return Stopped(f"Stopped after step {self.step} of {self.params.total_steps}.", self.checkpoint())


@dataclass
class Objective:
    """The engine's objective for given images and params at the final size, single scale:
    what benchmarks compare different optimisation recipes on."""

    dims: tuple[int, int]
    content: np.ndarray               # the content at that size (a natural starting image)
    loss_and_grad: Callable
    targets: tuple  # (content_targets, style_grams, layer_weights, weights, colour_target, colour_weight)

    def __call__(self, x: np.ndarray):
        """(total, [content, style, tv] terms, gradient) at image x [H, W, 3]."""
        import tensorflow as tf

        total, terms, grad = self.loss_and_grad(tf.constant(x[None]), *self.targets)
        return float(total), terms.numpy(), grad.numpy()[0]


def objective(content: np.ndarray, styles: Sequence[np.ndarray], params: ClassicParams | None = None,
              *, precision: str = "float32", model_dir=None) -> Objective:
    from dataclasses import replace

    params = replace(params or ClassicParams(), multiscale=False, precision=precision)
    params.validate(len(styles))
    net = get_feature_net(params.network, model_dir)
    run = _ClassicRun(content, styles, params, net, precision, None, None, None, model_dir)
    level = _Level(run, 0)
    return Objective(level.dims, run.content, run.loss_and_grad,
                     (level.content_targets, level.style_grams, run.layer_weights, run.weights,
                      level.colour_target, np.float32(params.color_weight)))


def _check_image(name: str, image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ImageError(f"The {name} must be an RGB image array of shape (H, W, 3), got {image.shape}.")
    if not np.isfinite(image).all():
        raise ImageError(f"The {name} contains non-finite values.")


def stylize_classic(
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    params: ClassicParams | None = None,
    *,
    model_dir=None,
    on_step: Callable[[StepReport], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: Checkpoint | None = None,
    memory_limit: int | None = None,
    style_keys: Sequence[str | None] | None = None,
) -> ClassicResult:
    """Paint `content` in the style of `styles` (RGB float arrays in [0, 1], any size; the
    content is resized to params.size on its longest side).

    on_step gets every step's losses (keep it cheap); on_epoch gets a preview, the history,
    an ETA and a checkpoint factory; should_stop is polled before every step and ends the
    run with Stopped (carrying a checkpoint). resume_from continues a checkpointed run.

    A run that would not fit in memory (memory_limit bytes; default: what this process can have,
    device.memory_available) is refused before any work with ResourceError, naming the size that fits.

    style_keys names styles (one name or None per style image) whose Gram targets the process may
    keep and reuse: the same name must always mean the same image (a platform's library painting).
    """
    params = params or ClassicParams()
    params.validate(len(styles))
    _check_image("content image", content)
    for i, style in enumerate(styles, 1):
        _check_image(f"style image {i}", style)
    precision = resolve_precision(params.precision)
    available = memory_limit if memory_limit is not None else memory_available()
    classic_memory.check(params.size, content.shape, precision, available)
    net = get_feature_net(params.network, model_dir)
    net.check_layers(tuple(params.content_layers) + tuple(params.style_layers))
    run = _ClassicRun(content, styles, params, net, precision, on_step, on_epoch, should_stop, model_dir,
                      style_keys)
    final = run.execute(resume_from)
    if params.preserve_colors:
        final = color.keep_content_colors(final, run.level.content)
    return ClassicResult(
        image=to_uint8(final), history=run.history, params=params, network=params.network,
        device=describe_device(), precision=precision, steps=run.step, seconds=run.elapsed,
    )
