"""How even the lines ``ruled.unruled`` finds are along their length: the interquartile range
of their levels (where no stroke crosses them) as a share of the ink's contrast, for the
lines of 300 ``ruled`` and 300 ``squared`` renders and for what it finds in the real scans
with the evenness test turned off (``ruled.EVEN``), the blocky sides of 0s filling the frame.

    python lab/ruled_evenness.py
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from bench_inputs import inputs
from PIL import Image

from mnistnp import ruled
from mnistnp.images import _grey

FOUND = ruled._bands
SPREADS: dict[str, list[float]] = {}


def recording(kind: str) -> Any:
    def bands(a: np.ndarray, marked: np.ndarray, paper: float,
              ink: float) -> list[tuple[int, int, float]]:
        found = FOUND(a, marked, paper, ink)
        for start, stop, level in found:
            bare = (a[start:stop] > (level + ink) / 2).all(axis=0)
            along = a[start:stop, bare].mean(axis=0)
            iqr = float(np.subtract(*np.percentile(along, [75, 25])))
            SPREADS.setdefault(kind, []).append(iqr / (paper - ink))
        return found
    return bands


def main() -> None:
    ruled.EVEN = float("inf")  # every line, even or not
    sets = {"scan": [("scan", c, 1797, []) for c in ("nearest", "bilinear", "rgb", "rgba",
                                                    "margin", "grey-paper", "any-size")],
            "ruled": [("render", "ruled", 300, [])], "squared": [("render", "squared", 300, [])]}
    for kind, jobs in sets.items():
        ruled._bands = recording(kind)
        for job in jobs:
            for data in inputs(job)[0]:
                ruled.unruled(_grey(Image.open(io.BytesIO(data)), "input"))
    for kind, values in SPREADS.items():
        v = np.array(values)
        print(f"{kind:8s} {len(v):5d} lines: interquartile range / contrast: median "
              f"{np.median(v):.3f}, 99th percentile {np.percentile(v, 99):.3f}, "
              f"least {v.min():.3f}, most {v.max():.3f}")


if __name__ == "__main__":
    main()
