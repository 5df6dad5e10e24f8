"""Stroke-width normalisation: a pen far bolder than any of MNIST's is thinned at the image's own
resolution before the digit is fitted; one finer than almost all is grown once it is 28x28."""

from __future__ import annotations

import numpy as np

from .morphology import erode_round
from .nn.augment.stroke import stroke_resample

# The stroke's width over the longer side of the ink's box (``width_ratio``: what the 20-px box
# makes of the pen), measured on 10,000 MNIST training digits (the first) enlarged 4x with
# bilinear resampling, dark on white, and cut out by ``plain.find_ink``: 1st percentile 0.086,
# median 0.137, 95th percentile 0.216, 99th 0.265, 99.9th 0.331.
BOLD = 0.265  # a stroke beyond MNIST's 99th percentile is thinned ...
TARGET = 0.216  # ... down to its 95th percentile
# The change means something only where the source holds the detail: its box at least twice
# MNIST's 20 px in distinct rows (an enlarged 8x8 or 16x16 scan holds 8 or 16) and at least 8
# edge widths long (an enlarged, blurred scan's edges are a tenth of its box or more).
MIN_CELLS = 40
MIN_SHARP = 8.0
# ``width`` of MNIST's 60,000 training digits as stored (28x28): 1st percentile 1.435 px,
# median 2.361. A fitted digit finer than nearly all of MNIST's (a fine brush on a large
# canvas, a thin pen in a photo) is grown by half a pixel, with the cross dilation
# RandomStroke trains with; 0.84% of MNIST's test digits are that fine.
FAINT = 1.435
GROW = 0.5


def width(strength: np.ndarray) -> float:
    """The mean stroke width of ``strength`` (float of shape (h, w), peak 255) in pixels: twice
    the ink's mass over its total variation (the length of its outline, blurred or not)."""
    s = strength / 255.0
    variation = _variation(s)
    return 2 * float(s.sum()) / variation if variation > 0 else 0.0


def _variation(s: np.ndarray) -> float:
    """The total variation of ``s`` (float of shape (h, w), peak 1): the length of its ink's
    outline, blurred or not."""
    dy, dx = np.diff(s, axis=0)[:, :-1], np.diff(s, axis=1)[:-1, :]
    return float(np.hypot(dy, dx).sum())


def width_ratio(strength: np.ndarray) -> float:
    """``width`` over the longer side of ``strength``'s box: the stroke as the 20-px box has it."""
    return width(strength) / max(strength.shape)


def normalised(strength: np.ndarray) -> np.ndarray:
    """``strength`` (a crop of ink, float of shape (h, w), peak 255) with its strokes thinned by
    a grey erosion to TARGET when they are beyond BOLD and the source is detailed enough;
    otherwise ``strength`` itself (the same object)."""
    if _cells(strength) < MIN_CELLS or _sharpness(strength) < MIN_SHARP:
        return strength
    side = max(strength.shape)
    w = width(strength)
    if w <= BOLD * side:
        return strength
    # Eroding by k px takes 2k from the stroke and from the box alike: (w - 2k) / (side - 2k)
    # is TARGET for this k.
    k = round((w - TARGET * side) / (2 * (1 - TARGET)))
    if k < 1 or 2 * k >= min(strength.shape):
        return strength
    return erode_round(strength, k)[k:-k, k:-k]  # the box shrinks by k on every side


def _cells(a: np.ndarray) -> int:
    """How many distinct rows (or columns, if wider) ``a`` has along its longer side, a row
    counting when it differs from the one before: the source's own resolution when enlarged
    with nearest-neighbour resampling."""
    axis = 0 if a.shape[0] >= a.shape[1] else 1
    changed = np.abs(np.diff(a, axis=axis)).max(axis=1 - axis) > 1
    return int(changed.sum()) + 1


def _sharpness(a: np.ndarray) -> float:
    """The longer side of ``a`` in edge widths: the pixels between a tenth and nine tenths of
    the peak, over 0.8 of the outline's length (a ramp spends 80% of its width there)."""
    s = a / 255.0
    variation = _variation(s)
    ramp = float(((s > 0.1) & (s < 0.9)).sum()) / (0.8 * variation) if variation > 0 else 0.0
    return max(a.shape) / max(ramp, 1.0)


def filled_out(digit: np.ndarray) -> np.ndarray:
    """A fitted digit whose strokes are finer than MNIST's 1st percentile, grown by GROW px.

    Parameters
    ----------
    digit : ndarray of shape (28, 28), dtype uint8
        A digit as ``images.prepare_digit`` fits it: light ink on black.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        ``digit`` itself (the same object) unless its mean stroke is under FAINT px; then a
        new array, its strokes grown by a grey dilation with a cross, blended to GROW px
        (its box one pixel larger on each side where the rim reaches past it).
    """
    w = width(digit.astype(np.float64))
    if w == 0 or w >= FAINT:
        return digit
    grown = stroke_resample(digit[None], np.array([GROW]))[0]
    return np.clip(np.rint(grown), 0, 255).astype(np.uint8)
