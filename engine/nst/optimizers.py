"""Optimisers over the image's pixels, in NumPy so that their whole state is a handful of arrays
that a checkpoint can save and a resumed run restore bit for bit.

Each step takes the current image and the loss gradient there (one network evaluation, computed
by the caller) and returns the next image, clipped to the valid pixel range [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Adam:
    """Adam with the seed's settings (lr 0.02, beta_1 0.99, epsilon 0.1) and Keras' update rule,
    so the seed's recipe can be reproduced exactly."""

    lr: float = 0.02
    beta_1: float = 0.99
    beta_2: float = 0.999
    epsilon: float = 0.1
    t: int = 0
    m: np.ndarray | None = None
    v: np.ndarray | None = None

    name = "adam"

    def step(self, x: np.ndarray, grad: np.ndarray, lr_scale: float = 1.0) -> np.ndarray:
        if self.m is None:
            self.m, self.v = np.zeros_like(x), np.zeros_like(x)
        self.t += 1
        self.m = self.beta_1 * self.m + (1 - self.beta_1) * grad
        self.v = self.beta_2 * self.v + (1 - self.beta_2) * np.square(grad)
        lr_t = self.lr * lr_scale * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        return np.clip(x - lr_t * self.m / (np.sqrt(self.v) + self.epsilon), 0.0, 1.0).astype(np.float32)

    def reset(self) -> None:
        self.t, self.m, self.v = 0, None, None

    def state(self) -> dict:
        return {"t": self.t, "m": self.m, "v": self.v}

    def load_state(self, state: dict) -> None:
        self.t, self.m, self.v = int(state["t"]), state["m"], state["v"]


@dataclass
class LBFGS:
    """Limited-memory BFGS with a fixed step and no line search, as in Johnson's neural-style
    and PyTorch's default: one function/gradient evaluation per step, like Adam, but steps
    that follow the curvature, so it needs several times fewer of them.

    The first step is scaled to a unit L1 move (PyTorch's rule) because nothing is known about
    the curvature yet; afterwards the usual H0 = s.y / y.y scaling sets the step length.
    """

    lr: float = 1.0
    memory: int = 8
    s: list = field(default_factory=list)   # x_{k+1} - x_k
    y: list = field(default_factory=list)   # g_{k+1} - g_k
    prev_x: np.ndarray | None = None
    prev_g: np.ndarray | None = None

    name = "lbfgs"

    def _remember(self, x: np.ndarray, grad: np.ndarray) -> None:
        if self.prev_x is None:
            return
        s, y = (x - self.prev_x).ravel(), (grad - self.prev_g).ravel()
        if float(np.dot(s, y)) > 1e-10:  # only pairs with positive curvature keep H positive definite
            self.s.append(s)
            self.y.append(y)
            if len(self.s) > self.memory:
                self.s.pop(0)
                self.y.pop(0)

    def _direction(self, grad: np.ndarray) -> np.ndarray:
        """Two-loop recursion: -H g from the remembered pairs (Nocedal & Wright, alg. 7.4)."""
        q = -grad.ravel().astype(np.float32)
        alphas = []
        rhos = [1.0 / float(np.dot(y, s)) for s, y in zip(self.s, self.y, strict=True)]
        for s, y, rho in reversed(list(zip(self.s, self.y, rhos, strict=True))):
            a = rho * float(np.dot(s, q))
            q -= a * y
            alphas.append(a)
        if self.s:
            q *= float(np.dot(self.s[-1], self.y[-1])) / float(np.dot(self.y[-1], self.y[-1]))
        for (s, y, rho), a in zip(zip(self.s, self.y, rhos, strict=True), reversed(alphas), strict=True):
            b = rho * float(np.dot(y, q))
            q += (a - b) * s
        return q.reshape(grad.shape)

    def step(self, x: np.ndarray, grad: np.ndarray, lr_scale: float = 1.0) -> np.ndarray:
        self._remember(x, grad)
        direction = self._direction(grad)
        t = self.lr * lr_scale
        if not self.s:
            t *= min(1.0, 1.0 / max(float(np.abs(grad).sum()), 1e-12))
        self.prev_x, self.prev_g = x, grad
        return np.clip(x + t * direction, 0.0, 1.0).astype(np.float32)

    def reset(self) -> None:
        self.s, self.y, self.prev_x, self.prev_g = [], [], None, None

    def state(self) -> dict:
        return {
            "s": np.stack(self.s) if self.s else None,
            "y": np.stack(self.y) if self.y else None,
            "prev_x": self.prev_x,
            "prev_g": self.prev_g,
        }

    def load_state(self, state: dict) -> None:
        self.s = list(state["s"]) if state.get("s") is not None else []
        self.y = list(state["y"]) if state.get("y") is not None else []
        self.prev_x, self.prev_g = state.get("prev_x"), state.get("prev_g")


OPTIMIZERS = {"lbfgs": LBFGS, "adam": Adam}


def make_optimizer(name: str, lr: float | None):
    cls = OPTIMIZERS[name]
    return cls() if lr is None else cls(lr=lr)
