"""What every synthetic set draws with: ink coverage (0..1) resized, boxed and placed, laid on
paper or a clear canvas, and saved as the bytes of a PNG or JPEG file."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

NEAREST, BILINEAR = Image.Resampling.NEAREST, Image.Resampling.BILINEAR


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def grey(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))


def on_paper(coverage: np.ndarray, paper: float = 255.0, ink: float = 0.0) -> Image.Image:
    """Ink ``coverage`` (0..1) on paper, as a grey image."""
    return grey(paper + coverage * (ink - paper))


def transparent(coverage: np.ndarray, colour: tuple[int, int, int],
                rng: np.random.Generator) -> Image.Image:
    """Ink of ``colour`` whose opacity is ``coverage`` on a transparent canvas; the colour under
    the transparent pixels is black or white (apps store either)."""
    hidden = 255 * int(rng.integers(0, 2))
    rgba = np.empty((*coverage.shape, 4), np.uint8)
    solid = coverage > 0
    for channel in range(3):
        rgba[..., channel] = np.where(solid, colour[channel], hidden)
    rgba[..., 3] = np.clip(np.round(255 * coverage), 0, 255)
    return Image.fromarray(rgba, "RGBA")


def coverage_of(digit: np.ndarray) -> np.ndarray:
    return digit.astype(np.float64) / 255


def resized(a: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    """Float array ``a`` (0..1) resized to ``size`` = (width, height)."""
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(size, method),
                      np.float64).clip(0, 1)


def ink_box(a: np.ndarray, level: float = 0.0) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero((a > level).any(axis=1)), np.flatnonzero((a > level).any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def placed(ink: np.ndarray, shape: tuple[int, int], rng: np.random.Generator,
           margin: int = 0) -> np.ndarray:
    """``ink`` at a random place on a blank canvas of ``shape``, at least ``margin`` inside."""
    canvas = np.zeros(shape)
    h, w = ink.shape
    top = int(rng.integers(margin, shape[0] - h - margin + 1))
    left = int(rng.integers(margin, shape[1] - w - margin + 1))
    canvas[top:top + h, left:left + w] = ink
    return canvas
