"""Real handwriting that is not MNIST's, rendered as the files of low-resolution scans:
scikit-learn's 8x8 digits (the test part of the UCI "optdigits" set: 1,797 digits written on
NIST's forms by 13 people, scanned, each 32x32 bitmap counted in 4x4 blocks into 8x8 cells of
0-16).

These digits fill their frame (the bitmaps were cut to the digit), so the ink reaches the
image's edges; their strokes are a cell or two wide. Each condition draws them dark on light
and enlarges them 4-8x, or to any side of 20-64 px, as a user's scans come:
``benchmarks/scans_bench.py`` reads them all with ``predict``'s preparation and the plain one;
``tests/synth/test_scans.py`` reads a few.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from .files import BILINEAR, NEAREST, grey, on_paper, png, resized, transparent

Render = Callable[[np.ndarray, np.random.Generator], bytes]


def load() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as ink coverage (0..1, shape (n, 8, 8)) and their labels. Needs
    scikit-learn, which ships the set (no download)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


def enlarged(cells: np.ndarray, rng: np.random.Generator, method: Image.Resampling,
             margin: int = 0) -> np.ndarray:
    """Coverage ``cells`` with ``margin`` blank cells around it, enlarged 4-8x by ``method``."""
    framed = np.pad(cells, margin)
    side = len(framed) * int(rng.integers(4, 9))
    return resized(framed, (side, side), method)


def nearest(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black on white, enlarged 4-8x in blocks (32-64 px): the scans first tried."""
    return png(on_paper(enlarged(cells, rng, NEAREST)))


def bilinear(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black on white, enlarged 4-8x smoothly."""
    return png(on_paper(enlarged(cells, rng, BILINEAR)))


def rgb(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Blocks of black on white, stored as RGB."""
    return png(on_paper(enlarged(cells, rng, NEAREST)).convert("RGB"))


def rgba(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Blocks of black ink, opaque, on a transparent canvas."""
    return png(transparent(enlarged(cells, rng, NEAREST), (0, 0, 0), rng))


def margin(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Blocks of black on white, with 1-4 blank cells of paper around the digit."""
    return png(on_paper(enlarged(cells, rng, NEAREST, int(rng.integers(1, 5)))))


def any_size(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Blocks of black on white enlarged to any side from 20 to 64 px (2.5-8x): cells of
    uneven sizes, and under 3x3 pixels in the smallest."""
    side = int(rng.integers(20, 65))
    return png(on_paper(resized(cells, (side, side), NEAREST)))


def grey_paper(cells: np.ndarray, rng: np.random.Generator) -> bytes:
    """Dark grey ink (0-90) on grey paper (200-250), blocks or smooth."""
    method = NEAREST if rng.random() < 0.5 else BILINEAR
    paper, ink = rng.uniform(200, 250), rng.uniform(0, 90)
    return png(grey(paper + enlarged(cells, rng, method) * (ink - paper)))


CONDITIONS: dict[str, Render] = {
    "nearest": nearest,
    "bilinear": bilinear,
    "rgb": rgb,
    "rgba": rgba,
    "margin": margin,
    "grey-paper": grey_paper,
    "any-size": any_size,
}


def render_set(name: str, cells: np.ndarray, n: int, seed: int = 0) -> list[bytes]:
    """The first ``n`` digits of ``cells`` rendered by condition ``name``."""
    rng = np.random.default_rng([seed, list(CONDITIONS).index(name)])
    return [CONDITIONS[name](c, rng) for c in cells[:n]]
