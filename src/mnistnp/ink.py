"""Finding the digit in a grey picture as a person would: the paper's level estimated around
the strokes, an Otsu threshold, the largest ink kept, and the table around the paper ignored."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import ImageError
from .morphology import (
    box,
    closing,
    components,
    dilate,
    fill_holes,
    odd,
    opening,
    otsu,
    radius,
    shave_peaks,
    shrink,
    window,
)

INK_LEVEL = 32  # grey levels the ink must stand out from the paper by; less is blank
GRID = 160  # the digit is looked for on a box-averaged copy at most this many cells long
WORK = 1024  # the ink is cut from a copy at most this many pixels on its long side


def find_ink(grey: np.ndarray, name: str) -> np.ndarray:
    """The digit in ``grey`` (uint8 of shape (H, W)) as ink strength: float32 of shape (h, w),
    cropped to the ink, the background 0 and the peak 255, light ink whatever the original.

    Raises ImageError starting with ``name`` if no single digit is there: nothing stands out
    from the paper (blank), nothing more than its noise does, only regions reaching the
    picture's edge do (a shadow, a table), several marks the size of a digit stand side by
    side, or the ink fills the picture edge to edge.
    """
    work = shrink(grey, WORK / max(grey.shape))
    scale = -(-max(work.shape) // GRID)  # cells of scale x scale work pixels
    grid = shrink(work, 1 / scale).astype(np.float32)
    sheet = sheet_of(grid)
    dark_ink = sheet is not None or _paper_is_light(grid)
    if dark_ink:  # from here on the ink is light on a dark ground, as in MNIST
        grid, work = 255 - grid, 255 - work
    ground = shave_peaks(grid)  # the paper under each mark: the level around it
    kept = _find_digit(grid, ground, sheet, name)
    return crop_ink(*_contrast(work, ground, kept, scale, dark_ink), name)


def _contrast(work: np.ndarray, ground: np.ndarray, kept: np.ndarray, scale: int,
              dark_ink: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The box around the digit's cells, from the work copy (light ink on dark): each pixel's
    ink against the paper under it, with where the digit is (a cell's margin added) and where
    the paper near it is."""
    zone = dilate(kept, 1)
    near = dilate(zone, max(1, round(min(zone.shape) / 24))) & ~zone
    top, bottom, left, right = box(zone)
    ys, xs = slice(top * scale, bottom * scale), slice(left * scale, right * scale)
    part = work[ys, xs].astype(np.float32)
    paper = _upsample(ground, scale, work.shape)[ys, xs]
    contrast = part - paper
    if dark_ink:
        # Ink under a shadow is as much darker than its paper as ink in the light: measure it
        # against the local paper, but not below half the brightest paper (the table is not paper).
        contrast *= 255.0 / np.maximum(255 - paper, (255 - float(ground.min())) / 2)
    cells = np.ones((scale, scale), bool)
    height, width = part.shape
    inside = np.kron(zone, cells)[ys, xs][:height, :width]
    around = np.kron(near, cells)[ys, xs][:height, :width]
    return contrast, inside, around


def _find_digit(grid: np.ndarray, ground: np.ndarray, sheet: np.ndarray | None,
                name: str) -> np.ndarray:
    """The grid cells holding the digit (light on dark ``grid``, ``ground`` the paper under
    each mark, only ``sheet`` looked at if given); ImageError, saying why, if there is none."""
    depth = grid - ground
    if sheet is not None:  # the grain of the table around the paper is no ink
        depth *= sheet
    noise = noise_of(grid)
    kept = _digit_cells(depth, noise, name)
    if kept is not None:
        return kept
    low, high = np.percentile(grid[sheet] if sheet is not None else grid, [2, 98])
    if high - low < INK_LEVEL + 8 * noise:  # the sheet's own edge cells are the 2% left out
        raise ImageError(f"{name}: no ink found (a blank image)")
    raise ImageError(f"{name}: no digit found, only dark or light regions reaching the image's "
                     "edge (a shadow, a table, or ink filling the frame)")


