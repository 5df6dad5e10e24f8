"""Optimizers over one flat parameter buffer, and learning-rate schedules.

Each optimizer owns its state (velocity, moments, step count) and can save and restore it.
``step(params, grads)`` updates ``params`` in place and never writes to ``grads``. A schedule
is a callback of the fit loop and the one writer of ``optimizer.lr`` during training.
"""

from __future__ import annotations

import math

import numpy as np

from .callbacks import Callback
from .loop_state import TrainContext
from .nn import threads


class Optimizer:
    """Base: a learning rate and optional L2 weight decay (adds ``weight_decay * p`` to g)."""

    name = "optimizer"

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight decay must be a number >= 0, got {weight_decay!r}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self._g: np.ndarray | None = None  # scratch for the decayed gradient

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    def _decayed(self, params: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """g + weight_decay * p (L2 regularisation), in a scratch buffer; g itself if no decay."""
        if not self.weight_decay:
            return grads
        if self._g is None:
            self._g = np.empty_like(grads)
        np.multiply(params, self.weight_decay, out=self._g)
        self._g += grads
        return self._g

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's state as arrays, for checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned."""


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as PyTorch defines them:

    v <- momentum * v + g;  p <- p - lr * v   (Nesterov: p <- p - lr * (g + momentum * v)).
    With momentum 0 this is the plain update p <- p - lr * g.
    """

    name = "sgd"

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), nesterov
        self.velocity: np.ndarray | None = None
        self._tmp: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        g = self._decayed(params, grads)
        if self._tmp is None:
            self._tmp = np.empty_like(params)
        if self.momentum and self.velocity is None:
            self.velocity = np.zeros_like(params)
        tmp, v = self._tmp, self.velocity

        def update(lo: int, hi: int) -> None:  # entries lo:hi, on one thread
            gs, ts = g[lo:hi], tmp[lo:hi]
            if v is None:
                np.multiply(gs, self.lr, out=ts)
            else:
                vs = v[lo:hi]
                vs *= self.momentum
                vs += gs
                if self.nesterov:
                    np.multiply(vs, self.momentum, out=ts)
                    ts += gs
                    ts *= self.lr
                else:
                    np.multiply(vs, self.lr, out=ts)
            params[lo:hi] -= ts

        # Every entry's update is its own: ranges of the buffer side by side.
        threads.run(update, params.size, 5 * params.size)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {} if self.velocity is None else {"velocity": self.velocity.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = state["velocity"].copy() if "velocity" in state else None


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps * sqrt(1 - b2^t)).
    The last form folds both bias corrections into one scalar; it equals the textbook
    p <- p - lr * m_hat / (sqrt(v_hat) + eps). ``weight_decay`` is L2 (added to g).
    """

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{label} must be in [0, 1), got {beta!r}")
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
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), as PyTorch's AdamW:

    p <- p * (1 - lr * weight_decay), then the Adam step from the plain gradient.
    """

    name = "adamw"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(lr, beta1, beta2, eps, weight_decay)
        self.decoupled = self.weight_decay
        self.weight_decay = 0.0  # so _decayed() leaves g alone

    def _decay_weights(self, params: np.ndarray) -> None:
        if self.decoupled:
            params *= 1.0 - self.lr * self.decoupled


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW}


# ---- learning-rate schedules: lr per iteration, some adapting at epoch ends ----


class Schedule(Callback):
    """Constant: ``schedule(step)`` is the learning rate for step 0, 1, ..., total_steps - 1.

    Given to the fit loop among its callbacks, a schedule owns the rate: before every step it
    sets ``optimizer.lr`` to ``schedule(steps done)``, and nothing else writes it, so the
    optimizer's own ``lr`` only holds until the first step. The step count is the run's
    (History's), so a resumed run continues the schedule where it stood.
    """

    name = "constant"

    def __init__(self, lr: float, total_steps: int) -> None:
        self.lr, self.total_steps = float(lr), max(int(total_steps), 1)

    def __call__(self, step: int) -> float:
        return self.lr

    def on_batch_begin(self, ctx: TrainContext) -> None:
        ctx.optimizer.lr = self(ctx.state.history.iterations)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self.epoch_end(ctx.history.epoch_val_loss[-1] if ctx.validation is not None else None)

    def epoch_end(self, val_loss: float | None) -> None:
        """Told each epoch's validation loss (None without validation); plateau uses it."""

    def state_dict(self) -> dict[str, float]:
        return {}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore what ``state_dict`` returned."""


class Cosine(Schedule):
    """Linear warmup from lr / warmup to lr over ``warmup`` steps, then cosine decay to 0
    (Loshchilov and Hutter, 2017): lr_t = lr * (1 + cos(pi * s / S)) / 2 over the S steps left.
    Warmup keeps Adam's first, poorly estimated steps small; the decay lets the end settle."""

    name = "cosine"

    def __init__(self, lr: float, total_steps: int, warmup: int = 0) -> None:
        super().__init__(lr, total_steps)
        self.warmup = max(0, min(int(warmup), self.total_steps - 1))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = self.total_steps - self.warmup
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * (step - self.warmup) / span))


class StepDecay(Schedule):
    """lr * gamma ** (step // step_size): drop by ``gamma`` every ``step_size`` steps."""

    name = "step"

    def __init__(self, lr: float, total_steps: int, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(lr, total_steps)
        if step_size < 1 or not 0 < gamma <= 1:
            raise ValueError(f"step decay needs step_size >= 1 and 0 < gamma <= 1, got "
                             f"{step_size!r}, {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` when the validation loss has not improved (by more than
    ``threshold``, relative) for ``patience`` epochs, as Keras' and PyTorch's ReduceLROnPlateau."""

    name = "plateau"

    def __init__(self, lr: float, total_steps: int, factor: float = 0.1, patience: int = 2,
                 threshold: float = 1e-4, min_lr: float = 0.0) -> None:
        super().__init__(lr, total_steps)
        if not 0 < factor < 1 or patience < 0:
            raise ValueError(f"plateau needs 0 < factor < 1 and patience >= 0, got "
                             f"{factor!r}, {patience!r}")
        self.factor, self.patience = float(factor), int(patience)
        self.threshold, self.min_lr = float(threshold), float(min_lr)
        self.current, self.best, self.bad_epochs = self.lr, math.inf, 0

    def __call__(self, step: int) -> float:
        return self.current

    def epoch_end(self, val_loss: float | None) -> None:
        if val_loss is None:
            return
        if val_loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.current = max(self.current * self.factor, self.min_lr)
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, float]:
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.current, self.best = float(state["current"]), float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Schedule, Cosine, StepDecay, ReduceOnPlateau)}
