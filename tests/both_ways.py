"""Image files through ``predict``'s preparation and the plain MNIST one, for the benchmarks'
fast subsets (tests/synth/). ``benchmarks/render_bench.py``'s ``prepare_files`` does the same
for the benchmarks, but with whichever tree ``--src`` loads (its preparation and its error
class), so it keeps its own loop."""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

import numpy as np
from PIL import Image

from mnistnp.errors import ImageError
from mnistnp.images import prepare_digit
from mnistnp.synth import baseline


def both_ways(files: Sequence[bytes], name: str, known: Collection[int] = ()) -> tuple[
        np.ndarray, np.ndarray, list[str]]:
    """(``predict``'s 28x28 digits, the plain preparation's, the refusals of ours not in
    ``known`` as "index: message"); a refused image is left blank in either stack."""
    ours, plain, refused = [], [], []
    blank = np.zeros((28, 28), np.uint8)
    for i, data in enumerate(files):
        try:
            ours.append(prepare_digit(Image.open(io.BytesIO(data)), name))
        except ImageError as e:
            if i not in known:
                refused.append(f"{i}: {e}")
            ours.append(blank)
        seen = baseline.plain_prepare(Image.open(io.BytesIO(data)))
        plain.append(blank if seen is None else seen)
    return np.stack(ours), np.stack(plain), refused
