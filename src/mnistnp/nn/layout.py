"""Batches laid out channel-major: an (N, C, ...) view of C-contiguous (C, N, ...) memory, as
``Conv2D`` writes its output, and scratch arrays that follow an input's layout."""

from __future__ import annotations

import math

import numpy as np

from .base import Layer

__all__ = ["channel_major", "scratch_like"]


def channel_major(x: np.ndarray) -> bool:
    """True if ``x`` (N, C, ...) is a view of C-contiguous (C, N, ...) memory, as Conv2D's
    output is: layers after it lay their buffers out the same way (``scratch_like``), so
    their passes sweep memory in order and the gradient reaching Conv2D needs no reordering."""
    return x.ndim >= 2 and not x.flags.c_contiguous and x.swapaxes(0, 1).flags.c_contiguous


def scratch_like(layer: Layer, name: str, shape: tuple[int, ...], dtype: np.dtype,
                channels_first: bool) -> np.ndarray:
    """``layer``'s scratch array ``name`` of ``shape`` (N, C, ...): C-contiguous, or with
    ``channels_first`` an (N, C, ...) view of (C, N, ...) memory."""
    if not channels_first:
        return layer._scratch(name, shape, dtype)
    swapped = (shape[1], shape[0], *shape[2:])
    return layer._scratch(name, (math.prod(shape),), dtype).reshape(swapped).swapaxes(0, 1)