def crop_ink(contrast: np.ndarray, inside: np.ndarray, around: np.ndarray, name: str) -> np.ndarray:
    """``contrast`` (ink positive) inside the digit's zone, less the paper's own level and cut to
    the pixels standing out from the paper's noise, stretched so the peak is 255 (MNIST digits
    peak at 254-255 on a 0 background). ``around`` marks the paper near the digit.

    Clean images have no noise, so every faint anti-aliased pixel is kept.
    """
    paper = contrast[around] if around.any() else np.zeros(1, np.float32)
    level = float(np.median(paper))
    # The box takes every pixel standing out from the paper by more than its noise (measured
    # around the digit), so clean images keep their faint anti-aliased edges and noisy or
    # JPEG-ringing ones grow no specks.
    noise = float(np.percentile(np.abs(paper - level), 99))
    floor = min(INK_LEVEL, 3 * noise)
    ink = np.clip(contrast - level, 0.0, None) * inside
    if float(ink.max()) - floor < INK_LEVEL:
        raise ImageError(f"{name}: no ink found (a blank image)")
    mask = ink > floor
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return ink * (255.0 / ink.max())


def _digit_cells(detail: np.ndarray, noise: float, name: str) -> np.ndarray | None:
    """Boolean mask of the grid cells that hold the digit; None if no mark at all stands out
    from the paper around it; ImageError if marks do but not one digit.

    Pieces are the regions standing out from the noise that hold a stroke, a cell above
    Otsu's threshold (hysteresis, as in Canny's edge finder: no faint edge of a stroke is
    lost, and no faint smudge is taken on its own). Pieces touching the image's edge (the
    table around the paper, a shadow's rim) count only if nothing else does. The largest is
    kept, with the pieces near it at least 1/25 its size (the digit's box, as it grows,
    reaching out by half its size each time).
    """
    threshold = max(otsu(detail), 12 * noise, INK_LEVEL / 4)
    strong, weak = detail > threshold, detail > max(5 * noise, threshold / 8)
    if not strong.any():
        if float(detail.max()) > INK_LEVEL:  # there are marks, but no more than the noise's
            raise ImageError(f"{name}: no digit stands out from the noise")
        return None
    regions = components(weak)
    labels, areas = np.unique(regions[strong], return_counts=True)  # strokes in each
    pieces = np.where(np.isin(regions, labels), regions, 0)
    edge = set(np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]])))
    inner = [i for i, label in enumerate(labels) if label not in edge]
    choice = inner if inner else list(range(len(labels)))
    best = max(choice, key=lambda i: areas[i])
    main = pieces == labels[best]
    others = [i for i in choice if i != best and beside(pieces == labels[i], main)]
    if others:
        raise ImageError(f"{name}: {len(others) + 1} marks the size of a digit side by side; "
                         "crop the image to one digit")
    candidates = np.isin(pieces, [labels[i] for i in choice if areas[i] >= areas[best] / 25])
    digit = gather(pieces, main, candidates)
    sides = (digit[0], digit[-1], digit[:, 0], digit[:, -1])
    if digit.mean() > 0.5 and all(side.any() for side in sides):
        raise ImageError(f"{name}: no digit stands out: the ink fills the whole image "
                         f"({100 * digit.mean():.0f}% of it, edge to edge)")
    return digit


