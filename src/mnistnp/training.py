"""The fit loop (``fit``, and ``Trainer`` with all its seams): a step (``step.train_step``) on
each of a sampler's batches, callbacks around, and each epoch scored (``evaluate``) into History."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .callbacks import HOOKS, Callback, bound_hooks
from .errors import TrainingError
from .grad_hooks import ClipGlobalNorm, GradHook, clip_global_norm_inplace
from .loop_state import History, Interrupted, TrainContext, TrainState
from .nn import Sequential, log_softmax, threads
from .sampling import Sampler, ShuffledBatches
from .step import BatchRows, check_chunks, fixed_inputs, gradient, train_step

if TYPE_CHECKING:
    from .optim import Optimizer

__all__ = [
    "ClipGlobalNorm",
    "GradHook",
    "History",
    "Interrupted",
    "TrainState",
    "Trainer",
    "clip_global_norm_inplace",
    "evaluate",
    "fit",
    "gradient",
    "train_step",
]

# What scores a set: (model, images, labels) to (mean loss, accuracy), as ``evaluate``.
Scorer = Callable[[Sequential, np.ndarray, np.ndarray], tuple[float, float]]
# Batches between two sums of all weights (see _check_finite): a few µs saved per step.
WEIGHT_CHECK_EVERY = 16


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on images ``x`` and labels ``y``.

    Parameters
    ----------
    model : Sequential
        The model, run in evaluation mode in chunks of ``model.eval_rows``.
    x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
        The images (pixels 0-255 for a model that takes pixels).
    y : ndarray of shape (n_samples,), dtype integer
        The labels, in [0, n_classes).

    Returns
    -------
    loss : float
        The mean cross-entropy.
    accuracy : float
        The fraction of images whose argmax is their label, in [0, 1].
    """
    total, correct = 0.0, 0
    step = model.eval_rows  # a bounded amount of activations: 8,192 rows of an MLP
    for i in range(0, len(x), step):
        logits = model.forward(x[i:i + step])
        labels = y[i:i + step]
        total -= float(log_softmax(logits)[np.arange(len(labels)), labels].sum(dtype=np.float64))
        correct += int(np.count_nonzero(np.argmax(logits, axis=1) == labels))
    return total / len(x), correct / len(x)


def fit(model: Sequential, x: np.ndarray, y: np.ndarray, optimizer: Optimizer, *,
        rng: np.random.Generator, epochs: int = 1, batch_size: int | None = 128,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        callbacks: Sequence[Callback] = ()) -> History:
    """Train ``model`` on images ``x`` and labels ``y`` in shuffled mini-batches.

    For ``epochs`` passes in mini-batches of ``batch_size`` (None, or any size >= n_samples:
    full-batch gradient descent), drawing the order from ``rng``.

    ``validation`` (images, labels) is scored after every epoch; it is never trained on.
    ``callbacks`` see the run as it goes (see ``Callback``): a learning-rate schedule (which
    then sets the optimizer's rate before every step), early stopping, the progress bar and
    lines (``progress.ProgressBar``, ``progress.TextLog``), the metrics log. Without them fit
    writes and prints nothing. Gradient hooks (clipping), another sampler, a length in
    iterations and resuming are ``Trainer``'s.

    Parameters
    ----------
    model : Sequential
        The model, trained in place.
    x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
        The training images (pixels 0-255 for a model that takes pixels).
    y : ndarray of shape (n_samples,), dtype integer
        Their labels, in [0, n_classes).
    optimizer : Optimizer
        Takes each step (``SGD``, ``Adam``, ``AdamW``).
    rng : numpy.random.Generator
        Draws the batch order (and the model's random layers use their own streams).
    epochs : int, default 1
        Passes over the data.
    batch_size : int or None, default 128
        Rows per step; None, or any size >= n_samples, is full-batch gradient descent.
    validation : (ndarray, ndarray) tuple, optional
        Images of shape (n_val, *input_shape) and labels of shape (n_val,), dtypes as ``x``
        and ``y``, scored after every epoch, never trained on.
    callbacks : sequence of Callback, default ()
        What sees the run as it goes.

    Returns
    -------
    History
        The training record: every step's cost and each epoch's metrics.

    Raises
    ------
    TrainingError
        If the cost or the weights become non-finite.
    """
    sampler = ShuffledBatches(len(x), batch_size)
    return Trainer(model, optimizer, sampler, callbacks=callbacks).fit(
        x, y, rng=rng, epochs=epochs, validation=validation)


