"""Digits on plain paper (scans, drawings, clean renders), found the plain MNIST way: the paper
is the border's side of Otsu's threshold, the ink everything beyond it, cropped to the marks
that make the digit. Photos (uneven light, a table, strong noise) are left to ``ink``."""

from __future__ import annotations

import numpy as np

from .ink import INK_LEVEL, beside, gather, sheet_of
from .morphology import box, components, dilate, otsu, shrink

MARKS = 256  # the marks are told apart on a copy at most this many pixels on its long side
CELLS = 8  # the paper's evenness is judged on a grid of at most 8x8 cells
UNEVEN = 0.2  # paper varying by more than this share of the ink's contrast is lit unevenly
NOISY = 0.08  # noise (sigma) above this share of the contrast could pass for ink


def find_ink(work: np.ndarray, name: str) -> np.ndarray | None:
    """The digit in ``work`` (uint8 grey of shape (H, W)) as ink strength, as ``ink.find_ink``
    gives it (float32 of shape (h, w), cropped, light ink peaking at 255); None unless the
    paper is plain (even, quiet, no sheet on a table) and its marks plainly one digit.
    """
    a = work.astype(np.float32)
    if float(a.max()) - float(a.min()) < INK_LEVEL:
        return None  # blank, or ink too faint to call: the photo path says which
    threshold = otsu(a)
    light = _paper_is_light(a > threshold)
    if light:
        a = 255 - a
        threshold = 255 - threshold
    ink = a > threshold
    paper = float(np.median(a[~ink]))
    contrast = float(np.percentile(a[ink], 90)) - paper
    noise = _noise(a, ink)
    if contrast < INK_LEVEL or noise > NOISY * contrast or _uneven(a, ink) > UNEVEN * contrast:
        return None
    if not light and sheet_of(shrink(work, 160 / max(work.shape)).astype(np.float32)) is not None:
        return None  # a sheet of paper on a dark table: the sheet is no stroke
    scale = -(-max(a.shape) // MARKS)
    digit = _one_digit(_block_any(ink, scale))
    if digit is None:
        return None
    # The digit's faint edges: what stands out from the paper's noise and touches its strokes
    # (hysteresis, as ``ink`` does it), so no anti-aliased pixel is lost.
    faint = _block_any(a - paper > max(5 * noise, (threshold - paper) / 8), scale)
    pieces = components(faint | digit)
    zone = dilate(np.isin(pieces, np.unique(pieces[digit])), 1)
    inside = np.kron(zone, np.ones((scale, scale), bool))[:a.shape[0], :a.shape[1]]
    strength = np.clip(a - paper, 0.0, None) * inside
    # The box is the ink beyond the threshold, as a plain script cuts it: the blur around a
    # digit enlarged from a few pixels, as wide as those pixels, would leave it small and faint.
    boxed = inside & ink
    rows, cols = (np.flatnonzero(boxed.any(axis=axis)) for axis in (1, 0))
    crop = strength[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return crop * (255.0 / crop.max())


def _paper_is_light(ink: np.ndarray) -> bool:
    """Whether the light side of the threshold is the paper: it holds most of the border (a
    digit touches the border in a few places at most), or, on a tie, most of the image."""
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    share = float(border.mean())
    return share > 0.5 if share != 0.5 else float(ink.mean()) > 0.5


def _noise(a: np.ndarray, ink: np.ndarray) -> float:
    """The paper's noise (sigma), from the median absolute difference of neighbouring paper
    pixels (neither beyond the threshold), across and down, whichever is less: noise is the same
    both ways, while the blur beside a stroke runs one way. Zero for a clean render."""
    sigmas = []
    for axis in (0, 1):
        both = ~ink & (np.diff(ink, axis=axis, prepend=True) == 0)  # and the one before it
        if both.sum() >= 64:
            steps = np.abs(np.diff(a, axis=axis, prepend=a.take([0], axis=axis)))
            sigmas.append(1.4826 * float(np.median(steps[both])) / np.sqrt(2))
    return min(sigmas, default=0.0)


def _uneven(a: np.ndarray, ink: np.ndarray) -> float:
    """How far apart the paper's level lies across the picture: the spread (10th to 90th
    percentile) of the darkest tenth of the paper (the side below the threshold) in each cell of
    a grid of cells at least 16 pixels wide (at most CELLS x CELLS), over the cells that are at
    least a quarter paper. Blur around the strokes, in small pictures, does not count."""
    cells = int(np.clip(min(a.shape) // 16, 2, CELLS))
    levels = []
    for rows in np.array_split(np.arange(a.shape[0]), cells):
        for cols in np.array_split(np.arange(a.shape[1]), cells):
            cell, paper = a[np.ix_(rows, cols)], ~ink[np.ix_(rows, cols)]
            if paper.size and paper.mean() >= 0.25:
                levels.append(float(np.percentile(cell[paper], 10)))
    if len(levels) < 4:
        return 0.0
    low, high = np.percentile(levels, [10, 90])
    return float(high - low)


def _block_any(mask: np.ndarray, scale: int) -> np.ndarray:
    """``mask`` reduced by ``scale``: a cell is set if any of its pixels is."""
    if scale == 1:
        return mask
    height, width = -(-mask.shape[0] // scale), -(-mask.shape[1] // scale)
    padded = np.zeros((height * scale, width * scale), bool)
    padded[:mask.shape[0], :mask.shape[1]] = mask
    return np.asarray(padded.reshape(height, scale, width, scale).any(axis=(1, 3)))


def _one_digit(mask: np.ndarray) -> np.ndarray | None:
    """The pieces of ``mask`` that make the digit: the largest, with the pieces near it at
    least 1/25 its size (a broken stroke); specks and far smaller marks are left out. None if
    another piece the size of a digit stands beside it, or the ink fills the picture."""
    pieces = components(mask)
    labels, areas = np.unique(pieces[pieces > 0], return_counts=True)
    best = int(np.argmax(areas))
    main = pieces == labels[best]
    if any(beside(pieces == label, main)
           for i, label in enumerate(labels) if i != best):
        return None
    candidates = np.isin(pieces, labels[areas * 25 >= areas[best]])
    digit = gather(pieces, main, candidates)
    top, bottom, left, right = box(digit)
    height, width = bottom - top, right - left
    touches = all(side.any() for side in (digit[0], digit[-1], digit[:, 0], digit[:, -1]))
    if touches and digit.mean() > 0.6 and max(height, width) < 1.6 * min(height, width):
        return None  # a blob filling the frame, not a stroke cut by a tight crop
    return digit
