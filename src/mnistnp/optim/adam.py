"""Adam, and AdamW with its decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..nn import threads
from .base import Optimizer, require


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps * sqrt(1 - b2^t)).
    The last form folds both bias corrections into one scalar; it equals the textbook
    p <- p - lr * m_hat / (sqrt(v_hat) + eps). ``weight_decay`` is L2 (added to g).

    Parameters
    ----------
    lr : float, default 0.001
        The learning rate, > 0.
    beta1, beta2 : float, default 0.9, 0.999
        The decay rates of the first and second moments, in [0, 1).
    eps : float, default 1e-8
        Added to the second moment's square root.
    weight_decay : float, default 0.0
        L2: adds ``weight_decay * p`` to the gradient.
    """

    name = "adam"
    switch_defaults: ClassVar[Mapping[str, Any]] = {"lr": 0.002}  # the default recipe's
    summary = "Adam, weight decay as an L2 penalty"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            require(label, beta, 0.0 <= beta < 1.0, "must be in [0, 1)")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self._tmp: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        g = self._decayed(params, grads)
        if self.m is None or self.v is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        if self._tmp is None:
            self._tmp = np.empty_like(params)
        self.t += 1
        b1, b2, m, v, tmp = self.beta1, self.beta2, self.m, self.v, self._tmp
        c2 = math.sqrt(1 - b2 ** self.t)
        eps, scale = self.eps * c2, self.lr * c2 / (1 - b1 ** self.t)

        def update(lo: int, hi: int) -> None:  # entries lo:hi, on one thread
            gs, ms, vs, ts = g[lo:hi], m[lo:hi], v[lo:hi], tmp[lo:hi]
            # m += (1 - b1) * (g - m) is b1 m + (1 - b1) g without a temporary
            np.subtract(gs, ms, out=ts)
            ts *= 1 - b1
            ms += ts
            np.multiply(gs, gs, out=ts)
            ts -= vs
            ts *= 1 - b2
            vs += ts
            np.sqrt(vs, out=ts)
            ts += eps
            np.divide(ms, ts, out=ts)
            ts *= scale
            self._decay_weights(params[lo:hi])
            params[lo:hi] -= ts

        # Every entry's update is its own: ranges of the buffer side by side, a dozen passes.
        threads.run(update, params.size, 12 * params.size)

    def _decay_weights(self, params: np.ndarray) -> None:
        """Adam's decay is in the gradient; AdamW overrides this to decay the weights."""

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.m is None or self.v is None:
            return {}
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        if not state:
            self.m = self.v = None
            self.t = 0
            return
        self.m, self.v = state["m"].copy(), state["v"].copy()
        self.t = int(state["t"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as PyTorch's AdamW.

    p <- p * (1 - lr * weight_decay), then the Adam step from the plain gradient.

    Parameters
    ----------
    lr : float, default 0.001
        The learning rate, > 0.
    beta1, beta2 : float, default 0.9, 0.999
        The decay rates of the first and second moments, in [0, 1).
    eps : float, default 1e-8
        Added to the second moment's square root.
    weight_decay : float, default 0.01
        The decoupled decay, applied to the weights before the step.
    """

    name = "adamw"
    switch_defaults: ClassVar[Mapping[str, Any]] = {"lr": 0.002}  # the default recipe's
    summary = "Adam with decoupled weight decay"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(lr, beta1, beta2, eps, weight_decay)
        self.l2 = 0.0  # so _decayed() leaves g alone: the decay is on the weights

    def _decay_weights(self, params: np.ndarray) -> None:
        if self.weight_decay:
            params *= 1.0 - self.lr * self.weight_decay
