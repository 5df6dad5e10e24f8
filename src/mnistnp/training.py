"""The fit loop (mini-batch or full-batch gradient descent) and the History it returns."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from .errors import TrainingError
from .nn import Sequential, log_softmax, softmax_cross_entropy
from .optim import Optimizer, Schedule
from .progress import (
    ESTIMATE_AFTER,
    bar_figures,
    cost_line,
    epoch_line,
    progress_bar,
    time_left_line,
)

# Rows per forward/backward pass: a larger batch (the notebook's full batch of 60,000) is
# processed in chunks whose gradients add up to the batch's, so no float copy of the whole
# set is ever made and the working set stays in cache-friendly sizes.
MAX_CHUNK = 8192
# Batches between two sums of all weights (see _check_finite): a few µs saved per step.
WEIGHT_CHECK_EVERY = 16
# Full-batch training feeds the same rows every step, so the model's fixed prefix (the uint8
# to float rows) is computed once if its output takes at most this many bytes (MNIST in
# float64: 376 MB). It was a quarter of the notebook recipe's step; larger sets still stream.
INPUT_CACHE_BYTES = 1 << 30

Batch = np.ndarray | slice


@dataclass
class History:
    """The training record: the cost of every iteration, and per epoch the mean train cost,
    validation loss and accuracy (NaN without validation), learning rate, time and speed."""

    costs: list[float] = field(default_factory=list)  # one per iteration (batch mean)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_val_loss: list[float] = field(default_factory=list)
    epoch_val_accuracy: list[float] = field(default_factory=list)
    epoch_lr: list[float] = field(default_factory=list)  # the rate of the epoch's last step
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_samples_per_s: list[float] = field(default_factory=list)
    epoch_end: list[int] = field(default_factory=list)  # iterations done when each epoch ended
    best_epoch: int | None = None  # set when early stopping restored an earlier epoch

    @property
    def iterations(self) -> int:
        return len(self.costs)

    @property
    def epochs(self) -> int:
        return len(self.epoch_loss)

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def record(self, epoch: int) -> dict[str, float | int | None]:
        """Epoch ``epoch`` (1-based) as one metrics.jsonl object; NaN becomes null."""
        i = epoch - 1

        def num(values: list[float]) -> float | None:
            return None if math.isnan(values[i]) else values[i]

        return {"epoch": epoch, "loss": self.epoch_loss[i], "val_loss": num(self.epoch_val_loss),
                "val_accuracy": num(self.epoch_val_accuracy), "lr": self.epoch_lr[i],
                "seconds": self.epoch_seconds[i], "samples_per_s": self.epoch_samples_per_s[i]}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainState:
    """Where a run stands: enough, with the weights and optimizer state, to resume it so that
    it ends bit-identical to a run that was never interrupted."""

    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the epoch under way
    # The batch-order generator's state when the epoch under way began (or the next begins).
    epoch_rng: dict[str, Any] | None = None
    history: History = field(default_factory=History)
    finished: bool = False  # the run ended as planned or by early stopping, not interrupted


class Interrupted(Exception):
    """Training stopped at a batch boundary because ``should_stop`` said so (a signal)."""

    def __init__(self, state: TrainState) -> None:
        super().__init__(f"interrupted at epoch {state.epoch + 1}, batch {state.batch}")
        self.state = state


class Callback(Protocol):
    """Told of each finished epoch; ``on_epoch_end`` returns True to stop training."""

    def on_epoch_end(self, history: History, model: Sequential) -> bool: ...

    def on_train_end(self, history: History, model: Sequential) -> None: ...


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
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


def _chunks(batch: Batch, n: int) -> list[Batch]:
    if isinstance(batch, slice):
        start, stop, _ = batch.indices(n)
        return [slice(i, min(i + MAX_CHUNK, stop)) for i in range(start, stop, MAX_CHUNK)]
    return [batch[i:i + MAX_CHUNK] for i in range(0, len(batch), MAX_CHUNK)]


def clip_global_norm_inplace(grads: np.ndarray, max_norm: float) -> float:
    """Scale ``grads`` in place so its L2 norm is at most ``max_norm``; returns the norm before."""
    norm = math.sqrt(float(np.dot(grads, grads)))
    if norm > max_norm:
        grads *= max_norm / norm
    return norm


class BatchRows:
    """The rows of ``x`` for a batch. A slice is a view; the index arrays that ``batches``
    makes (in range by construction) are gathered with ``np.take`` into one buffer reused from
    batch to batch: 15 µs against 29 µs for ``x[idx]`` with 128 MNIST rows, as ``take``'s
    "clip" mode neither allocates nor buffers. Each result is valid until the next call."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._buffer = np.empty((0, *x.shape[1:]), x.dtype)

    def __call__(self, batch: Batch) -> np.ndarray:
        if isinstance(batch, slice):
            return self.x[batch]
        if len(self._buffer) < len(batch):
            self._buffer = np.empty((len(batch), *self.x.shape[1:]), self.x.dtype)
        return np.take(self.x, batch, axis=0, out=self._buffer[:len(batch)], mode="clip")