class Trainer:
    """The fit loop with every seam.

    Where the batches come from (``sampler``), what happens to the gradient between backward and the
    optimizer's step (``grad_hooks``, in order), and what watches the run (``callbacks``, in order).
    A process of a data-parallel run would differ only in these: a sharding sampler, an allreduce
    hook before the clipping, a callback that broadcasts the first process's weights at the start,
    and no callbacks that write on any process but the first.

    The loop itself does only what every run needs: the plan (epochs or iterations), the batch
    order's random state per epoch (so a resumed run draws the same batches), the steps, the
    finite checks, and the History with each epoch's validation.

    Parameters
    ----------
    model : Sequential
        The model, trained in place.
    optimizer : Optimizer
        Takes each step.
    sampler : Sampler
        Gives each epoch's batches (``ShuffledBatches``).
    grad_hooks : sequence of GradHook, default ()
        Change the flat gradient in place before each step (``ClipGlobalNorm``), in order.
    callbacks : sequence of Callback, default ()
        Watch the run, in order.
    scorer : callable, optional
        Scores the validation set after each epoch, as ``evaluate`` (the default) does: a
        data-parallel run shares it out among its processes.
    """

    def __init__(self, model: Sequential, optimizer: Optimizer, sampler: Sampler, *,
                 grad_hooks: Sequence[GradHook] = (),
                 callbacks: Sequence[Callback] = (), scorer: Scorer | None = None) -> None:
        self.model, self.optimizer, self.sampler = model, optimizer, sampler
        self.grad_hooks, self.callbacks = list(grad_hooks), list(callbacks)
        self.scorer = scorer or evaluate

    def fit(self, x: np.ndarray, y: np.ndarray, *, rng: np.random.Generator,
            epochs: int | None = None, iterations: int | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            state: TrainState | None = None) -> History:
        """Train on images ``x`` and labels ``y``, the rows the sampler indexes.

        For ``iterations`` steps if given, else ``epochs`` passes (1 if neither), drawing the batch
        order from ``rng``; ``validation`` as for ``fit``. ``state`` (from a checkpoint) continues a
        run where it stood, bit-identical to one never interrupted, given the model, optimizer,
        callbacks and ``rng`` restored alike.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
            The training images, the rows the sampler indexes.
        y : ndarray of shape (n_samples,), dtype integer
            Their labels, in [0, n_classes).
        rng : numpy.random.Generator
            Draws the batch order.
        epochs : int, optional
            Passes over the data (1 if neither this nor ``iterations`` is given).
        iterations : int, optional
            Steps to take instead of whole epochs.
        validation : (ndarray, ndarray) tuple, optional
            Images of shape (n_val, *input_shape) and labels of shape (n_val,), scored
            after every epoch, as for ``fit``.
        state : TrainState, optional
            Where a checkpointed run stood, to continue it.

        Returns
        -------
        History
            The training record (``state.history`` when resuming).

        Raises
        ------
        ValueError
            For empty or mislabelled sets.
        TrainingError
            If the cost or the weights become non-finite; and whatever a callback raises
            (Interrupted).
        """
        model, sampler = self.model, self.sampler
        n = len(x)
        _check_set(x, y, model.num_classes, "training")
        model.check_pixels(x, "the training images")
        if validation is not None:
            _check_set(*validation, model.num_classes, "validation")
            model.check_pixels(validation[0], "the validation images")
        if sampler.n != n:
            raise ValueError(f"the sampler draws from {sampler.n:,} rows but the training set "
                             f"holds {n:,}")
        check_chunks(model, sampler.rows(1))
        steps = sampler.steps_per_epoch
        if iterations is None:
            iterations = (1 if epochs is None else epochs) * steps
        if iterations < 1:
            raise ValueError(f"nothing to train: epochs={epochs!r}, iterations={iterations!r}")
        ctx = TrainContext(model, self.optimizer, state or TrainState(),
                           math.ceil(iterations / steps), iterations, steps, validation)
        if ctx.state.epoch < ctx.epochs:  # epochs are left to run: they decide
            ctx.state.finished = False
        hooks = {name: bound_hooks(self.callbacks, name) for name in HOOKS}
        # Overflow is reported by _check_finite as one clear line, so NumPy's warnings are muted.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                threads.owned(model.owns_cores):
            try:
                for hook in hooks["on_train_begin"]:
                    hook(ctx)
                self._epochs(ctx, x, y, rng, hooks)
                for hook in hooks["on_train_end"]:
                    hook(ctx)
            finally:
                for close in hooks["close"]:  # a failed run still closes its files
                    close()
        return ctx.history

    def _epochs(self, ctx: TrainContext, x: np.ndarray, y: np.ndarray,
                rng: np.random.Generator, hooks: dict[str, list[Callable[..., None]]]) -> None:
        model, optimizer, sampler, grad_hooks = (self.model, self.optimizer, self.sampler,
                                                 self.grad_hooks)
        state, history, iterations = ctx.state, ctx.history, ctx.iterations
        batch_begin, batch_end = hooks["on_batch_begin"], hooks["on_batch_end"]
        inputs, from_layer = x, 0
        if ctx.steps_per_epoch == 1:  # the same rows every step
            inputs, from_layer = fixed_inputs(model, x) or (x, 0)
        rows = BatchRows(inputs, in_range=getattr(sampler, "in_range", False))
        for epoch in range(state.epoch + 1, ctx.epochs + 1):
            if state.epoch_rng is not None:
                rng.bit_generator.state = state.epoch_rng
            state.epoch_rng = dict(rng.bit_generator.state)
            first = history.epoch_end[-1] if history.epoch_end else 0
            for hook in hooks["on_epoch_begin"]:
                hook(ctx)
            start = time.perf_counter()
            for b, batch in enumerate(sampler.epoch_batches(epoch, rng)):
                if b < state.batch:
                    continue  # done before the run was interrupted
                if history.iterations == iterations:
                    break
                for hook in batch_begin:
                    hook(ctx)
                cost = train_step(model, inputs, y, batch, optimizer, grad_hooks, from_layer,
                                  rows)
                _check_finite(cost, model, epoch, b + 1, weights=b % WEIGHT_CHECK_EVERY == 0)
                history.costs.append(cost)
                state.batch = b + 1
                for hook in batch_end:
                    hook(ctx)
                if state.finished:  # a callback's ctx.stop(): the epoch ends here
                    break
            seconds = time.perf_counter() - start
            _end_epoch(history, model, optimizer, first, seconds, sampler, ctx.validation,
                       self.scorer)
            state.epoch, state.batch = epoch, 0
            state.epoch_rng = dict(rng.bit_generator.state)
            if epoch == ctx.epochs:
                state.finished = True  # before on_epoch_end, so a checkpoint says so
            for hook in hooks["on_epoch_end"]:
                hook(ctx)
            if state.finished:
                break


def _check_set(x: np.ndarray, y: np.ndarray, num_classes: int, what: str) -> None:
    """Once per fit: images and labels pair up, and the labels suit the model. The loss
    reaches each true-class cell by flat index, so a label outside [0, num_classes) would
    silently pick another row's cell rather than fail."""
    if not len(x):
        raise ValueError(f"{what} set holds no samples")
    if len(x) != len(y):
        raise ValueError(f"{what} set: {len(x):,} images but {len(y):,} labels")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} labels must be integers, got dtype {y.dtype}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
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
               seconds: float, sampler: Sampler,
               validation: tuple[np.ndarray, np.ndarray] | None, scorer: Scorer) -> None:
    done = history.costs[first:]
    history.epoch_loss.append(float(np.mean(done)))
    history.epoch_end.append(history.iterations)
    history.epoch_lr.append(optimizer.lr)
    history.epoch_seconds.append(seconds)
    seen = sampler.rows(len(done))
    history.epoch_samples_per_s.append(seen / seconds if seconds > 0 else math.inf)
    val_loss, val_acc = scorer(model, *validation) if validation else (math.nan, math.nan)
    history.epoch_val_loss.append(val_loss)
    history.epoch_val_accuracy.append(val_acc)
