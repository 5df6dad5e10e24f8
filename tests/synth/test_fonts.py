"""Typed digits (matplotlib's typefaces, ``mnistnp.synth.fonts``), the fast subset of
``benchmarks/fonts_bench.py``: none is refused, and ``predict``'s preparation reads as many
right as the plain MNIST one (two digits of slack; the benchmark holds the 0.5-point target)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from both_ways import both_ways
from PIL import Image

from mnistnp.nn import Sequential
from mnistnp.synth import fonts

FACES = fonts.bundled_fonts()[::3]  # 7 of the 21: sans, mono, serif, STIX, Computer Modern


def test_the_bundled_faces_are_installed_and_hold_the_digits() -> None:
    for path in fonts.bundled_fonts():
        files, labels, _ = fonts.render_set("print", [path])
        assert len(files) == 40 and list(labels[:10]) == list(range(10))
        # Ten different glyphs, not one "missing glyph" box ten times (each cut to its ink:
        # the margins differ).
        assert len({_cut(f).tobytes() for f in files[:10]}) == 10, path.name


def _cut(data: bytes) -> np.ndarray:
    ink = np.asarray(Image.open(io.BytesIO(data)).convert("L")) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows):
        return ink[:0, :0]  # no glyph drawn
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


@pytest.mark.parametrize("condition", list(fonts.CONDITIONS))
def test_typed_digits_are_read_as_well_as_plainly(condition: str, model: Sequential) -> None:
    files, labels, _ = fonts.render_set(condition, FACES)
    ours, plain, refused = both_ways(files, condition)
    assert not refused, refused
    right = int(np.sum(model.predict(ours) == labels))
    right_plain = int(np.sum(model.predict(plain) == labels))
    assert right >= right_plain - 2, (right, right_plain)
