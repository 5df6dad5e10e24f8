"""A digit written on ruled or squared paper: the paper's printed lines, lighter than the ink
and running the whole width or height of the image, taken out before the digit is looked for.
Left in, they are marks as long as the page: the digit's box takes them in, and the digit is
fitted small among them."""

from __future__ import annotations

import numpy as np

from .ink import INK_LEVEL

SMALLEST = 32  # images with a side shorter than this are left as they are
FULL = 0.9  # a line: rows (or columns) darker than the paper along at least this share
BARE = 0.5  # with rows beside it darker along less than this share
LIGHTER = 0.35  # and lighter than the ink by at least this share of the ink's contrast
EVEN = 0.12  # and as dark all along: its levels' interquartile range within this share of it


def unruled(grey: np.ndarray) -> np.ndarray:
    """``grey`` itself, or a copy with the lines of ruled or squared paper taken out.

    The paper is the image's median level and must be light; the ink, the darkest half a
    percent. A line is a band of rows (or columns) each darker than the paper, by an eighth of
    the ink's contrast, along at least ``FULL`` of its length, at most ``max(5, side // 24)``
    thick, reaching both edges of the image, with a median level lighter than the ink by
    ``LIGHTER`` of the contrast, crossed by strokes along less than ``BARE`` of its length, and
    beside it (two rows either way), where no stroke crosses it, darker than the paper along
    less than ``BARE``, and as dark all along (``EVEN``). A form's box, drawn with paper
    around it, stops short of the edges and is left to ``plain``; the side of a 0 that fills
    a small scan's frame runs the whole height, but in blocks of uneven grey. In a line's
    rows, the pixels lighter than halfway between the line's level and the ink's become paper,
    so that a stroke crossing the line is kept. A digit's own bar, as a 7 cropped to its ink
    has, is as dark as the ink, and the rows beside it are part of the digit: it is no line.

    Parameters
    ----------
    grey : ndarray of shape (H, W), dtype uint8
        The image's grey levels.

    Returns
    -------
    ndarray of shape (H, W), dtype uint8
        ``grey`` (the same object) when it holds no such line, else a copy without them.
    """
    if min(grey.shape) < SMALLEST:
        return grey
    a = grey.astype(np.float32)
    paper = float(np.median(a))
    ink = float(np.percentile(a, 0.5))
    if paper < 128 or paper - ink < INK_LEVEL:
        return grey  # light on dark, or nothing on the paper to tell lines from
    marked = a < paper - (paper - ink) / 8
    lines = [(band, axis) for axis in (0, 1)
             for band in _bands(a if axis == 0 else a.T, marked if axis == 0 else marked.T,
                                paper, ink)]
    if not lines:
        return grey
    out = a.copy()
    for (start, stop, level), axis in lines:
        rows = out[start:stop] if axis == 0 else out[:, start:stop]
        rows[rows > (level + ink) / 2] = paper
    return np.rint(out).astype(np.uint8)


def _bands(a: np.ndarray, marked: np.ndarray, paper: float,
           ink: float) -> list[tuple[int, int, float]]:
    """The lines among ``a``'s rows, as (first row, row after the last, median level)."""
    share = marked.mean(axis=1)
    full = np.concatenate([[False], share >= FULL, [False]])
    edges = np.flatnonzero(full[1:] != full[:-1])  # starts and stops of runs, in turn
    thickest = max(5, len(a) // 24)
    found = []
    for start, stop in zip(edges[::2], edges[1::2]):
        level = float(np.median(a[start:stop]))
        if stop - start > thickest or level - ink < LIGHTER * (paper - ink):
            continue
        if not (marked[start:stop, 0].any() and marked[start:stop, -1].any()):
            continue  # a printed line runs off the page; a box's, drawn with paper around it,
            # stops short of the image's edges (and is the box finder's)
        # Beside the line, where no stroke crosses it: bare paper (a stroke along the line,
        # as the foot of a 2 written on it, is no reason to keep it).
        bare = (a[start:stop] > (level + ink) / 2).all(axis=0)
        beside = np.concatenate([marked[max(0, start - 2):start], marked[stop:stop + 2]])
        if not len(beside) or bare.mean() < BARE or beside[:, bare].mean(axis=1).max() >= BARE:
            continue
        # Printed, it is as dark all along; a stroke of the digit that runs the whole height
        # (the side of a 0 filling a small scan's frame) is not.
        along = a[start:stop, bare].mean(axis=0)
        if np.subtract(*np.percentile(along, [75, 25])) <= EVEN * (paper - ink):
            found.append((int(start), int(stop), level))
    return found