def train_step(model: Sequential, x: np.ndarray, y: np.ndarray, batch: Batch,
               optimizer: Optimizer, clip_norm: float | None = None,
               from_layer: int = 0, rows: BatchRows | None = None) -> float:
    """One gradient-descent step on ``batch``; returns the batch's mean cost before the step.
    ``x`` is the input of layer ``from_layer`` (see ``Sequential.forward``). ``rows``, for
    index batches known to be in range, gathers them (``x[batch]`` otherwise)."""
    if isinstance(batch, slice):
        start, stop, _ = batch.indices(len(x))
        size = stop - start
    else:
        size = len(batch)
    chunks = [batch] if size <= MAX_CHUNK else _chunks(batch, len(x))
    loss = 0.0
    total = None if len(chunks) == 1 else np.zeros_like(model.grads)
    for chunk in chunks:
        inputs = x[chunk] if rows is None else rows(chunk)
        logits = model.forward(inputs, training=True, start=from_layer)
        part, grad = softmax_cross_entropy(logits, y[chunk], scale=1.0 / size)
        model.backward(grad)
        loss += part
        if total is not None:
            total += model.grads
    grads = model.grads if total is None else total
    if clip_norm is not None:
        clip_global_norm_inplace(grads, clip_norm)
    optimizer.step(model.params, grads)
    return loss


