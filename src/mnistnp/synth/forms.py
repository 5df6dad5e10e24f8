"""MNIST test digits written in a form's box, as a digit cut out of a form comes: the box with
paper around it, the cell cut out along its lines, or the digit written across one of them
(conditions of ``renders``)."""

from __future__ import annotations

import numpy as np

from .files import BILINEAR, coverage_of, ink_box, on_paper, png, resized


def in_box(digit: np.ndarray, rng: np.random.Generator, sides: tuple[int, ...],
           margin: int, touch: bool = False) -> bytes:
    """Dark on white at 2-4x, written in a form's box: lines 1-4 px wide and black to light grey
    (level 0-170) on ``sides`` (0-3: top, bottom, left, right), 2-16 px from the ink, with
    ``margin`` px of paper outside them; with ``touch``, the digit moved across one side's
    line, into the paper beyond it by a pixel or more."""
    size = 28 * int(rng.integers(2, 5))
    cover = resized(coverage_of(digit), (size, size), BILINEAR)
    top, bottom, left, right = ink_box(cover, 0.02)
    ink = cover[top:bottom, left:right]
    gap, width = int(rng.integers(2, 17)), int(rng.integers(1, 5))
    strength = 1 - rng.uniform(0, 170) / 255
    inset = margin + gap + width
    page = np.zeros((ink.shape[0] + 2 * inset, ink.shape[1] + 2 * inset))
    page[inset:inset + ink.shape[0], inset:inset + ink.shape[1]] = ink
    if touch:
        crossed = int(rng.integers(4))  # the side whose line the digit is moved across
        page = np.roll(page, (gap + width + 1) * (1 if crossed % 2 else -1), axis=crossed // 2)
    box = page[margin:page.shape[0] - margin, margin:page.shape[1] - margin]
    lines = (box[:width], box[-width:], box[:, :width], box[:, -width:])
    for s in sides:
        np.maximum(lines[s], strength, out=lines[s])
    return png(on_paper(page))


def form_box(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """In a box with 1-12 px of paper around it."""
    return in_box(digit, rng, (0, 1, 2, 3), int(rng.integers(1, 13)))


def form_touch(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """In a box with 2-12 px of paper around it, the digit written across one of its lines."""
    return in_box(digit, rng, (0, 1, 2, 3), int(rng.integers(2, 13)), touch=True)


# The sides of a cell cut out of a form along its box's lines: all four, those of a row of
# boxes or a column of them, or three.
CELL_SIDES = ((0, 1, 2, 3), (0, 1), (2, 3), (0, 1, 2), (1, 2, 3))


def form_cell(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Cut out of a form along its box's lines: lines along two to four of the edges."""
    return in_box(digit, rng, CELL_SIDES[int(rng.integers(len(CELL_SIDES)))], 0)
