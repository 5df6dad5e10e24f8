"""Real scans that are not MNIST (scikit-learn's 8x8 digits, ``mnistnp.synth.scans``), the fast
subset of ``benchmarks/scans_bench.py``: no digit is refused but the one known below, and
``predict``'s preparation reads as many right as the plain MNIST one (a digit of slack; the
benchmark, 1,797 a condition, holds the 0.5-point target)."""

from __future__ import annotations

import numpy as np
import pytest
from both_ways import both_ways

from mnistnp.nn import Sequential
from mnistnp.synth import scans

pytest.importorskip("sklearn")

N = 60  # digits per condition
# A 0 filling its frame on grey paper: the blur beside its strokes reads as uneven light, and
# the photo path finds no digit standing out (docs/images.md, "Real scans"). Refused, not
# guessed: reading it plainly after all answered blank pages in a shadow with a digit.
KNOWN_REFUSALS = {("grey-paper", 20)}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return scans.load()


@pytest.mark.parametrize("condition", list(scans.CONDITIONS))
def test_each_scan_is_read_as_well_as_plainly(condition: str, model: Sequential,
                                              digits: tuple[np.ndarray, np.ndarray]) -> None:
    cells, labels = digits
    known = {i for name, i in KNOWN_REFUSALS if name == condition}
    ours, plain, refused = both_ways(scans.render_set(condition, cells, N), condition, known)
    assert not refused, refused
    right = int(np.sum(model.predict(ours) == labels[:N]))
    right_plain = int(np.sum(model.predict(plain) == labels[:N]))
    assert right >= right_plain - 1, (right, right_plain)