def fixed_inputs(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The output of ``model``'s fixed prefix for all of ``x``, computed once in chunks, and the
    index of the layer that takes it; None if there is no prefix or it would exceed
    INPUT_CACHE_BYTES. The rows are exactly what the prefix gives batch by batch."""
    start = model.fixed_prefix()
    if start == 0 or start == len(model.layers) or len(x) == 0:
        return None
    head = model.forward_prefix(x[:1], start)
    if len(x) * head.nbytes > INPUT_CACHE_BYTES:
        return None
    out = np.empty((len(x), *head.shape[1:]), head.dtype)
    for i in range(0, len(x), MAX_CHUNK):
        out[i:i + MAX_CHUNK] = model.forward_prefix(x[i:i + MAX_CHUNK], start)
    return out, start


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on images ``x`` and labels ``y``."""
    total, correct = 0.0, 0
    for i in range(0, len(x), MAX_CHUNK):
        logits = model.forward(x[i:i + MAX_CHUNK])
        labels = y[i:i + MAX_CHUNK]
        total -= float(log_softmax(logits)[np.arange(len(labels)), labels].sum(dtype=np.float64))
        correct += int(np.count_nonzero(np.argmax(logits, axis=1) == labels))
    return total / len(x), correct / len(x)


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
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    clip_norm: float | None = None,
    callbacks: Sequence[Callback] = (),
    log_every: int = 0,
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
    state: TrainState | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_checkpoint: Callable[[TrainState], None] | None = None,
    checkpoint_every: int = 0,
) -> History:
    """Train ``model`` on images ``x`` (n_samples, ...) and labels ``y`` (n_samples,).

    Runs ``iterations`` steps if given, else ``epochs`` passes. ``batch_size=None`` (or any size
    >= n_samples) is full-batch gradient descent. ``schedule`` sets the optimizer's learning
    rate before every step. ``validation`` (images, labels) is scored after every epoch; it is
    never trained on. ``clip_norm`` clips the gradient's global L2 norm. ``callbacks`` see each
    epoch's end and may stop training. One plain line per epoch goes to ``log``, and with
    ``log_every`` a cost line every that many iterations (in full-batch training, where an
    epoch is one step, the cost lines replace the epoch lines and carry the validation); a run
    still going after ESTIMATE_AFTER seconds also gets one line with the time left.
    ``progress=None`` shows a tqdm bar (epoch, mean loss so far, rate) on a terminal only.

    Resuming and interrupting: ``state`` (from a checkpoint) continues a run where it stood.
    ``should_stop`` is polled after every batch; when it answers True, ``on_checkpoint`` gets
    the state and Interrupted is raised. ``on_checkpoint`` is also called every
    ``checkpoint_every`` epochs, and when the run ends (then ``state.finished`` is True).
    Raises TrainingError if the cost or the weights become non-finite.
    """
    n = len(x)
    if n == 0 or (validation is not None and not len(validation[0])):
        raise ValueError(f"{'validation' if n else 'training'} set holds no samples")
    _check_labels(y, model.num_classes, "training")
    if validation is not None:
        _check_labels(validation[1], model.num_classes, "validation")
    batch_size = n if batch_size is None else min(batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    if iterations is None:
        iterations = (1 if epochs is None else epochs) * steps_per_epoch
    if iterations < 1:
        raise ValueError(f"nothing to train: epochs={epochs!r}, iterations={iterations!r}")
    n_epochs = math.ceil(iterations / steps_per_epoch)
    state = state or TrainState()
    history = state.history
    inputs, from_layer = x, 0
    if steps_per_epoch == 1:  # full batch: the same rows every step
        inputs, from_layer = fixed_inputs(model, x) or (x, 0)
    rows = BatchRows(inputs)
    bar = progress_bar(iterations, history.iterations, progress)
    shown = not bar.disable
    began, done_before = time.perf_counter(), history.iterations
    estimated = log is None  # the time-left line is still to come
    next_figures = 0.0  # when the bar's loss and rate are next refreshed

    def emit(line: str) -> None:
        if log is not None:
            with bar.external_write_mode():  # keeps the bar intact below the lines
                log(line)

    # Overflow is reported by _check_finite as one clear line, so NumPy's warnings are muted.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            for epoch in range(state.epoch + 1, n_epochs + 1):
                if state.epoch_rng is not None:
                    rng.bit_generator.state = state.epoch_rng
                state.epoch_rng = dict(rng.bit_generator.state)
                first = history.epoch_end[-1] if history.epoch_end else 0
                if shown:
                    bar.set_description_str(f"epoch {epoch}/{n_epochs}", refresh=False)
                start = time.perf_counter()
                for b, batch in enumerate(batches(n, batch_size, rng)):
                    if b < state.batch:
                        continue  # done before the run was interrupted
                    if history.iterations == iterations:
                        break
                    if schedule is not None:
                        optimizer.lr = schedule(history.iterations)
                    cost = train_step(model, inputs, y, batch, optimizer, clip_norm,
                                      from_layer, rows)
                    _check_finite(cost, model, epoch, b + 1,
                                  weights=b % WEIGHT_CHECK_EVERY == 0)
                    history.costs.append(cost)
                    state.batch = b + 1
                    if shown or not estimated:  # one clock read per batch, then nothing
                        now = time.perf_counter()
                        if shown and now >= next_figures:  # not every batch: it costs µs
                            bar.set_postfix_str(bar_figures(history.costs[first:],
                                                             optimizer.lr), refresh=False)
                            next_figures = now + bar.mininterval
                        if not estimated and now - began >= ESTIMATE_AFTER:
                            estimated = True
                            if history.iterations < iterations:
                                emit(time_left_line(now - began,
                                                     history.iterations - done_before,
                                                     iterations - history.iterations))
                    bar.update()
                    if log_every and steps_per_epoch > 1 and history.iterations % log_every == 0:
                        emit(cost_line(history, log_every, full_batch=False))
                    if should_stop is not None and should_stop():
                        if on_checkpoint is not None:
                            on_checkpoint(state)
                        raise Interrupted(state)
                seconds = time.perf_counter() - start
                _end_epoch(history, model, optimizer, first, seconds, batch_size, n, validation)
                state.epoch, state.batch = epoch, 0
                state.epoch_rng = dict(rng.bit_generator.state)
                if schedule is not None:
                    schedule.epoch_end(history.epoch_val_loss[-1] if validation else None)
                if not log_every or steps_per_epoch > 1:
                    emit(epoch_line(history, n_epochs))
                elif history.iterations % log_every == 0:  # full batch: an epoch is a step
                    emit(cost_line(history, log_every, full_batch=True))
                stop = any([cb.on_epoch_end(history, model) for cb in callbacks])
                state.finished = stop or epoch == n_epochs
                # The last call comes before on_train_end, which may put back earlier weights:
                # a finished checkpoint holds the last epoch's, from which a run can go on.
                if on_checkpoint and (state.finished or (
                        checkpoint_every and epoch % checkpoint_every == 0)):
                    on_checkpoint(state)
                if stop:
                    break
            for cb in callbacks:
                cb.on_train_end(history, model)
        finally:
            bar.close()
            for cb in callbacks:  # a failed run still closes its files
                close = getattr(cb, "close", None)
                if close is not None:
                    close()
    return history


def _check_labels(y: np.ndarray, num_classes: int, what: str) -> None:
    """Once per fit: the loss reaches each true-class cell by flat index, so a label outside
    [0, num_classes) would silently pick another row's cell rather than fail."""
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} labels must be integers, got dtype {y.dtype}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{what} labels must be in 0-{num_classes - 1} for this model, "
                         f"got {int(y.min())}-{int(y.max())}")


