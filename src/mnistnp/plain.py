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
SMALL = 32  # images this small: the paper's noise is judged away from the strokes' rim
FRAME_BAND = 8  # a box around the digit: its ink within 1/8 of its shorter side of its edges,
FRAME_SIDE = 0.8  # along at least this share of each side
EDGE_LINE = 0.9  # a row or column at least this share dark is a line of a box along the edge
EDGE_RIM = 2  # the line's rim: at most this many rows or columns between it and the paper


def inside_box(grey: np.ndarray) -> np.ndarray:
    """``grey`` (uint8, (H, W)) without the lines of a box along its edges, as a form's cell
    cropped along its box's lines.

    On each side, a line is the rows or columns from the edge in that are dark (below Otsu's
    threshold) along at least EDGE_LINE of their length, with at most EDGE_RIM more at least
    half dark after them (the line's blurred rim; a vignette's darkness fades over more), all
    within an eighth of the shorter side. With lines on all four sides they are cut off; with
    lines on fewer, only those with a row or column of bare paper after them, away from its
    ends (a digit's stroke along the edge, as the bar of a 7 cropped to its ink, runs on into
    the digit). Nothing is cut unless the inside is mostly light and holds ink: a light digit
    on a dark ground and a square 0 cropped to its ink come back as they are. Left on, a dark
    border would make the box the ground and the paper inside it the ink."""
    limit = min(grey.shape) // 8
    if limit < 2:
        return grey
    a = grey.astype(np.float32)
    dark = a <= otsu(a)
    sides = (dark, dark[::-1], dark.T, dark.T[::-1])  # from the top, bottom, left, right
    lines, after = [], []  # each side's line (rows or columns, 0: none), the first one after
    for side in sides:
        share = side[:limit + 1].mean(axis=1)
        solid, light = np.flatnonzero(share < EDGE_LINE), np.flatnonzero(share < 0.5)
        if not len(light) or light[0] - solid[0] > EDGE_RIM:
            return grey  # a dark ground, or darkness fading inwards (a vignette)
        lines.append(int(light[0]) if solid[0] else 0)
        after.append(int(light[0]))
    top, bottom, left, right = lines
    if not all(lines):  # keep the lines with bare paper after them, the other sides' aside
        ends = ((left, right), (left, right), (top, bottom), (top, bottom))
        lines = [cut if cut and not side[row, first:len(side[row]) - last].any() else 0
                 for side, cut, row, (first, last) in zip(sides, lines, after, ends)]
        top, bottom, left, right = lines
    if not any(lines):
        return grey
    rows, cols = slice(top, grey.shape[0] - bottom), slice(left, grey.shape[1] - right)
    inside = grey[rows, cols]
    if dark[rows, cols].mean() >= 0.5 or int(inside.max()) - int(inside.min()) < INK_LEVEL:
        return grey  # a dark ground; or nothing inside the box: the box is the drawing
    return inside


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
    marks = _block_any(ink, scale)
    boxes = np.zeros(marks.shape, bool)  # the lines of a box around the digit, left out
    digit = _one_digit(marks, boxes)
    if digit is None:
        return None
    # The digit's faint edges: what stands out from the paper's noise and touches its strokes
    # (hysteresis, as ``ink`` does it), so no anti-aliased pixel is lost.
    faint = _block_any(a - paper > max(5 * noise, (threshold - paper) / 8), scale) & ~boxes
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
    both ways, while the blur beside a stroke runs one way. Zero for a clean render.

    In an image at most SMALL pixels a side, the pixels next to the ink are left out when at
    least 16 pairs remain: there the blur beside the strokes, within a pixel of them, is most
    of the paper (a digit of 16 px filling its frame), where noise is everywhere."""
    paper, enough = ~ink, 64
    if max(a.shape) <= SMALL:
        far = ~dilate(ink, 1)
        if min(_pairs(far, axis).sum() for axis in (0, 1)) >= 16:
            paper, enough = far, 16
    sigmas = []
    for axis in (0, 1):
        both = _pairs(paper, axis)
        if both.sum() >= enough:
            steps = np.abs(np.diff(a, axis=axis, prepend=a.take([0], axis=axis)))
            sigmas.append(1.4826 * float(np.median(steps[both])) / np.sqrt(2))
    return min(sigmas, default=0.0)


def _pairs(paper: np.ndarray, axis: int) -> np.ndarray:
    """Paper pixels whose neighbour before them along ``axis`` is paper too."""
    return paper & (np.diff(paper, axis=axis, prepend=True) == 0)


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


def _one_digit(mask: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
    """The pieces of ``mask`` that make the digit: the largest, with the pieces near it at
    least 1/25 its size (a broken stroke); specks and far smaller marks are left out. None if
    another piece the size of a digit stands beside it, or the ink fills the picture. A box
    drawn around the digit (a form's) is left out first, and added to ``boxes``."""
    pieces = components(mask)
    labels, areas = np.unique(pieces[pieces > 0], return_counts=True)
    for label in labels[areas * 25 >= areas.max()]:
        piece = pieces == label
        lines = piece if _frames(piece, mask & ~piece) else _box_lines(piece)
        if lines is not None:
            boxes |= lines
            return _one_digit(mask & ~lines, boxes)
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


def _frames(piece: np.ndarray, rest: np.ndarray) -> bool:
    """Whether ``piece`` is a box drawn around the rest of the ink, as a form's box around the
    digit written in it: its ink lies along the four sides of its own box (within an eighth of
    the box's shorter side of them, FRAME_BAND), drawn along at least FRAME_SIDE of each side,
    and inside it stands ink at least a quarter of the box's height or width. A 0 is not one:
    its ink leaves the corners of its box, and nothing that size stands inside it."""
    framed = _boxed(piece)
    if framed is None:
        return False
    (top, bottom, left, right), own, band = framed
    inner = np.zeros(own.shape, bool)
    inner[band:-band, band:-band] = True
    if own[inner].any():
        return False
    sides = (own[:band].any(axis=0), own[-band:].any(axis=0),
             own[:, :band].any(axis=1), own[:, -band:].any(axis=1))
    if min(float(side.mean()) for side in sides) < FRAME_SIDE:
        return False
    return _holds_a_digit(rest[top:bottom, left:right] & inner, own.shape)


def _boxed(piece: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray, int] | None:
    """The box of ``piece``, the piece within it and the band along its sides where a drawn
    box's lines lie (an eighth of its shorter side); None when the box is too small to hold
    lines and something inside them."""
    top, bottom, left, right = box(piece)
    band = max(1, min(bottom - top, right - left) // FRAME_BAND)
    if min(bottom - top, right - left) < 4 * band + 4:
        return None
    return (top, bottom, left, right), piece[top:bottom, left:right], band


def _holds_a_digit(inside: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether the ink ``inside`` a box of ``shape`` is a mark at least a quarter of its height
    or width: a digit written in it, not a speck."""
    if not inside.any():
        return False
    top, bottom, left, right = box(inside)
    return 4 * max(bottom - top, right - left) >= min(shape)


def _box_lines(piece: np.ndarray) -> np.ndarray | None:
    """The lines of a box drawn around the digit that the digit touches (a piece of both): on
    each of the four sides of the piece's box, within an eighth of its shorter side, rows or
    columns drawn along at least EDGE_LINE of the box, each followed by one drawn along less
    than half (a thin line, not the edge of a blob), and inside them a mark at least a quarter
    of the box's height or width. None for anything else."""
    framed = _boxed(piece)
    if framed is None:
        return None
    (top, bottom, left, right), own, band = framed
    depths = []  # on each side, the rows or columns its line takes from the edge in
    for cover in (own.mean(axis=1), own[::-1].mean(axis=1),
                  own.mean(axis=0), own[:, ::-1].mean(axis=0)):
        drawn = np.flatnonzero(cover[:band] >= EDGE_LINE)
        if not len(drawn) or cover[drawn[-1] + 1] >= 0.5:
            return None
        depths.append(int(drawn[-1]) + 1)
    height, width = own.shape
    inner = (slice(depths[0], height - depths[1]), slice(depths[2], width - depths[3]))
    lines = np.ones(own.shape, bool)
    lines[inner] = False
    if not _holds_a_digit(own[inner], own.shape):
        return None
    out = np.zeros(piece.shape, bool)
    out[top:bottom, left:right] = lines & own
    return out
