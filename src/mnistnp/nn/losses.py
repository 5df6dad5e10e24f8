"""Softmax fused with cross-entropy, computed stably from logits and integer labels."""

from __future__ import annotations

import functools

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log class probabilities (log-softmax of each row), finite even for logits of +-1000.

    Shifting by the row maximum makes the largest exponent exp(0) = 1, so nothing overflows,
    and log-sum-exp never takes the log of an underflowed 0.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes), dtype float32 or float64
        Unnormalised scores. Not modified.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), dtype of ``logits``
        log p, each row's exponentials summing to 1.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities: the softmax of each row, max-shifted so nothing overflows.

    Shifting by the row maximum makes the largest exponent exp(0) = 1.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes), dtype float32 or float64
        Unnormalised scores. Not modified.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), dtype of ``logits``
        Probabilities, each row summing to 1.
    """
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p


@functools.lru_cache(maxsize=8)
def _row_starts(n: int, n_classes: int) -> np.ndarray:
    """0, C, 2C, ...: added to the labels, the flat index of each row's true-class cell."""
    starts = np.arange(n) * n_classes
    starts.flags.writeable = False  # shared between calls
    return starts


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, scale: float | None = None
) -> tuple[float, np.ndarray]:
    """Summed cross-entropy times ``scale`` (default 1/n_samples, the mean) and its gradient.

    With z = logits - max (row-wise) and s = sum(exp z), the cost of a row is
    log s - z[label] and its gradient w.r.t. the logits is ``(p - onehot) * scale`` with
    p = exp(z) / s: fusing softmax with the loss avoids dividing by p (unstable when p
    underflows). ``scale`` lets a large batch be processed in chunks that add up to the
    batch mean.

    The true-class cells are reached by flat index, and exp(z) becomes the gradient in place:
    about ten NumPy calls, which is what a step on a small net pays for its loss.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes), dtype float32 or float64
        Unnormalised scores. Not modified.
    labels : ndarray of shape (n_samples,), dtype integer
        True classes in [0, n_classes), which the caller checks (``fit`` does, once).
    scale : float, optional
        Factor on the summed loss and its gradient; default 1/n_samples (the mean).

    Returns
    -------
    loss : float
        The summed cross-entropy times ``scale``, summed in float64.
    grad : ndarray of shape (n_samples, n_classes), dtype of ``logits``
        The loss's gradient with respect to the logits, ``(p - onehot) * scale``.
    """
    n = len(labels)
    if scale is None:
        scale = 1.0 / n
    cells = labels + _row_starts(n, logits.shape[1])
    z = logits - logits.max(axis=1, keepdims=True)
    picked = z.ravel()[cells]
    p = np.exp(z, out=z)
    s = p.sum(axis=1, keepdims=True)
    loss = (float(np.log(s).sum(dtype=np.float64)) - float(picked.sum(dtype=np.float64))) * scale
    p *= scale / s
    p.ravel()[cells] -= scale
    return loss, p
