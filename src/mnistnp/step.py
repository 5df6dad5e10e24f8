"""One training step on a batch: its rows gathered (``BatchRows``, or the fixed prefix's output
made once), its cost and gradient in chunks (``gradient``), hooks and step (``train_step``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from .errors import TrainingError
from .grad_hooks import GradHook
from .nn import Sequential, softmax_cross_entropy
from .sampling import Batch

if TYPE_CHECKING:
    from .optim import Optimizer

__all__ = ["gradient", "train_step"]

# Rows per forward/backward pass: a larger batch (the notebook's full batch of 60,000) is
# processed in chunks whose gradients add up to the batch's, so no float copy of the whole
# set is ever made and the working set stays in cache-friendly sizes.
MAX_CHUNK = 8192
# Full-batch training feeds the same rows every step, so the model's fixed prefix (the uint8
# to float rows) is computed once if its output takes at most this many bytes (MNIST in
# float64: 376 MB). It was a quarter of the notebook recipe's step; larger sets still stream.
INPUT_CACHE_BYTES = 1 << 30


def _chunks(batch: Batch, n: int) -> list[Batch]:
    if isinstance(batch, slice):
        start, stop, _ = batch.indices(n)
        return [slice(i, min(i + MAX_CHUNK, stop)) for i in range(start, stop, MAX_CHUNK)]
    return [batch[i:i + MAX_CHUNK] for i in range(0, len(batch), MAX_CHUNK)]


class BatchRows:
    """The rows of ``x`` for a batch. A slice is a view; index arrays are gathered with
    ``np.take`` into one buffer reused from batch to batch: 15 µs against 29 µs for ``x[idx]``
    with 128 MNIST rows, as ``take``'s "clip" mode neither allocates nor buffers. That mode
    reads a wrong row for an index out of range instead of failing, so it is used only for
    indices known to be ``in_range`` (a sampler says so); others are gathered checked. Each
    result is valid until the next call."""

    def __init__(self, x: np.ndarray, in_range: bool = True) -> None:
        self.x = x
        self.mode: Literal["clip", "raise"] = "clip" if in_range else "raise"
        self._buffer = np.empty((0, *x.shape[1:]), x.dtype)

    def __call__(self, batch: Batch) -> np.ndarray:
        if isinstance(batch, slice):
            return self.x[batch]
        if len(self._buffer) < len(batch):
            self._buffer = np.empty((len(batch), *self.x.shape[1:]), self.x.dtype)
        return np.take(self.x, batch, axis=0, out=self._buffer[:len(batch)], mode=self.mode)


def gradient(model: Sequential, x: np.ndarray, y: np.ndarray, batch: Batch,
             from_layer: int = 0, rows: BatchRows | None = None) -> tuple[float, np.ndarray]:
    """Forward and backward over ``batch``: its mean cost, and that mean's gradient.

    A batch over MAX_CHUNK rows is taken in chunks whose gradients add up to the batch's; an
    empty one has cost 0 and a zero gradient.

    Parameters
    ----------
    model : Sequential
        The model; its layers keep what backward needs, and ``model.grads`` is overwritten.
    x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
        The images (pixels 0-255 for a model that takes pixels), or layer ``from_layer``'s
        input (see ``Sequential.forward``).
    y : ndarray of shape (n_samples,), dtype integer
        The labels, in [0, n_classes).
    batch : slice or ndarray of shape (batch_size,), dtype intp
        The rows of ``x`` and ``y`` in the batch.
    from_layer : int, default 0
        The layer ``x`` goes into.
    rows : BatchRows, optional
        Gathers index batches into a reused buffer (``x[batch]`` without it).

    Returns
    -------
    loss : float
        The batch's mean cross-entropy.
    grads : ndarray of shape (n_params,), dtype float32 (the model's dtype)
        The gradient of that mean as one flat buffer: ``model.grads``, or for a batch over
        MAX_CHUNK rows the sum of its chunks' gradients in a buffer of its own.
    """
    if isinstance(batch, slice):
        start, stop, _ = batch.indices(len(x))
        size = stop - start
    else:
        size = len(batch)
    if size == 0:  # a process's share of a global batch smaller than the processes
        model.grads.fill(0)
        return 0.0, model.grads
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
    return loss, model.grads if total is None else total


def train_step(model: Sequential, x: np.ndarray, y: np.ndarray, batch: Batch,
               optimizer: Optimizer, grad_hooks: Sequence[GradHook] = (),
               from_layer: int = 0, rows: BatchRows | None = None) -> float:
    """One gradient-descent step on ``batch``.

    Forward and backward, then each of ``grad_hooks`` on the gradient in order, then the
    optimizer's step.

    Parameters
    ----------
    model : Sequential
        The model, updated in place.
    x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
        The images (pixels 0-255 for a model that takes pixels), or layer ``from_layer``'s
        input (see ``Sequential.forward``).
    y : ndarray of shape (n_samples,), dtype integer
        The labels, in [0, n_classes).
    batch : slice or ndarray of shape (batch_size,), dtype intp
        The rows of ``x`` and ``y`` in the batch.
    optimizer : Optimizer
        Takes the step on ``model.params``.
    grad_hooks : sequence of GradHook, default ()
        Functions changing the flat gradient in place (clipping), in order.
    from_layer : int, default 0
        The layer ``x`` goes into, as for ``gradient``.
    rows : BatchRows, optional
        Gathers index batches, as for ``gradient``.

    Returns
    -------
    float
        The batch's mean cost before the step.
    """
    loss, grads = gradient(model, x, y, batch, from_layer, rows)
    for hook in grad_hooks:
        hook(grads)
    optimizer.step(model.params, grads)
    return loss


def fixed_prefix(model: Sequential) -> int:
    """How many leading layers of ``model`` have no parameters and no randomness (for an MLP:
    Rescale and Flatten, unless random shifts come first). Their training output is a fixed
    function of the input, so full-batch training, which feeds the same rows every step,
    computes it once."""
    count = 0
    for layer in model.layers:
        if layer.param_shapes or not layer.deterministic:
            break
        count += 1
    return count


def forward_prefix(model: Sequential, x: np.ndarray, stop: int) -> np.ndarray:
    """The output of ``model``'s first ``stop`` layers for ``x``, in evaluation mode."""
    for layer in model.layers[:stop]:
        x = layer.forward(x)
    return x


def fixed_inputs(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The output of ``model``'s fixed prefix for all of ``x``, computed once in chunks, and the
    index of the layer that takes it; None if there is no prefix or it would exceed
    INPUT_CACHE_BYTES. The rows are exactly what the prefix gives batch by batch."""
    start = fixed_prefix(model)
    if start == 0 or start == len(model.layers) or len(x) == 0:
        return None
    head = forward_prefix(model, x[:1], start)
    if len(x) * head.nbytes > INPUT_CACHE_BYTES:
        return None
    out = np.empty((len(x), *head.shape[1:]), head.dtype)
    for i in range(0, len(x), MAX_CHUNK):
        out[i:i + MAX_CHUNK] = forward_prefix(model, x[i:i + MAX_CHUNK], start)
    return out, start


def check_chunks(model: Sequential, rows: int) -> None:
    """TrainingError if batches of ``rows`` rows would be taken in chunks (over MAX_CHUNK rows)
    by a model whose layers need the whole batch at once: batch norm would normalise each
    chunk by its own statistics, not the batch's, without a word."""
    batchwise = [layer.kind for layer in model.layers if layer.batch_statistics]
    if batchwise and rows > MAX_CHUNK:
        raise TrainingError(f"{batchwise[0]} takes its statistics over the whole batch, but "
                            f"batches of {rows:,} rows are taken in chunks of {MAX_CHUNK:,}; "
                            f"give batches of at most {MAX_CHUNK:,} rows", setting="batch_size")
