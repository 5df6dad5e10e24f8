"""How fast the cnn recipe's convolution products run at the shapes a training step gives them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/conv_gemm_shapes.py

On one BLAS thread (as inside ``threads.owned``, where each pool thread runs its own blocks):
for each 3x3 convolution of the recipe's net (1->32 at 28x28, 32->64 and 64->64 at 14x14), the
three products of a step, the forward W @ cols, the weight gradient cols @ g^T and the column
gradient W^T @ g (not for the first layer, whose input needs none), on blocks of 32, 64 and 128
images, each operand laid out as ``Conv2D`` holds it. Printed: the ms a batch of 128 takes in
blocks of that size and each product's GFLOP/s, beside a 2048x2048 product's on one thread.
The question was whether the GEMMs could take less at other shapes: they run at 80-96% of the
2048x2048 rate at every block size here, but for the first layer's (K=9).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gemm_floor import gemm_seconds  # the benchmarks' timing of one product at its layout

BATCH = 128
# (name, filters F, input channels C, output pixels H'*W') of the recipe's 3x3 convolutions
LAYERS = (("1->32, 28x28", 32, 1, 784), ("32->64, 14x14", 64, 32, 196),
          ("64->64, 14x14", 64, 64, 196))


def product(m: int, k: int, n: int, trans_a: bool, trans_b: bool) -> tuple[float, float]:
    """(seconds, GFLOP/s) of one float32 (m, k) @ (k, n) product, laid out as ``Conv2D``
    holds its operands (``gemm_floor.gemm_seconds``: the best of 7 rounds)."""
    seconds = gemm_seconds(m, k, n, "float32", trans_a, trans_b)
    return seconds, 2 * m * k * n / seconds / 1e9


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with threadpool_limits(1):
        _, rate = product(2048, 2048, 2048, False, False)
        print(f"2048x2048 float32 product on one thread: {rate:.1f} GFLOP/s")
        for name, f, c, pixels in LAYERS:
            k = 9 * c
            for block in (32, 64, 128):
                cols, blocks = block * pixels, BATCH // block
                shapes = {"forward": (f, k, cols, False, False),
                          "weight gradient": (k, cols, f, False, True)}
                if c > 1:
                    shapes["column gradient"] = (k, f, cols, True, False)
                timed = {what: product(*shape) for what, shape in shapes.items()}
                total = sum(seconds for seconds, _ in timed.values()) * blocks
                parts = ", ".join(f"{what} {1e3 * seconds * blocks:.2f} ms ({gflops:.0f} GFLOP/s)"
                                  for what, (seconds, gflops) in timed.items())
                print(f"{name}, blocks of {block}: {1e3 * total:.2f} ms a batch of {BATCH}: "
                      f"{parts}")


if __name__ == "__main__":
    main()
