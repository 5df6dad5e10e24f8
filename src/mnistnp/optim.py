"""Optimizers over one flat parameter buffer; each owns its state and can save and restore it."""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    """Base: ``step(params, grads)`` updates ``params`` in place from ``grads`` (same shape)."""

    name = "optimizer"

    def __init__(self, lr: float) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self.lr = float(lr)

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's state as arrays, for checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned."""


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    v <- momentum * v + g;  p <- p - lr * v   (or, Nesterov: p <- p - lr * (g + momentum * v)).
    With momentum 0 this is the plain update p <- p - lr * g.
    """

    name = "sgd"

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), nesterov
        self.velocity: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        if self.momentum == 0:
            params -= self.lr * grads
            return
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        v = self.velocity
        v *= self.momentum
        v += grads
        if self.nesterov:
            params -= self.lr * (grads + self.momentum * v)
        else:
            params -= self.lr * v

    def state_dict(self) -> dict[str, np.ndarray]:
        return {} if self.velocity is None else {"velocity": self.velocity.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = state["velocity"].copy() if "velocity" in state else None


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps * sqrt(1 - b2^t)).
    The last form folds both bias corrections into one scalar (as PyTorch and Keras do).
    """

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self._tmp: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        if self.m is None or self.v is None or self._tmp is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
            self._tmp = np.empty_like(params)
        self.t += 1
        b1, b2, m, v, tmp = self.beta1, self.beta2, self.m, self.v, self._tmp
        m *= b1
        m += (1 - b1) * grads
        v *= b2
        np.multiply(grads, grads, out=tmp)
        tmp *= 1 - b2
        v += tmp
        c2 = math.sqrt(1 - b2 ** self.t)
        step = self.lr * c2 / (1 - b1 ** self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * c2
        np.divide(m, tmp, out=tmp)
        tmp *= step
        params -= tmp

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.m is None or self.v is None:
            return {}
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if not state:
            self.m = self.v = self._tmp = None
            self.t = 0
            return
        self.m, self.v = state["m"].copy(), state["v"].copy()
        self._tmp = np.empty_like(self.m)
        self.t = int(state["t"])


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


class Schedule:
    """A learning rate per iteration: ``schedule(step)`` for step 0, 1, ... total - 1."""

    name = "constant"

    def __init__(self, lr: float, total_steps: int) -> None:
        self.lr, self.total_steps = float(lr), max(int(total_steps), 1)

    def __call__(self, step: int) -> float:
        return self.lr


class Cosine(Schedule):
    """Cosine decay from ``lr`` to 0 over the run (Loshchilov and Hutter, 2017, one cycle):
    lr_t = lr * (1 + cos(pi * t / T)) / 2. Large steps early, fine ones at the end."""

    name = "cosine"

    def __call__(self, step: int) -> float:
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * step / self.total_steps))


SCHEDULES: dict[str, type[Schedule]] = {"constant": Schedule, "cosine": Cosine}