def _check_finite(cost: float, model: Sequential, epoch: int, batch: int,
                  weights: bool = True) -> None:
    """Stop at the first non-finite cost or weight: nothing after it could be trusted.

    Summing the weights is one pass; any NaN or Inf among them makes the sum non-finite. A
    non-finite weight also makes the next batch's cost NaN (0 * inf and 0 * NaN are NaN), so
    the sum is only taken every WEIGHT_CHECK_EVERY batches, as a second net.
    """
    what = None
    if not math.isfinite(cost):
        what = f"the cost became {cost}"
    elif weights and not math.isfinite(model.params.sum()):
        what = "the weights became non-finite"
    if what:
        raise TrainingError(f"{what} at epoch {epoch}, batch {batch}; try a lower learning "
                            "rate", setting="lr")


def _end_epoch(history: History, model: Sequential, optimizer: Optimizer, first: int,
               seconds: float, batch_size: int, n: int,
               validation: tuple[np.ndarray, np.ndarray] | None) -> None:
    done = history.costs[first:]
    history.epoch_loss.append(float(np.mean(done)))
    history.epoch_end.append(history.iterations)
    history.epoch_lr.append(optimizer.lr)
    history.epoch_seconds.append(seconds)
    seen = min(len(done) * batch_size, n)
    history.epoch_samples_per_s.append(seen / seconds if seconds > 0 else math.inf)
    val_loss, val_acc = evaluate(model, *validation) if validation else (math.nan, math.nan)
    history.epoch_val_loss.append(val_loss)
    history.epoch_val_accuracy.append(val_acc)
