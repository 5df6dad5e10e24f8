"""Typed digits: 0-9 set in real typefaces, as a screenshot or a scan of print comes.

Not MNIST's handwriting and not made from it, so a preparation tuned on MNIST's renders cannot
have been fitted to them. The typefaces are those matplotlib ships (DejaVu Sans, Sans Mono and
Serif, STIX and Computer Modern, upright, bold and slanted), always installed with mnistnp, and
any others the benchmark is given (Debian's handwriting fonts, say). Each
condition draws every digit of every typeface at several sizes, antialiased, with a margin of
paper around it: ``benchmarks/fonts_bench.py`` reads them all with ``predict``'s preparation
and the plain one; ``tests/synth/test_fonts.py`` reads some.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .files import png

# matplotlib's text faces that hold the ten digits (its "Display" faces and the symbol and
# size faces do not).
BUNDLED = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique",
           "DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique",
           "DejaVuSansMono-BoldOblique", "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic",
           "DejaVuSerif-BoldItalic", "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic",
           "STIXGeneralBolIta", "cmr10", "cmss10", "cmtt10", "cmb10", "cmti10")

# (ink, paper, font sizes in points = pixels) of each condition; ink None: black on a clear
# RGBA canvas.
Look = tuple[int | None, int, tuple[int, ...]]
CONDITIONS: dict[str, Look] = {
    "print": (0, 255, (24, 40, 72, 120)),  # dark on white, as a scan of print
    "small": (0, 255, (10, 12, 14, 16, 20)),  # screenshot text: digits 7-15 px tall
    "inverted": (255, 0, (24, 40, 72, 120)),  # light on dark, a dark-mode screenshot
    "clear": (None, 0, (24, 40, 72, 120)),  # black glyphs on a clear canvas (black or white)
}


def bundled_fonts() -> list[Path]:
    """The paths of matplotlib's faces in ``BUNDLED``."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [folder / f"{name}.ttf" for name in BUNDLED]


def typed(digit: int, font: ImageFont.FreeTypeFont, look: Look,
          rng: np.random.Generator) -> bytes:
    """One digit drawn in ``font``, with paper an eighth to a half of the size around its ink
    box, as a PNG file."""
    ink, paper, _ = look
    left, top, right, bottom = (int(v) for v in font.getbbox(str(digit)))
    size = int(font.size)
    margin = int(rng.integers(max(1, size // 8), size // 2 + 1))
    canvas = (right - left + 2 * margin, bottom - top + 2 * margin)
    if ink is None:
        hidden = 255 * int(rng.integers(0, 2))  # the colour under the clear pixels, as apps vary
        image = Image.new("RGBA", canvas, (hidden, hidden, hidden, 0))
        fill: int | tuple[int, ...] = (0, 0, 0, 255)
    else:
        image = Image.new("L", canvas, paper)
        fill = ink
    ImageDraw.Draw(image).text((margin - left, margin - top), str(digit), font=font, fill=fill)
    return png(image)


def labelled(name: str, fonts: Sequence[Path | str]) -> tuple[np.ndarray, list[str]]:
    """The labels of ``render_set(name, fonts)``'s files and the face each comes from (the
    file's name), without drawing them: every face, each of the condition's sizes, 0-9."""
    per_face = 10 * len(CONDITIONS[name][2])
    labels = np.tile(np.arange(10, dtype=np.int64), len(fonts) * per_face // 10)
    return labels, [Path(path).name for path in fonts for _ in range(per_face)]


def render_set(name: str, fonts: Sequence[Path | str],
               seed: int = 0) -> tuple[list[bytes], np.ndarray, list[str]]:
    """Every digit of every face in ``fonts`` at each of condition ``name``'s sizes, in the
    order ``labelled`` gives: the files, their labels and the face each came from."""
    look = CONDITIONS[name]
    rng = np.random.default_rng([seed, list(CONDITIONS).index(name)])
    files = []
    for path in fonts:
        for size in look[2]:
            font = ImageFont.truetype(str(path), size)
            files += [typed(digit, font, look, rng) for digit in range(10)]
    return (files, *labelled(name, fonts))
