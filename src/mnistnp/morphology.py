"""Grey-level morphology on small NumPy grids: running max and min filters, closing and
opening, hole filling, connected pieces, Otsu's threshold (NumPy only, no SciPy), and the box
averaging (Pillow's) that makes the grids small."""

from __future__ import annotations

import numpy as np
from PIL import Image


def box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """top, bottom, left, right (exclusive) of the True cells of ``mask``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fill_holes(a: np.ndarray) -> np.ndarray:
    """Grey-level hole filling: each pixel raised to the lowest level at which a path leads
    from it to the image's edge, so dark marks enclosed by lighter paper fill with the paper,
    while dark regions reaching the edge (the table, a shadow) stay as they are."""
    framed = _frame(a)
    marker = framed.copy()
    marker[1:-1, 1:-1] = framed.max()
    while True:  # each pass lets the edge's level flow one pixel further in
        rows = np.minimum(np.minimum(marker[:-2], marker[1:-1]), marker[2:])
        lowest = np.minimum(np.minimum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
        lower = np.maximum(lowest, framed[1:-1, 1:-1])
        if np.array_equal(lower, marker[1:-1, 1:-1]):
            return lower
        marker[1:-1, 1:-1] = lower


def _frame(a: np.ndarray) -> np.ndarray:
    """``a`` in a one-pixel frame repeating its edge, except that short stretches of the edge
    darker than its median (a stroke the crop cut through, with its faint rim) are framed by the
    median, so they are enclosed; long ones (a table, a shadow) are not."""
    median = float(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    framed = np.pad(a, 1, mode="edge")
    for side in (framed[0, 1:-1], framed[-1, 1:-1], framed[1:-1, 0], framed[1:-1, -1]):
        # side is a view into framed; steps of +1 and -1 mark where dark stretches start, end
        steps = np.diff(np.concatenate([[0], side < median - 2, [0]]).astype(np.int8))
        for start, end in zip(np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)):
            if end - start <= len(side) // 5:
                side[start:end] = median
    return framed


def shave_peaks(a: np.ndarray) -> np.ndarray:
    """Hole filling for light marks on darker ground: each lighter mark is lowered to the level
    around it."""
    top = float(a.max())
    return top - fill_holes(top - a)


def odd(x: float) -> int:
    """A window size: ``x`` rounded down to an odd whole number, at least 3."""
    return max(3, int(x) | 1)


def closing(a: np.ndarray, size: int) -> np.ndarray:
    """Dark marks narrower than ``size`` filled with the level around them."""
    return window(window(a, size, np.maximum), size, np.minimum)


def opening(a: np.ndarray, size: int) -> np.ndarray:
    """Light marks narrower than ``size`` lowered to the level around them."""
    return window(window(a, size, np.minimum), size, np.maximum)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` cells in every direction (diagonals included)."""
    return window(mask.astype(np.uint8), 2 * radius + 1, np.maximum).astype(bool)


def erode_round(a: np.ndarray, k: int) -> np.ndarray:
    """Grey erosion of ``a`` by ``k`` px with an octagon (3x3 squares and crosses taking turns)
    standing in for a disc, so diagonal strokes lose what straight ones do."""
    for i in range(k):
        if i % 2 == 0:
            a = window(a, 3, np.minimum)
        else:
            p = np.pad(a, 1, mode="edge")
            a = np.minimum(np.minimum(np.minimum(p[:-2, 1:-1], p[2:, 1:-1]),
                                      np.minimum(p[1:-1, :-2], p[1:-1, 2:])), a)
    return a


def window(a: np.ndarray, size: int, op: np.ufunc) -> np.ndarray:
    """The max (or min) over a size x size window around each pixel, edges repeated."""
    return _window_1d(_window_1d(a, size, op, 0), size, op, 1)


def _window_1d(a: np.ndarray, size: int, op: np.ufunc, axis: int) -> np.ndarray:
    """van Herk / Gil-Werman: a running max (or min) of any width in three passes. Within
    blocks of ``size``, prefix and suffix maxima; a window spans at most two blocks, so its
    maximum is the suffix of the first block's part and the prefix of the second's."""
    a = np.moveaxis(a, axis, 0)
    n, r = a.shape[0], size // 2
    extra = -(n + 2 * r) % size
    padded = np.pad(a, [(r, r + extra)] + [(0, 0)] * (a.ndim - 1), mode="edge")
    blocks = padded.reshape(-1, size, *a.shape[1:])
    prefix = op.accumulate(blocks, axis=1).reshape(padded.shape)
    suffix = op.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].reshape(padded.shape)
    return np.moveaxis(op(suffix[:n], prefix[size - 1:size - 1 + n]), 0, axis)


def radius(mask: np.ndarray) -> int:
    """How many 3x3 erosions ``mask`` survives: half the width of its widest part."""
    count, mask = 0, np.pad(mask, 1)
    while mask.any():
        mask = window(mask.astype(np.uint8), 3, np.minimum).astype(bool)
        count += 1
    return count


def components(mask: np.ndarray) -> np.ndarray:
    """Label the 8-connected pieces of ``mask``: int32 array, 0 outside, 1..n inside.

    Each cell starts with its own number and repeatedly takes the smallest number among its
    neighbours, jumping along the chain of numbers it points to (pointer jumping), so even
    long winding strokes settle in a few dozen passes of whole-array operations.
    """
    height, width = mask.shape
    none = height * width  # larger than any cell's number
    cells = np.arange(none, dtype=np.int64).reshape(mask.shape)
    labels = np.where(mask, cells, none)
    while True:
        framed = np.pad(labels, 1, constant_values=none)
        rows = np.minimum(np.minimum(framed[:-2], framed[1:-1]), framed[2:])
        lowest = np.minimum(np.minimum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
        lowest = np.where(mask, lowest, none)
        flat = np.append(lowest.ravel(), none)
        for _ in range(4):
            flat[:-1] = flat[flat[:-1]]  # a cell's number names a cell of the same piece
        if np.array_equal(flat[:-1], labels.ravel()):
            break
        labels = flat[:-1].reshape(mask.shape)
    _, order = np.unique(labels, return_inverse=True)  # 0.. by first cell; `none` comes last
    return np.where(mask, order.reshape(mask.shape).astype(np.int32) + 1, 0)


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold: the level that best splits ``values`` into two classes (their
    between-class variance is largest), from a 256-bin histogram."""
    hist, edges = np.histogram(values, bins=256)
    p = hist / hist.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(p)[:-1]
    mean = np.cumsum(p * centres)[:-1]
    total = mean[-1] + p[-1] * centres[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * weight - mean) ** 2 / (weight * (1 - weight))
    return float(edges[1 + int(np.nanargmax(between))]) if np.isfinite(between).any() else 0.0


def shrink(grey: np.ndarray, factor: float) -> np.ndarray:
    """``grey`` box-averaged by a whole factor so it is at most ``factor`` times its size."""
    step = int(np.ceil(1 / factor)) if factor < 1 else 1
    if step == 1:
        return grey
    mode = "F" if grey.dtype == np.float32 else None
    return np.asarray(Image.fromarray(grey, mode).reduce(step))
