"""MNIST test digits rendered as users' image files come (the plain MNIST preparation that
``predict``'s is measured against is in ``baseline``).

Each condition turns one MNIST digit (28x28, light on black) into the bytes of a PNG or JPEG
file, drawn from a seeded generator: clean renders, drawings with a round brush, 28x28 images
off-centre or scaled, degraded scans, digits written in a form's box or on ruled or squared
paper, and photos (``photos``). ``benchmarks/render_bench.py`` reads them all with both
preparations and both models; ``tests/synth/test_renders.py`` reads a few of each.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .files import (
    BILINEAR,
    NEAREST,
    coverage_of,
    grey,
    ink_box,
    jpeg,
    on_paper,
    placed,
    png,
    resized,
    transparent,
)
from .forms import form_box, form_cell, form_touch
from .paper import ruled, squared
from .photos import CONDITIONS as PHOTO_CONDITIONS
from .photos import make_photo

Render = Callable[[np.ndarray, np.random.Generator], bytes]


# --- clean ------------------------------------------------------------------------------------

def as_is(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(Image.fromarray(digit))


def inverted(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return png(Image.fromarray(255 - digit))


def upscaled(method: Image.Resampling) -> Render:
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        side = 28 * int(rng.integers(2, 9))
        return png(on_paper(resized(coverage_of(digit), (side, side), method)))
    return render


def padded(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Dark on white, anywhere on a larger canvas."""
    height, width = (int(v) for v in rng.integers(36, 121, 2))
    return png(on_paper(placed(coverage_of(digit), (height, width), rng)))


