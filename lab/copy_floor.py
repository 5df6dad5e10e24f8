"""How far the library's im2col is from the memory floor of what it writes: one im2col of a
block of images against a contiguous copy, and a fill, of an array of the columns' size, on
one thread (median of 21 calls).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/copy_floor.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnistnp.nn import columns, threads

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import median_call_us  # noqa: E402

CASES = [(32, 3, 14, 32), (64, 3, 14, 32), (32, 5, 14, 32), (64, 3, 14, 8), (64, 3, 14, 4)]


def median_ms(fn: Callable[[], object]) -> float:
    return median_call_us(fn, calls=21, warmup=1) / 1e3


def main() -> None:
    threads.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("| columns | im2col, ms | contiguous copy of the columns' size, ms "
          "| fill of that size, ms |")
    for c, k, size, n in CASES:
        hp = size + 2 * (k // 2)
        # (N, C, Hp, Wp) view of (C, N, Hp, Wp) memory, as Conv2D pads its input
        x = rng.standard_normal((c, n, hp, hp)).astype(np.float32).transpose(1, 0, 2, 3)
        out = np.empty((c, k, k, n, size, size), np.float32)
        src = rng.standard_normal(out.shape).astype(np.float32)
        a = median_ms(lambda: columns.im2col(x, (k, k), (1, 1), out, split=False))
        b = median_ms(lambda: np.copyto(out, src))
        f = median_ms(lambda: out.fill(1.0))
        print(f"| {c} ch {k}x{k} {n} images ({out.nbytes / 1e6:.1f} MB) | {a:.2f} | {b:.2f} "
              f"| {f:.2f} |")


if __name__ == "__main__":
    main()
