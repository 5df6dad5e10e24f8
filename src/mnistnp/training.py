"""The fit loop (mini-batch or full-batch gradient descent) and the History it returns."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .errors import TrainingError
from .nn import Sequential, softmax_cross_entropy
from .optim import Optimizer, Schedule

# Rows per forward/backward pass: a larger batch (the notebook's full batch of 60,000) is
# processed in chunks whose gradients add up to the batch's, so no float copy of the whole
# set is ever made and the working set stays in cache-friendly sizes.
MAX_CHUNK = 8192


@dataclass
class History:
    """The training record: the cost of every iteration and a summary of every epoch."""

    costs: list[float] = field(default_factory=list)  # one per iteration (batch mean)
    epoch_loss: list[float] = field(default_factory=list)  # mean batch cost per epoch
    epoch_end: list[int] = field(default_factory=list)  # iterations done when each epoch ended
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_samples_per_s: list[float] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        return len(self.costs)

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray | slice]:
    """Index sets for one epoch: a fresh permutation cut into batches of ``batch_size``.

    A batch as large as the set is one slice in order (the full-batch gradient does not depend
    on order), so it costs no gather at all.
    """
    if batch_size >= n:
        yield slice(0, n)
        return
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _chunks(batch: np.ndarray | slice, n: int) -> list[np.ndarray | slice]:
    if isinstance(batch, slice):
        start, stop, _ = batch.indices(n)
        return [slice(i, min(i + MAX_CHUNK, stop)) for i in range(start, stop, MAX_CHUNK)]
    return [batch[i:i + MAX_CHUNK] for i in range(0, len(batch), MAX_CHUNK)]


def train_step(model: Sequential, x: np.ndarray, y: np.ndarray,
               batch: np.ndarray | slice, optimizer: Optimizer) -> float:
    """One gradient-descent step on ``batch``; returns the batch's mean cost before the step."""
    chunks = _chunks(batch, len(x))
    size = sum(len(y[c]) for c in chunks)
    loss = 0.0
    total = None if len(chunks) == 1 else np.zeros_like(model.grads)
    for chunk in chunks:
        logits = model.forward(x[chunk], training=True)
        part, grad = softmax_cross_entropy(logits, y[chunk], scale=1.0 / size)
        model.backward(grad)
        loss += part
        if total is not None:
            total += model.grads
    optimizer.step(model.params, model.grads if total is None else total)
    return loss


def fit(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    optimizer: Optimizer,
    *,
    rng: np.random.Generator,
    epochs: int | None = None,
    iterations: int | None = None,
    batch_size: int | None = 128,
    schedule: Schedule | None = None,
    log_every: int = 0,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` on images ``x`` (n_samples, ...) and labels ``y`` (n_samples,).

    Runs ``iterations`` steps if given, else ``epochs`` passes. ``batch_size=None`` (or any size
    >= n_samples) is full-batch gradient descent. Every ``log_every`` iterations (or, if 0, every
    epoch) one plain line goes to ``log``. ``schedule`` sets the optimizer's learning rate
    before every step (default: the optimizer's own, constant). ``progress=None`` shows a
    tqdm bar on a terminal only.
    Raises TrainingError if the cost becomes non-finite.
    """
    n = len(x)
    batch_size = n if batch_size is None else min(batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    if iterations is None:
        iterations = (epochs or 1) * steps_per_epoch
    n_epochs = math.ceil(iterations / steps_per_epoch)
    history = History()
    bar = tqdm(total=iterations, disable=True if progress is False else None,
               unit="it", leave=False, dynamic_ncols=True)

    def emit(line: str) -> None:
        if log is not None:
            with bar.external_write_mode():  # keeps the bar intact below the lines
                log(line)

    try:
        for epoch in range(1, n_epochs + 1):
            start, first = time.perf_counter(), history.iterations
            for batch in batches(n, batch_size, rng):
                if history.iterations == iterations:
                    break
                if schedule is not None:
                    optimizer.lr = schedule(history.iterations)
                cost = train_step(model, x, y, batch, optimizer)
                if not math.isfinite(cost):
                    raise TrainingError(
                        f"the cost became {cost} at epoch {epoch}, iteration "
                        f"{history.iterations + 1}; try a lower learning rate (--lr)")
                history.costs.append(cost)
                bar.update()
                if log_every and history.iterations % log_every == 0:
                    window = history.costs[-log_every:]
                    emit(f"iteration {history.iterations}: cost {np.mean(window):.4f}")
            seconds = time.perf_counter() - start
            done = history.costs[first:]
            history.epoch_loss.append(float(np.mean(done)))
            history.epoch_end.append(history.iterations)
            history.epoch_seconds.append(seconds)
            seen = min(len(done) * batch_size, n)
            history.epoch_samples_per_s.append(seen / seconds if seconds > 0 else float("inf"))
            if not log_every:
                emit(f"epoch {epoch}/{n_epochs}: cost {history.epoch_loss[-1]:.4f}, "
                     f"{seconds:.2f} s, {history.epoch_samples_per_s[-1]:,.0f} samples/s")
    finally:
        bar.close()
    return history