def rgb(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Coloured ink (black, blue, red, green or pencil grey) on white, upscaled 3x."""
    colour = np.array([(0, 0, 0), (20, 40, 160), (170, 20, 20), (10, 110, 40),
                       (80, 80, 80)][int(rng.integers(0, 5))], np.float64)
    cover = resized(coverage_of(digit), (84, 84), BILINEAR)[..., None]
    pixels = 255 + cover * (colour - 255)
    return png(Image.fromarray(np.round(pixels).astype(np.uint8), "RGB"))


def rgba(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black ink, opaque, on a transparent canvas, 1-4x."""
    side = 28 * int(rng.integers(1, 5))
    return png(transparent(resized(coverage_of(digit), (side, side), BILINEAR), (0, 0, 0), rng))


def light_ink(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Light grey ink (140-200) on white, 2x."""
    cover = resized(coverage_of(digit), (56, 56), BILINEAR)
    return png(on_paper(cover, ink=float(rng.uniform(140, 200))))


def stroked(grow: int) -> Render:
    """Dark on white at 4x with each stroke grown (> 0) or thinned (< 0) by ``abs(grow)`` px."""
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        big = Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC)
        size = 2 * abs(grow) + 1
        big = big.filter(ImageFilter.MaxFilter(size) if grow > 0 else ImageFilter.MinFilter(size))
        return png(Image.fromarray(255 - np.asarray(big)))
    return render


# --- drawn with a round brush -----------------------------------------------------------------

def skeleton(digit: np.ndarray) -> np.ndarray:
    """The digit's strokes one pixel wide (Zhang-Suen thinning of it at twice its size)."""
    big = resized(coverage_of(digit), (56, 56), BILINEAR) > 0.45
    mask = np.pad(big, 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(mask, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]
            count = sum(q.astype(int) for q in p)
            turns = sum((~p[i] & p[(i + 1) % 8]).astype(int) for i in range(8))
            if step == 0:
                keep = (p[0] & p[2] & p[4]) | (p[2] & p[4] & p[6])
            else:
                keep = (p[0] & p[2] & p[6]) | (p[0] & p[4] & p[6])
            drop = mask & (count >= 2) & (count <= 6) & (turns == 1) & ~keep
            if drop.any():
                mask = mask & ~drop
                changed = True
        if not changed:
            return mask[1:-1, 1:-1]


def brush(digit: np.ndarray, canvas: int, height: float, width: float,
          rng: np.random.Generator, margin: float | None = None) -> np.ndarray:
    """The digit drawn with a round brush ``width`` px wide, ``height`` px tall, anywhere on a
    ``canvas``-px square, antialiased (drawn at 4x, or 2x on large canvases, and reduced)."""
    bones = skeleton(digit)
    ys, xs = np.nonzero(bones)
    top, left = ys.min(), xs.min()
    span = max(ys.max() - top, xs.max() - left, 1)
    scale = height / span
    extent_y, extent_x = (ys.max() - top) * scale + width, (xs.max() - left) * scale + width
    room = (canvas - extent_y, canvas - extent_x)
    low = 0.0 if margin is None else margin
    y0 = width / 2 + rng.uniform(low, max(low, room[0] - low))
    x0 = width / 2 + rng.uniform(low, max(low, room[1] - low))
    ss = 4 if canvas <= 300 else 2
    image = Image.new("L", (canvas * ss, canvas * ss), 0)
    draw = ImageDraw.Draw(image)
    points = {(y, x): (ss * (x0 + (x - left) * scale), ss * (y0 + (y - top) * scale))
              for y, x in zip(ys.tolist(), xs.tolist())}
    r = ss * width / 2
    for (y, x), (px, py) in points.items():
        draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
            other = points.get((y + dy, x + dx))
            if other is not None:
                draw.line(((px, py), other), fill=255, width=max(1, round(2 * r)))
    return np.asarray(image.reduce(ss), np.float64) / 255


def drawn(low: float, high: float, digits: bool = False) -> Render:
    """A brush ``low``-``high`` times the digit's height wide (4-30 px), on a 100-600 px canvas."""
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        canvas = int(rng.integers(100, 601))
        height = canvas * rng.uniform(0.5, 0.8)
        width = float(np.clip(height * rng.uniform(low, high), 4, 30))
        return png(on_paper(brush(digit, canvas, height, width, rng)))
    return render


def big_holes(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A large digit (used for 0, 6, 8 and 9) drawn with a 12-22 px brush on 200-400 px."""
    canvas = int(rng.integers(200, 401))
    width = float(rng.uniform(12, 22))
    height = canvas * rng.uniform(0.75, 0.9) - width
    return png(on_paper(brush(digit, canvas, height, width, rng)))


def tight_crop(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A drawing cut to its ink with a margin of 0-12 px."""
    canvas = int(rng.integers(150, 401))
    cover = brush(digit, canvas, canvas * rng.uniform(0.5, 0.8),
                  float(rng.uniform(6, 24)), rng, margin=12)
    top, bottom, left, right = ink_box(cover, 0.02)
    m = int(rng.integers(0, 13))
    cut = cover[max(0, top - m):bottom + m, max(0, left - m):right + m]
    return png(on_paper(cut))


def on_transparent(colour: tuple[int, int, int]) -> Render:
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        canvas = int(rng.integers(100, 401))
        cover = brush(digit, canvas, canvas * rng.uniform(0.5, 0.8),
                      float(rng.uniform(6, 24)), rng)
        return png(transparent(cover, colour, rng))
    return render


# --- 28x28, light on dark, not yet fitted and centred -------------------------------------------

def off_centre(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Moved up to 6 px off-centre each way, kept whole on the canvas."""
    top, bottom, left, right = ink_box(coverage_of(digit))
    dy = int(np.clip(rng.integers(-6, 7), -top, 28 - bottom))
    dx = int(np.clip(rng.integers(-6, 7), -left, 28 - right))
    if dy == 0 and dx == 0:
        dx = 1 if right < 28 else -1
    return png(Image.fromarray(np.roll(np.roll(digit, dy, 0), dx, 1)))


def small(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Scaled so its longer side is 10-26 px, anywhere on the 28x28 canvas."""
    top, bottom, left, right = ink_box(coverage_of(digit))
    ink = coverage_of(digit)[top:bottom, left:right]
    side = int(rng.integers(10, 27))
    scale = side / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return png(grey(255 * placed(resized(ink, size, BILINEAR), (28, 28), rng)))


# --- degraded ---------------------------------------------------------------------------------

def low_resolution(cells: int, method: Image.Resampling) -> Render:
    """Dark on white, reduced to ``cells`` x ``cells`` and enlarged back to 32-96 px."""
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        low = resized(coverage_of(digit), (cells, cells), Image.Resampling.BOX)
        side = int(rng.integers(32, 97))
        return png(on_paper(resized(low, (side, side), method)))
    return render


def edge_crop(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Dark on white at 2-4x, cut so the ink touches one to four of the edges."""
    side = 28 * int(rng.integers(2, 5))
    cover = resized(coverage_of(digit), (side, side), BILINEAR)
    box = list(ink_box(cover, 0.1))
    sides = rng.permutation(4)[:int(rng.integers(1, 5))]
    bounds = [0, side, 0, side]
    for s in sides:
        bounds[s] = box[s]
    return png(on_paper(cover[bounds[0]:bounds[1], bounds[2]:bounds[3]]))


def low_quality_jpeg(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Dark on white at 1-4x, JPEG quality 5-25."""
    side = 28 * int(rng.integers(1, 5))
    image = on_paper(resized(coverage_of(digit), (side, side), BILINEAR))
    return jpeg(image, int(rng.integers(5, 26)))


def scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A digit from a scanned form: grey paper with grain, reduced to 14-24 px, enlarged to
    32-64 px (nearest or bilinear), stored as grey, RGB, or RGBA with the paper transparent,
    sometimes as a JPEG."""
    cells = int(rng.integers(14, 25))
    low = resized(coverage_of(digit), (cells, cells), Image.Resampling.BOX)
    paper, ink = rng.uniform(200, 250), rng.uniform(0, 90)
    pixels = paper + low * (ink - paper) + rng.normal(0, rng.uniform(1, 6), low.shape)
    side = int(rng.integers(32, 65))
    method = NEAREST if rng.random() < 0.5 else BILINEAR
    big = resized(np.clip(pixels, 0, 255) / 255, (side, side), method) * 255
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return png(grey(big))
    if kind == 1:
        return jpeg(grey(big).convert("RGB"), int(rng.integers(60, 95)))
    if kind == 2:
        return png(grey(big).convert("RGB"))
    return png(transparent(np.clip((paper - big) / (paper - ink), 0, 1), (0, 0, 0), rng))


# --- photos -----------------------------------------------------------------------------------

def photo(condition: str) -> Render:
    def render(digit: np.ndarray, rng: np.random.Generator) -> bytes:
        return jpeg(make_photo(condition, digit, rng), 95)
    return render


# name: (group, render, the digits it is for: None for all)
CONDITIONS: dict[str, tuple[str, Render, tuple[int, ...] | None]] = {
    "as-is": ("clean", as_is, None),
    "inverted": ("clean", inverted, None),
    "nearest-2-8x": ("clean", upscaled(NEAREST), None),
    "bilinear-2-8x": ("clean", upscaled(BILINEAR), None),
    "padded": ("clean", padded, None),
    "rgb": ("clean", rgb, None),
    "rgba": ("clean", rgba, None),
    "light-ink": ("clean", light_ink, None),
    "thick": ("clean", stroked(3), None),
    "thin": ("clean", stroked(-1), None),
    "drawn": ("drawn", drawn(0.06, 0.2), None),
    "drawn-fine": ("drawn", drawn(0.01, 0.06), None),
    "big-holes": ("drawn", big_holes, (0, 6, 8, 9)),
    "tight-crop": ("drawn", tight_crop, None),
    "white-on-clear": ("drawn", on_transparent((255, 255, 255)), None),
    "black-on-clear": ("drawn", on_transparent((0, 0, 0)), None),
    "off-centre-28": ("28x28", off_centre, None),
    "small-28": ("28x28", small, None),
    "blocky-8": ("degraded", low_resolution(8, NEAREST), None),
    "blocky-12": ("degraded", low_resolution(12, NEAREST), None),
    "blocky-16": ("degraded", low_resolution(16, NEAREST), None),
    "blurry-8": ("degraded", low_resolution(8, BILINEAR), None),
    "blurry-12": ("degraded", low_resolution(12, BILINEAR), None),
    "blurry-16": ("degraded", low_resolution(16, BILINEAR), None),
    "edge-crop": ("degraded", edge_crop, None),
    "jpeg-5-25": ("degraded", low_quality_jpeg, None),
    "scan": ("degraded", scan, None),
    **{f"photo-{name}": ("photo", photo(name), None) for name in PHOTO_CONDITIONS},
    # last, so that the conditions before them draw the same renders as before they came
    "form-box": ("form", form_box, None),
    "form-cell": ("form", form_cell, None),
    "form-touch": ("form", form_touch, None),
    "ruled": ("paper", ruled, None),
    "squared": ("paper", squared, None),
}
CLEAN_GROUPS = ("clean", "28x28")  # within 0.5 points of the model on the originals


def chosen(name: str, labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first ``n`` digits the condition is for."""
    classes = CONDITIONS[name][2]
    return (np.flatnonzero(np.isin(labels, classes)) if classes else np.arange(len(labels)))[:n]


def render_set(name: str, digits: np.ndarray, labels: np.ndarray, n: int,
               seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """The first ``n`` digits the condition is for, rendered; their labels."""
    render = CONDITIONS[name][1]
    indices = chosen(name, labels, n)
    rng = np.random.default_rng([seed, list(CONDITIONS).index(name)])
    return [render(digits[i], rng) for i in indices], labels[indices]
