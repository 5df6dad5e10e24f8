"""MNIST test digits written on ruled or squared paper, as a scan of a school notebook's page
comes: the paper's printed lines, lighter than the ink, run the whole width (and, squared, the
whole height) of the image, behind and across the digit (conditions of ``renders``)."""

from __future__ import annotations

import numpy as np
from PIL import ImageFilter

from .files import BILINEAR, coverage_of, ink_box, on_paper, png, resized


def lined(digit: np.ndarray, rng: np.random.Generator, spacing: tuple[float, float],
          squared: bool) -> bytes:
    """Dark on white at 2-4x, with 6-40 px of paper around the ink, on paper ruled with lines
    1-3 px wide at level 110-220, every ``spacing`` (a range, in digit heights) apart from a
    random start; across as well as along, if ``squared``. Half of them blurred (a Gaussian of
    sigma 0.5-1.2 px), as a photo of the page or a soft scan comes."""
    size = 28 * int(rng.integers(2, 5))
    cover = resized(coverage_of(digit), (size, size), BILINEAR)
    top, bottom, left, right = ink_box(cover, 0.02)
    ink = cover[top:bottom, left:right]
    margin = rng.integers(6, 41, size=4)
    page = np.zeros((ink.shape[0] + margin[0] + margin[1], ink.shape[1] + margin[2] + margin[3]))
    page[margin[0]:margin[0] + ink.shape[0], margin[2]:margin[2] + ink.shape[1]] = ink
    page *= 1 - rng.uniform(0, 60) / 255  # the pen: black to dark grey
    lines = np.zeros_like(page)
    step = max(4, round(ink.shape[0] * rng.uniform(*spacing)))
    width, strength = int(rng.integers(1, 4)), 1 - rng.uniform(110, 220) / 255
    for axis in (0, 1) if squared else (0,):
        for start in range(int(rng.integers(step)), page.shape[axis], step):
            if axis == 0:
                lines[start:start + width] = strength
            else:
                lines[:, start:start + width] = strength
    image = on_paper(np.maximum(page, lines))
    if rng.random() < 0.5:  # a photo of the page, or a soft scan: the lines a few pixels wide
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.2))))
    return png(image)


def ruled(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Lines along, 0.6-1.4 digit heights apart (a notebook's ruling)."""
    return lined(digit, rng, (0.6, 1.4), squared=False)


def squared(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Lines along and across, 0.4-0.9 digit heights apart (squared paper)."""
    return lined(digit, rng, (0.4, 0.9), squared=True)
