"""Gradient hooks: what the fit loop may do to a batch's whole flat gradient between backward
and the optimizer's step, in place (clipping its global norm)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# A gradient hook sees the batch's whole flat gradient between backward and the optimizer's
# step and may change it in place: clipping today; an allreduce across processes (before the
# clipping, so every process clips the same sum) later.
GradHook = Callable[[np.ndarray], None]


def clip_global_norm_inplace(grads: np.ndarray, max_norm: float) -> float:
    """Scale ``grads`` in place so its L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : ndarray of shape (n_params,), dtype float32 (the model's dtype)
        The flat gradient, scaled in place.
    max_norm : float
        The largest L2 norm allowed, > 0.

    Returns
    -------
    float
        The norm before scaling.
    """
    norm = math.sqrt(float(np.dot(grads, grads)))
    if norm > max_norm:
        grads *= max_norm / norm
    return norm


class ClipGlobalNorm:
    """A gradient hook: scale the gradient so its global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    max_norm : float
        The largest L2 norm of the flat gradient, > 0.
    """

    def __init__(self, max_norm: float) -> None:
        if not (math.isfinite(max_norm) and max_norm > 0):
            raise ValueError(f"clip norm must be a number > 0, got {max_norm!r}")
        self.max_norm = float(max_norm)

    def __call__(self, grads: np.ndarray) -> None:
        clip_global_norm_inplace(grads, self.max_norm)
