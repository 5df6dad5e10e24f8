"""Softmax fused with cross-entropy, computed stably from logits and integer labels."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p for logits of shape (n_samples, n_classes); finite even for logits of +-1000.

    Shifting by the row maximum makes the largest exponent exp(0) = 1, so nothing overflows,
    and log-sum-exp never takes the log of an underflowed 0.
    """
    z = logits - logits.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities, shape (n_samples, n_classes), rows summing to 1 (max-shifted, so
    the largest exponent is exp(0) and nothing overflows)."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, scale: float | None = None
) -> tuple[float, np.ndarray]:
    """Summed cross-entropy times ``scale`` (default 1/n_samples, the mean) and its gradient.

    logits: (n_samples, n_classes) float; labels: (n_samples,) integer classes.
    Fusing softmax with the loss gives the gradient w.r.t. the logits as simply
    ``(p - onehot) * scale``, which avoids dividing by p (unstable when p underflows).
    ``scale`` lets a large batch be processed in chunks that add up to the batch mean.
    """
    n = len(labels)
    if scale is None:
        scale = 1.0 / n
    logp = log_softmax(logits)
    rows = np.arange(n)
    loss = -float(logp[rows, labels].sum(dtype=np.float64)) * scale
    grad = np.exp(logp, out=logp)  # p, reusing logp's memory
    grad[rows, labels] -= 1.0
    grad *= scale
    return loss, grad
