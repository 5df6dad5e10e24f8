"""Photo-like images of handwritten digits made from real MNIST digits: dark ink on paper with
a shadow, a vignette, a dark table around the sheet, thin or thick strokes, sensor noise and
JPEG artefacts, each drawn from a seeded generator (``make_photo``)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HEIGHT, WIDTH = 240, 320  # a small phone photo; big enough for strokes 2-20 pixels wide


def ink_layer(digit: np.ndarray, side: int, stroke: int) -> np.ndarray:
    """``digit`` (28x28, light on black) upscaled to ``side`` pixels as ink coverage 0..1,
    its strokes eroded (``stroke`` < 0) or dilated (> 0) by ``abs(stroke)`` pixels each side."""
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    if stroke:
        grow = ImageFilter.MaxFilter if stroke > 0 else ImageFilter.MinFilter
        big = big.filter(grow(2 * abs(stroke) + 1))
    return np.asarray(big, np.float64) / 255


def page(ink: np.ndarray, rng: np.random.Generator, shape: tuple[int, int] = (HEIGHT, WIDTH),
         centre: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Dark ink on light paper, float grey of ``shape``, and the ink's top-left corner (at
    ``centre`` if given, else anywhere with a margin)."""
    paper, dark = rng.uniform(190, 240), rng.uniform(20, 70)
    image = np.full(shape, paper)
    side = ink.shape[0]
    if centre is None:
        top = int(rng.integers(10, shape[0] - side - 10))
        left = int(rng.integers(10, shape[1] - side - 10))
    else:
        top, left = int(centre[0] - side / 2), int(centre[1] - side / 2)
    image[top:top + side, left:left + side] -= ink * (paper - dark)
    return image, (top, left)


def coordinates(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pixel, as floats."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    return rows, cols


def shadow(image: np.ndarray, corner: tuple[int, int], side: int,
           rng: np.random.Generator) -> np.ndarray:
    """Light falling off across the page to 40-60%, and a soft-edged shadow (a phone or a
    hand) darkening the page corner farthest from the digit to half."""
    y, x = coordinates(image.shape)
    angle = rng.uniform(0, 2 * np.pi)
    along = np.cos(angle) * y + np.sin(angle) * x
    falloff = 1 - rng.uniform(0.4, 0.6) * (along - along.min()) / np.ptp(along)
    h, w = image.shape
    middle = (corner[0] + side / 2, corner[1] + side / 2)
    far = (h - 1 if middle[0] < h / 2 else 0, w - 1 if middle[1] < w / 2 else 0)
    reach = 0.8 * np.hypot(middle[0] - far[0], middle[1] - far[1]) - side * 0.75
    dark = np.hypot(y - far[0], x - far[1]) < max(reach, 0.0)
    soft = Image.fromarray((dark * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(6))
    return image * falloff * (1 - 0.5 * np.asarray(soft) / 255)


def vignette(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Corners 40-55% darker than the centre, as a phone lens gives."""
    y, x = coordinates(image.shape)
    h, w = image.shape
    r2 = ((y - h / 2) / (h / 2)) ** 2 + ((x - w / 2) / (w / 2)) ** 2
    return image * (1 - rng.uniform(0.4, 0.55) * r2 / 2)


def on_table(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sheet of paper, turned a little, filling 55-75% of the frame's width on a dark,
    grainy table; the digit near the sheet's middle."""
    h, w = HEIGHT, WIDTH
    grain = Image.fromarray(rng.integers(0, 256, (h // 8, w // 8), dtype=np.uint8))
    grain = grain.resize((w, h), Image.Resampling.BICUBIC)
    table = rng.uniform(30, 80) + 0.15 * (np.asarray(grain, np.float64) - 128)
    cy, cx = h / 2 + rng.uniform(-10, 10), w / 2 + rng.uniform(-20, 20)
    half_w, half_h = rng.uniform(0.55, 0.75) * w / 2, rng.uniform(0.7, 0.85) * h / 2
    turn = np.radians(rng.uniform(-8, 8))
    cos, sin = np.cos(turn), np.sin(turn)
    corners = [(cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
               for dx, dy in ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h),
                              (-half_w, half_h))]
    sheet = Image.new("L", (w, h), 0)
    ImageDraw.Draw(sheet).polygon(corners, fill=255)
    inked, _ = page(ink, rng, centre=(cy + rng.uniform(-5, 5), cx + rng.uniform(-10, 10)))
    mask = np.asarray(sheet) > 0
    return np.where(mask, inked, table)


def photograph(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0,
               quality: int = 75) -> Image.Image:
    """Sensor noise and a JPEG round trip, as a phone stores a photo."""
    noisy = image + rng.normal(0.0, sigma, image.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def make_photo(condition: str, digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One photo-like JPEG of ``digit`` under ``condition`` (one of CONDITIONS)."""
    side = int(rng.integers(110, 170))
    if condition == "surround":
        return photograph(on_table(ink_layer(digit, side, 0), rng), rng)
    stroke = {"thin": -int(side / 30), "thick": int(side / 20)}.get(condition, 0)
    image, corner = page(ink_layer(digit, side, stroke), rng)
    if condition == "shadow":
        image = shadow(image, corner, side, rng)
    elif condition == "vignette":
        image = vignette(image, rng)
    elif condition == "noise":
        return photograph(image, rng, sigma=12.0)
    elif condition == "jpeg":
        return photograph(image, rng, quality=10)
    return photograph(image, rng)


CONDITIONS = ("shadow", "vignette", "surround", "thin", "thick", "noise", "jpeg")