def gather(pieces: np.ndarray, main: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``main`` with the pieces of a broken stroke: each of the ``candidates`` (a mask of whole
    pieces of the labelled ``pieces``) near the digit as found so far, the digit's box, as it
    grows, reaching out by half its size each time."""
    digit = main
    while True:
        top, bottom, left, right = box(digit)
        near = dilate(digit, max(2, max(bottom - top, right - left) // 2))
        gathered = np.isin(pieces, np.unique(pieces[near & candidates]))
        if np.array_equal(gathered, digit):
            return digit
        digit = gathered


def beside(piece: np.ndarray, main: np.ndarray) -> bool:
    """Whether ``piece`` is another digit: to the left or right of ``main`` with a gap of a
    sixth of its height between them (the pieces of a stroke broken by a thin pen or a faint
    scan lie closer), on the same line, at least half as tall and with a fifth of its ink."""
    top, bottom, left, right = box(piece)
    main_top, main_bottom, main_left, main_right = box(main)
    gap = max(main_left - right, left - main_right)
    return (6 * gap >= main_bottom - main_top and top < main_bottom and bottom > main_top
            and 2 * (bottom - top) >= main_bottom - main_top and 5 * piece.sum() >= main.sum())


def noise_of(grid: np.ndarray) -> float:
    """The grid's noise (sigma), from the median absolute difference of neighbours: most
    neighbours are both paper, so edges do not count. Zero for a clean drawing."""
    steps = np.abs(np.diff(grid, axis=1))
    return 1.4826 * float(np.median(steps)) / np.sqrt(2) if steps.size else 0.0


def _paper_is_light(grid: np.ndarray) -> bool:
    """Whether the digit is dark on light.

    Three cues vote (a sheet of paper on a dark table is recognised before), each
    fooled by something different: the image's edge is nearer the light end than the dark end
    (fooled by strong shading at the edge); the median, the paper, is further from the darkest
    level than from the lightest (fooled by ink covering half the image); and the marks that
    are darker than all around them, not enclosed by lighter marks, outnumber the lighter ones
    (the loops of a digit are marks of the other kind, enclosed by its strokes; fooled by a
    bright middle under strong falloff, which rings the strokes with lighter paper).
    """
    dark, light = float(grid.min()), float(grid.max())
    edge = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    by_edge = float(np.median(edge)) > (dark + light) / 2
    median = float(np.median(grid))
    by_median = median - dark > light - median
    # Marks are also narrower than a third of the picture: light falloff is not a mark.
    size, level = odd(min(grid.shape) / 3), (light - dark) / 4
    darker = np.minimum(fill_holes(grid), closing(grid, size)) - grid > level
    lighter = grid - np.maximum(shave_peaks(grid), opening(grid, size)) > level
    dark_area, light_area = _free_area(darker, lighter), _free_area(lighter, darker)
    by_marks = by_median if dark_area == light_area else dark_area > light_area
    return by_edge + by_median + by_marks >= 2


def _free_area(marks: np.ndarray, other: np.ndarray) -> int:
    """How many cells of ``marks`` lie in pieces not enclosed by ``other`` (at least half the
    cells bordering the piece are, or touch, ``other``)."""
    pieces = components(marks)
    grown = window(pieces, 3, np.maximum)
    ring = (grown > 0) & (pieces == 0)
    size = int(pieces.max()) + 1
    bordering = np.bincount(grown[ring], minlength=size)
    covered = np.bincount(grown[ring & dilate(other, 1)], minlength=size)
    area = np.bincount(pieces[marks], minlength=size)
    return int(area[covered * 2 < bordering].sum())


def sheet_of(grid: np.ndarray) -> np.ndarray | None:
    """The cells of a sheet of paper lying on a darker table (with the marks on it), or None.

    The sheet is the largest region lighter than all around it, on darker ground (a table, not
    the paper around a large 0's hole), and is not a light digit: it and its marks fill most of
    its box and 30% of the picture, and it is blank and wide (wider
    than a fifth of the picture's short side), or its marks are thin strokes, far thinner than
    the sheet is wide. (Of MNIST's 10,000 test digits, light on dark, none passes; the largest
    covers 29% of its image.)
    """
    raised = grid - shave_peaks(grid) > (float(grid.max()) - float(grid.min())) / 2
    if not raised.any():
        return None
    pieces = components(raised)
    labels, areas = np.unique(pieces[pieces > 0], return_counts=True)
    top, bottom, left, right = box(pieces == labels[np.argmax(areas)])
    light = (pieces == labels[np.argmax(areas)])[top:bottom, left:right]
    solid = fill_holes(light.astype(np.float32)) > 0.5  # with everything it encloses
    marks = solid & ~raised[top:bottom, left:right]
    if solid.mean() < 0.7 or solid.sum() < 0.3 * grid.size:
        return None
    width = radius(light)
    if marks.any():
        mark_top, mark_bottom, mark_left, mark_right = box(marks)
        extent = max(mark_bottom - mark_top, mark_right - mark_left)
        thickness = radius(marks)
        if 2.5 * thickness > width or 4 * thickness > extent:
            return None
    elif 5 * width < min(grid.shape):
        return None
    sheet = np.zeros(grid.shape, bool)
    sheet[top:bottom, left:right] = solid
    if (~sheet).any() and np.median(grid[~sheet]) > (np.median(grid[sheet]) + grid.min()) / 2:
        return None  # lighter all around, like the paper around a large 0's hole: no table
    return sheet


def _upsample(a: np.ndarray, scale: int, shape: tuple[int, ...]) -> np.ndarray:
    """The grid ``a`` back at work size ``shape`` (bilinear)."""
    if scale == 1:
        return a
    return np.asarray(Image.fromarray(a, "F").resize((shape[1], shape[0]),
                                                      Image.Resampling.BILINEAR))
