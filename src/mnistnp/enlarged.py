"""Images enlarged from a few pixels with nearest-neighbour resampling (a low-resolution scan or
drawing blown up in blocks), found and enlarged again smoothly."""

from __future__ import annotations

import numpy as np
from PIL import Image

SMALL = 20  # a source of at most this many pixels a side (MNIST's box for a digit) is smoothed
FACTOR = 3  # and only when each of its pixels became at least FACTOR x FACTOR


def smoothed(grey: np.ndarray,
             method: Image.Resampling = Image.Resampling.LANCZOS) -> np.ndarray:
    """``grey`` itself, or, if it is a nearest-neighbour enlargement of an image of at most 20
    pixels a side (each pixel a block of at least 3x3), that small image enlarged back to the
    same size with Lanczos resampling. Such a source holds less detail than the 20-pixel box
    MNIST fits its digits to.

    Blocks of 4-12 pixels read as bold, square strokes: 8x8 scans enlarged in blocks read 3-18
    points worse than after this (``docs/images.md``, "Scans enlarged in blocks"). The test is
    exact, so a file that was compressed after its enlargement (JPEG) is left as it is.

    Parameters
    ----------
    grey : ndarray of shape (H, W), dtype uint8
        The image's grey levels.
    method : PIL.Image.Resampling, default LANCZOS
        How the source is enlarged again (the others were measured for the choice).

    Returns
    -------
    ndarray of shape (H, W), dtype uint8
        ``grey`` itself, or the smooth enlargement of its source.
    """
    rows, cols = source_pixels(grey, 0), source_pixels(grey, 1)
    if rows is None or cols is None:
        return grey
    source = grey[np.ix_(rows, cols)]
    height, width = grey.shape
    return np.asarray(Image.fromarray(source).resize((width, height), method))


def source_pixels(grey: np.ndarray, axis: int) -> np.ndarray | None:
    """One index along ``axis`` per source pixel, if ``grey`` is, along that axis, a
    nearest-neighbour enlargement of at most ``SMALL`` pixels at least ``FACTOR`` times over;
    None otherwise.

    Enlarging n pixels to N repeats source pixel ``floor((i + 0.5) * n / N)`` at position i
    (Pillow, browsers; ``floor(i * n / N)`` in OpenCV), give or take a position where tools
    round the scale differently. So each source pixel is a run of lines; the middle line of
    each run stands for it, and the image is taken for an enlargement only if every line is
    the middle line of its run or, at the run's first or last line, of the run beside it: the
    source then holds every line the image does. The fewest source pixels that do are taken: a
    digit's lines change at almost every source pixel, and more would only repeat some.
    """
    size = grey.shape[axis]
    lines = np.moveaxis(grey, axis, 0).reshape(size, -1)
    changes = np.flatnonzero((lines[1:] != lines[:-1]).any(axis=1)) + 1
    # At most three changes around each edge between runs (a line of each run beside it).
    if not 2 <= len(changes) <= 3 * (SMALL - 1):
        return None  # a blank image or a single edge (no grid to tell), or a finer one
    positions = np.arange(size)
    for n in range(2, min(SMALL, size // FACTOR) + 1):
        for offset in (0.5, 0.0):
            index = np.minimum(((positions + offset) * n / size).astype(np.int64), n - 1)
            starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
            near = np.zeros(size + 1, bool)  # within a line of a run's edge
            near[np.concatenate((starts[1:] - 1, starts[1:], starts[1:] + 1))] = True
            if not near[changes].all():
                continue
            ends = np.append(starts[1:], size)
            middle = (starts + ends - 1) // 2
            stray = ~(lines == lines[middle[index]]).all(axis=1)
            first, last = starts[1:], ends[:-1] - 1
            stray[first] &= ~(lines[first] == lines[middle[:-1]]).all(axis=1)
            stray[last] &= ~(lines[last] == lines[middle[1:]]).all(axis=1)
            if not stray.any():
                return middle
    return None
